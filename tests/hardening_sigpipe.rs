//! Issue #7, case 8: a peer that goes away in the middle of sendfile,
//! splice and tee costs the caller an exact ZCIO_EPIPE, never the process.
//! (Alone in its binary: it restores SIGPIPE's default action, which kills
//! the process, for every thread.)

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::ptr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use zcio::error::*;
use zcio::ffi::primitives::*;

const LEN: usize = 4 << 20;
/// Bytes the reader takes before it leaves.
const TAKEN: usize = 100_000;

fn disposition() -> (usize, i32) {
    // SAFETY: a zeroed sigaction is valid storage for the query.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a NULL new action only reads the current one.
    assert_eq!(
        unsafe { libc::sigaction(libc::SIGPIPE, ptr::null(), &mut action) },
        0
    );
    (action.sa_sigaction, action.sa_flags)
}

fn queued(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: n is a valid int for FIONREAD to fill in.
    assert_eq!(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) }, 0);
    n as usize
}

/// Whether the thread is asleep in the kernel (state S in its stat line).
fn sleeping(tid: libc::pid_t) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.starts_with('S')
}

/// Waits until the writer thread `tid` sleeps inside its call because
/// `reader` is full, and the bytes queued there have stopped changing;
/// returns that count. Then no byte can move until the reader acts.
fn settled(tid: libc::pid_t, reader: RawFd) -> usize {
    let start = Instant::now();
    let mut last = (usize::MAX, 0);
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the writer never blocked"
        );
        let now = queued(reader);
        last = if now == last.0 && sleeping(tid) {
            (now, last.1 + 1)
        } else {
            (now, 0)
        };
        if last.1 == 5 {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `call` in a thread that reports its id first; the thread also
/// checks that it is left with SIGPIPE neither blocked nor pending.
fn writer<T: Send + 'static>(
    call: impl FnOnce() -> T + Send + 'static,
) -> (libc::pid_t, std::thread::JoinHandle<T>) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        // SAFETY: gettid takes no arguments.
        tx.send(unsafe { libc::gettid() }).unwrap();
        let result = call();
        assert!(!sigpipe_blocked_or_pending(), "SIGPIPE left behind");
        result
    });
    (rx.recv().unwrap(), handle)
}

/// Reads exactly `len` bytes.
fn take(reader: &File, len: usize) -> Vec<u8> {
    let mut got = vec![0u8; len];
    (&*reader).read_exact(&mut got).unwrap();
    got
}

/// Issue #7, case 8. With SIGPIPE's default action (death), a reader that
/// takes 100000 bytes and leaves while sendfile, splice or tee waits on it:
/// the call returns ZCIO_EPIPE, and the bytes it reports are exactly those
/// the reader took plus those it left unread; offsets agree; the calling
/// thread keeps no blocked or pending SIGPIPE, and the process-wide
/// disposition is what it was.
#[test]
fn case_08_peer_leaves_mid_transfer() {
    // SAFETY: setting a signal's disposition to the default is always valid.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let before = disposition();
    assert_eq!(before.0, libc::SIG_DFL);
    let data = pattern(LEN, 8);

    // sendfile into a socket pair.
    let input = file_with(&data);
    let (reader, socket) = stream_pair();
    let fd = input.as_raw_fd();
    let (tid, sender) = writer(move || {
        let mut at = 0i64;
        let mut sent = u64::MAX;
        // SAFETY: at and sent are live locals.
        let rc = unsafe { zcio_sendfile(socket.as_raw_fd(), fd, &mut at, ZCIO_TO_EOF, &mut sent) };
        (rc, sent, at)
    });
    let reader = File::from(std::os::fd::OwnedFd::from(reader));
    assert_eq!(take(&reader, TAKEN), &data[..TAKEN]);
    let left = settled(tid, reader.as_raw_fd());
    drop(reader);
    let (rc, sent, at) = sender.join().unwrap();
    eprintln!("case 8: sendfile sent {sent}: {TAKEN} taken, {left} left unread");
    assert_eq!(
        (rc, sent, at),
        (ZCIO_EPIPE, (TAKEN + left) as u64, sent as i64)
    );
    assert_eq!(disposition(), before);

    // splice from a file into a pipe.
    let (pipe_read, pipe_write) = pipe(false);
    let (tid, splicer) = writer(move || {
        let mut at = 0i64;
        let mut moved = u64::MAX;
        // SAFETY: at and moved are live locals.
        let rc = unsafe {
            zcio_splice(
                fd,
                &mut at,
                pipe_write.as_raw_fd(),
                ptr::null_mut(),
                LEN as u64,
                0,
                &mut moved,
            )
        };
        (rc, moved, at)
    });
    assert_eq!(take(&pipe_read, TAKEN), &data[..TAKEN]);
    let left = settled(tid, pipe_read.as_raw_fd());
    drop(pipe_read);
    let (rc, moved, at) = splicer.join().unwrap();
    eprintln!("case 8: splice moved {moved}: {TAKEN} taken, {left} left unread");
    assert_eq!(
        (rc, moved, at),
        (ZCIO_EPIPE, (TAKEN + left) as u64, moved as i64)
    );
    assert_eq!(disposition(), before);
    drop(input);

    // tee into a mirror, consuming the input after each call.
    let (mirror_read, mirror_write) = pipe(false);
    let mirrored = data.clone();
    let (tid, teer) = writer(move || {
        let (input, mut feeder) = pipe(false);
        let mut total = 0u64;
        let mut scratch = vec![0u8; 16 << 10];
        for chunk in mirrored.chunks(16 << 10) {
            feeder.write_all(chunk).unwrap();
            let mut copied = u64::MAX;
            // SAFETY: copied is a live local.
            let rc = unsafe {
                zcio_tee(
                    input.as_raw_fd(),
                    mirror_write.as_raw_fd(),
                    queued(input.as_raw_fd()) as u64,
                    0,
                    &mut copied,
                )
            };
            if rc != ZCIO_OK {
                return (rc, copied, total);
            }
            total += copied;
            (&input)
                .read_exact(&mut scratch[..copied as usize])
                .unwrap();
        }
        (ZCIO_OK, 0, total)
    });
    assert_eq!(take(&mirror_read, TAKEN), &data[..TAKEN]);
    let left = settled(tid, mirror_read.as_raw_fd());
    drop(mirror_read);
    let (rc, copied, total) = teer.join().unwrap();
    eprintln!("case 8: tee duplicated {total}: {TAKEN} taken, {left} left unread");
    assert_eq!((rc, copied, total), (ZCIO_EPIPE, 0, (TAKEN + left) as u64));
    assert_eq!(disposition(), before);
    assert!(!sigpipe_blocked_or_pending());
}
