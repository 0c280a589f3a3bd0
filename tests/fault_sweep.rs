//! Every injection point of zcio_copy and zcio_transfer_step, with every
//! kind of fault (EAGAIN, EINTR, a short count, ENOSYS, EINVAL), ends with
//! output that is byte-identical to the input, or with a clear error and an
//! exact count of bytes of which the output is exactly the prefix: never a
//! duplicate or a gap. (Alone in its binary: faults are process-wide.)

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::copy::*;
use zcio::ffi::fault::*;
use zcio::ffi::primitives::ZCIO_TO_EOF;
use zcio::ffi::transfer::*;

const LEN: usize = (1 << 20) + 3;
const KINDS: [u32; 6] = [
    ZCIO_FAULT_SENDFILE,
    ZCIO_FAULT_SPLICE,
    ZCIO_FAULT_TEE,
    ZCIO_FAULT_COPY_FILE_RANGE,
    ZCIO_FAULT_READ,
    ZCIO_FAULT_WRITE,
];
const RESULTS: [i32; 5] = [ZCIO_EAGAIN, ZCIO_EINTR, 1000, ZCIO_ENOSYS, ZCIO_EINVAL];

/// What one run produced: the code, the bytes reported moved, and what
/// reached the output.
type Outcome = (i32, u64, Vec<u8>);

/// A named way of copying the input to an output.
type Scenario<'a> = (&'a str, &'a dyn Fn(&[u8]) -> Outcome);

fn opts(read_write_below: u64) -> zcio_copy_opts {
    // SAFETY: all-zero is a valid options structure; init fills it.
    let mut opts: zcio_copy_opts = unsafe { std::mem::zeroed() };
    // SAFETY: opts is live.
    assert_eq!(unsafe { zcio_copy_opts_init(&mut opts) }, ZCIO_OK);
    opts.read_write_below = read_write_below;
    opts
}

fn copy(out: i32, input: i32, opts: &zcio_copy_opts) -> (i32, u64) {
    // SAFETY: all-zero is a valid result structure.
    let mut res: zcio_copy_result = unsafe { std::mem::zeroed() };
    res.size = std::mem::size_of_val(&res) as u32;
    // SAFETY: opts and res are live for the call.
    let rc = unsafe { zcio_copy(out, input, ZCIO_TO_EOF, opts, &mut res) };
    (rc, res.moved)
}

fn file_to_file(data: &[u8], read_write_below: u64) -> Outcome {
    let (input, output) = (file_with(data), tempfile::tempfile().unwrap());
    let (rc, moved) = copy(
        output.as_raw_fd(),
        input.as_raw_fd(),
        &opts(read_write_below),
    );
    (rc, moved, contents(&output))
}

/// Reads a socket to its end in a thread.
fn sink(socket: UnixStream) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        (&socket).read_to_end(&mut got).unwrap();
        got
    })
}

/// Writes `data` into a socket in a thread, stopping quietly if the other
/// end goes away.
fn feed(data: &[u8]) -> (UnixStream, std::thread::JoinHandle<()>) {
    let (mut feeder, input) = stream_pair();
    let data = data.to_vec();
    (
        input,
        std::thread::spawn(move || drop(feeder.write_all(&data))),
    )
}

fn file_to_socket(data: &[u8]) -> Outcome {
    let input = file_with(data);
    let (reader, writer) = stream_pair();
    let got = sink(reader);
    let (rc, moved) = copy(writer.as_raw_fd(), input.as_raw_fd(), &opts(0));
    drop(writer);
    (rc, moved, got.join().unwrap())
}

fn socket_to_socket(data: &[u8]) -> Outcome {
    let (input, feeder) = feed(data);
    let (reader, writer) = stream_pair();
    let got = sink(reader);
    let (rc, moved) = copy(writer.as_raw_fd(), input.as_raw_fd(), &opts(0));
    drop((input, writer));
    feeder.join().unwrap();
    (rc, moved, got.join().unwrap())
}

fn pipe_to_file(data: &[u8]) -> Outcome {
    let (pipe_read, mut pipe_write) = pipe(false);
    let data = data.to_vec();
    let feeder = std::thread::spawn(move || drop(pipe_write.write_all(&data)));
    let output = tempfile::tempfile().unwrap();
    let (rc, moved) = copy(output.as_raw_fd(), pipe_read.as_raw_fd(), &opts(0));
    drop(pipe_read);
    feeder.join().unwrap();
    (rc, moved, contents(&output))
}

