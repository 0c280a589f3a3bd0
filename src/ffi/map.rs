//! Exports for file mappings: `zcio_map_open`, `zcio_map_data`,
//! `zcio_map_len`, `zcio_map_sync`, `zcio_map_advise` and `zcio_map_close`.

use std::os::raw::c_int;
use std::ptr;

use super::{boundary, boundary_or, out};
use crate::error::{Error, ZCIO_OK};
use crate::map::{Access, Map, Usage};

/// Map flag: the mapping may be read (implied by every mapping).
pub const ZCIO_MAP_READ: u32 = 1;
/// Map flag: the mapping may be written and writes reach the file (a shared
/// mapping); the descriptor must be open for reading and writing.
pub const ZCIO_MAP_WRITE: u32 = 2;
/// Map flag: copy-on-write; the file never sees writes. With
/// `ZCIO_MAP_WRITE` the private copy is writable.
pub const ZCIO_MAP_PRIVATE: u32 = 4;
/// Map flag: read the whole range in now (MAP_POPULATE) instead of on first
/// touch.
pub const ZCIO_MAP_POPULATE: u32 = 8;

/// Sync flag: start writing back and return without waiting (MS_ASYNC).
/// Without it `zcio_map_sync` waits for the writes (MS_SYNC).
pub const ZCIO_SYNC_ASYNC: u32 = 1;

/// Advice: no special treatment.
pub const ZCIO_ADVICE_NORMAL: u32 = 0;
/// Advice: the range will be read in order; read ahead aggressively.
pub const ZCIO_ADVICE_SEQUENTIAL: u32 = 1;
/// Advice: the range will be read in random order; do not read ahead.
pub const ZCIO_ADVICE_RANDOM: u32 = 2;
/// Advice: the range will be needed soon; start reading it in.
pub const ZCIO_ADVICE_WILLNEED: u32 = 3;
/// Advice: the range is not needed now; its pages may be dropped. A private
/// mapping loses its changes in the range; a shared one re-reads the file.
pub const ZCIO_ADVICE_DONTNEED: u32 = 4;
/// Advice: back the range with huge pages where the kernel can. File
/// mappings may return `ZCIO_EINVAL` on kernels without file huge pages.
pub const ZCIO_ADVICE_HUGEPAGE: u32 = 5;

/// A mapped range of a file. Opaque: use the `zcio_map_*` functions.
#[allow(non_camel_case_types)]
pub struct zcio_map {
    map: Map,
}

fn access(flags: u32) -> Result<(Access, bool), Error> {
    let known = ZCIO_MAP_READ | ZCIO_MAP_WRITE | ZCIO_MAP_PRIVATE | ZCIO_MAP_POPULATE;
    if flags & !known != 0 {
        return Err(Error::Flags);
    }
    let writable = flags & ZCIO_MAP_WRITE != 0;
    let access = match (flags & ZCIO_MAP_PRIVATE != 0, writable) {
        (true, writable) => Access::Private { writable },
        (false, true) => Access::Shared,
        (false, false) => Access::Read,
    };
    Ok((access, flags & ZCIO_MAP_POPULATE != 0))
}

fn usage(advice: u32) -> Result<Usage, Error> {
    Ok(match advice {
        ZCIO_ADVICE_NORMAL => Usage::Normal,
        ZCIO_ADVICE_SEQUENTIAL => Usage::Sequential,
        ZCIO_ADVICE_RANDOM => Usage::Random,
        ZCIO_ADVICE_WILLNEED => Usage::WillNeed,
        ZCIO_ADVICE_DONTNEED => Usage::DontNeed,
        ZCIO_ADVICE_HUGEPAGE => Usage::HugePage,
        _ => return Err(Error::Flags),
    })
}

/// Maps a range of a file into memory.
///
/// `fd` is a regular file or block device opened for reading (and writing,
/// for `ZCIO_MAP_WRITE` without `ZCIO_MAP_PRIVATE`). The range starts at
/// `offset`, which needs no alignment, and is `len` bytes long; `len == 0`
/// means to the end of the file. The range must lie inside the file
/// (`ZCIO_EBOUNDS` otherwise); an empty file, or `offset` equal to the file
/// size, gives a mapping of length 0. `flags` combines `ZCIO_MAP_*`; 0 is
/// read-only. The descriptor's file position is not used, and `fd` may be
/// closed as soon as this returns: the mapping keeps the file alive.
///
/// `map_out` must not be NULL. On success `*map_out` is a new mapping owned
/// by the caller, to be released with `zcio_map_close`; on error it is set
/// to NULL. Never blocks except for the reads `ZCIO_MAP_POPULATE` asks for.
/// Thread-safe.
///
/// If the file is later truncated below the mapped range, touching the
/// vanished pages raises SIGBUS, as with any mapping.
///
/// Returns `ZCIO_OK`, `ZCIO_EBOUNDS`, `ZCIO_EFLAGS`, or a negative errno
/// (`ZCIO_EACCES` for a writable shared mapping of a read-only descriptor,
/// `ZCIO_ENODEV` for a pipe or socket, `ZCIO_EISDIR` for a directory).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_open(
    fd: c_int,
    offset: u64,
    len: u64,
    flags: u32,
    map_out: *mut *mut zcio_map,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a valid zcio_map * pointer.
        let map_out = unsafe { out(map_out) }?;
        *map_out = ptr::null_mut();

        let (access, populate) = access(flags)?;
        let map = Map::open(fd, offset, len, access, populate)?;
        *map_out = Box::into_raw(Box::new(zcio_map { map }));
        Ok(ZCIO_OK)
    })
}

