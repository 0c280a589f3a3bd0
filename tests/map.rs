//! zcio_map_* maps exact file ranges, keeps writes shared or private as
//! asked, and refuses ranges outside the file.

mod common;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::map::*;

/// Opens a mapping or returns the code.
fn open(fd: i32, offset: u64, len: u64, flags: u32) -> Result<*mut zcio_map, i32> {
    let mut map = ptr::dangling_mut::<zcio_map>();
    // SAFETY: map is a live local.
    let rc = unsafe { zcio_map_open(fd, offset, len, flags, &mut map) };
    if rc == ZCIO_OK {
        Ok(map)
    } else {
        assert!(map.is_null(), "map_out must be NULL on error");
        Err(rc)
    }
}

/// The mapping's bytes, copied out.
fn bytes(map: *mut zcio_map) -> Vec<u8> {
    // SAFETY: map is open; data and len describe its mapped bytes.
    unsafe { std::slice::from_raw_parts(zcio_map_data(map), zcio_map_len(map) as usize).to_vec() }
}

#[test]
fn reads_the_file_through_memory() {
    let data = pattern(3 * 4096 + 17, 11);
    let file = file_with(&data);
    let map = open(file.as_raw_fd(), 0, 0, ZCIO_MAP_READ).unwrap();
    drop(file);
    assert_eq!(bytes(map), data);
    // SAFETY: map is open and closed once.
    unsafe { zcio_map_close(map) };
}

#[test]
fn unaligned_offset_points_at_the_requested_byte() {
    let data = pattern(20_000, 12);
    let file = file_with(&data);
    let map = open(file.as_raw_fd(), 4097, 5000, 0).unwrap();
    assert_eq!(bytes(map), &data[4097..9097]);
    // SAFETY: map is open; both ranges lie inside it.
    unsafe {
        assert_eq!(zcio_map_advise(map, 0, 0, ZCIO_ADVICE_SEQUENTIAL), ZCIO_OK);
        assert_eq!(zcio_map_sync(map, 1, 4999, 0), ZCIO_OK);
        zcio_map_close(map);
    }
}

#[test]
fn shared_writes_reach_the_file_and_private_ones_do_not() {
    let file = tempfile::tempfile().unwrap();
    (&file).write_all(&[b'a'; 8192]).unwrap();

    let shared = open(file.as_raw_fd(), 4096, 0, ZCIO_MAP_READ | ZCIO_MAP_WRITE).unwrap();
    let private = open(file.as_raw_fd(), 0, 0, ZCIO_MAP_PRIVATE | ZCIO_MAP_WRITE).unwrap();
    // SAFETY: both mappings are open and writable for their whole length.
    unsafe {
        *zcio_map_data(shared) = b'S';
        assert_eq!(zcio_map_sync(shared, 0, 0, 0), ZCIO_OK);
        assert_eq!(zcio_map_sync(shared, 0, 1, ZCIO_SYNC_ASYNC), ZCIO_OK);
        *zcio_map_data(private) = b'P';
    }
    let written = contents(&file);
    assert_eq!((written[0], written[4096]), (b'a', b'S'));
    assert_eq!(bytes(private)[..2], [b'P', b'a']);
    assert_eq!(
        bytes(private)[4096],
        b'S',
        "untouched private pages still show the file"
    );
    // SAFETY: each map is closed once.
    unsafe {
        zcio_map_close(shared);
        zcio_map_close(private);
    }
}

#[test]
fn empty_ranges_succeed_with_length_zero() {
    let empty = file_with(b"");
    let map = open(empty.as_raw_fd(), 0, 0, 0).unwrap();
    // SAFETY: map is open.
    unsafe {
        assert_eq!(zcio_map_len(map), 0);
        assert!(!zcio_map_data(map).is_null());
        assert_eq!(zcio_map_sync(map, 0, 0, 0), ZCIO_OK);
        assert_eq!(zcio_map_advise(map, 1, 0, ZCIO_ADVICE_NORMAL), ZCIO_EBOUNDS);
        zcio_map_close(map);
    }
    let file = file_with(&[1u8; 5000]);
    let map = open(file.as_raw_fd(), 5000, 0, 0).unwrap();
    // SAFETY: map is open, then closed once.
    unsafe {
        assert_eq!(zcio_map_len(map), 0);
        zcio_map_close(map);
    }
}

