//! The zero-copy primitives as safe Rust: sendfile, splice, tee and
//! copy_file_range, each looped to the requested count.
//!
//! Offsets are `Option<&mut i64>`: `None` uses and advances the descriptor's
//! file position, `Some` is positional and is advanced by exactly the bytes
//! moved while the descriptor's position stays untouched.

use std::os::fd::RawFd;

use crate::error::{Error, Partial};
use crate::sys;

/// A count that means "until the input ends" (`ZCIO_TO_EOF` in C).
pub(crate) const TO_EOF: u64 = u64::MAX;

/// The most bytes Linux moves in one read, write, sendfile or splice call
/// (MAX_RW_COUNT); asking for more only returns this much.
pub(crate) const MAX_PER_CALL: usize = 0x7fff_f000;

/// Calls `step` with the size of the next chunk until `count` bytes have
/// moved, the input ends (a 0 return) or a call fails.
///
/// EINTR is retried. Any other error, EAGAIN included, stops the loop and is
/// returned together with the bytes already moved; nothing here waits.
pub(crate) fn pump(
    count: u64,
    mut step: impl FnMut(usize) -> Result<usize, Error>,
) -> Result<u64, Partial> {
    let mut moved: u64 = 0;
    while count == TO_EOF || moved < count {
        let want = usize::try_from(count - moved).map_or(MAX_PER_CALL, |n| n.min(MAX_PER_CALL));
        match step(want) {
            Ok(0) if count == TO_EOF => break,
            Ok(0) => {
                return Err(Partial {
                    moved,
                    error: Error::Short,
                });
            }
            Ok(n) => moved += n as u64,
            Err(Error::Os(libc::EINTR)) => continue,
            Err(error) => return Err(Partial { moved, error }),
        }
    }
    Ok(moved)
}

/// Rejects a negative positional offset before any byte moves; the kernel
/// would report EINVAL anyway, but only after looking at the descriptors.
fn check_offset(offset: &Option<&mut i64>) -> Result<(), Partial> {
    match offset {
        Some(off) if **off < 0 => Err(Partial {
            moved: 0,
            error: Error::Os(libc::EINVAL),
        }),
        _ => Ok(()),
    }
}

/// Runs `pump` with SIGPIPE blocked, so a reader that went away yields
/// EPIPE rather than a signal.
fn pump_guarded(
    count: u64,
    mut step: impl FnMut(usize) -> Result<usize, Error>,
) -> Result<u64, Partial> {
    let mut guard = sys::SigpipeGuard::new();
    pump(count, |want| {
        let result = step(want);
        guard.note(&result);
        result
    })
}

/// Sends `count` bytes (or everything, with [`TO_EOF`]) from `in_fd`, which
/// must support mmap-like reads (a regular file or block device), to
/// `out_fd`.
pub fn sendfile(
    out_fd: RawFd,
    in_fd: RawFd,
    mut offset: Option<&mut i64>,
    count: u64,
) -> Result<u64, Partial> {
    check_offset(&offset)?;
    let limit = end_of_one_file(in_fd, offset.as_deref().copied(), out_fd, count)?;
    let result = pump_guarded(limit, |want| {
        sys::sendfile(out_fd, in_fd, offset.as_deref_mut(), want)
    });
    to_the_end(result, count)
}

/// Moves `len` bytes between two descriptors, at least one of which is a
/// pipe. `flags` holds the kernel's `SPLICE_F_*` bits.
pub fn splice(
    in_fd: RawFd,
    mut in_offset: Option<&mut i64>,
    out_fd: RawFd,
    mut out_offset: Option<&mut i64>,
    len: u64,
    flags: u32,
) -> Result<u64, Partial> {
    check_offset(&in_offset)?;
    check_offset(&out_offset)?;
    pump_guarded(len, |want| {
        let (in_off, out_off) = (in_offset.as_deref_mut(), out_offset.as_deref_mut());
        sys::splice(in_fd, in_off, out_fd, out_off, want, flags)
    })
}

