//! Copies through zcio_map_read, zcio_map_write and zcio_map_send survive
//! the file being truncated underneath (ZCIO_ETRUNCATED, exact counts, the
//! process alive), while direct access really does raise SIGBUS; and the
//! rest of the mapping API: by path, anonymous, lock, residency, resize,
//! offsets past 4 GiB.

mod common;

use std::ffi::CString;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::map::*;

const MIB: u64 = 1 << 20;

fn open(fd: i32, flags: u32) -> *mut zcio_map {
    let mut map = ptr::null_mut();
    // SAFETY: map is a live local.
    assert_eq!(unsafe { zcio_map_open(fd, 0, 0, flags, &mut map) }, ZCIO_OK);
    map
}

fn read(map: *mut zcio_map, offset: u64, len: usize) -> (i32, Vec<u8>) {
    let mut buf = vec![0u8; len];
    let mut got = u64::MAX;
    // SAFETY: map is open; buf holds len bytes.
    let rc = unsafe { zcio_map_read(map, offset, buf.as_mut_ptr().cast(), len as u64, &mut got) };
    buf.truncate(got as usize);
    (rc, buf)
}

/// A 16 MiB file with known bytes, mapped whole, then cut to 1 MiB through
/// another descriptor.
fn truncated_mapping() -> (std::fs::File, *mut zcio_map, Vec<u8>) {
    let data = pattern(16 * MIB as usize, 61);
    let file = file_with(&data);
    let map = open(file.as_raw_fd(), ZCIO_MAP_READ);
    let other = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .unwrap();
    other.set_len(MIB).unwrap();
    (file, map, data)
}

#[test]
fn read_across_the_cut_returns_the_bytes_before_it() {
    let (_file, map, data) = truncated_mapping();
    let (rc, got) = read(map, MIB - 5000, 64 * 1024);
    assert_eq!((rc, got.len()), (ZCIO_ETRUNCATED, 5000));
    assert_eq!(got, &data[(MIB - 5000) as usize..MIB as usize]);
    let (rc, got) = read(map, 2 * MIB, 10);
    assert_eq!((rc, got.len()), (ZCIO_ETRUNCATED, 0));
    let (rc, got) = read(map, 100, 1000);
    assert_eq!((rc, got), (ZCIO_OK, data[100..1100].to_vec()));

    let mut size = 0;
    // SAFETY: map is open; size is a live local.
    unsafe {
        assert_eq!(zcio_map_check(map, &mut size), ZCIO_ETRUNCATED);
        assert_eq!(size, MIB);
        zcio_map_close(map);
    }
}

#[test]
fn send_across_the_cut_stops_at_the_cut() {
    let (_file, map, data) = truncated_mapping();
    let (mut reader, writer) = stream_pair();
    let drain = std::thread::spawn(move || {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        got
    });
    let mut sent = u64::MAX;
    // SAFETY: map is open; sent is a live local.
    let rc = unsafe { zcio_map_send(map, MIB / 2, 4 * MIB, writer.as_raw_fd(), &mut sent) };
    drop(writer);
    assert_eq!((rc, sent), (ZCIO_ETRUNCATED, MIB / 2));
    assert_eq!(
        drain.join().unwrap(),
        &data[(MIB / 2) as usize..MIB as usize]
    );
    // SAFETY: map is closed once.
    unsafe { zcio_map_close(map) };
}

#[test]
fn write_into_a_truncated_shared_mapping_stops_at_the_cut() {
    let file = file_with(&pattern(4 * MIB as usize, 62));
    let map = open(file.as_raw_fd(), ZCIO_MAP_READ | ZCIO_MAP_WRITE);
    file.set_len(MIB + 100).unwrap();
    let bytes = vec![b'w'; 2 * MIB as usize];
    let mut written = u64::MAX;
    // SAFETY: map is open; bytes holds the length given.
    let rc = unsafe {
        zcio_map_write(
            map,
            MIB - 50,
            bytes.as_ptr().cast(),
            bytes.len() as u64,
            &mut written,
        )
    };
    assert_eq!((rc, written), (ZCIO_ETRUNCATED, 150));
    // SAFETY: map is open, then closed once.
    unsafe {
        assert_eq!(zcio_map_sync(map, 0, MIB, 0), ZCIO_OK);
        zcio_map_close(map);
    }
    let mut tail = [0u8; 150];
    file.read_exact_at(&mut tail, MIB - 50).unwrap();
    assert_eq!(tail, [b'w'; 150]);
}

