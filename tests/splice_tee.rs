//! zcio_splice moves bytes through pipes with exact counts and offsets;
//! zcio_tee duplicates a pipe's bytes in one call without consuming them.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::primitives::*;

fn splice(input: i32, in_off: Option<&mut i64>, output: i32, len: u64, flags: u32) -> (i32, u64) {
    let mut moved = u64::MAX;
    let in_off = in_off.map_or(ptr::null_mut(), |o| o as *mut i64);
    // SAFETY: pointers are live locals or NULL.
    let rc = unsafe {
        zcio_splice(
            input,
            in_off,
            output,
            ptr::null_mut(),
            len,
            flags,
            &mut moved,
        )
    };
    (rc, moved)
}

fn tee(input: i32, output: i32, len: u64, flags: u32) -> (i32, u64) {
    let mut copied = u64::MAX;
    // SAFETY: copied is a live local.
    let rc = unsafe { zcio_tee(input, output, len, flags, &mut copied) };
    (rc, copied)
}

#[test]
fn file_to_pipe_to_socket() {
    let data = pattern(48_000, 7);
    let input = file_with(&data);
    let (pipe_read, pipe_write) = pipe(false);
    let (mut reader, writer) = stream_pair();

    let mut offset = 100i64;
    let (rc, moved) = splice(
        input.as_raw_fd(),
        Some(&mut offset),
        pipe_write.as_raw_fd(),
        30_000,
        0,
    );
    assert_eq!((rc, moved, offset), (ZCIO_OK, 30_000, 30_100));
    assert_eq!(position(input.as_raw_fd()), 0);
    let (rc, moved) = splice(
        pipe_read.as_raw_fd(),
        None,
        writer.as_raw_fd(),
        30_000,
        ZCIO_SPLICE_MORE,
    );
    assert_eq!((rc, moved), (ZCIO_OK, 30_000));

    drop(writer);
    let mut received = Vec::new();
    reader.read_to_end(&mut received).unwrap();
    assert_eq!(received, &data[100..30_100]);
}

#[test]
fn end_of_pipe_input_is_short_or_complete() {
    let (pipe_read, mut pipe_write) = pipe(false);
    pipe_write.write_all(b"twelve bytes").unwrap();
    drop(pipe_write);
    let output = tempfile::tempfile().unwrap();

    let (rc, moved) = splice(pipe_read.as_raw_fd(), None, output.as_raw_fd(), 100, 0);
    assert_eq!((rc, moved), (ZCIO_ESHORT, 12));
    assert_eq!(contents(&output), b"twelve bytes");
    assert_eq!(
        splice(
            pipe_read.as_raw_fd(),
            None,
            output.as_raw_fd(),
            ZCIO_TO_EOF,
            0
        ),
        (ZCIO_OK, 0)
    );
}

#[test]
fn nonblocking_empty_pipe_is_eagain_not_eof() {
    let (pipe_read, _pipe_write) = pipe(true);
    let output = tempfile::tempfile().unwrap();
    let (rc, moved) = splice(
        pipe_read.as_raw_fd(),
        None,
        output.as_raw_fd(),
        10,
        ZCIO_SPLICE_NONBLOCK,
    );
    assert_eq!((rc, moved), (ZCIO_EAGAIN, 0));
}

#[test]
fn splice_needs_a_pipe_and_known_flags() {
    let input = file_with(b"data");
    let output = tempfile::tempfile().unwrap();
    assert_eq!(
        splice(input.as_raw_fd(), None, output.as_raw_fd(), 4, 0),
        (ZCIO_EINVAL, 0)
    );
    assert_eq!(
        splice(input.as_raw_fd(), None, output.as_raw_fd(), 4, 8),
        (ZCIO_EFLAGS, 0)
    );
    let (_r, w) = pipe(false);
    assert_eq!(
        splice(closed_fd(), None, w.as_raw_fd(), 4, 0),
        (ZCIO_EBADF, 0)
    );
    // SAFETY: a NULL out-pointer is what is being tested.
    let rc = unsafe {
        zcio_splice(
            input.as_raw_fd(),
            ptr::null_mut(),
            w.as_raw_fd(),
            ptr::null_mut(),
            4,
            0,
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, ZCIO_ENULL);
}

#[test]
fn tee_duplicates_without_consuming() {
    let (a_read, mut a_write) = pipe(false);
    let (mut b_read, b_write) = pipe(false);
    a_write.write_all(b"hello, mirror").unwrap();

    assert_eq!(
        tee(a_read.as_raw_fd(), b_write.as_raw_fd(), 1000, 0),
        (ZCIO_OK, 13)
    );
    drop((a_write, b_write));
    let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
    (&a_read).read_to_end(&mut from_a).unwrap();
    b_read.read_to_end(&mut from_b).unwrap();
    assert_eq!(from_a, b"hello, mirror");
    assert_eq!(from_b, b"hello, mirror");
}

#[test]
fn tee_makes_one_call_and_reports_eof_as_zero() {
    let (a_read, mut a_write) = pipe(false);
    let (_b_read, b_write) = pipe(false);
    a_write.write_all(&[7u8; 100]).unwrap();
    assert_eq!(
        tee(a_read.as_raw_fd(), b_write.as_raw_fd(), 40, 0),
        (ZCIO_OK, 40)
    );
    drop(a_write);
    let (empty_read, empty_write) = pipe(false);
    drop(empty_write);
    assert_eq!(
        tee(empty_read.as_raw_fd(), b_write.as_raw_fd(), 40, 0),
        (ZCIO_OK, 0)
    );
}

#[test]
fn tee_errors() {
    let file = file_with(b"not a pipe");
    let (a_read, _a_write) = pipe(true);
    let (_b_read, b_write) = pipe(false);
    assert_eq!(
        tee(file.as_raw_fd(), b_write.as_raw_fd(), 10, 0),
        (ZCIO_EINVAL, 0)
    );
    assert_eq!(errno(), libc::EINVAL);
    assert_eq!(
        tee(
            a_read.as_raw_fd(),
            b_write.as_raw_fd(),
            10,
            ZCIO_SPLICE_NONBLOCK
        ),
        (ZCIO_EAGAIN, 0)
    );
    assert_eq!(
        tee(
            a_read.as_raw_fd(),
            b_write.as_raw_fd(),
            10,
            ZCIO_SPLICE_MORE
        ),
        (ZCIO_EFLAGS, 0)
    );
    assert_eq!(
        tee(closed_fd(), b_write.as_raw_fd(), 10, 0),
        (ZCIO_EBADF, 0)
    );
}
