//! zcio_copy_file_range copies between files with exact offsets and counts.

mod common;

use std::os::fd::AsRawFd;
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::primitives::*;

fn copy(
    input: i32,
    in_off: Option<&mut i64>,
    output: i32,
    out_off: Option<&mut i64>,
    len: u64,
) -> (i32, u64) {
    let mut copied = u64::MAX;
    let in_off = in_off.map_or(ptr::null_mut(), |o| o as *mut i64);
    let out_off = out_off.map_or(ptr::null_mut(), |o| o as *mut i64);
    // SAFETY: pointers are live locals or NULL.
    let rc = unsafe { zcio_copy_file_range(input, in_off, output, out_off, len, &mut copied) };
    (rc, copied)
}

#[test]
fn positional_copy_leaves_positions_alone() {
    let data = pattern(200_000, 9);
    let input = file_with(&data);
    let output = tempfile::tempfile().unwrap();
    let (mut in_off, mut out_off) = (5000i64, 10i64);

    let (rc, copied) = copy(
        input.as_raw_fd(),
        Some(&mut in_off),
        output.as_raw_fd(),
        Some(&mut out_off),
        150_000,
    );
    assert_eq!(
        (rc, copied, in_off, out_off),
        (ZCIO_OK, 150_000, 155_000, 150_010)
    );
    assert_eq!(
        (position(input.as_raw_fd()), position(output.as_raw_fd())),
        (0, 0)
    );
    let written = contents(&output);
    assert_eq!(&written[10..], &data[5000..155_000]);
    assert_eq!(&written[..10], &[0u8; 10]);
}

#[test]
fn file_positions_advance_and_eof_is_short() {
    let data = pattern(70_000, 10);
    let input = file_with(&data);
    let output = tempfile::tempfile().unwrap();

    assert_eq!(
        copy(input.as_raw_fd(), None, output.as_raw_fd(), None, 100_000),
        (ZCIO_ESHORT, 70_000)
    );
    assert_eq!(
        (position(input.as_raw_fd()), position(output.as_raw_fd())),
        (70_000, 70_000)
    );
    assert_eq!(contents(&output), data);
    assert_eq!(
        copy(
            input.as_raw_fd(),
            None,
            output.as_raw_fd(),
            None,
            ZCIO_TO_EOF
        ),
        (ZCIO_OK, 0)
    );
}

#[test]
fn errors_keep_their_errno() {
    let input = file_with(b"abc");
    let appending = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(tempfile::NamedTempFile::new().unwrap().path())
        .unwrap();
    assert_eq!(
        copy(input.as_raw_fd(), None, appending.as_raw_fd(), None, 3),
        (ZCIO_EBADF, 0)
    );
    assert_eq!(
        copy(closed_fd(), None, appending.as_raw_fd(), None, 3),
        (ZCIO_EBADF, 0)
    );
    let (r, _w) = pipe(false);
    let output = tempfile::tempfile().unwrap();
    assert_eq!(
        copy(r.as_raw_fd(), None, output.as_raw_fd(), None, 3),
        (ZCIO_EINVAL, 0)
    );
    // SAFETY: a NULL out-pointer is what is being tested.
    let rc = unsafe {
        zcio_copy_file_range(
            input.as_raw_fd(),
            ptr::null_mut(),
            output.as_raw_fd(),
            ptr::null_mut(),
            3,
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, ZCIO_ENULL);
}
