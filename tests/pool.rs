//! The pipe pool is bounded, never hands out a pipe with bytes left in it,
//! falls back to read/write when exhausted, and stays consistent under
//! concurrent use. (One test, alone in its binary: the pool is per process.)

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::copy::*;
use zcio::ffi::pool::*;
use zcio::ffi::primitives::ZCIO_TO_EOF;
use zcio::ffi::transfer::*;

fn pool_stats() -> zcio_pool_counters {
    // SAFETY: all-zero is a valid structure; the size is set before use.
    let mut s: zcio_pool_counters = unsafe { std::mem::zeroed() };
    s.size = std::mem::size_of::<zcio_pool_counters>() as u32;
    // SAFETY: s is sized.
    assert_eq!(unsafe { zcio_pool_stats(&mut s) }, ZCIO_OK);
    s
}

/// Makes a socket's send buffer as small as the kernel allows, so it fills
/// after a few KiB.
fn shrink_send_buffer(socket: &impl AsRawFd) {
    let size: libc::c_int = 1;
    // SAFETY: size is a valid int for the option.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&raw const size).cast(),
            4,
        )
    };
    assert_eq!(rc, 0);
}

fn configure(max_pipes: u32) {
    let config = zcio_pool_config {
        size: std::mem::size_of::<zcio_pool_config>() as u32,
        max_pipes,
        pipe_size: 0,
        max_buffers: 0,
        buffer_size: 0,
        reserved: 0,
    };
    // SAFETY: config is sized.
    assert_eq!(unsafe { zcio_pool_configure(&config) }, ZCIO_OK);
}

fn socket_to_socket(data: &[u8]) -> (i32, zcio_copy_result) {
    let (mut feeder, input) = stream_pair();
    let (output, mut sink) = stream_pair();
    feeder.write_all(data).unwrap();
    drop(feeder);
    let len = data.len();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0; len];
        sink.read_exact(&mut got).unwrap();
        got
    });
    // SAFETY: all-zero is a valid result structure.
    let mut res: zcio_copy_result = unsafe { std::mem::zeroed() };
    res.size = std::mem::size_of::<zcio_copy_result>() as u32;
    // SAFETY: res is sized and live.
    let rc = unsafe {
        zcio_copy(
            output.as_raw_fd(),
            input.as_raw_fd(),
            ZCIO_TO_EOF,
            ptr::null(),
            &mut res,
        )
    };
    assert_eq!(reader.join().unwrap(), data);
    (rc, res)
}

#[test]
fn pool_behaviour() {
    configure(1);
    let data = pattern(100_000, 41);

    // A transfer whose output is full keeps bytes in its pipe: freeing it
    // must close that pipe, not return it.
    let (mut feeder, input) = stream_pair();
    let (output, sink) = stream_pair();
    set_nonblocking(&input);
    set_nonblocking(&output);
    shrink_send_buffer(&output);
    feeder.write_all(&pattern(100_000, 42)).unwrap();
    let mut t = ptr::null_mut();
    // SAFETY: t is live and freed once below.
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
        assert_eq!(zcio_transfer_step(t, 0, ptr::null_mut()), ZCIO_WANT_WRITE);
    }
    assert_eq!(pool_stats().pipes_in_use, 1);

    // The only pipe is taken: a copy that needs one falls back.
    let (rc, res) = socket_to_socket(&data);
    assert_eq!(
        (rc, res.mechanism, res.fallback_from, res.fallback_code),
        (
            ZCIO_OK,
            ZCIO_MECH_READ_WRITE,
            ZCIO_MECH_SPLICE,
            ZCIO_ENOPIPE
        )
    );
    assert_eq!(pool_stats().pipes_exhausted, 1);

    drop(sink);
    // SAFETY: t is freed once.
    unsafe { zcio_transfer_free(t) };
    let s = pool_stats();
    assert_eq!((s.pipes_in_use, s.pipes_idle, s.pipes_discarded), (0, 0, 1));

    // With the pool back, copies splice and reuse one pipe.
    let (rc, res) = socket_to_socket(&data);
    assert_eq!((rc, res.mechanism), (ZCIO_OK, ZCIO_MECH_SPLICE));
    let (rc, _) = socket_to_socket(&data);
    assert_eq!(rc, ZCIO_OK);
    let s = pool_stats();
    assert_eq!((s.pipes_in_use, s.pipes_idle), (0, 1));
    assert!(s.pipes_reused >= 1);

    concurrent_copies();
    statistics();
    stranded_bytes_survive_a_smaller_buffer_size();
}

