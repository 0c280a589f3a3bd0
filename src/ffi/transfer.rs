//! Exports for the resumable transfer that event loops drive:
//! `zcio_transfer_new`, `zcio_transfer_step` and `zcio_transfer_free`.

use std::os::raw::c_int;
use std::ptr;

use super::copy::{ZCIO_MECH_NONE, caller_options, zcio_copy_opts};
use super::{Versioned, boundary, boundary_or, out, write_versioned};
use crate::engine::{Status, Transfer};
use crate::error::{Error, ZCIO_MORE, ZCIO_OK, ZCIO_WANT_READ, ZCIO_WANT_WRITE};
use crate::primitives::TO_EOF;

/// A copy in progress between two descriptors. Opaque: use the
/// `zcio_transfer_*` functions.
#[allow(non_camel_case_types)]
pub struct zcio_transfer {
    transfer: Transfer,
    count: u64,
    budget: u64,
}

/// Progress of a transfer. Set `size` to `sizeof(zcio_transfer_progress)`
/// before passing it; every other field is written.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zcio_transfer_progress {
    /// `sizeof(zcio_transfer_progress)` as the caller was compiled.
    pub size: u32,
    /// The `ZCIO_MECH_*` in use.
    pub mechanism: u32,
    /// Bytes read from the input since the transfer began.
    pub read: u64,
    /// Bytes written to the output since the transfer began.
    pub written: u64,
    /// Bytes read and not yet written: they rest in the transfer's pipe or
    /// buffer and go out first on the next step.
    pub buffered: u64,
    /// Bytes read in this step.
    pub step_read: u64,
    /// Bytes written in this step.
    pub step_written: u64,
    /// The mechanism the transfer fell back from, or `ZCIO_MECH_NONE`.
    pub fallback_from: u32,
    /// Why it fell back; see `zcio_copy_result.fallback_code`.
    pub fallback_code: i32,
}

// SAFETY: repr(C), starts with the u32 size, integers only.
unsafe impl Versioned for zcio_transfer_progress {
    const MIN_SIZE: usize = std::mem::size_of::<zcio_transfer_progress>();
}

/// Starts a transfer of `count` bytes (or `ZCIO_TO_EOF`) from `in_fd` to
/// `out_fd`, choosing the mechanism as `zcio_copy` does.
///
/// `opts` may be NULL. Its offsets, if set, are read now and the transfer
/// keeps its own copies: the caller's `int64_t`s are not written later, and
/// the current offsets are the starting ones plus `read` and `written`.
/// `opts->budget` becomes the default budget of each step. `t_out` must not
/// be NULL; on success `*t_out` is a new transfer owned by the caller, to be
/// released with `zcio_transfer_free`; on error it is set to NULL.
///
/// Makes no transfer I/O and never blocks. The descriptors stay the
/// caller's: keep them open until the transfer is freed, and do not read or
/// write them in between steps. Their kinds and O_NONBLOCK flags are read
/// here, once: changing a flag later does not change how steps behave. Thread-safe; a transfer itself must be used
/// by one thread at a time.
///
/// Returns `ZCIO_OK`, `ZCIO_ENOMECH`, `ZCIO_EFLAGS` or `ZCIO_ESTRUCT` for
/// the options, `ZCIO_ESPIPE` for an offset on a pipe or socket, or a
/// negative errno from inspecting the descriptors (`ZCIO_EBADF`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_transfer_new(
    out_fd: c_int,
    in_fd: c_int,
    count: u64,
    opts: *const zcio_copy_opts,
    t_out: *mut *mut zcio_transfer,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a valid zcio_transfer * pointer.
        let t_out = unsafe { out(t_out) }?;
        *t_out = ptr::null_mut();
        // SAFETY: the caller passes NULL or valid options.
        let caller = unsafe { caller_options(opts) }?;

        let transfer = Transfer::new(out_fd, in_fd, count, &caller.options)?;
        *t_out = Box::into_raw(Box::new(zcio_transfer {
            transfer,
            count,
            budget: caller.budget,
        }));
        Ok(ZCIO_OK)
    })
}

