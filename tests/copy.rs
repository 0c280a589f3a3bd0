//! zcio_copy picks the expected mechanism for each pair of descriptors,
//! falls back from the same offsets, and copies exactly what read() sees.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::copy::*;
use zcio::ffi::primitives::ZCIO_TO_EOF;

fn result() -> zcio_copy_result {
    zcio_copy_result {
        size: std::mem::size_of::<zcio_copy_result>() as u32,
        mechanism: 99,
        moved: 99,
        read: 99,
        fallback_from: 99,
        fallback_code: 99,
    }
}

fn opts() -> zcio_copy_opts {
    let mut opts = std::mem::MaybeUninit::uninit();
    // SAFETY: zcio_copy_opts_init fills the whole structure.
    unsafe {
        assert_eq!(zcio_copy_opts_init(opts.as_mut_ptr()), ZCIO_OK);
        opts.assume_init()
    }
}

fn copy(
    out: i32,
    input: i32,
    count: u64,
    opts: Option<&zcio_copy_opts>,
) -> (i32, zcio_copy_result) {
    let mut res = result();
    let opts = opts.map_or(ptr::null(), |o| o as *const zcio_copy_opts);
    // SAFETY: opts and res are live for the call.
    let rc = unsafe { zcio_copy(out, input, count, opts, &mut res) };
    (rc, res)
}

#[test]
fn file_to_file_uses_copy_file_range() {
    let data = pattern(1 << 20, 21);
    let input = file_with(&data);
    let output = tempfile::tempfile().unwrap();
    let (rc, res) = copy(output.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, None);
    assert_eq!(
        (rc, res.moved, res.read, res.mechanism),
        (ZCIO_OK, 1 << 20, 1 << 20, ZCIO_MECH_COPY_FILE_RANGE)
    );
    assert_eq!(res.fallback_from, ZCIO_MECH_NONE);
    assert_eq!(contents(&output), data);
    assert_eq!(position(input.as_raw_fd()), 1 << 20);
}

#[test]
fn small_file_copies_use_read_write_unless_told_otherwise() {
    let data = pattern(4096, 22);
    let input = file_with(&data);
    let output = tempfile::tempfile().unwrap();
    let (rc, res) = copy(output.as_raw_fd(), input.as_raw_fd(), 4096, None);
    assert_eq!(
        (rc, res.moved, res.mechanism),
        (ZCIO_OK, 4096, ZCIO_MECH_READ_WRITE)
    );

    let mut o = opts();
    o.read_write_below = 1;
    let (mut in_at, mut out_at) = (0i64, 4096i64);
    o.in_offset = &mut in_at;
    o.out_offset = &mut out_at;
    let (rc, res) = copy(output.as_raw_fd(), input.as_raw_fd(), 4096, Some(&o));
    assert_eq!(
        (rc, res.moved, res.mechanism),
        (ZCIO_OK, 4096, ZCIO_MECH_COPY_FILE_RANGE)
    );
    assert_eq!((in_at, out_at), (4096, 8192));
    assert_eq!(contents(&output), [data.clone(), data].concat());
}

#[test]
fn the_file_position_counts_toward_a_small_copy() {
    let data = pattern(1 << 20, 30);
    let input = file_with(&data);
    let output = tempfile::tempfile().unwrap();
    // SAFETY: lseek takes no pointers.
    assert_eq!(
        unsafe { libc::lseek(input.as_raw_fd(), (1 << 20) - 100, libc::SEEK_SET) },
        (1 << 20) - 100
    );
    let (rc, res) = copy(output.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, None);
    assert_eq!(
        (rc, res.moved, res.mechanism),
        (ZCIO_OK, 100, ZCIO_MECH_READ_WRITE)
    );
    assert_eq!(contents(&output), &data[(1 << 20) - 100..]);
}

#[test]
fn tmpfs_to_disk_falls_back_from_copy_file_range() {
    let data = pattern(300_000, 23);
    let mut input = tempfile::tempfile_in("/dev/shm").unwrap();
    input.write_all(&data).unwrap();
    let output = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut at = 0i64;
    let mut o = opts();
    o.in_offset = &mut at;
    let (rc, res) = copy(output.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, Some(&o));
    assert_eq!((rc, res.moved, at), (ZCIO_OK, 300_000, 300_000));
    // Kernels from 5.19 refuse copy_file_range across filesystem types.
    if res.fallback_from != ZCIO_MECH_NONE {
        assert_eq!(
            (res.fallback_from, res.fallback_code),
            (ZCIO_MECH_COPY_FILE_RANGE, ZCIO_EXDEV)
        );
        assert_eq!(res.mechanism, ZCIO_MECH_SENDFILE);
    }
    assert_eq!(contents(&output), data);
}

