//! Issue #7, case 12: 10000 transfers through pooled pipes that end in
//! every kind of error leave no descriptor behind, and a pipe that came
//! back with bytes in it never reaches another transfer. (Alone in its
//! binary: it counts the process's descriptors and reads the pool's
//! counters.)

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::ptr;
use std::time::Instant;

use common::*;
use zcio::error::*;
use zcio::ffi::copy::*;
use zcio::ffi::pool::*;
use zcio::ffi::transfer::*;

const TRANSFERS: usize = 10_000;
const LEN: usize = 64 << 10;

/// How a transfer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The output's reader has gone: ZCIO_EPIPE with bytes in the pipe.
    Epipe,
    /// The output's peer reset the connection: ZCIO_ECONNRESET with bytes
    /// in the pipe.
    Reset,
    /// The output is full: ZCIO_WANT_WRITE with bytes in the pipe, then
    /// abandoned.
    FullOutput,
    /// The input is empty: ZCIO_WANT_READ with an empty pipe, then
    /// abandoned; that pipe may serve the next transfer.
    EmptyInput,
    /// Cancelled by zcio_transfer_free after a budget of 1000 bytes, its
    /// pipe empty.
    Cancelled,
    /// Cancelled by zcio_transfer_free halfway: half went out, then the
    /// peer stopped reading and the other half waits in the pipe.
    CancelledWithBytes,
}

/// In this order, a transfer that checks its output follows each of the
/// first two that leave bytes in their pipe: the pool hands out its newest
/// idle pipe first, so such a pipe, had it come back, would go straight to
/// the transfer that reads its output.
const ENDINGS: [Ending; 6] = [
    Ending::Epipe,
    Ending::Cancelled,
    Ending::Reset,
    Ending::CancelledWithBytes,
    Ending::FullOutput,
    Ending::EmptyInput,
];

fn pool_stats() -> zcio_pool_counters {
    // SAFETY: all-zero is a valid structure; its size is set below.
    let mut s: zcio_pool_counters = unsafe { std::mem::zeroed() };
    s.size = std::mem::size_of_val(&s) as u32;
    // SAFETY: s is sized.
    assert_eq!(unsafe { zcio_pool_stats(&mut s) }, ZCIO_OK);
    s
}

