//! zcio_copy moves every byte, reports the documented mechanism and leaks no
//! descriptor for every pair of input and output kinds, at sizes from 0 to
//! 16 MiB, on blocking and on non-blocking descriptors. (One test, alone in
//! its binary, so that nothing else opens descriptors while it counts them.)

mod common;

use std::fmt;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::*;
use zcio::error::*;
use zcio::ffi::copy::*;
use zcio::ffi::pool::*;
use zcio::ffi::primitives::ZCIO_TO_EOF;

const SIZES: [usize; 6] = [0, 1, 4095, 65537, (1 << 20) + 3, 16 << 20];
const DISK_DIR: &str = env!("CARGO_TARGET_TMPDIR");
const TMPFS_DIR: &str = "/dev/shm";
/// Stable while the test runs, unlike /proc/self/mounts on a busy host.
const PROC_FILE: &str = "/proc/version";
/// Bytes already in the O_APPEND output, which must stay in front.
const PREFIX: &[u8] = b"prefix!";
/// zcio_copy_opts.read_write_below's default for file outputs.
const SMALL: u64 = 16 << 10;
const CASE_DEADLINE: Duration = Duration::from_secs(60);
const POLL_MS: i32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    DiskFile,
    TmpfsFile,
    Pipe,
    Tcp,
    Unix,
    Memfd,
    Proc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    DiskFile,
    TmpfsFile,
    Pipe,
    Tcp,
    Unix,
    DevNull,
    Memfd,
    AppendFile,
}

const INPUTS: [Input; 7] = [
    Input::DiskFile,
    Input::TmpfsFile,
    Input::Pipe,
    Input::Tcp,
    Input::Unix,
    Input::Memfd,
    Input::Proc,
];

const OUTPUTS: [Output; 8] = [
    Output::DiskFile,
    Output::TmpfsFile,
    Output::Pipe,
    Output::Tcp,
    Output::Unix,
    Output::DevNull,
    Output::Memfd,
    Output::AppendFile,
];

/// The filesystem a regular file lives on; each kind has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fs {
    Disk,
    Tmpfs,
    Memfd,
    Proc,
}

impl Input {
    fn fs(self) -> Option<Fs> {
        match self {
            Input::DiskFile => Some(Fs::Disk),
            Input::TmpfsFile => Some(Fs::Tmpfs),
            Input::Memfd => Some(Fs::Memfd),
            Input::Proc => Some(Fs::Proc),
            Input::Pipe | Input::Tcp | Input::Unix => None,
        }
    }
}

