//! Helpers shared by the integration tests: files with known bytes, socket
//! pairs and a descriptor-position probe.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// Deterministic, non-repeating test bytes (a xorshift stream).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// An unlinked temporary file holding `bytes`, positioned at its start.
pub fn file_with(bytes: &[u8]) -> File {
    let mut file = tempfile::tempfile().expect("temp file");
    file.write_all(bytes).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file
}

/// Everything in `file` from its start, leaving its position where it was.
pub fn contents(file: &File) -> Vec<u8> {
    let mut copy = file.try_clone().unwrap();
    let position = copy.stream_position().unwrap();
    let mut bytes = Vec::new();
    copy.seek(SeekFrom::Start(0)).unwrap();
    copy.read_to_end(&mut bytes).unwrap();
    copy.seek(SeekFrom::Start(position)).unwrap();
    bytes
}

/// The descriptor's file position.
pub fn position(fd: RawFd) -> i64 {
    // SAFETY: lseek takes no pointers.
    unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }
}

pub fn stream_pair() -> (UnixStream, UnixStream) {
    UnixStream::pair().expect("socketpair")
}

/// A pipe made with the library itself: (read end, write end).
pub fn pipe(nonblocking: bool) -> (File, File) {
    let mut fds = [-1; 2];
    let flags = if nonblocking {
        zcio::ffi::pipe::ZCIO_PIPE_NONBLOCK
    } else {
        0
    };
    // SAFETY: fds has room for two ints.
    let rc = unsafe { zcio::ffi::pipe::zcio_pipe_new(0, flags, fds.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: both descriptors are new and owned by nobody else.
    unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
}

/// A descriptor number that is certainly closed.
pub fn closed_fd() -> RawFd {
    let file = tempfile::tempfile().unwrap();
    let fd = file.as_raw_fd();
    drop(file);
    fd
}

/// The calling thread's errno.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap()
}

pub fn set_nonblocking(fd: &impl AsRawFd) {
    // SAFETY: fcntl with integer arguments only.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        assert_eq!(
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK),
            0
        );
    }
}

/// Number of open descriptors in this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

pub fn owned(file: File) -> OwnedFd {
    file.into()
}

/// True if SIGPIPE is blocked or pending in the calling thread: what a zcio
/// call must never leave behind.
pub fn sigpipe_blocked_or_pending() -> bool {
    // SAFETY: the sets are zeroed storage that the calls fill in.
    unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
        libc::sigpending(&mut pending);
        libc::sigismember(&mask, libc::SIGPIPE) == 1
            || libc::sigismember(&pending, libc::SIGPIPE) == 1
    }
}
