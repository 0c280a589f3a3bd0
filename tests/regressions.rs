//! Faults found by trying zcio as a stranger would, each kept as a test:
//! copies within one file, O_DIRECT, mixed blocking modes, O_APPEND with an
//! offset, and structures checked before any I/O.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::ptr;
use std::time::Duration;

use common::*;
use zcio::error::*;
use zcio::ffi::copy::*;
use zcio::ffi::primitives::ZCIO_TO_EOF;
use zcio::ffi::transfer::*;

fn copy_at(
    out: i32,
    input: i32,
    count: u64,
    in_at: Option<&mut i64>,
    out_at: Option<&mut i64>,
) -> (i32, zcio_copy_result) {
    // SAFETY: all-zero is a valid options structure; init fills it.
    let mut opts: zcio_copy_opts = unsafe { std::mem::zeroed() };
    // SAFETY: opts is live.
    assert_eq!(unsafe { zcio_copy_opts_init(&mut opts) }, ZCIO_OK);
    opts.in_offset = in_at.map_or(ptr::null_mut(), |p| p as *mut i64);
    opts.out_offset = out_at.map_or(ptr::null_mut(), |p| p as *mut i64);
    // SAFETY: all-zero is a valid result structure.
    let mut res: zcio_copy_result = unsafe { std::mem::zeroed() };
    res.size = std::mem::size_of_val(&res) as u32;
    // SAFETY: opts and res are live for the call.
    let rc = unsafe { zcio_copy(out, input, count, &opts, &mut res) };
    (rc, res)
}

#[test]
fn overlapping_ranges_of_one_file_are_refused_untouched() {
    let data = pattern(1 << 20, 81);
    let file = file_with(&data);
    let (mut from, mut to) = (0i64, 4096i64);
    let (rc, res) = copy_at(
        file.as_raw_fd(),
        file.as_raw_fd(),
        (1 << 20) - 4096,
        Some(&mut from),
        Some(&mut to),
    );
    assert_eq!((rc, res.moved, from, to), (ZCIO_EINVAL, 0, 0, 4096));
    assert_eq!(contents(&file), data);

    // A second descriptor of the same file is the same file.
    let again = std::fs::File::open(format!("/proc/self/fd/{}", file.as_raw_fd())).unwrap();
    let (mut from, mut to) = (4096i64, 0i64);
    let (rc, _) = copy_at(
        file.as_raw_fd(),
        again.as_raw_fd(),
        8192,
        Some(&mut from),
        Some(&mut to),
    );
    assert_eq!(rc, ZCIO_EINVAL);
}

#[test]
fn copying_a_file_onto_its_own_end_stops_at_the_old_end() {
    let data = pattern(300_000, 82);
    let file = file_with(&data);
    let (mut from, mut to) = (0i64, 300_000i64);
    let (rc, res) = copy_at(
        file.as_raw_fd(),
        file.as_raw_fd(),
        ZCIO_TO_EOF,
        Some(&mut from),
        Some(&mut to),
    );
    assert_eq!(
        (rc, res.moved, from, to),
        (ZCIO_OK, 300_000, 300_000, 600_000)
    );
    assert_eq!(contents(&file), [data.clone(), data].concat());
}

#[test]
fn append_outputs_refuse_an_output_offset() {
    let input = file_with(&pattern(1000, 83));
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), b"HEAD").unwrap();
    let output = std::fs::OpenOptions::new()
        .append(true)
        .open(path.path())
        .unwrap();
    let mut at = 0i64;
    let (rc, res) = copy_at(
        output.as_raw_fd(),
        input.as_raw_fd(),
        1000,
        None,
        Some(&mut at),
    );
    assert_eq!((rc, res.moved, at), (ZCIO_EINVAL, 0, 0));
    assert_eq!(std::fs::read(path.path()).unwrap(), b"HEAD");
}

#[test]
fn o_direct_files_copy_at_small_sizes() {
    let dir = env!("CARGO_TARGET_TMPDIR");
    for size in [4096usize, 8192, 65536] {
        let data = pattern(size, 84);
        let source = tempfile::NamedTempFile::new_in(dir).unwrap();
        std::fs::write(source.path(), &data).unwrap();
        let Ok(input) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(source.path())
        else {
            eprintln!("O_DIRECT is not supported in {dir}; nothing to test");
            return;
        };
        let dest = tempfile::NamedTempFile::new_in(dir).unwrap();
        let output = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(dest.path())
            .unwrap();
        let (rc, res) = copy_at(
            output.as_raw_fd(),
            input.as_raw_fd(),
            size as u64,
            None,
            None,
        );
        assert_eq!((rc, res.moved), (ZCIO_OK, size as u64), "size {size}");
        assert_eq!(std::fs::read(dest.path()).unwrap(), data, "size {size}");
    }
}

#[test]
fn a_blocking_input_is_waited_for_even_with_a_non_blocking_output() {
    let (pipe_read, mut pipe_write) = pipe(false);
    let (mut reader, writer) = stream_pair();
    set_nonblocking(&writer);
    let feeder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        pipe_write.write_all(b"late bytes").unwrap();
    });
    let (rc, res) = copy_at(
        writer.as_raw_fd(),
        pipe_read.as_raw_fd(),
        ZCIO_TO_EOF,
        None,
        None,
    );
    feeder.join().unwrap();
    assert_eq!((rc, res.moved), (ZCIO_OK, 10));
    drop(writer);
    let mut got = Vec::new();
    reader.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"late bytes");
}