#[test]
fn ranges_outside_the_file_are_refused() {
    let file = file_with(&[1u8; 5000]);
    let fd = file.as_raw_fd();
    assert_eq!(open(fd, 0, 5001, 0).unwrap_err(), ZCIO_EBOUNDS);
    assert_eq!(open(fd, 5001, 0, 0).unwrap_err(), ZCIO_EBOUNDS);
    assert_eq!(open(fd, 4000, u64::MAX, 0).unwrap_err(), ZCIO_EBOUNDS);
    assert_eq!(open(fd, u64::MAX, 1, 0).unwrap_err(), ZCIO_EBOUNDS);

    let map = open(fd, 0, 0, 0).unwrap();
    // SAFETY: map is open, then closed once.
    unsafe {
        assert_eq!(zcio_map_sync(map, 4000, 1001, 0), ZCIO_EBOUNDS);
        assert_eq!(
            zcio_map_advise(map, 5001, 0, ZCIO_ADVICE_NORMAL),
            ZCIO_EBOUNDS
        );
        assert_eq!(zcio_map_advise(map, 0, 0, 99), ZCIO_EFLAGS);
        assert_eq!(zcio_map_sync(map, 0, 0, 2), ZCIO_EFLAGS);
        zcio_map_close(map);
    }
}

#[test]
fn every_advice_is_accepted() {
    let file = file_with(&pattern(1 << 16, 13));
    let map = open(file.as_raw_fd(), 0, 0, 0).unwrap();
    for advice in [
        ZCIO_ADVICE_NORMAL,
        ZCIO_ADVICE_SEQUENTIAL,
        ZCIO_ADVICE_RANDOM,
        ZCIO_ADVICE_WILLNEED,
        ZCIO_ADVICE_DONTNEED,
    ] {
        // SAFETY: map is open.
        assert_eq!(
            unsafe { zcio_map_advise(map, 100, 5000, advice) },
            ZCIO_OK,
            "advice {advice}"
        );
    }
    // Huge pages for file mappings depend on the kernel's configuration.
    // SAFETY: map is open.
    let rc = unsafe { zcio_map_advise(map, 0, 0, ZCIO_ADVICE_HUGEPAGE) };
    assert!(rc == ZCIO_OK || rc == ZCIO_EINVAL, "{rc}");
    assert_eq!(
        bytes(map),
        pattern(1 << 16, 13),
        "DONTNEED on a read-only map re-reads the file"
    );
    // SAFETY: map is closed once.
    unsafe { zcio_map_close(map) };
}

#[test]
fn wrong_descriptors_and_arguments() {
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), b"read only").unwrap();
    let read_only = std::fs::File::open(path.path()).unwrap();
    assert_eq!(
        open(read_only.as_raw_fd(), 0, 0, ZCIO_MAP_WRITE).unwrap_err(),
        ZCIO_EACCES
    );
    assert_eq!(errno(), libc::EACCES);
    assert_eq!(open(closed_fd(), 0, 0, 0).unwrap_err(), ZCIO_EBADF);
    assert_eq!(
        open(read_only.as_raw_fd(), 0, 0, 16).unwrap_err(),
        ZCIO_EFLAGS
    );
    let (r, _w) = pipe(false);
    assert_eq!(open(r.as_raw_fd(), 0, 0, 0).unwrap_err(), ZCIO_ENODEV);
    let dir = std::fs::File::open("/").unwrap();
    assert_eq!(open(dir.as_raw_fd(), 0, 0, 0).unwrap_err(), ZCIO_EISDIR);

    // SAFETY: NULL arguments are what is being tested.
    unsafe {
        assert_eq!(
            zcio_map_open(read_only.as_raw_fd(), 0, 0, 0, ptr::null_mut()),
            ZCIO_ENULL
        );
        assert_eq!(zcio_map_sync(ptr::null_mut(), 0, 0, 0), ZCIO_ENULL);
        assert_eq!(zcio_map_advise(ptr::null_mut(), 0, 0, 0), ZCIO_ENULL);
        assert!(zcio_map_data(ptr::null()).is_null());
        assert_eq!(zcio_map_len(ptr::null()), 0);
        zcio_map_close(ptr::null_mut());
    }
}
