//! Exports for the process-wide copy counters: `zcio_stats_get` and
//! `zcio_stats_reset`.

use std::os::raw::c_int;

use super::{Versioned, boundary, write_versioned};
use crate::error::ZCIO_OK;
use crate::stats;

/// Index into `zcio_stats.fallbacks`: the kernel refused the mechanism
/// (EINVAL, ENOSYS, EOPNOTSUPP, EXDEV, or EBADF for an O_APPEND output).
pub const ZCIO_FALLBACK_UNSUPPORTED: u32 = 0;
/// Index into `zcio_stats.fallbacks`: a policy such as seccomp refused the
/// call (EPERM).
pub const ZCIO_FALLBACK_DENIED: u32 = 1;
/// Index into `zcio_stats.fallbacks`: the mechanism reported end of input
/// before any byte (procfs files), so read/write decided.
pub const ZCIO_FALLBACK_EMPTY_AT_START: u32 = 2;
/// Index into `zcio_stats.fallbacks`: no pipe was available for splicing.
pub const ZCIO_FALLBACK_NO_PIPE: u32 = 3;

/// Process-wide counters of `zcio_copy` and `zcio_transfer_step`. Set
/// `size` to `sizeof(zcio_stats)` before passing it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zcio_stats {
    /// `sizeof(zcio_stats)` as the caller was compiled.
    pub size: u32,
    /// Unused; written as 0.
    pub reserved: u32,
    /// Calls per mechanism, indexed by `ZCIO_MECH_*` (index 0 unused).
    pub calls: [u64; 5],
    /// Bytes written per mechanism, indexed by `ZCIO_MECH_*`.
    pub bytes: [u64; 5],
    /// Fallbacks by reason, indexed by `ZCIO_FALLBACK_*`.
    pub fallbacks: [u64; 4],
    /// Calls that stopped because a non-blocking descriptor was not ready.
    pub would_block: u64,
    /// Copies that chose read/write because they were small.
    pub small_copies: u64,
    /// Copies that chose read/write under `ZCIO_SOURCE_STABLE`.
    pub stable_copies: u64,
}

// SAFETY: repr(C), starts with the u32 size, integers only.
unsafe impl Versioned for zcio_stats {
    const MIN_SIZE: usize = std::mem::size_of::<zcio_stats>();
}

/// Reads the counters into `*stats_out`, whose `size` must be set.
///
/// The counters are updated with relaxed atomics, so a snapshot taken while
/// other threads copy may mix slightly older and newer values. Never blocks.
/// Thread-safe. Returns `ZCIO_OK`, `ZCIO_ENULL` or `ZCIO_ESTRUCT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_stats_get(stats_out: *mut zcio_stats) -> c_int {
    boundary(|| {
        let snapshot = stats::snapshot();
        let value = zcio_stats {
            size: 0,
            reserved: 0,
            calls: snapshot.calls,
            bytes: snapshot.bytes,
            fallbacks: snapshot.fallbacks,
            would_block: snapshot.would_block,
            small_copies: snapshot.small_copies,
            stable_copies: snapshot.stable_copies,
        };
        // SAFETY: the caller passes NULL or a zcio_stats of its stated size.
        unsafe { write_versioned(stats_out, &value) }?;
        Ok(ZCIO_OK)
    })
}

/// Sets every counter to zero. Counts made by other threads at the same
/// moment may or may not survive. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn zcio_stats_reset() {
    super::boundary_or((), stats::reset)
}