/// Moves up to `budget` bytes (0: the budget from the options, or no
/// limit) and says what to wait for next.
///
/// Returns `ZCIO_OK` once every byte is written (and on every later call),
/// `ZCIO_WANT_READ` when the input is not ready (wait for EPOLLIN on
/// `in_fd`), `ZCIO_WANT_WRITE` when the output is not ready (wait for
/// EPOLLOUT on `out_fd`), `ZCIO_MORE` when the budget is spent (call again
/// without waiting), `ZCIO_ESHORT` when the input ended before `count`
/// bytes, `ZCIO_ESTRUCT` (before any I/O) when `progress_out->size` is too
/// small, or a negative errno (`ZCIO_EPIPE` when the reader has gone). The
/// WANT codes name the descriptor whose last call said EAGAIN, so an
/// edge-triggered loop can arm exactly that one.
///
/// Bytes taken from the input and not yet written stay in the transfer and
/// go out first on the next step; end of input is only a 0 read, never an
/// EAGAIN. `t` must not be NULL. `progress_out` may be NULL; if not, its
/// `size` must be set and it is written on every return except
/// `ZCIO_ENULL`. Blocks only on blocking descriptors. Never raises SIGPIPE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_transfer_step(
    t: *mut zcio_transfer,
    budget: u64,
    progress_out: *mut zcio_transfer_progress,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a transfer from zcio_transfer_new.
        let t = unsafe { t.as_mut() }.ok_or(Error::Null)?;
        let (read, written) = (t.transfer.read(), t.transfer.written());

        if !progress_out.is_null() {
            // Refuse a bad structure before any I/O, so no progress is lost.
            // SAFETY: a non-NULL progress_out is a structure of its size.
            unsafe { write_versioned(progress_out, &progress(&t.transfer, read, written)) }?;
        }
        let budget = if budget == 0 { t.budget } else { budget };
        let status = t.transfer.step(budget);
        if !progress_out.is_null() {
            let progress = progress(&t.transfer, read, written);
            // SAFETY: a non-NULL progress_out is a structure of its size.
            unsafe { write_versioned(progress_out, &progress) }?;
        }
        match status? {
            Status::Done if t.count != TO_EOF && t.transfer.written() < t.count => {
                Err(Error::Short)
            }
            Status::Done => Ok(ZCIO_OK),
            Status::WantRead => Ok(ZCIO_WANT_READ),
            Status::WantWrite => Ok(ZCIO_WANT_WRITE),
            Status::More => Ok(ZCIO_MORE),
        }
    })
}

fn progress(transfer: &Transfer, read_before: u64, written_before: u64) -> zcio_transfer_progress {
    let (fallback_from, fallback_code) = transfer
        .fallback()
        .map_or((ZCIO_MECH_NONE, 0), |(m, c)| (m as u32, c));
    zcio_transfer_progress {
        size: 0,
        mechanism: transfer.mechanism() as u32,
        read: transfer.read(),
        written: transfer.written(),
        buffered: transfer.buffered(),
        step_read: transfer.read() - read_before,
        step_written: transfer.written() - written_before,
        fallback_from,
        fallback_code,
    }
}

/// Ends a transfer and frees it. NULL is allowed and does nothing.
///
/// Bytes still buffered in the transfer (`progress.buffered`) are dropped;
/// its pipe or buffer goes back to the pool, or is closed if it still held
/// bytes. A pooled pipe stays open while idle, so the process's descriptor
/// count does not drop until `zcio_pool_trim`. The descriptors are not
/// closed: they are the caller's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_transfer_free(t: *mut zcio_transfer) {
    boundary_or((), || {
        if !t.is_null() {
            // SAFETY: a non-NULL t came from Box::into_raw in
            // zcio_transfer_new and the caller hands it back exactly once.
            drop(unsafe { Box::from_raw(t) });
        }
    })
}