/// A transfer from a non-blocking socket to a file, stepped with poll.
fn stepped_transfer(data: &[u8]) -> Outcome {
    let (input, feeder) = feed(data);
    set_nonblocking(&input);
    let output = tempfile::tempfile().unwrap();
    let mut t = ptr::null_mut();
    // SAFETY: all-zero is a valid progress structure.
    let mut p: zcio_transfer_progress = unsafe { std::mem::zeroed() };
    p.size = std::mem::size_of_val(&p) as u32;
    // SAFETY: t and p are live; t is freed once.
    let rc = unsafe {
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
        let rc = loop {
            match zcio_transfer_step(t, 256 << 10, &mut p) {
                ZCIO_MORE | ZCIO_WANT_WRITE => continue,
                ZCIO_WANT_READ => {
                    let mut pfd = libc::pollfd {
                        fd: input.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    assert_eq!(
                        libc::poll(&mut pfd, 1, 30_000),
                        1,
                        "input never became readable"
                    );
                }
                rc => break rc,
            }
        };
        zcio_transfer_free(t);
        rc
    };
    drop(input);
    feeder.join().unwrap();
    (rc, p.written, contents(&output))
}

fn inject(call: u32, after: u64, result: i32) {
    let fault = zcio_fault {
        size: std::mem::size_of::<zcio_fault>() as u32,
        call,
        after,
        times: 1,
        result,
    };
    // SAFETY: fault is sized and live.
    assert_eq!(unsafe { zcio_fault_inject(&fault) }, ZCIO_OK);
}

/// The injection points to try among `calls`: all of them when few, else
/// the first few, some in the middle and the last.
fn points(calls: u64) -> Vec<u64> {
    if calls <= 12 {
        return (0..calls).collect();
    }
    let mut points: Vec<u64> = (0..6)
        .chain((1..5).map(|i| calls * i / 5))
        .chain([calls - 1])
        .collect();
    points.dedup();
    points
}

#[test]
fn every_injection_point_keeps_the_bytes_exact() {
    // A fault that made the library spin must fail the test, not hang it.
    let (done, finished) = std::sync::mpsc::channel();
    let sweep = std::thread::spawn(move || {
        sweep();
        done.send(()).unwrap();
    });
    match finished.recv_timeout(std::time::Duration::from_secs(600)) {
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("the fault sweep hung"),
        _ => sweep.join().unwrap(),
    }
}

fn sweep() {
    let data = pattern(LEN, 101);
    let scenarios: [Scenario; 6] = [
        ("file to file", &|d| file_to_file(d, 1)),
        ("file to file by read/write", &|d| file_to_file(d, u64::MAX)),
        ("file to socket", &file_to_socket),
        ("socket to socket", &socket_to_socket),
        ("pipe to file", &pipe_to_file),
        ("stepped transfer", &stepped_transfer),
    ];
    let mut runs = 0;
    for (name, run) in scenarios {
        zcio_fault_clear();
        let (rc, moved, got) = run(&data);
        assert_eq!(
            (rc, moved, got.len()),
            (ZCIO_OK, LEN as u64, LEN),
            "{name}: clean run"
        );
        let counts: Vec<(u32, u64)> = KINDS.iter().map(|&k| (k, zcio_fault_count(k))).collect();
        eprintln!("{name}: calls per kind {counts:?}");

        for (kind, calls) in counts.into_iter().filter(|(_, calls)| *calls > 0) {
            for point in points(calls) {
                for result in RESULTS {
                    zcio_fault_clear();
                    inject(kind, point, result);
                    let (rc, moved, got) = run(&data);
                    let case =
                        format!("{name}: call {kind} #{point} -> {result}: rc {rc}, moved {moved}");
                    assert!(rc <= ZCIO_OK, "{case}");
                    assert_eq!(got.len() as u64, moved, "{case}: output length");
                    assert!(
                        got == data[..got.len()],
                        "{case}: output is not the input's prefix"
                    );
                    if rc == ZCIO_OK {
                        assert_eq!(moved, LEN as u64, "{case}");
                    } else {
                        assert!(
                            rc == ZCIO_ENOSYS || rc == ZCIO_EINVAL,
                            "{case}: unexpected error"
                        );
                    }
                    runs += 1;
                }
            }
        }
    }
    zcio_fault_clear();
    eprintln!("fault sweep: {runs} faulted runs");
}

#[test]
fn rules_are_checked() {
    let mut bad = zcio_fault {
        size: std::mem::size_of::<zcio_fault>() as u32,
        call: 99,
        after: 0,
        times: 1,
        result: -11,
    };
    // SAFETY: bad is sized and live.
    unsafe {
        assert_eq!(zcio_fault_inject(&bad), ZCIO_EFLAGS);
        bad.call = ZCIO_FAULT_READ;
        bad.result = 0;
        assert_eq!(zcio_fault_inject(&bad), ZCIO_EFLAGS);
        bad.size = 4;
        assert_eq!(zcio_fault_inject(&bad), ZCIO_ESTRUCT);
        assert_eq!(zcio_fault_inject(ptr::null()), ZCIO_ENULL);
    }
    assert_eq!(zcio_fault_count(99), 0);
}