/// Reads `len` bytes from the output's peer, waiting for bytes still in
/// flight, then checks that nothing more is there.
fn receive(peer: &UnixStream, len: usize) -> Vec<u8> {
    set_nonblocking(peer);
    let mut got = vec![0u8; len + 1];
    let mut have = 0;
    while have < len {
        let mut pfd = libc::pollfd {
            fd: peer.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd.
        assert_eq!(unsafe { libc::poll(&mut pfd, 1, 20_000) }, 1, "bytes lost");
        match (&*peer).read(&mut got[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("reading the output: {e}"),
        }
    }
    let extra = (&*peer).read(&mut got[have..]);
    assert!(
        matches!(extra, Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "more bytes than were written: {extra:?}"
    );
    got.truncate(have);
    got
}

/// A loopback connection whose far end has reset it: writing to the
/// returned socket fails with ECONNRESET.
fn reset_connection(listener: &TcpListener) -> TcpStream {
    let socket = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: linger is a valid struct for SO_LINGER.
    let rc = unsafe {
        libc::setsockopt(
            peer.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(peer);
    let mut pfd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: 0,
        revents: 0,
    };
    // SAFETY: pfd is one valid pollfd.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 20_000) }, 1, "no reset");
    socket
}

/// Writes zeros into a socket until it is full; returns how many.
fn fill(socket: RawFd) -> usize {
    let zeros = [0u8; 1 << 16];
    let mut filler = 0;
    loop {
        // SAFETY: zeros is valid for its length.
        let n = unsafe {
            libc::send(
                socket,
                zeros.as_ptr().cast(),
                zeros.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            assert_eq!(errno(), libc::EAGAIN);
            return filler;
        }
        filler += n as usize;
    }
}

fn step(t: *mut zcio_transfer, budget: u64, p: &mut zcio_transfer_progress) -> i32 {
    // SAFETY: t is a live transfer and p is sized.
    unsafe { zcio_transfer_step(t, budget, p) }
}

/// Runs transfer `i`, which must end as `ending`, and returns whether
/// bytes were left in it when it was freed.
///
/// Its bytes are a pattern of its own, so bytes of an earlier transfer
/// are caught: a live output must receive exactly this transfer's first
/// `written` bytes, with the test's own zeros (filling the output) where
/// they were written.
fn run(i: usize, ending: Ending, listener: &TcpListener) -> bool {
    let data = pattern(LEN, i as u64 + 1);
    let half = LEN / 2;
    let (mut feeder, input) = stream_pair();
    input.set_nonblocking(true).unwrap();
    match ending {
        Ending::EmptyInput => {}
        Ending::CancelledWithBytes => feeder.write_all(&data[..half]).unwrap(),
        _ => feeder.write_all(&data).unwrap(),
    }
    let (output, peer): (Box<dyn AsRawFd>, Option<UnixStream>) = match ending {
        Ending::Reset => (Box::new(reset_connection(listener)), None),
        _ => {
            let (output, peer) = stream_pair();
            output.set_nonblocking(true).unwrap();
            let peer = Some(peer).filter(|_| ending != Ending::Epipe);
            (Box::new(output), peer)
        }
    };
    // Where the test's zeros sit in the output, and how many.
    let (mut zeros_at, mut zeros) = (0, 0);
    if ending == Ending::FullOutput {
        zeros = fill(output.as_raw_fd());
    }

    let mut t = ptr::null_mut();
    // SAFETY: t is live; the transfer is freed once below.
    assert_eq!(
        unsafe {
            zcio_transfer_new(
                output.as_raw_fd(),
                input.as_raw_fd(),
                LEN as u64,
                ptr::null(),
                &mut t,
            )
        },
        ZCIO_OK
    );
    // SAFETY: all-zero is a valid progress structure; its size is set.
    let mut p: zcio_transfer_progress = unsafe { std::mem::zeroed() };
    p.size = std::mem::size_of_val(&p) as u32;
    if ending == Ending::CancelledWithBytes {
        // Half goes out; then the peer stops reading and the other half
        // arrives.
        assert_eq!(step(t, 0, &mut p), ZCIO_WANT_READ, "transfer {i}");
        assert_eq!((p.written, p.buffered), (half as u64, 0));
        (zeros_at, zeros) = (half, fill(output.as_raw_fd()));
        feeder.write_all(&data[half..]).unwrap();
    }
    let budget = if ending == Ending::Cancelled { 1000 } else { 0 };
    let rc = step(t, budget, &mut p);
    let expected = match ending {
        Ending::Epipe => ZCIO_EPIPE,
        Ending::Reset => ZCIO_ECONNRESET,
        Ending::FullOutput | Ending::CancelledWithBytes => ZCIO_WANT_WRITE,
        Ending::EmptyInput => ZCIO_WANT_READ,
        Ending::Cancelled => ZCIO_MORE,
    };
    assert_eq!(rc, expected, "transfer {i} ({ending:?})");
    assert_eq!(p.mechanism, ZCIO_MECH_SPLICE, "transfer {i}");
    let clean = matches!(ending, Ending::EmptyInput | Ending::Cancelled);
    assert_eq!(p.buffered == 0, clean, "transfer {i} ({ending:?}): {p:?}");
    // SAFETY: t is freed once.
    unsafe { zcio_transfer_free(t) };

    if let Some(peer) = peer {
        let written = p.written as usize;
        let got = receive(&peer, zeros + written);
        let mut expected = data[..written].to_vec();
        expected.splice(zeros_at..zeros_at, std::iter::repeat_n(0, zeros));
        assert!(
            got == expected,
            "transfer {i} ({ending:?}) wrote bytes that are not its own"
        );
    }
    p.buffered > 0
}

#[test]
fn case_12_pooled_pipes_after_10000_failed_transfers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // Warm up the pool and the runtime, then count.
    run(0, Ending::Cancelled, &listener);
    // SAFETY: no arguments.
    assert_eq!(zcio_pool_trim(), ZCIO_OK);
    let fds_before = open_fds();
    let stats_before = pool_stats();

    let start = Instant::now();
    let mut left_with_bytes = 0;
    for i in 1..=TRANSFERS {
        left_with_bytes += run(i, ENDINGS[i % ENDINGS.len()], &listener) as u64;
    }
    let stats = pool_stats();
    eprintln!(
        "case 12: {TRANSFERS} transfers in {:?}; pipes created {}, reused {}, discarded {}",
        start.elapsed(),
        stats.pipes_created - stats_before.pipes_created,
        stats.pipes_reused - stats_before.pipes_reused,
        stats.pipes_discarded - stats_before.pipes_discarded
    );
    assert_eq!(stats.pipes_in_use, 0);
    assert_eq!(
        stats.pipes_discarded - stats_before.pipes_discarded,
        left_with_bytes,
        "every pipe that came back with bytes must be closed"
    );
    assert!(
        stats.pipes_reused - stats_before.pipes_reused >= (TRANSFERS / ENDINGS.len()) as u64,
        "clean pipes must be reused"
    );
    // SAFETY: no arguments.
    assert_eq!(zcio_pool_trim(), ZCIO_OK);
    assert_eq!(pool_stats().pipes_idle, 0);
    assert_eq!(open_fds(), fds_before, "descriptors leaked");
}