impl Output {
    fn fs(self) -> Option<Fs> {
        match self {
            Output::DiskFile | Output::AppendFile => Some(Fs::Disk),
            Output::TmpfsFile => Some(Fs::Tmpfs),
            Output::Memfd => Some(Fs::Memfd),
            Output::Pipe | Output::Tcp | Output::Unix | Output::DevNull => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Case {
    input: Input,
    output: Output,
    /// None for /proc, whose size is whatever it is.
    size: Option<usize>,
    /// Count the input's length rather than ZCIO_TO_EOF.
    exact: bool,
    nonblocking: bool,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let count = if self.exact { "exact count" } else { "to EOF" };
        let mode = if self.nonblocking {
            "non-blocking"
        } else {
            "blocking"
        };
        match self.size {
            Some(size) => write!(f, "{:?} -> {:?}, {size} B", self.input, self.output)?,
            None => write!(f, "{:?} -> {:?}, {PROC_FILE}", self.input, self.output)?,
        }
        write!(f, ", {count}, {mode}")
    }
}

impl Case {
    fn count(&self, len: usize) -> u64 {
        if self.exact { len as u64 } else { ZCIO_TO_EOF }
    }
}

/// Each input to each output, at each size, by exact count and to EOF (the
/// writers of pipes and sockets close), blocking and not. /proc files are
/// copied to EOF at the size they have.
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for nonblocking in [false, true] {
        for input in INPUTS {
            let (sizes, counts) = match input.fs() {
                Some(Fs::Proc) => (vec![None], &[false][..]),
                _ => (SIZES.map(Some).to_vec(), &[true, false][..]),
            };
            for output in OUTPUTS {
                for &size in &sizes {
                    for &exact in counts {
                        cases.push(Case {
                            input,
                            output,
                            size,
                            exact,
                            nonblocking,
                        });
                    }
                }
            }
        }
    }
    cases
}

/// (mechanism, fallback_from, fallback_code) as zcio_copy_result reports
/// them.
type Mech = (u32, u32, i32);

/// What the selection rules documented for zcio_copy predict for a copy of
/// `count` bytes from an input holding `len`; None: whatever works.
fn expected_mechanism(case: &Case, len: usize, count: u64) -> Option<Mech> {
    const RW: Mech = (ZCIO_MECH_READ_WRITE, ZCIO_MECH_NONE, 0);
    const CFR: Mech = (ZCIO_MECH_COPY_FILE_RANGE, ZCIO_MECH_NONE, 0);
    const SENDFILE: Mech = (ZCIO_MECH_SENDFILE, ZCIO_MECH_NONE, 0);
    const SPLICE: Mech = (ZCIO_MECH_SPLICE, ZCIO_MECH_NONE, 0);
    // The library knows a file's size when fstat says more than 0 (procfs
    // says 0), and a pipe's or socket's only from an exact count.
    let known = match case.input.fs() {
        Some(_) if len > 0 => count.min(len as u64),
        _ => count,
    };
    let empty_to_eof = len == 0 && count == ZCIO_TO_EOF;

    match (case.input.fs(), case.output.fs()) {
        // A /proc file: whatever works; only the bytes are compared.
        (Some(Fs::Proc), _) => None,
        // Nothing zero-copy can write at the end of an O_APPEND file.
        _ if case.output == Output::AppendFile => Some(RW),
        // File to file, known to be under 16 KiB: read/write is faster.
        (Some(_), Some(_)) if known < SMALL => Some(RW),
        // An empty file looks like procfs (size 0): copy_file_range reports
        // the end at once, or EXDEV across filesystems, and read/write
        // confirms it.
        (Some(from), Some(to)) if empty_to_eof => {
            let code = if from == to { 0 } else { ZCIO_EXDEV };
            Some((ZCIO_MECH_READ_WRITE, ZCIO_MECH_COPY_FILE_RANGE, code))
        }
        // File to file on one filesystem: copy_file_range.
        (Some(from), Some(to)) if from == to => Some(CFR),
        // Across filesystems copy_file_range says EXDEV; sendfile follows.
        (Some(_), Some(_)) => Some((ZCIO_MECH_SENDFILE, ZCIO_MECH_COPY_FILE_RANGE, ZCIO_EXDEV)),
        // An empty file to anything else: sendfile reports the end at once.
        (Some(_), None) if empty_to_eof => Some((ZCIO_MECH_READ_WRITE, ZCIO_MECH_SENDFILE, 0)),
        // A file to a pipe, socket or /dev/null: sendfile at any size.
        (Some(_), None) => Some(SENDFILE),
        // A pipe or socket to a file, known to be under 16 KiB: read/write.
        (None, Some(_)) if known < SMALL => Some(RW),
        // A pipe or socket: splice.
        (None, _) => Some(SPLICE),
    }
}

/// The descriptor zcio_copy reads, and the thread that feeds it, if any.
struct Source {
    file: File,
    feeder: Option<JoinHandle<io::Result<()>>>,
}

/// The descriptor zcio_copy writes, and the thread that drains it, if any.
struct Sink {
    file: File,
    drainer: Option<JoinHandle<io::Result<Vec<u8>>>>,
}

fn open_source(input: Input, data: &Arc<Vec<u8>>) -> Source {
    let holding = |mut file: File| {
        file.write_all(data).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        Source { file, feeder: None }
    };
    let (ours, theirs) = match input {
        Input::DiskFile => return holding(tempfile::tempfile_in(DISK_DIR).unwrap()),
        Input::TmpfsFile => return holding(tempfile::tempfile_in(TMPFS_DIR).unwrap()),
        Input::Memfd => return holding(memfd()),
        Input::Proc => return unfed(File::open(PROC_FILE).unwrap()),
        Input::Pipe => pipe(false),
        Input::Tcp => tcp_pair(),
        Input::Unix => unix_pair(),
    };

    let data = Arc::clone(data);
    let feeder = thread::spawn(move || (&theirs).write_all(&data));
    Source {
        file: ours,
        feeder: Some(feeder),
    }
}

fn unfed(file: File) -> Source {
    Source { file, feeder: None }
}

fn open_sink(output: Output) -> Sink {
    let (ours, theirs) = match output {
        Output::DiskFile => return undrained(tempfile::tempfile_in(DISK_DIR).unwrap()),
        Output::TmpfsFile => return undrained(tempfile::tempfile_in(TMPFS_DIR).unwrap()),
        Output::Memfd => return undrained(memfd()),
        Output::DevNull => {
            return undrained(File::options().write(true).open("/dev/null").unwrap());
        }
        Output::AppendFile => return undrained(append_file()),
        Output::Pipe => {
            let (read, write) = pipe(false);
            (write, read)
        }
        Output::Tcp => tcp_pair(),
        Output::Unix => unix_pair(),
    };

    let drainer = thread::spawn(move || {
        let mut got = Vec::new();
        io::Read::read_to_end(&mut &theirs, &mut got).map(|_| got)
    });
    Sink {
        file: ours,
        drainer: Some(drainer),
    }
}

fn undrained(file: File) -> Sink {
    Sink {
        file,
        drainer: None,
    }
}

/// A disk file holding PREFIX, opened with O_APPEND.
fn append_file() -> File {
    let mut file = tempfile::tempfile_in(DISK_DIR).unwrap();
    file.write_all(PREFIX).unwrap();
    // SAFETY: fcntl with integer arguments only.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        assert_eq!(
            libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags | libc::O_APPEND),
            0
        );
    }
    file
}