#[test]
fn a_blocking_output_is_waited_for_even_with_a_non_blocking_input() {
    let (in_read, mut in_write) = pipe(true);
    let (mut out_read, out_write) = pipe(false);
    // Fill the output pipe so the copy must wait for the reader below.
    let filler = vec![1u8; 1 << 16];
    set_nonblocking(&out_write);
    let mut stuffed = 0;
    while let Ok(n) = (&out_write).write(&filler) {
        stuffed += n;
    }
    let flags = unsafe { libc::fcntl(out_write.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: fcntl with integer arguments: back to blocking.
    assert_eq!(
        unsafe {
            libc::fcntl(
                out_write.as_raw_fd(),
                libc::F_SETFL,
                flags & !libc::O_NONBLOCK,
            )
        },
        0
    );
    in_write.write_all(b"payload").unwrap();
    drop(in_write);

    let drain = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let mut got = Vec::new();
        out_read.read_to_end(&mut got).unwrap();
        got
    });
    let (rc, res) = copy_at(
        out_write.as_raw_fd(),
        in_read.as_raw_fd(),
        ZCIO_TO_EOF,
        None,
        None,
    );
    assert_eq!((rc, res.moved), (ZCIO_OK, 7));
    drop(out_write);
    let got = drain.join().unwrap();
    assert_eq!((got.len(), &got[stuffed..]), (stuffed + 7, &b"payload"[..]));
}

#[test]
fn a_bad_progress_structure_is_refused_before_any_io() {
    let (mut feeder, input) = stream_pair();
    let (output, mut sink) = stream_pair();
    set_nonblocking(&input);
    feeder.write_all(b"0123456789").unwrap();
    let mut t = ptr::null_mut();
    // SAFETY: all-zero is a valid progress structure.
    let mut progress: zcio_transfer_progress = unsafe { std::mem::zeroed() };
    progress.size = 3;
    // SAFETY: t and progress are live; t is freed once.
    unsafe {
        assert_eq!(
            zcio_transfer_new(
                output.as_raw_fd(),
                input.as_raw_fd(),
                10,
                ptr::null(),
                &mut t
            ),
            ZCIO_OK
        );
        assert_eq!(zcio_transfer_step(t, 0, &mut progress), ZCIO_ESTRUCT);
        progress.size = std::mem::size_of_val(&progress) as u32;
        assert_eq!(zcio_transfer_step(t, 0, &mut progress), ZCIO_OK);
        assert_eq!(progress.written, 10);
        zcio_transfer_free(t);
    }
    let mut got = [0u8; 10];
    sink.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"0123456789");
}

/// Found by fuzzing: an output offset on a device that cannot seek was
/// accepted and silently not advanced.
#[test]
fn offsets_on_devices_that_cannot_seek_are_refused() {
    let input = file_with(&pattern(8199, 85));
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let mut at = 1000i64;
    let (rc, res) = copy_at(
        null.as_raw_fd(),
        input.as_raw_fd(),
        ZCIO_TO_EOF,
        None,
        Some(&mut at),
    );
    assert_eq!((rc, res.moved, at), (ZCIO_ESPIPE, 0, 1000));
}

/// Found by fuzzing: copying a file onto its own end "to the end" chased
/// the end it was moving, without bound.
#[test]
fn primitives_copying_a_file_onto_itself_stop_at_the_old_end() {
    use zcio::ffi::primitives::{zcio_copy_file_range, zcio_sendfile};
    let data = pattern(12_388, 86);
    let file = file_with(&data);
    let mut out_at = 1_354_025i64;
    let mut n = 0;
    // SAFETY: out_at and n are live locals.
    let rc = unsafe {
        zcio_copy_file_range(
            file.as_raw_fd(),
            ptr::null_mut(),
            file.as_raw_fd(),
            &mut out_at,
            ZCIO_TO_EOF,
            &mut n,
        )
    };
    assert_eq!((rc, n, out_at), (ZCIO_OK, 12_388, 1_354_025 + 12_388));
    assert_eq!(file.metadata().unwrap().len(), 1_354_025 + 12_388);

    let file = file_with(&data);
    let reader = std::fs::File::open(format!("/proc/self/fd/{}", file.as_raw_fd())).unwrap();
    // SAFETY: lseek takes no pointers; n is a live local.
    let rc = unsafe {
        libc::lseek(file.as_raw_fd(), 0, libc::SEEK_END);
        zcio_sendfile(
            file.as_raw_fd(),
            reader.as_raw_fd(),
            ptr::null_mut(),
            ZCIO_TO_EOF,
            &mut n,
        )
    };
    assert_eq!((rc, n), (ZCIO_OK, 12_388));
    assert_eq!(contents(&file), [data.clone(), data].concat());
}

/// Found by fuzzing: /dev/null accepts a splice output offset and leaves it
/// alone, so an offset must advance by the bytes moved whatever the kernel
/// does with it.
#[test]
fn offsets_advance_by_exactly_the_bytes_moved_on_any_device() {
    use zcio::ffi::primitives::zcio_splice;
    let (pipe_read, mut pipe_write) = pipe(false);
    pipe_write.write_all(&pattern(12_388, 87)).unwrap();
    drop(pipe_write);
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let (mut at, mut moved) = (3_849_984i64, 0u64);
    // SAFETY: at and moved are live locals.
    let rc = unsafe {
        zcio_splice(
            pipe_read.as_raw_fd(),
            ptr::null_mut(),
            null.as_raw_fd(),
            &mut at,
            555_505,
            0,
            &mut moved,
        )
    };
    assert_eq!((rc, moved, at), (ZCIO_ESHORT, 12_388, 3_849_984 + 12_388));
}