/// The first byte of the mapping: the byte at the `offset` given to
/// `zcio_map_open`.
///
/// The pointer stays valid until `zcio_map_close`. It may be written only if
/// the mapping was opened with `ZCIO_MAP_WRITE`. For a mapping of length 0
/// it is a valid address that must not be dereferenced. A NULL `map` gives
/// NULL. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_data(map: *const zcio_map) -> *mut u8 {
    // SAFETY: the caller passes NULL or a mapping from zcio_map_open that is
    // not yet closed.
    boundary_or(ptr::null_mut(), || {
        unsafe { map.as_ref() }.map_or(ptr::null_mut(), |m| m.map.data())
    })
}

/// The length of the mapping in bytes; 0 for a NULL `map`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_len(map: *const zcio_map) -> u64 {
    // SAFETY: as in zcio_map_data.
    boundary_or(0, || {
        unsafe { map.as_ref() }.map_or(0, |m| m.map.len() as u64)
    })
}

/// Writes the mapping's modified pages in a range back to the file
/// (msync).
///
/// `map` must not be NULL. The range is `offset` to `offset + len` within
/// the mapping (`len == 0`: to its end) and must lie inside it
/// (`ZCIO_EBOUNDS` otherwise); no alignment is needed. `flags` is 0, which
/// waits until the writes finish, or `ZCIO_SYNC_ASYNC`, which only starts
/// them. Blocks for disk I/O unless asynchronous. Safe to call from several
/// threads. A read-only or private mapping has nothing to write back, and
/// the call succeeds.
///
/// Returns `ZCIO_OK`, `ZCIO_ENULL`, `ZCIO_EBOUNDS`, `ZCIO_EFLAGS`, or a
/// negative errno (`ZCIO_EIO` when the write-back failed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_sync(
    map: *mut zcio_map,
    offset: u64,
    len: u64,
    flags: u32,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a mapping that is not yet closed.
        let map = unsafe { map.as_ref() }.ok_or(Error::Null)?;
        if flags & !ZCIO_SYNC_ASYNC != 0 {
            return Err(Error::Flags);
        }

        map.map.sync(offset, len, flags & ZCIO_SYNC_ASYNC == 0)?;
        Ok(ZCIO_OK)
    })
}

/// Tells the kernel how a range of the mapping will be used (madvise).
///
/// `map` must not be NULL. The range is `offset` to `offset + len` within
/// the mapping (`len == 0`: to its end) and must lie inside it
/// (`ZCIO_EBOUNDS` otherwise). `advice` is one `ZCIO_ADVICE_*` value
/// (`ZCIO_EFLAGS` otherwise). `ZCIO_ADVICE_DONTNEED` discards the changes of
/// a private mapping in the range. Never blocks. Thread-safe.
///
/// Returns `ZCIO_OK`, `ZCIO_ENULL`, `ZCIO_EBOUNDS`, `ZCIO_EFLAGS`, or a
/// negative errno (`ZCIO_EINVAL` when the kernel does not support the
/// advice for this mapping).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_advise(
    map: *mut zcio_map,
    offset: u64,
    len: u64,
    advice: u32,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a mapping that is not yet closed.
        let map = unsafe { map.as_ref() }.ok_or(Error::Null)?;
        let usage = usage(advice)?;

        map.map.advise(offset, len, usage)?;
        Ok(ZCIO_OK)
    })
}

/// Unmaps a mapping and frees it. NULL is allowed and does nothing.
///
/// Modified pages of a shared mapping still reach the file later; call
/// `zcio_map_sync` first to know that they did. `map` and every pointer from
/// `zcio_map_data` are invalid afterwards. Not to be called while another
/// thread uses the same mapping.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_close(map: *mut zcio_map) {
    boundary_or((), || {
        if !map.is_null() {
            // SAFETY: a non-NULL map came from Box::into_raw in zcio_map_open
            // and the caller hands ownership back exactly once.
            drop(unsafe { Box::from_raw(map) });
        }
    })
}