fn memfd() -> File {
    // SAFETY: a static name; the new descriptor is owned by the File.
    unsafe {
        let fd = libc::memfd_create(c"copy-matrix".as_ptr(), libc::MFD_CLOEXEC);
        assert!(fd >= 0, "memfd_create: {}", io::Error::last_os_error());
        File::from_raw_fd(fd)
    }
}

/// A connected loopback TCP pair: (accepted end, connecting end).
fn tcp_pair() -> (File, File) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (as_file(server), as_file(client))
}

fn unix_pair() -> (File, File) {
    let (a, b) = UnixStream::pair().unwrap();
    (as_file(a), as_file(b))
}

fn as_file(fd: impl Into<OwnedFd>) -> File {
    File::from(fd.into())
}

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

/// Calls zcio_copy until it returns anything but ZCIO_EAGAIN, waiting for
/// either descriptor in between. Returns the last code, the bytes moved in
/// all, and the count and result of each call that moved bytes (else of
/// the last call).
fn copy_all(
    case: &Case,
    out: &File,
    input: &File,
    count: u64,
) -> (i32, u64, Vec<(u64, zcio_copy_result)>) {
    let (mut moved, mut moving) = (0u64, Vec::new());
    loop {
        let left = if count == ZCIO_TO_EOF {
            count
        } else {
            count.saturating_sub(moved)
        };
        let mut res = result();
        // SAFETY: res is live for the call; NULL options are the defaults.
        let rc = unsafe {
            zcio_copy(
                out.as_raw_fd(),
                input.as_raw_fd(),
                left,
                std::ptr::null(),
                &mut res,
            )
        };
        assert_eq!(
            res.read, res.moved,
            "{case}: read and moved differ, rc {rc}"
        );
        moved += res.moved;
        if res.moved > 0 {
            moving.push((left, res));
        }

        if rc != ZCIO_EAGAIN || !case.nonblocking {
            if moving.is_empty() {
                moving.push((left, res));
            }
            return (rc, moved, moving);
        }
        wait_either(input, out);
    }
}

/// Waits up to POLL_MS for the input to be readable or the output writable.
fn wait_either(input: &File, out: &File) {
    let mut fds = [
        libc::pollfd {
            fd: input.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: out.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        },
    ];
    // SAFETY: fds is a valid array of two pollfd structures.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, POLL_MS) };
    assert!(rc >= 0, "poll: {}", io::Error::last_os_error());
}

fn run_case(case: Case, data: Arc<Vec<u8>>) {
    // The /proc file's content as read() sees it just before the copy.
    let data = match case.size {
        Some(_) => data,
        None => Arc::new(std::fs::read(PROC_FILE).unwrap()),
    };
    let source = open_source(case.input, &data);
    let sink = open_sink(case.output);
    if case.nonblocking {
        // O_NONBLOCK on a regular file or /dev/null is legal and ignored by
        // the kernel; set it anyway so the library sees it there too.
        set_nonblocking(&source.file);
        set_nonblocking(&sink.file);
    }

    let count = case.count(data.len());
    let (rc, moved, calls) = copy_all(&case, &sink.file, &source.file, count);
    assert_eq!(rc, ZCIO_OK, "{case}: return code");
    assert_eq!(moved, data.len() as u64, "{case}: bytes moved");
    // Each call chooses for the bytes it was asked for.
    for (count, res) in calls {
        let got = (res.mechanism, res.fallback_from, res.fallback_code);
        if let Some(expected) = expected_mechanism(&case, data.len(), count) {
            let what = "(mechanism, fallback_from, fallback_code) of a call";
            assert_eq!(got, expected, "{case}: {what} for {count} bytes");
        }
    }

    check_positions(&case, &source, &sink, data.len());
    finish_source(&case, source);
    check_output(&case, sink, &data);
}

