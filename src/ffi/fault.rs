//! Exports for fault injection: `zcio_fault_inject`, `zcio_fault_clear` and
//! `zcio_fault_count`.

use std::os::raw::c_int;

use super::{Versioned, boundary, boundary_or, read_versioned};
use crate::error::{Error, ZCIO_OK};
use crate::fault::{self, Call, Effect, Rule};

/// Fault target: sendfile(2), as `zcio_sendfile` and `zcio_copy` make it.
pub const ZCIO_FAULT_SENDFILE: u32 = 1;
/// Fault target: splice(2).
pub const ZCIO_FAULT_SPLICE: u32 = 2;
/// Fault target: tee(2).
pub const ZCIO_FAULT_TEE: u32 = 3;
/// Fault target: copy_file_range(2).
pub const ZCIO_FAULT_COPY_FILE_RANGE: u32 = 4;
/// Fault target: read(2) and pread(2), in the read/write fallback.
pub const ZCIO_FAULT_READ: u32 = 5;
/// Fault target: write(2) and pwrite(2), in the read/write fallback and
/// `zcio_map_send`.
pub const ZCIO_FAULT_WRITE: u32 = 6;

/// One fault to inject. Set `size` to `sizeof(zcio_fault)`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zcio_fault {
    /// `sizeof(zcio_fault)` as the caller was compiled.
    pub size: u32,
    /// The `ZCIO_FAULT_*` system call to inject into.
    pub call: u32,
    /// Let this many calls of that kind through first, counted since the
    /// last `zcio_fault_clear` (0: the next call).
    pub after: u64,
    /// Inject into this many calls, one after the other (0 means 1).
    pub times: u32,
    /// A negative errno the call fails with instead of being made (such as
    /// `ZCIO_EAGAIN`, `ZCIO_EINTR`, `ZCIO_ENOSYS`, `ZCIO_EINVAL`), or a
    /// positive byte count the call is shortened to.
    pub result: i32,
}

// SAFETY: repr(C), starts with the u32 size, integers only.
unsafe impl Versioned for zcio_fault {
    const MIN_SIZE: usize = std::mem::size_of::<zcio_fault>();
}

/// Adds a fault to inject into the library's own system calls, for testing
/// how a program copes with the kernel's rarer answers.
///
/// Faults are process-wide and apply to every thread. A program that
/// cannot be changed can take them from the environment variable
/// `ZCIO_FAULTS`, read at the first call: comma-separated rules
/// `CALL[@AFTER][xTIMES]=RESULT`, such as `splice@3x2=EAGAIN` or
/// `sendfile=short:100` (CALL is the system call's name, RESULT an errno
/// name or `short:` and a byte count; rules that do not parse are ignored).
/// Not for production: an injected EAGAIN on a blocking descriptor makes
/// the library wait with poll(2) for a readiness it already has.
///
/// `fault` must not be NULL. Returns `ZCIO_OK`, `ZCIO_ENULL`,
/// `ZCIO_ESTRUCT`, `ZCIO_EFLAGS` for an unknown call or a `result` of 0 or
/// below -4095, or `ZCIO_ENOSPC` past 64 faults. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_fault_inject(fault: *const zcio_fault) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a structure of its stated size.
        let spec = unsafe { read_versioned(fault) }?;
        let call = Call::from_number(spec.call).ok_or(Error::Flags)?;
        let effect = match spec.result {
            n if n > 0 => Effect::Short(n as usize),
            n if (-4095..0).contains(&n) => Effect::Fail(-n),
            _ => return Err(Error::Flags),
        };

        fault::add(Rule {
            call,
            after: spec.after,
            times: spec.times,
            effect,
        })?;
        Ok(ZCIO_OK)
    })
}

/// Removes every injected fault, those from `ZCIO_FAULTS` included, and
/// restarts the call counts. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn zcio_fault_clear() {
    boundary_or((), fault::clear)
}

/// How many calls of the `ZCIO_FAULT_*` kind the library made since the
/// last `zcio_fault_clear`; 0 for an unknown kind. Counting starts with the
/// first call of any `zcio_fault_*` function (or a `ZCIO_FAULTS` rule), so
/// call `zcio_fault_clear` before the run to count. Counts every call,
/// faulted or not, so a test can count the calls of a clean run and then
/// inject at each one. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn zcio_fault_count(call: u32) -> u64 {
    boundary_or(0, || Call::from_number(call).map_or(0, fault::seen))
}
