//! Exports for the zero-copy transfers: `zcio_sendfile`, `zcio_splice`,
//! `zcio_tee` and `zcio_copy_file_range`.

use std::os::raw::c_int;

use super::{boundary, finish, offset, out};
use crate::error::Error;
use crate::primitives;

/// A count or length meaning "until the input ends".
pub const ZCIO_TO_EOF: u64 = u64::MAX;

/// Splice flag: ask the kernel to move pages instead of copying them (a
/// hint; current kernels ignore it).
pub const ZCIO_SPLICE_MOVE: u32 = 1;
/// Splice flag: do not block on the pipe. A descriptor that is not a pipe
/// blocks or not according to its own O_NONBLOCK flag.
pub const ZCIO_SPLICE_NONBLOCK: u32 = 2;
/// Splice flag: more data follows, like MSG_MORE on a socket.
pub const ZCIO_SPLICE_MORE: u32 = 4;

/// Translates ZCIO_SPLICE_* bits into the kernel's SPLICE_F_* bits.
fn splice_flags(flags: u32) -> Result<u32, Error> {
    let known = [
        (ZCIO_SPLICE_MOVE, libc::SPLICE_F_MOVE),
        (ZCIO_SPLICE_NONBLOCK, libc::SPLICE_F_NONBLOCK),
        (ZCIO_SPLICE_MORE, libc::SPLICE_F_MORE),
    ];
    let all = known.iter().fold(0, |acc, (ours, _)| acc | ours);
    if flags & !all != 0 {
        return Err(Error::Flags);
    }
    Ok(known
        .iter()
        .filter(|(ours, _)| flags & ours != 0)
        .fold(0, |acc, (_, k)| acc | k))
}

/// Sends bytes from a file to any descriptor with sendfile(2).
///
/// `in_fd` must allow mmap-like reads: a regular file or block device.
/// `out_fd` may be a socket, pipe, regular file or character device.
/// `offset` may be NULL: the bytes are read from `in_fd`'s file position,
/// which advances. If not NULL, reading starts at `*offset`, which advances
/// by the bytes sent, and `in_fd`'s position is untouched. `count` is a byte
/// count or `ZCIO_TO_EOF`; when both descriptors are the same file,
/// `ZCIO_TO_EOF` means the end as it was when the call began. `sent_out`
/// must not be NULL.
///
/// Blocks if `out_fd` is blocking and full. If `out_fd` is non-blocking and
/// full, returns `ZCIO_EAGAIN` with the bytes sent so far; call again, with
/// the same offset pointer, once it is writable.
///
/// Returns `ZCIO_OK` when `count` bytes (or everything, with `ZCIO_TO_EOF`)
/// were sent, `ZCIO_ESHORT` if the file ended first, or a negative errno.
/// `*sent_out` holds the bytes sent on every return except `ZCIO_ENULL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_sendfile(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut i64,
    count: u64,
    sent_out: *mut u64,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a valid uint64_t pointer.
        let sent_out = unsafe { out(sent_out) }?;
        *sent_out = 0;

        // SAFETY: the caller passes NULL or a valid int64_t pointer.
        let result = primitives::sendfile(out_fd, in_fd, unsafe { self::offset(offset) }, count);
        Ok(finish(result, sent_out))
    })
}

