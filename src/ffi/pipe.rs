//! Export for creating pipes: `zcio_pipe_new`.

use std::os::fd::IntoRawFd;
use std::os::raw::c_int;

use super::{boundary, out};
use crate::error::{Error, ZCIO_OK};
use crate::pipe;

/// Pipe flag: both ends are non-blocking (O_NONBLOCK).
pub const ZCIO_PIPE_NONBLOCK: u32 = 1;

/// Creates a pipe, for splicing between two descriptors that are not pipes.
///
/// `fds_out` must point to two ints; on success `fds_out[0]` is the read end
/// and `fds_out[1]` the write end, both owned by the caller, who closes them
/// with close(2). Both ends are always close-on-exec. `flags` may be 0 or
/// `ZCIO_PIPE_NONBLOCK`. A non-zero `size_hint` asks for that capacity in
/// bytes with F_SETPIPE_SZ; the kernel may round it up or refuse it (above
/// /proc/sys/fs/pipe-max-size, or past the per-user pipe budget), and a
/// refusal keeps the default capacity without being an error. Query the
/// capacity with fcntl(fd, F_GETPIPE_SZ).
///
/// Never blocks. Thread-safe.
///
/// Returns `ZCIO_OK`, `ZCIO_EFLAGS` for unknown flags, or a negative errno
/// (`ZCIO_EMFILE`, `ZCIO_ENFILE`). On error both ints are set to -1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_pipe_new(size_hint: u32, flags: u32, fds_out: *mut c_int) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a pointer to two writable ints.
        let fds_out = unsafe { out(fds_out.cast::<[c_int; 2]>()) }?;
        *fds_out = [-1, -1];
        if flags & !ZCIO_PIPE_NONBLOCK != 0 {
            return Err(Error::Flags);
        }

        let (read_end, write_end) = pipe::pipe_new(size_hint, flags & ZCIO_PIPE_NONBLOCK != 0)?;
        *fds_out = [read_end.into_raw_fd(), write_end.into_raw_fd()];
        Ok(ZCIO_OK)
    })
}
