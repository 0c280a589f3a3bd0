//! zcio_transfer_step driven from an edge-triggered epoll loop moves every
//! byte exactly once between non-blocking sockets, waits on the right
//! descriptor, and never spins.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::ptr;
use std::time::{Duration, Instant};

use common::*;
use zcio::error::*;
use zcio::ffi::copy::*;
use zcio::ffi::primitives::ZCIO_TO_EOF;
use zcio::ffi::transfer::*;

fn progress() -> zcio_transfer_progress {
    // SAFETY: all-zero is a valid progress structure.
    let mut p: zcio_transfer_progress = unsafe { std::mem::zeroed() };
    p.size = std::mem::size_of::<zcio_transfer_progress>() as u32;
    p
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is valid storage.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Waits for the one event the transfer asked for.
fn wait(epoll: i32, fd: i32, events: u32) {
    let mut event = libc::epoll_event {
        events: events | libc::EPOLLET as u32 | libc::EPOLLONESHOT as u32,
        u64: fd as u64,
    };
    // SAFETY: event and the returned array are valid for the calls.
    unsafe {
        if libc::epoll_ctl(epoll, libc::EPOLL_CTL_MOD, fd, &mut event) != 0 {
            assert_eq!(
                libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut event),
                0
            );
        }
        let mut out = [libc::epoll_event { events: 0, u64: 0 }; 1];
        assert_eq!(
            libc::epoll_wait(epoll, out.as_mut_ptr(), 1, 30_000),
            1,
            "no readiness in 30 s"
        );
    }
}

#[test]
fn epoll_loop_with_slow_peers_moves_every_byte_without_spinning() {
    let data = pattern(4 << 20, 31);
    let (mut feeder, input) = stream_pair();
    let (output, mut sink) = stream_pair();
    set_nonblocking(&input);
    set_nonblocking(&output);

    let to_send = data.clone();
    let writer = std::thread::spawn(move || {
        for chunk in to_send.chunks(64 << 10) {
            feeder.write_all(chunk).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 16 << 10];
        loop {
            match sink.read(&mut buf).unwrap() {
                0 => return got,
                n => got.extend_from_slice(&buf[..n]),
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });

    let mut t = ptr::null_mut();
    // SAFETY: t is a live local; the transfer is freed below.
    assert_eq!(
        unsafe {
            zcio_transfer_new(
                output.as_raw_fd(),
                input.as_raw_fd(),
                data.len() as u64,
                ptr::null(),
                &mut t,
            )
        },
        ZCIO_OK
    );
    // SAFETY: epoll_create1 takes no pointers.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    let (wall, cpu) = (Instant::now(), thread_cpu());
    let (mut waits_read, mut waits_write) = (0, 0);
    let mut p = progress();
    loop {
        // SAFETY: t is a live transfer; p is sized.
        match unsafe { zcio_transfer_step(t, 0, &mut p) } {
            ZCIO_OK => break,
            ZCIO_WANT_READ => {
                waits_read += 1;
                wait(epoll, input.as_raw_fd(), libc::EPOLLIN as u32);
            }
            ZCIO_WANT_WRITE => {
                waits_write += 1;
                wait(epoll, output.as_raw_fd(), libc::EPOLLOUT as u32);
            }
            ZCIO_MORE => {}
            other => panic!("step failed: {other}"),
        }
        assert!(p.read >= p.written && p.buffered == p.read - p.written);
    }
    let (wall, cpu) = (wall.elapsed(), thread_cpu() - cpu);

    assert_eq!(
        (p.read, p.written, p.buffered, p.mechanism),
        (data.len() as u64, data.len() as u64, 0, ZCIO_MECH_SPLICE)
    );
    // SAFETY: t is freed once; the epoll fd is closed once.
    unsafe {
        zcio_transfer_free(t);
        libc::close(epoll);
    }
    drop(output);
    writer.join().unwrap();
    assert_eq!(reader.join().unwrap(), data);
    assert!(
        waits_read > 0,
        "a slow writer must make the transfer wait for input"
    );
    assert!(
        waits_write > 0,
        "a slow reader must make the transfer wait for output"
    );
    assert!(cpu < wall / 2, "the loop spun: {cpu:?} CPU in {wall:?}");
    eprintln!("waits: read {waits_read}, write {waits_write}; cpu {cpu:?} of {wall:?}");
}

#[test]
fn step_budget_and_short_input() {
    let data = pattern(1 << 20, 32);
    let input = file_with(&data);
    let output = tempfile::tempfile().unwrap();
    let mut t = ptr::null_mut();
    // SAFETY: t is a live local; the transfer is freed below.
    assert_eq!(
        unsafe {
            zcio_transfer_new(
                output.as_raw_fd(),
                input.as_raw_fd(),
                2 << 20,
                ptr::null(),
                &mut t,
            )
        },
        ZCIO_OK
    );
    let mut p = progress();
    let mut steps = 0;
    // SAFETY: t is live; p is sized.
    let rc = loop {
        steps += 1;
        match unsafe { zcio_transfer_step(t, 100_000, &mut p) } {
            ZCIO_MORE => assert!(p.step_written <= 100_000),
            rc => break rc,
        }
    };
    assert_eq!((rc, p.written), (ZCIO_ESHORT, 1 << 20));
    assert!(steps >= 10);
    assert_eq!(contents(&output), data);
    // SAFETY: t is freed once.
    unsafe { zcio_transfer_free(t) };
}

#[test]
fn transfer_arguments() {
    let mut t = ptr::dangling_mut::<zcio_transfer>();
    let file = file_with(b"x");
    // SAFETY: t is a live local; NULL arguments are what is tested.
    unsafe {
        assert_eq!(
            zcio_transfer_new(
                file.as_raw_fd(),
                closed_fd(),
                ZCIO_TO_EOF,
                ptr::null(),
                &mut t
            ),
            ZCIO_EBADF
        );
        assert!(t.is_null());
        assert_eq!(
            zcio_transfer_new(
                file.as_raw_fd(),
                file.as_raw_fd(),
                1,
                ptr::null(),
                ptr::null_mut()
            ),
            ZCIO_ENULL
        );
        assert_eq!(
            zcio_transfer_step(ptr::null_mut(), 0, ptr::null_mut()),
            ZCIO_ENULL
        );
        zcio_transfer_free(ptr::null_mut());
    }
}
