//! zcio_sendfile moves exactly the requested bytes and keeps offsets,
//! progress and errno straight on every path.

mod common;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::primitives::{ZCIO_TO_EOF, zcio_sendfile};

fn sendfile(out: i32, input: i32, offset: Option<&mut i64>, count: u64) -> (i32, u64) {
    let mut sent = u64::MAX;
    let offset = offset.map_or(ptr::null_mut(), |o| o as *mut i64);
    // SAFETY: offset and sent point to live locals or are NULL.
    let rc = unsafe { zcio_sendfile(out, input, offset, count, &mut sent) };
    (rc, sent)
}

#[test]
fn file_to_file_with_the_file_position() {
    let data = pattern(100_000, 1);
    let input = file_with(&data);
    let output = tempfile::tempfile().unwrap();

    assert_eq!(
        sendfile(output.as_raw_fd(), input.as_raw_fd(), None, 60_000),
        (ZCIO_OK, 60_000)
    );
    assert_eq!(position(input.as_raw_fd()), 60_000);
    assert_eq!(
        sendfile(output.as_raw_fd(), input.as_raw_fd(), None, ZCIO_TO_EOF),
        (ZCIO_OK, 40_000)
    );
    assert_eq!(position(input.as_raw_fd()), 100_000);
    assert_eq!(contents(&output), data);
}

#[test]
fn positional_offset_leaves_the_position_alone() {
    let data = pattern(50_000, 2);
    let input = file_with(&data);
    let (mut reader, writer) = stream_pair();

    let mut offset = 1000i64;
    let (rc, sent) = sendfile(
        writer.as_raw_fd(),
        input.as_raw_fd(),
        Some(&mut offset),
        20_000,
    );
    assert_eq!((rc, sent, offset), (ZCIO_OK, 20_000, 21_000));
    assert_eq!(position(input.as_raw_fd()), 0);

    drop(writer);
    let mut received = Vec::new();
    reader.read_to_end(&mut received).unwrap();
    assert_eq!(received, &data[1000..21_000]);
}

#[test]
fn count_past_the_end_is_short_with_the_true_count() {
    let input = file_with(&pattern(4097, 3));
    let output = tempfile::tempfile().unwrap();
    let mut offset = 0i64;
    let (rc, sent) = sendfile(
        output.as_raw_fd(),
        input.as_raw_fd(),
        Some(&mut offset),
        10_000,
    );
    assert_eq!((rc, sent, offset), (ZCIO_ESHORT, 4097, 4097));

    // Starting at the end moves nothing and says so.
    let (rc, sent) = sendfile(output.as_raw_fd(), input.as_raw_fd(), Some(&mut offset), 1);
    assert_eq!((rc, sent), (ZCIO_ESHORT, 0));
    let (rc, sent) = sendfile(
        output.as_raw_fd(),
        input.as_raw_fd(),
        Some(&mut offset),
        ZCIO_TO_EOF,
    );
    assert_eq!((rc, sent), (ZCIO_OK, 0));
}

/// 3 GiB crosses the kernel's per-call cap of 0x7ffff000 bytes twice.
#[test]
fn three_gib_sparse_file_to_dev_null() {
    let size: u64 = 3 << 30;
    let input = tempfile::tempfile_in("/dev/shm").expect("/dev/shm is a tmpfs on Linux");
    input.set_len(size).unwrap();
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();

    assert_eq!(
        sendfile(null.as_raw_fd(), input.as_raw_fd(), None, ZCIO_TO_EOF),
        (ZCIO_OK, size)
    );
    let mut offset = 0i64;
    let (rc, sent) = sendfile(null.as_raw_fd(), input.as_raw_fd(), Some(&mut offset), size);
    assert_eq!((rc, sent, offset), (ZCIO_OK, size, size as i64));
}

#[test]
fn nonblocking_full_socket_returns_eagain_with_progress() {
    let data = pattern(8 << 20, 4);
    let input = file_with(&data);
    let (mut reader, writer) = stream_pair();
    set_nonblocking(&writer);

    let mut offset = 0i64;
    let (rc, sent) = sendfile(
        writer.as_raw_fd(),
        input.as_raw_fd(),
        Some(&mut offset),
        data.len() as u64,
    );
    assert_eq!(rc, ZCIO_EAGAIN);
    assert!(sent > 0 && sent < data.len() as u64, "sent {sent}");
    assert_eq!(offset, sent as i64);
    assert_eq!(errno(), libc::EAGAIN);

    // Drain in a thread while this one resumes from the saved offset.
    let total = data.len();
    let drain = std::thread::spawn(move || {
        let mut received = vec![0u8; total];
        reader.read_exact(&mut received).unwrap();
        received
    });
    let mut left = data.len() as u64 - sent;
    while left > 0 {
        let (rc, sent) = sendfile(
            writer.as_raw_fd(),
            input.as_raw_fd(),
            Some(&mut offset),
            left,
        );
        assert!(rc == ZCIO_OK || rc == ZCIO_EAGAIN, "{rc}");
        left -= sent;
        if rc == ZCIO_EAGAIN {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    assert_eq!(drain.join().unwrap(), data);
}

#[test]
fn bad_arguments() {
    let input = file_with(b"abc");
    let output = tempfile::tempfile().unwrap();

    assert_eq!(
        sendfile(output.as_raw_fd(), closed_fd(), None, 3),
        (ZCIO_EBADF, 0)
    );
    assert_eq!(errno(), libc::EBADF);
    assert_eq!(
        sendfile(closed_fd(), input.as_raw_fd(), None, 3),
        (ZCIO_EBADF, 0)
    );
    let mut negative = -1i64;
    assert_eq!(
        sendfile(
            output.as_raw_fd(),
            input.as_raw_fd(),
            Some(&mut negative),
            3
        ),
        (ZCIO_EINVAL, 0)
    );
    // SAFETY: a NULL out-pointer is what is being tested.
    let rc = unsafe {
        zcio_sendfile(
            output.as_raw_fd(),
            input.as_raw_fd(),
            ptr::null_mut(),
            3,
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, ZCIO_ENULL);
}
