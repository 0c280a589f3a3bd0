//! Process-wide counters of what the best-path copy did, kept with relaxed
//! atomics so that counting never takes a lock on the hot path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::plan::Mechanism;

/// Why a copy left the mechanism it tried first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The kernel refused the mechanism for these descriptors (EINVAL,
    /// ENOSYS, EOPNOTSUPP, EXDEV, or EBADF for an O_APPEND output).
    Unsupported,
    /// A seccomp filter or similar policy refused the call (EPERM).
    Denied,
    /// The mechanism reported end of input before moving a byte, which
    /// procfs files do; read(2) decides.
    EmptyAtStart,
    /// No pipe could be had: the pool is exhausted or pipe creation failed.
    NoPipe,
}

const MECHANISMS: usize = 5;
const FALLBACKS: usize = 4;

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Copy calls (zcio_copy and transfer steps) finished by each mechanism,
    /// indexed by `Mechanism as usize`; index 0 is unused.
    pub calls: [u64; MECHANISMS],
    /// Bytes written by each mechanism, indexed the same way.
    pub bytes: [u64; MECHANISMS],
    /// Fallbacks by reason, indexed by `Fallback as usize`.
    pub fallbacks: [u64; FALLBACKS],
    /// Calls that returned because a non-blocking descriptor was not ready.
    pub would_block: u64,
    /// Copies that chose read/write because the transfer was small.
    pub small_copies: u64,
    /// Copies that chose read/write because the source could change.
    pub stable_copies: u64,
}

struct Counters {
    calls: [AtomicU64; MECHANISMS],
    bytes: [AtomicU64; MECHANISMS],
    fallbacks: [AtomicU64; FALLBACKS],
    would_block: AtomicU64,
    small_copies: AtomicU64,
    stable_copies: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);

static COUNTERS: Counters = Counters {
    calls: [ZERO; MECHANISMS],
    bytes: [ZERO; MECHANISMS],
    fallbacks: [ZERO; FALLBACKS],
    would_block: ZERO,
    small_copies: ZERO,
    stable_copies: ZERO,
};

pub fn count_call(mechanism: Mechanism, bytes: u64) {
    COUNTERS.calls[mechanism as usize].fetch_add(1, Relaxed);
    COUNTERS.bytes[mechanism as usize].fetch_add(bytes, Relaxed);
}

pub fn count_fallback(reason: Fallback) {
    COUNTERS.fallbacks[reason as usize].fetch_add(1, Relaxed);
}

pub fn count_would_block() {
    COUNTERS.would_block.fetch_add(1, Relaxed);
}

pub fn count_small_copy() {
    COUNTERS.small_copies.fetch_add(1, Relaxed);
}

pub fn count_stable_copy() {
    COUNTERS.stable_copies.fetch_add(1, Relaxed);
}

fn load<const N: usize>(counters: &[AtomicU64; N]) -> [u64; N] {
    std::array::from_fn(|i| counters[i].load(Relaxed))
}

pub fn snapshot() -> Snapshot {
    Snapshot {
        calls: load(&COUNTERS.calls),
        bytes: load(&COUNTERS.bytes),
        fallbacks: load(&COUNTERS.fallbacks),
        would_block: COUNTERS.would_block.load(Relaxed),
        small_copies: COUNTERS.small_copies.load(Relaxed),
        stable_copies: COUNTERS.stable_copies.load(Relaxed),
    }
}

/// Sets every counter to zero. Counts made by other threads during the
/// reset may survive it or not.
pub fn reset() {
    let all = COUNTERS
        .calls
        .iter()
        .chain(&COUNTERS.bytes)
        .chain(&COUNTERS.fallbacks);
    let singles = [
        &COUNTERS.would_block,
        &COUNTERS.small_copies,
        &COUNTERS.stable_copies,
    ];
    for counter in all.chain(singles) {
        counter.store(0, Relaxed);
    }
}
