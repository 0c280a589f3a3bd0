//! Pipes for splicing between descriptors that are not pipes themselves.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::error::Error;
use crate::sys;

/// Creates a close-on-exec pipe, returning the read end and the write end.
///
/// A non-zero `size_hint` asks the kernel for that capacity in bytes. The
/// kernel may round it up, or refuse it (above `/proc/sys/fs/pipe-max-size`
/// for an unprivileged process, or past the per-user pipe budget); a refusal
/// keeps the default size and is not an error.
pub fn pipe_new(size_hint: u32, nonblocking: bool) -> Result<(OwnedFd, OwnedFd), Error> {
    let flags = libc::O_CLOEXEC | if nonblocking { libc::O_NONBLOCK } else { 0 };
    let (read_end, write_end) = sys::pipe2(flags)?;
    if size_hint > 0 {
        let size = i32::try_from(size_hint).unwrap_or(i32::MAX);
        let _refusal_is_fine = sys::fcntl_int(write_end.as_raw_fd(), libc::F_SETPIPE_SZ, size);
    }
    Ok((read_end, write_end))
}

/// The capacity of a pipe in bytes.
pub fn pipe_size(fd: &OwnedFd) -> Result<usize, Error> {
    sys::fcntl_int(fd.as_raw_fd(), libc::F_GETPIPE_SZ, 0).map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_are_close_on_exec_and_honour_nonblocking() {
        for nonblocking in [false, true] {
            let (r, w) = pipe_new(0, nonblocking).unwrap();
            for fd in [&r, &w] {
                let fd_flags = sys::fcntl_int(fd.as_raw_fd(), libc::F_GETFD, 0).unwrap();
                assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
                let fl = sys::fcntl_int(fd.as_raw_fd(), libc::F_GETFL, 0).unwrap();
                assert_eq!(fl & libc::O_NONBLOCK != 0, nonblocking);
            }
        }
    }

    #[test]
    fn size_hint_is_applied_or_ignored() {
        let (r, _w) = pipe_new(1 << 20, false).unwrap();
        assert!(pipe_size(&r).unwrap() >= 1 << 20);
        let (r, _w) = pipe_new(u32::MAX, false).unwrap();
        assert!(pipe_size(&r).unwrap() >= 4096);
    }
}