/// Moves bytes between two descriptors with splice(2); at least one of them
/// must be a pipe.
///
/// An offset must be NULL for a pipe. For a file, NULL uses and advances
/// its file position; a non-NULL offset is read from and advanced by the
/// bytes moved, and the file position is untouched. `len` is a byte count or
/// `ZCIO_TO_EOF`. `flags` combines `ZCIO_SPLICE_*`. `moved_out` must not be
/// NULL.
///
/// Blocks while a pipe is full or empty unless `ZCIO_SPLICE_NONBLOCK` is
/// given, and on a blocking socket. Without a reader on the far side of an
/// output pipe, a blocking call that asks for more than the pipe holds waits
/// forever, as write(2) would. In non-blocking mode it returns `ZCIO_EAGAIN`
/// with the bytes moved so far. The end of input is a pipe with no writers
/// left, a socket shut down by its peer, or the end of a file.
///
/// Returns `ZCIO_OK`, `ZCIO_ESHORT` if the input ended first, `ZCIO_EFLAGS`
/// for unknown flags, or a negative errno (`ZCIO_EINVAL` when neither
/// descriptor is a pipe). `*moved_out` holds the bytes moved on every return
/// except `ZCIO_ENULL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_splice(
    in_fd: c_int,
    in_offset: *mut i64,
    out_fd: c_int,
    out_offset: *mut i64,
    len: u64,
    flags: u32,
    moved_out: *mut u64,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a valid uint64_t pointer.
        let moved_out = unsafe { out(moved_out) }?;
        *moved_out = 0;
        let flags = splice_flags(flags)?;

        // SAFETY: the caller passes NULL or valid int64_t pointers.
        let (in_off, out_off) = unsafe { (offset(in_offset), offset(out_offset)) };
        Ok(finish(
            primitives::splice(in_fd, in_off, out_fd, out_off, len, flags),
            moved_out,
        ))
    })
}

/// Duplicates bytes from one pipe into another with tee(2), leaving them in
/// the input pipe.
///
/// Both descriptors must be pipes (`ZCIO_EINVAL` otherwise). `flags` may be
/// 0 or `ZCIO_SPLICE_NONBLOCK`. `copied_out` must not be NULL.
///
/// Unlike the other calls this one does not loop: tee does not consume its
/// input, so a second call would duplicate the same bytes again. It makes
/// one tee call (retrying only EINTR), so `*copied_out` may be less than
/// `len`; consume the input before duplicating more. `ZCIO_OK` with 0
/// copied means the input pipe is empty and has no writers. Blocks on an
/// empty input or full output pipe unless `ZCIO_SPLICE_NONBLOCK` is given,
/// in which case it returns `ZCIO_EAGAIN`.
///
/// Returns `ZCIO_OK`, `ZCIO_EFLAGS` for unknown flags, or a negative errno.
/// `*copied_out` is written on every return except `ZCIO_ENULL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_tee(
    in_pipe: c_int,
    out_pipe: c_int,
    len: u64,
    flags: u32,
    copied_out: *mut u64,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a valid uint64_t pointer.
        let copied_out = unsafe { out(copied_out) }?;
        *copied_out = 0;
        if flags & !ZCIO_SPLICE_NONBLOCK != 0 {
            return Err(Error::Flags);
        }
        let flags = splice_flags(flags)?;

        Ok(finish(
            primitives::tee(in_pipe, out_pipe, len, flags),
            copied_out,
        ))
    })
}

/// Copies bytes between two files inside the kernel with
/// copy_file_range(2), sharing extents where the filesystem supports it.
///
/// Both descriptors must be regular files (`ZCIO_EINVAL` otherwise, or
/// `ZCIO_EISDIR` for a directory);
/// `out_fd` must not be opened with O_APPEND (`ZCIO_EBADF`). Offsets work as
/// in `zcio_splice`: NULL uses and advances the file position, non-NULL is
/// positional and advanced by the bytes copied. `len` is a byte count or
/// `ZCIO_TO_EOF` (within one file: the end as it was when the call began).
/// `copied_out` must not be NULL. Copying across filesystems
/// may fail with `ZCIO_EXDEV`; copying a range onto itself (same file,
/// overlapping ranges) fails with `ZCIO_EINVAL`.
///
/// Blocks for the duration of the disk I/O; there is no non-blocking mode.
///
/// Returns `ZCIO_OK`, `ZCIO_ESHORT` if the input ended first, or a negative
/// errno. `*copied_out` is written on every return except `ZCIO_ENULL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_copy_file_range(
    in_fd: c_int,
    in_offset: *mut i64,
    out_fd: c_int,
    out_offset: *mut i64,
    len: u64,
    copied_out: *mut u64,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a valid uint64_t pointer.
        let copied_out = unsafe { out(copied_out) }?;
        *copied_out = 0;

        // SAFETY: the caller passes NULL or valid int64_t pointers.
        let (in_off, out_off) = unsafe { (offset(in_offset), offset(out_offset)) };
        Ok(finish(
            primitives::copy_file_range(in_fd, in_off, out_fd, out_off, len),
            copied_out,
        ))
    })
}