/// Without offsets, a file's own position advances by the bytes moved.
fn check_positions(case: &Case, source: &Source, sink: &Sink, len: usize) {
    if case.input.fs().is_some() {
        let at = position(source.file.as_raw_fd());
        assert_eq!(at, len as i64, "{case}: input file position");
    }
    if case.output.fs().is_some() {
        let prefix = if case.output == Output::AppendFile {
            PREFIX.len()
        } else {
            0
        };
        let at = position(sink.file.as_raw_fd());
        assert_eq!(at, (prefix + len) as i64, "{case}: output file position");
    }
}

/// Closes the input and makes sure its feeder wrote everything.
fn finish_source(case: &Case, source: Source) {
    drop(source.file);
    if let Some(feeder) = source.feeder {
        let fed = feeder.join().expect("feeder thread panicked");
        fed.unwrap_or_else(|e| panic!("{case}: feeding the input failed: {e}"));
    }
}

/// Closes the output and compares what arrived with what was sent.
fn check_output(case: &Case, sink: Sink, data: &[u8]) {
    let got = match sink.drainer {
        Some(drainer) => {
            drop(sink.file);
            let drained = drainer.join().expect("drainer thread panicked");
            drained.unwrap_or_else(|e| panic!("{case}: draining the output failed: {e}"))
        }
        None if case.output == Output::DevNull => return,
        None => contents(&sink.file),
    };
    let want = match case.output {
        Output::AppendFile => [PREFIX, data].concat(),
        _ => data.to_vec(),
    };
    assert_same_bytes(case, &got, &want);
}

/// assert_eq! without printing megabytes.
fn assert_same_bytes(case: &Case, got: &[u8], want: &[u8]) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        let at = at.unwrap_or(got.len().min(want.len()));
        panic!(
            "{case}: output differs: {} bytes, {} expected, first difference at byte {at}",
            got.len(),
            want.len()
        );
    }
}

/// Runs one case on its own thread and fails, naming it, if it is not done
/// within CASE_DEADLINE: a hanging library call must fail the test, not
/// hang it.
fn run_bounded(case: Case, data: Arc<Vec<u8>>) {
    let (done, finished) = mpsc::channel();
    let worker = thread::Builder::new()
        .name(case.to_string())
        .spawn(move || {
            run_case(case, data);
            done.send(()).unwrap();
        })
        .unwrap();
    match finished.recv_timeout(CASE_DEADLINE) {
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{case}: not done after {CASE_DEADLINE:?}"),
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

fn pool_pipes_in_use() -> u64 {
    // SAFETY: all-zero is a valid structure; the size is set before use.
    let mut stats: zcio_pool_counters = unsafe { std::mem::zeroed() };
    stats.size = std::mem::size_of::<zcio_pool_counters>() as u32;
    // SAFETY: stats is sized.
    assert_eq!(unsafe { zcio_pool_stats(&mut stats) }, ZCIO_OK);
    stats.pipes_in_use
}

/// Closes the pool's idle pipes, which are kept open on purpose.
fn trim_pool() {
    assert_eq!(zcio_pool_trim(), ZCIO_OK);
}

#[test]
fn every_input_kind_to_every_output_kind() {
    let data: Vec<Arc<Vec<u8>>> = (SIZES.iter().enumerate())
        .map(|(seed, &size)| Arc::new(pattern(size, 40 + seed as u64)))
        .collect();
    let cases = cases();
    trim_pool();
    let fds_before = open_fds();

    for &case in &cases {
        // /proc cases read their own bytes.
        let index = SIZES.iter().position(|&size| Some(size) == case.size);
        let bytes = index.map_or_else(Default::default, |i| Arc::clone(&data[i]));
        run_bounded(case, bytes);
    }

    trim_pool();
    assert_eq!(pool_pipes_in_use(), 0, "pool pipes still leased");
    assert_eq!(open_fds(), fds_before, "descriptors leaked by the matrix");
    eprintln!("copy_matrix: {} cases passed", cases.len());
}