/// Bytes taken into a pipe under one buffer size still fit when the copy
/// falls back to read/write after the size shrank.
fn stranded_bytes_survive_a_smaller_buffer_size() {
    configure(4);
    let data = pattern(200_000, 44);
    let (mut feeder, input) = stream_pair();
    let (output, _sink) = stream_pair();
    set_nonblocking(&input);
    set_nonblocking(&output);
    // Fill the output socket so the first drain stops with nothing written.
    while (&output).write(&[0u8; 65536]).is_ok() {}
    feeder.write_all(&data).unwrap();

    let mut t = ptr::null_mut();
    // SAFETY: t is live; it is freed once below.
    unsafe {
        assert_eq!(
            zcio_transfer_new(
                output.as_raw_fd(),
                input.as_raw_fd(),
                200_000,
                ptr::null(),
                &mut t
            ),
            ZCIO_OK
        );
        assert_eq!(zcio_transfer_step(t, 0, ptr::null_mut()), ZCIO_WANT_WRITE);
    }
    let small = zcio_pool_config {
        size: std::mem::size_of::<zcio_pool_config>() as u32,
        max_pipes: 4,
        pipe_size: 0,
        max_buffers: 0,
        buffer_size: 4096,
        reserved: 0,
    };
    // SAFETY: small is sized.
    assert_eq!(unsafe { zcio_pool_configure(&small) }, ZCIO_OK);

    // Splicing into an O_APPEND file fails with EINVAL, so the drain falls
    // back to read/write with every stranded byte.
    let path = tempfile::NamedTempFile::new().unwrap();
    let appending = std::fs::OpenOptions::new()
        .append(true)
        .open(path.path())
        .unwrap();
    // SAFETY: dup2 onto the transfer's output descriptor, which stays open.
    assert!(unsafe { libc::dup2(appending.as_raw_fd(), output.as_raw_fd()) } >= 0);
    let mut p: zcio_transfer_progress = unsafe { std::mem::zeroed() };
    p.size = std::mem::size_of_val(&p) as u32;
    // SAFETY: t and p are live.
    unsafe {
        assert_eq!(zcio_transfer_step(t, 0, &mut p), ZCIO_OK);
        zcio_transfer_free(t);
    }
    assert_eq!(
        (p.written, p.mechanism, p.fallback_from),
        (200_000, ZCIO_MECH_READ_WRITE, ZCIO_MECH_SPLICE)
    );
    assert_eq!(std::fs::read(path.path()).unwrap(), data);

    let mut bad = small;
    bad.reserved = 5;
    // SAFETY: bad is sized.
    assert_eq!(unsafe { zcio_pool_configure(&bad) }, ZCIO_ESTRUCT);
}

/// The process-wide counters see each copy once, by mechanism.
fn statistics() {
    zcio::ffi::stats::zcio_stats_reset();
    let data = pattern(1 << 20, 43);
    let input = file_with(&data);
    let output = tempfile::tempfile().unwrap();
    // SAFETY: all-zero is a valid result structure.
    let mut res: zcio_copy_result = unsafe { std::mem::zeroed() };
    res.size = std::mem::size_of::<zcio_copy_result>() as u32;
    // SAFETY: res is sized and live.
    unsafe {
        assert_eq!(
            zcio_copy(
                output.as_raw_fd(),
                input.as_raw_fd(),
                ZCIO_TO_EOF,
                ptr::null(),
                &mut res
            ),
            ZCIO_OK
        );
        let mut at = 0i64;
        let mut opts: zcio_copy_opts = std::mem::zeroed();
        assert_eq!(zcio_copy_opts_init(&mut opts), ZCIO_OK);
        opts.in_offset = &mut at;
        assert_eq!(
            zcio_copy(output.as_raw_fd(), input.as_raw_fd(), 100, &opts, &mut res),
            ZCIO_OK
        );
    }
    let (rc, _) = socket_to_socket(&data[..70_000]);
    assert_eq!(rc, ZCIO_OK);

    // SAFETY: all-zero is a valid stats structure.
    let mut s: zcio::ffi::stats::zcio_stats = unsafe { std::mem::zeroed() };
    s.size = std::mem::size_of_val(&s) as u32;
    // SAFETY: s is sized.
    assert_eq!(unsafe { zcio::ffi::stats::zcio_stats_get(&mut s) }, ZCIO_OK);
    let (cfr, splice, rw) = (
        ZCIO_MECH_COPY_FILE_RANGE as usize,
        ZCIO_MECH_SPLICE as usize,
        ZCIO_MECH_READ_WRITE as usize,
    );
    assert_eq!((s.calls[cfr], s.bytes[cfr]), (1, 1 << 20));
    assert_eq!((s.calls[splice], s.bytes[splice]), (1, 70_000));
    assert_eq!((s.calls[rw], s.bytes[rw], s.small_copies), (1, 100, 1));
    assert_eq!(
        (s.fallbacks, s.would_block, s.stable_copies),
        ([0; 4], 0, 0)
    );
}

/// 8 threads × 200 copies through a pool of 4 pipes.
fn concurrent_copies() {
    configure(4);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                for j in 0..200 {
                    let data = pattern(10_000 + 997 * j, i * 1000 + j as u64);
                    let (rc, res) = socket_to_socket(&data);
                    assert_eq!((rc, res.moved), (ZCIO_OK, data.len() as u64));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = pool_stats();
    assert_eq!(s.pipes_in_use, 0);
    assert!(
        s.pipes_idle <= 4 && s.pipes_created <= 4 + s.pipes_discarded,
        "{s:?}"
    );
    // SAFETY: no arguments.
    assert_eq!(zcio_pool_trim(), ZCIO_OK);
    assert_eq!(pool_stats().pipes_idle, 0);
}