/// Duplicates up to `len` bytes from one pipe into another without
/// consuming them, in a single tee call.
///
/// It never loops: the input still holds the bytes afterwards, so a second
/// call would duplicate them again. A return of 0 means the input pipe is
/// empty and has no writers.
pub fn tee(in_pipe: RawFd, out_pipe: RawFd, len: u64, flags: u32) -> Result<u64, Partial> {
    if len == 0 {
        return Ok(0);
    }
    let want = usize::try_from(len).map_or(MAX_PER_CALL, |n| n.min(MAX_PER_CALL));
    let mut guard = sys::SigpipeGuard::new();
    loop {
        let result = sys::tee(in_pipe, out_pipe, want, flags);
        guard.note(&result);
        match result {
            Ok(n) => return Ok(n as u64),
            Err(Error::Os(libc::EINTR)) => continue,
            Err(error) => return Err(Partial { moved: 0, error }),
        }
    }
}

/// Copies `len` bytes from one file to another inside the kernel, sharing
/// extents where the filesystem can (reflinks) and copying otherwise.
pub fn copy_file_range(
    in_fd: RawFd,
    mut in_offset: Option<&mut i64>,
    out_fd: RawFd,
    mut out_offset: Option<&mut i64>,
    len: u64,
) -> Result<u64, Partial> {
    check_offset(&in_offset)?;
    check_offset(&out_offset)?;
    let limit = end_of_one_file(in_fd, in_offset.as_deref().copied(), out_fd, len)?;
    let result = pump(limit, |want| {
        let (in_off, out_off) = (in_offset.as_deref_mut(), out_offset.as_deref_mut());
        sys::copy_file_range(in_fd, in_off, out_fd, out_off, want)
    });
    to_the_end(result, len)
}

/// The count to copy when `count` is [`TO_EOF`] and both descriptors are
/// the same regular file: the end as it is now. The copy moves the end
/// itself, and reading up to a moving end would never stop.
fn end_of_one_file(
    in_fd: RawFd,
    in_offset: Option<i64>,
    out_fd: RawFd,
    count: u64,
) -> Result<u64, Partial> {
    if count != TO_EOF {
        return Ok(count);
    }
    let Ok(output) = sys::file_info(out_fd) else {
        return Ok(count);
    };
    if output.mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(count);
    }
    match sys::file_info(in_fd) {
        Ok(input) if input.id == output.id => {
            let start = in_offset
                .map_or_else(|| sys::position(in_fd), Ok)
                .map_err(|error| Partial { moved: 0, error })?;
            Ok(input.size.saturating_sub(start.max(0) as u64))
        }
        _ => Ok(count),
    }
}

/// Reports a copy asked to go to the end as complete when the input ended
/// before the bound `end_of_one_file` set (the file shrank meanwhile).
fn to_the_end(result: Result<u64, Partial>, count: u64) -> Result<u64, Partial> {
    match result {
        Err(Partial {
            moved,
            error: Error::Short,
        }) if count == TO_EOF => Ok(moved),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pump_stops_at_count_and_splits_at_the_cap() {
        let mut calls = Vec::new();
        let count = MAX_PER_CALL as u64 + 10;
        let moved = pump(count, |want| {
            calls.push(want);
            Ok(want)
        });
        assert_eq!(moved, Ok(count));
        assert_eq!(calls, vec![MAX_PER_CALL, 10]);
    }

    #[test]
    fn pump_reports_short_input_with_progress() {
        let mut left = 5usize;
        let result = pump(8, |want| {
            let n = want.min(left);
            left -= n;
            Ok(n)
        });
        assert_eq!(
            result,
            Err(Partial {
                moved: 5,
                error: Error::Short
            })
        );
    }

    #[test]
    fn pump_to_eof_ends_cleanly_and_retries_eintr() {
        let mut script = vec![Ok(0), Ok(3), Err(Error::Os(libc::EINTR)), Ok(4)];
        let result = pump(TO_EOF, |_| script.pop().unwrap());
        assert_eq!(result, Ok(7));
    }

    #[test]
    fn pump_returns_eagain_with_progress_without_retrying() {
        let mut script = vec![Err(Error::Os(libc::EAGAIN)), Ok(100)];
        let mut calls = 0;
        let result = pump(1000, |_| {
            calls += 1;
            script.pop().unwrap()
        });
        assert_eq!(
            result,
            Err(Partial {
                moved: 100,
                error: Error::Os(libc::EAGAIN)
            })
        );
        assert_eq!(calls, 2);
    }

    #[test]
    fn zero_count_makes_no_call() {
        assert_eq!(pump(0, |_| panic!("no call expected")), Ok(0));
    }
}