#[test]
fn file_to_socket_uses_sendfile_and_socket_to_file_splices() {
    let data = pattern(2 << 20, 24);
    let input = file_with(&data);
    let (reader, writer) = stream_pair();
    let sender = std::thread::spawn(move || {
        let (rc, res) = copy(writer.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, None);
        assert_eq!(
            (rc, res.moved, res.mechanism),
            (ZCIO_OK, 2 << 20, ZCIO_MECH_SENDFILE)
        );
    });
    let output = tempfile::tempfile().unwrap();
    let (rc, res) = copy(output.as_raw_fd(), reader.as_raw_fd(), ZCIO_TO_EOF, None);
    sender.join().unwrap();
    assert_eq!(
        (rc, res.moved, res.mechanism),
        (ZCIO_OK, 2 << 20, ZCIO_MECH_SPLICE)
    );
    assert_eq!(contents(&output), data);
}

#[test]
fn pipe_to_socket_splices_directly_and_counts_short_input() {
    let (pipe_read, mut pipe_write) = pipe(false);
    let (mut reader, writer) = stream_pair();
    pipe_write.write_all(b"0123456789").unwrap();
    drop(pipe_write);
    let (rc, res) = copy(writer.as_raw_fd(), pipe_read.as_raw_fd(), 20, None);
    assert_eq!(
        (rc, res.moved, res.mechanism),
        (ZCIO_ESHORT, 10, ZCIO_MECH_SPLICE)
    );
    drop(writer);
    let mut got = Vec::new();
    reader.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"0123456789");
}

#[test]
fn pseudo_files_are_read_to_their_real_end() {
    for path in [
        "/proc/version",
        "/proc/self/mounts",
        "/sys/kernel/mm/transparent_hugepage/enabled",
    ] {
        let Ok(input) = std::fs::File::open(path) else {
            continue;
        };
        let expected = std::fs::read(path).unwrap();
        let output = tempfile::tempfile().unwrap();
        let (rc, res) = copy(output.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, None);
        assert_eq!(rc, ZCIO_OK, "{path}");
        assert_eq!(contents(&output), expected, "{path}");
        assert_eq!(res.moved, expected.len() as u64, "{path}");
        assert!(!expected.is_empty());
    }
}

#[test]
fn append_output_uses_read_write() {
    let data = pattern(100_000, 25);
    let input = file_with(&data);
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), b"head").unwrap();
    let output = std::fs::OpenOptions::new()
        .append(true)
        .open(path.path())
        .unwrap();
    let (rc, res) = copy(output.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, None);
    assert_eq!(
        (rc, res.moved, res.mechanism),
        (ZCIO_OK, 100_000, ZCIO_MECH_READ_WRITE)
    );
    assert_eq!(
        std::fs::read(path.path()).unwrap(),
        [b"head".to_vec(), data].concat()
    );
}

#[test]
fn the_mechanism_mask_is_obeyed() {
    let data = pattern(200_000, 26);
    let input = file_with(&data);
    let output = tempfile::tempfile().unwrap();
    let mut o = opts();
    o.mechanisms = ZCIO_ALLOW_SPLICE;
    let (rc, res) = copy(output.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, Some(&o));
    assert_eq!((rc, res.mechanism), (ZCIO_ENOMECH, ZCIO_MECH_NONE));

    o.mechanisms = ZCIO_ALLOW_SENDFILE;
    let (rc, res) = copy(output.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, Some(&o));
    assert_eq!(
        (rc, res.moved, res.mechanism),
        (ZCIO_OK, 200_000, ZCIO_MECH_SENDFILE)
    );
    assert_eq!(contents(&output), data);
    o.mechanisms = 1;
    assert_eq!(
        copy(output.as_raw_fd(), input.as_raw_fd(), 1, Some(&o)).0,
        ZCIO_EFLAGS
    );
}

