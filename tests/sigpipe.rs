//! No zcio call raises SIGPIPE: with the default action restored (which
//! kills the process), writing to a reader that went away returns ZCIO_EPIPE
//! and leaves the thread's signal mask and pending set as they were.

mod common;

use std::os::fd::AsRawFd;
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::primitives::*;

/// The Rust runtime ignores SIGPIPE; C programs do not. Restore the default
/// so a leaked SIGPIPE would kill this test binary.
fn default_sigpipe() {
    // SAFETY: setting a signal's disposition to the default is always valid.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

#[test]
fn every_writing_call_reports_epipe_instead_of_a_signal() {
    default_sigpipe();
    let input = file_with(&pattern(1 << 20, 5));

    let (reader, socket) = stream_pair();
    drop(reader);
    let mut sent = u64::MAX;
    // SAFETY: sent is a live local; NULL offset uses the file position.
    let rc = unsafe {
        zcio_sendfile(
            socket.as_raw_fd(),
            input.as_raw_fd(),
            ptr::null_mut(),
            ZCIO_TO_EOF,
            &mut sent,
        )
    };
    assert_eq!((rc, sent), (ZCIO_EPIPE, 0));
    assert_eq!(errno(), libc::EPIPE);
    assert!(!sigpipe_blocked_or_pending());

    let (pipe_read, pipe_write) = pipe(false);
    drop(pipe_read);
    let mut offset = 0i64;
    let mut moved = u64::MAX;
    // SAFETY: offset and moved are live locals.
    let rc = unsafe {
        zcio_splice(
            input.as_raw_fd(),
            &mut offset,
            pipe_write.as_raw_fd(),
            ptr::null_mut(),
            4096,
            0,
            &mut moved,
        )
    };
    assert_eq!((rc, moved), (ZCIO_EPIPE, 0));
    assert!(!sigpipe_blocked_or_pending());

    let (full_read, mut full_write) = pipe(false);
    std::io::Write::write_all(&mut full_write, b"tee me").unwrap();
    let (dead_read, dead_write) = pipe(false);
    drop(dead_read);
    let mut copied = u64::MAX;
    // SAFETY: copied is a live local.
    let rc = unsafe {
        zcio_tee(
            full_read.as_raw_fd(),
            dead_write.as_raw_fd(),
            6,
            0,
            &mut copied,
        )
    };
    assert_eq!((rc, copied), (ZCIO_EPIPE, 0));
    assert!(!sigpipe_blocked_or_pending());
}

#[test]
fn a_caller_that_blocks_sigpipe_keeps_its_pending_signal() {
    default_sigpipe();
    let input = file_with(b"0123456789");
    let (reader, socket) = stream_pair();
    drop(reader);

    // SAFETY: the sets are valid; only SIGPIPE is blocked, then restored.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut());

        let mut sent = 0;
        let rc = zcio_sendfile(
            socket.as_raw_fd(),
            input.as_raw_fd(),
            ptr::null_mut(),
            10,
            &mut sent,
        );
        assert_eq!(rc, ZCIO_EPIPE);

        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        assert_eq!(
            libc::sigismember(&pending, libc::SIGPIPE),
            1,
            "the caller's signal is theirs"
        );
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        assert_eq!(
            libc::sigtimedwait(&set, ptr::null_mut(), &zero),
            libc::SIGPIPE
        );
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, ptr::null_mut());
    }
}

#[test]
fn zcio_copy_reports_epipe_with_a_consistent_count_when_the_reader_leaves() {
    default_sigpipe();
    let data = pattern(4 << 20, 6);
    let input = file_with(&data);
    let (mut pipe_read, pipe_write) = pipe(false);
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; 100_000];
        std::io::Read::read_exact(&mut pipe_read, &mut got).unwrap();
        got
    });

    let mut at = 0i64;
    // SAFETY: all-zero is a valid options structure; init sets its size.
    let mut opts: zcio::ffi::copy::zcio_copy_opts = unsafe { std::mem::zeroed() };
    // SAFETY: opts is live.
    assert_eq!(
        unsafe { zcio::ffi::copy::zcio_copy_opts_init(&mut opts) },
        ZCIO_OK
    );
    opts.in_offset = &mut at;
    // SAFETY: all-zero is a valid result structure.
    let mut res: zcio::ffi::copy::zcio_copy_result = unsafe { std::mem::zeroed() };
    res.size = std::mem::size_of_val(&res) as u32;
    // SAFETY: opts and res are live.
    let rc = unsafe {
        zcio::ffi::copy::zcio_copy(
            pipe_write.as_raw_fd(),
            input.as_raw_fd(),
            ZCIO_TO_EOF,
            &opts,
            &mut res,
        )
    };

    assert_eq!(reader.join().unwrap(), &data[..100_000]);
    assert_eq!(rc, ZCIO_EPIPE);
    assert!(
        res.moved >= 100_000 && res.moved < data.len() as u64,
        "moved {}",
        res.moved
    );
    assert_eq!(
        (res.read, at),
        (res.moved, res.moved as i64),
        "nothing read may go unaccounted"
    );
    assert!(!sigpipe_blocked_or_pending());
}