/// The control: touching the same vanished pages directly kills a process
/// with SIGBUS, so the tests above prove real protection.
#[test]
fn direct_access_past_the_cut_raises_sigbus() {
    let (_file, map, _) = truncated_mapping();
    // SAFETY: map is open; the child only reads memory and exits.
    let status = unsafe {
        let page = zcio_map_data(map).add(2 * MIB as usize);
        match libc::fork() {
            0 => {
                std::ptr::read_volatile(page);
                libc::_exit(0)
            }
            pid => {
                let mut status = 0;
                assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
                status
            }
        }
    };
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGBUS,
        "status {status:#x}"
    );
    // SAFETY: map is closed once.
    unsafe { zcio_map_close(map) };
}

#[test]
fn readers_racing_a_truncation_get_full_data_or_etruncated() {
    let data = pattern(8 * MIB as usize, 63);
    let file = file_with(&data);
    let map = open(file.as_raw_fd(), 0) as usize;
    let readers: Vec<_> = (0..4)
        .map(|i| {
            let data = data.clone();
            std::thread::spawn(move || {
                let mut truncated = 0;
                for round in 0..400u64 {
                    let offset = (round * 7919 + i * 104_729) % (7 * MIB);
                    let (rc, got) = read(map as *mut zcio_map, offset, 256 * 1024);
                    match rc {
                        ZCIO_OK => {
                            assert_eq!(got, &data[offset as usize..offset as usize + got.len()])
                        }
                        ZCIO_ETRUNCATED => {
                            truncated += 1;
                            assert_eq!(got, &data[offset as usize..offset as usize + got.len()]);
                        }
                        other => panic!("unexpected {other}"),
                    }
                }
                truncated
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(5));
    file.set_len(3 * MIB).unwrap();
    let truncated: u32 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(truncated > 0, "the truncation should have cut some reads");
    // SAFETY: map is closed once, after every reader finished.
    unsafe { zcio_map_close(map as *mut zcio_map) };
}

#[test]
fn offsets_past_4_gib_on_a_5_gib_sparse_file() {
    let file = tempfile::tempfile_in("/dev/shm").unwrap();
    file.set_len(5 << 30).unwrap();
    let marker = b"past four gibibytes";
    let at: u64 = (4 << 30) + 12345;
    file.write_all_at(marker, at).unwrap();

    let map = open(file.as_raw_fd(), 0);
    // SAFETY: map is open.
    assert_eq!(unsafe { zcio_map_len(map) }, 5 << 30);
    assert_eq!(read(map, at, marker.len()), (ZCIO_OK, marker.to_vec()));
    // SAFETY: map is closed once.
    unsafe { zcio_map_close(map) };

    let mut high = ptr::null_mut();
    // SAFETY: high is a live local.
    unsafe {
        assert_eq!(
            zcio_map_open(file.as_raw_fd(), at, 4096, 0, &mut high),
            ZCIO_OK
        );
        assert_eq!(
            std::slice::from_raw_parts(zcio_map_data(high), marker.len()),
            marker
        );
        zcio_map_close(high);
    }
}

#[test]
fn open_by_path() {
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), b"mapped by path").unwrap();
    let c_path = CString::new(path.path().to_str().unwrap()).unwrap();
    let mut map = ptr::null_mut();
    // SAFETY: c_path and map are live.
    unsafe {
        assert_eq!(
            zcio_map_open_path(
                c_path.as_ptr(),
                7,
                0,
                ZCIO_MAP_READ | ZCIO_MAP_WRITE,
                &mut map
            ),
            ZCIO_OK
        );
        assert_eq!(read(map, 0, 7), (ZCIO_OK, b"by path".to_vec()));
        let mut n = 0;
        assert_eq!(
            zcio_map_write(map, 0, b"BY".as_ptr().cast(), 2, &mut n),
            ZCIO_OK
        );
        assert_eq!(zcio_map_sync(map, 0, 0, 0), ZCIO_OK);
        zcio_map_close(map);
        assert_eq!(std::fs::read(path.path()).unwrap(), b"mapped BY path");

        let missing = c"/nonexistent/zcio";
        assert_eq!(
            zcio_map_open_path(missing.as_ptr(), 0, 0, 0, &mut map),
            ZCIO_ENOENT
        );
        assert!(map.is_null());
        assert_eq!(
            zcio_map_open_path(ptr::null(), 0, 0, 0, &mut map),
            ZCIO_ENULL
        );
    }
}

#[test]
fn anonymous_memory_lock_residency_and_resize() {
    let mut map = ptr::null_mut();
    // SAFETY: map is a live local; every call uses the open mapping.
    unsafe {
        assert_eq!(zcio_map_anon(3 * MIB, ZCIO_MAP_POPULATE, &mut map), ZCIO_OK);
        let mut resident = 0;
        assert_eq!(zcio_map_resident(map, 0, 0, &mut resident), ZCIO_OK);
        assert_eq!(resident, 3 * MIB);
        assert_eq!(zcio_map_resident(map, 100, 5000, &mut resident), ZCIO_OK);
        assert_eq!(resident, 5000);

        let mut n = 0;
        assert_eq!(
            zcio_map_write(map, MIB, b"anon".as_ptr().cast(), 4, &mut n),
            ZCIO_OK
        );
        assert_eq!(zcio_map_lock(map), ZCIO_OK);
        assert_eq!(zcio_map_unlock(map), ZCIO_OK);

        assert_eq!(zcio_map_resize(map, 64 * MIB), ZCIO_OK);
        assert_eq!(zcio_map_len(map), 64 * MIB);
        assert_eq!(read(map, MIB, 4), (ZCIO_OK, b"anon".to_vec()));
        assert_eq!(read(map, 63 * MIB, 4), (ZCIO_OK, vec![0; 4]));
        assert_eq!(zcio_map_resize(map, 0), ZCIO_OK);
        assert_eq!(zcio_map_len(map), 0);
        assert_eq!(zcio_map_resize(map, 4096), ZCIO_OK);
        assert_eq!(read(map, 0, 4), (ZCIO_OK, vec![0; 4]));
        assert_eq!(zcio_map_anon(1, ZCIO_MAP_WRITE, &mut map), ZCIO_EFLAGS);
        zcio_map_close(map);
    }
}

#[test]
fn file_mappings_resize_within_the_file() {
    let data = pattern(3 * MIB as usize, 64);
    let file = file_with(&data);
    let mut map = ptr::null_mut();
    // SAFETY: map is a live local, open for the calls below.
    unsafe {
        assert_eq!(
            zcio_map_open(file.as_raw_fd(), 4096, MIB, 0, &mut map),
            ZCIO_OK
        );
        assert_eq!(zcio_map_resize(map, 3 * MIB), ZCIO_EBOUNDS);
        assert_eq!(zcio_map_len(map), MIB);
        assert_eq!(zcio_map_resize(map, 2 * MIB), ZCIO_OK);
        assert_eq!(
            read(map, 2 * MIB - 10, 10),
            (
                ZCIO_OK,
                data[(2 * MIB + 4086) as usize..(2 * MIB + 4096) as usize].to_vec()
            )
        );
        let mut size = 0;
        assert_eq!(zcio_map_check(map, &mut size), ZCIO_OK);
        assert_eq!(size, 3 * MIB);
        assert_eq!(read(map, 0, (2 * MIB + 1) as usize).0, ZCIO_EBOUNDS);
        zcio_map_close(map);
    }
}
