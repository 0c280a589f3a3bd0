//! After fork, a pipe leased before the fork is never put in the child's
//! pool: the parent's transfer and the child's copies keep separate bytes.
//! (Alone in its binary: it forks.)

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::copy::*;
use zcio::ffi::primitives::ZCIO_TO_EOF;
use zcio::ffi::transfer::*;

/// Feeds `data` into a fresh socket pair and returns (input end, feeder).
fn fed(data: Vec<u8>) -> (std::os::unix::net::UnixStream, std::thread::JoinHandle<()>) {
    let (mut feeder, input) = stream_pair();
    (
        input,
        std::thread::spawn(move || feeder.write_all(&data).unwrap()),
    )
}

fn drained(sink: std::os::unix::net::UnixStream, len: usize) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut got = vec![0u8; len];
        (&sink).read_exact(&mut got).unwrap();
        got
    })
}

#[test]
fn an_inherited_lease_stays_out_of_the_childs_pool() {
    let parent_data = pattern(16 << 20, 91);
    let (input, feeder) = fed(parent_data.clone());
    let (output, sink) = stream_pair();
    let mut t = ptr::null_mut();
    // SAFETY: t is live; the first step leases a pooled pipe.
    unsafe {
        assert_eq!(
            zcio_transfer_new(
                output.as_raw_fd(),
                input.as_raw_fd(),
                ZCIO_TO_EOF,
                ptr::null(),
                &mut t
            ),
            ZCIO_OK
        );
    }
    let parent_sink = drained(sink, parent_data.len());
    // SAFETY: t is live.
    assert_eq!(
        unsafe { zcio_transfer_step(t, 1 << 20, ptr::null_mut()) },
        ZCIO_MORE
    );

    // SAFETY: the child frees its copy of the transfer, copies through its
    // own pool and exits without returning into the test harness.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: t is the child's copy of a live transfer.
        unsafe { zcio_transfer_free(t) };
        let child_data = pattern(16 << 20, 92);
        let (child_in, child_feeder) = fed(child_data.clone());
        let (child_out, child_sink) = stream_pair();
        let child_sink = drained(child_sink, child_data.len());
        // SAFETY: all-zero is a valid result structure; res is live.
        let mut res: zcio_copy_result = unsafe { std::mem::zeroed() };
        res.size = std::mem::size_of_val(&res) as u32;
        let rc = unsafe {
            zcio_copy(
                child_out.as_raw_fd(),
                child_in.as_raw_fd(),
                16 << 20,
                ptr::null(),
                &mut res,
            )
        };
        child_feeder.join().unwrap();
        let ok = rc == ZCIO_OK && child_sink.join().unwrap() == child_data;
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }

    // SAFETY: t is live in the parent.
    let rc = loop {
        match unsafe { zcio_transfer_step(t, 1 << 20, ptr::null_mut()) } {
            ZCIO_MORE => continue,
            rc => break rc,
        }
    };
    feeder.join().unwrap();
    drop(input);
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child saw corrupted bytes: {status:#x}"
    );
    assert!(rc == ZCIO_OK || rc == ZCIO_WANT_READ, "{rc}");
    // SAFETY: t is freed once.
    unsafe { zcio_transfer_free(t) };
    assert_eq!(parent_sink.join().unwrap(), parent_data);
}