#[test]
fn stable_sources_avoid_zero_copy_into_sockets() {
    let data = pattern(100_000, 27);
    let input = file_with(&data);
    let (mut reader, writer) = stream_pair();
    let mut o = opts();
    o.source_policy = ZCIO_SOURCE_STABLE;
    let drain = std::thread::spawn(move || {
        let mut got = vec![0; 200_000];
        reader.read_exact(&mut got).unwrap();
        got
    });
    let (rc, res) = copy(writer.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, Some(&o));
    assert_eq!((rc, res.mechanism), (ZCIO_OK, ZCIO_MECH_READ_WRITE));

    // A memfd sealed against writes cannot change: zero-copy is allowed.
    // SAFETY: memfd_create with a static name; the fd is owned below.
    let sealed = unsafe {
        let fd = libc::memfd_create(
            c"sealed".as_ptr(),
            libc::MFD_ALLOW_SEALING | libc::MFD_CLOEXEC,
        );
        std::fs::File::from_raw_fd(fd)
    };
    (&sealed).write_all(&data).unwrap();
    // SAFETY: fcntl with integer arguments.
    assert_eq!(
        unsafe { libc::fcntl(sealed.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_WRITE) },
        0
    );
    let mut at = 0i64;
    o.in_offset = &mut at;
    let (rc, res) = copy(
        writer.as_raw_fd(),
        sealed.as_raw_fd(),
        ZCIO_TO_EOF,
        Some(&o),
    );
    assert_eq!((rc, res.mechanism), (ZCIO_OK, ZCIO_MECH_SENDFILE));
    assert_eq!(drain.join().unwrap(), [data.clone(), data].concat());
}

#[test]
fn nonblocking_output_returns_eagain_and_resumes_exactly() {
    let data = pattern(8 << 20, 28);
    let input = file_with(&data);
    let (mut reader, writer) = stream_pair();
    set_nonblocking(&writer);
    let mut at = 0i64;
    let mut o = opts();
    o.in_offset = &mut at;
    let (rc, res) = copy(writer.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, Some(&o));
    assert_eq!(rc, ZCIO_EAGAIN);
    assert!(res.moved > 0 && res.moved < data.len() as u64);
    assert_eq!(at, res.moved as i64);

    let total = data.len();
    let drain = std::thread::spawn(move || {
        let mut got = vec![0; total];
        reader.read_exact(&mut got).unwrap();
        got
    });
    loop {
        let (rc, _) = copy(writer.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, Some(&o));
        match rc {
            ZCIO_OK => break,
            ZCIO_EAGAIN => std::thread::sleep(std::time::Duration::from_millis(1)),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(drain.join().unwrap(), data);
}

#[test]
fn the_budget_stops_a_call_with_more() {
    let data = pattern(1 << 20, 29);
    let input = file_with(&data);
    let output = tempfile::tempfile().unwrap();
    let mut o = opts();
    o.budget = 300_000;
    let mut moved = 0;
    loop {
        let (rc, res) = copy(output.as_raw_fd(), input.as_raw_fd(), ZCIO_TO_EOF, Some(&o));
        assert!(res.moved <= 300_000);
        moved += res.moved;
        if rc == ZCIO_OK {
            break;
        }
        assert_eq!(rc, ZCIO_MORE);
    }
    assert_eq!(moved, 1 << 20);
    assert_eq!(contents(&output), data);
}

#[test]
fn bad_structures_and_descriptors() {
    let input = file_with(b"abc");
    let output = tempfile::tempfile().unwrap();
    let mut res = result();
    res.size = 4;
    // SAFETY: res is live; its size field is what is being tested.
    assert_eq!(
        unsafe {
            zcio_copy(
                output.as_raw_fd(),
                input.as_raw_fd(),
                3,
                ptr::null(),
                &mut res,
            )
        },
        ZCIO_ESTRUCT
    );
    // SAFETY: a NULL result is what is being tested.
    assert_eq!(
        unsafe {
            zcio_copy(
                output.as_raw_fd(),
                input.as_raw_fd(),
                3,
                ptr::null(),
                ptr::null_mut(),
            )
        },
        ZCIO_ENULL
    );
    let mut o = opts();
    o.size = 8;
    assert_eq!(
        copy(output.as_raw_fd(), input.as_raw_fd(), 3, Some(&o)).0,
        ZCIO_ESTRUCT
    );
    let (rc, res) = copy(output.as_raw_fd(), closed_fd(), 3, None);
    assert_eq!(
        (rc, res.moved, res.mechanism),
        (ZCIO_EBADF, 0, ZCIO_MECH_NONE)
    );
    let (r, _w) = pipe(false);
    let mut at = 0i64;
    let mut o = opts();
    o.in_offset = &mut at;
    assert_eq!(
        copy(output.as_raw_fd(), r.as_raw_fd(), 3, Some(&o)).0,
        ZCIO_ESPIPE
    );
}
