//! Exports for file mappings: `zcio_map_open`, `zcio_map_data`,
//! `zcio_map_len`, `zcio_map_sync`, `zcio_map_advise` and `zcio_map_close`.

use std::ffi::{CStr, c_char, c_void};
use std::os::raw::c_int;
use std::ptr;

use super::{boundary, boundary_or, finish, out};
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
/// size, gives a mapping of length 0, and so does a procfs file, which
/// reports a size of 0 (read those with read(2) or `zcio_copy`). `flags` combines `ZCIO_MAP_*`; 0 is
/// read-only. The descriptor's file position is not used, and `fd` may be
/// closed as soon as this returns: the mapping keeps the file alive.
///
/// `map_out` must not be NULL. On success `*map_out` is a new mapping owned
/// by the caller, to be released with `zcio_map_close`; on error it is set
/// to NULL. Never blocks except for the reads `ZCIO_MAP_POPULATE` asks for.
/// Thread-safe.
///
/// If the file is later truncated below the mapped range, touching the
/// vanished pages through `zcio_map_data` raises SIGBUS, as with any
/// mapping; `zcio_map_read`, `zcio_map_write` and `zcio_map_send` report
/// `ZCIO_ETRUNCATED` instead.
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
/// The pointer stays valid until `zcio_map_close` or `zcio_map_resize`. It
/// may be written only if the mapping is writable. For a mapping of length 0
/// it is a valid address that must not be dereferenced. A NULL `map` gives
/// NULL. Thread-safe.
///
/// Direct access carries the SIGBUS risk of every mapping: if another
/// process truncates the file, touching a page past the new end kills the
/// process with SIGBUS. `zcio_map_read`, `zcio_map_write` and
/// `zcio_map_send` are the safe alternatives.
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

/// Like `zcio_map_open`, for the file at `path`, which is opened (read-only,
/// or read-write for `ZCIO_MAP_WRITE` without `ZCIO_MAP_PRIVATE`),
/// close-on-exec, and closed again before returning; the mapping keeps what
/// it needs.
///
/// `path` and `map_out` must not be NULL. Returns what `zcio_map_open` and
/// open(2) return (`ZCIO_ENOENT`, `ZCIO_EACCES`, ...).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_open_path(
    path: *const c_char,
    offset: u64,
    len: u64,
    flags: u32,
    map_out: *mut *mut zcio_map,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a valid zcio_map * pointer.
        let map_out = unsafe { out(map_out) }?;
        *map_out = ptr::null_mut();
        if path.is_null() {
            return Err(Error::Null);
        }
        // SAFETY: a non-NULL path is a NUL-terminated string.
        let path = unsafe { CStr::from_ptr(path) };

        let (access, populate) = access(flags)?;
        let map = Map::open_path(path, offset, len, access, populate)?;
        *map_out = Box::into_raw(Box::new(zcio_map { map }));
        Ok(ZCIO_OK)
    })
}

/// Maps `len` bytes of zeroed anonymous memory, readable and writable and
/// private to the process (its children after fork get a copy).
///
/// `flags` may be 0 or `ZCIO_MAP_POPULATE` (touch every page now).
/// `len == 0` gives a mapping of length 0. `map_out` must not be NULL; on
/// success `*map_out` is owned by the caller, to be released with
/// `zcio_map_close`, and NULL on error. Thread-safe.
///
/// Returns `ZCIO_OK`, `ZCIO_EFLAGS`, or a negative errno (`ZCIO_ENOMEM`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_anon(len: u64, flags: u32, map_out: *mut *mut zcio_map) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a valid zcio_map * pointer.
        let map_out = unsafe { out(map_out) }?;
        *map_out = ptr::null_mut();
        if flags & !ZCIO_MAP_POPULATE != 0 {
            return Err(Error::Flags);
        }

        let map = Map::anonymous(len, flags & ZCIO_MAP_POPULATE != 0)?;
        *map_out = Box::into_raw(Box::new(zcio_map { map }));
        Ok(ZCIO_OK)
    })
}

/// Copies `len` bytes from `offset` in the mapping into `buf`, safely even
/// if the file is truncated meanwhile.
///
/// `map` and `read_out` must not be NULL; `buf` may be NULL only when `len`
/// is 0, and is not kept. The range must lie inside the mapping
/// (`ZCIO_EBOUNDS`). If the file shrank and the copy reaches pages past its
/// new end, the call returns `ZCIO_ETRUNCATED` with `*read_out` the bytes
/// copied before the cut (never more than the file still holds), and the
/// process keeps running: the SIGBUS is caught inside the copy.
///
/// zcio installs a SIGBUS handler for this on first use. It passes faults
/// outside zcio's copies to the handler that was installed before it (or to
/// the default action, which ends the process). A handler the program
/// installs after zcio's replaces it: the program then sees every SIGBUS,
/// these included, so install yours first. Never blocks except on page-in.
/// Thread-safe.
///
/// Returns `ZCIO_OK`, `ZCIO_ETRUNCATED`, `ZCIO_EBOUNDS` or `ZCIO_ENULL`.
/// `*read_out` is written on every return except `ZCIO_ENULL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_read(
    map: *const zcio_map,
    offset: u64,
    buf: *mut c_void,
    len: u64,
    read_out: *mut u64,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or valid pointers.
        let (map, read_out) = unsafe { (map.as_ref().ok_or(Error::Null)?, out(read_out)?) };
        *read_out = 0;
        let buf = raw_buffer(buf.cast(), len)?;

        // SAFETY: buf is valid for writes of len bytes, per the caller.
        let slice = unsafe { slice_mut(buf, len) };
        Ok(finish(map.map.read(offset, slice).map(|()| len), read_out))
    })
}

/// Copies `len` bytes from `buf` into the mapping at `offset`, safely even
/// if the file is truncated meanwhile.
///
/// As `zcio_map_read`, in the other direction; the mapping must be
/// writable (`ZCIO_EACCES` otherwise). On a shared mapping the bytes reach
/// the file later, or at `zcio_map_sync`. `*written_out` is written on
/// every return except `ZCIO_ENULL`. Not to be called by two threads on
/// overlapping ranges at once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_write(
    map: *mut zcio_map,
    offset: u64,
    buf: *const c_void,
    len: u64,
    written_out: *mut u64,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or valid pointers.
        let (map, written_out) = unsafe { (map.as_ref().ok_or(Error::Null)?, out(written_out)?) };
        *written_out = 0;
        let buf = raw_buffer(buf.cast_mut().cast(), len)?;

        // SAFETY: buf is valid for reads of len bytes, per the caller;
        // raw_buffer checked that len fits usize.
        let slice = unsafe { std::slice::from_raw_parts(buf.cast_const(), len as usize) };
        Ok(finish(
            map.map.write(offset, slice).map(|()| len),
            written_out,
        ))
    })
}

/// Checks a buffer argument: NULL is allowed only for a length of 0.
fn raw_buffer(buf: *mut u8, len: u64) -> Result<*mut u8, Error> {
    match (buf.is_null(), len) {
        (true, 0) => Ok(ptr::NonNull::dangling().as_ptr()),
        (true, _) => Err(Error::Null),
        (false, len) if usize::try_from(len).is_err() => Err(Error::Bounds),
        (false, _) => Ok(buf),
    }
}

/// # Safety
/// `buf` is valid for `len` bytes (or dangling with `len == 0`).
unsafe fn slice_mut<'a>(buf: *mut u8, len: u64) -> &'a mut [u8] {
    // SAFETY: per the contract; raw_buffer checked that len fits usize.
    unsafe { std::slice::from_raw_parts_mut(buf, len as usize) }
}

/// Writes `len` bytes from `offset` in the mapping to `out_fd` with
/// write(2): one copy, from the mapping straight into the kernel.
///
/// `map` and `sent_out` must not be NULL. The range must lie inside the
/// mapping (`ZCIO_EBOUNDS`). Loops until all is written. On a non-blocking
/// `out_fd` that is full it returns `ZCIO_EAGAIN` with `*sent_out` the
/// bytes written; call again from `offset + *sent_out`. Never raises
/// SIGPIPE. If the file was truncated below the range, returns
/// `ZCIO_ETRUNCATED` with the bytes sent before the cut. The descriptor's
/// file position advances as with write(2). Thread-safe.
///
/// Returns `ZCIO_OK`, `ZCIO_EAGAIN`, `ZCIO_ETRUNCATED`, `ZCIO_EBOUNDS`, or a
/// negative errno (`ZCIO_EPIPE`, `ZCIO_EBADF`). `*sent_out` is written on
/// every return except `ZCIO_ENULL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_send(
    map: *const zcio_map,
    offset: u64,
    len: u64,
    out_fd: c_int,
    sent_out: *mut u64,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or valid pointers.
        let (map, sent_out) = unsafe { (map.as_ref().ok_or(Error::Null)?, out(sent_out)?) };
        *sent_out = 0;

        Ok(finish(map.map.send(offset, len, out_fd), sent_out))
    })
}

/// Reports whether the file still covers the whole mapping.
///
/// `map` and `file_size_out` must not be NULL; `*file_size_out` is set to
/// the file's current size (0 for anonymous memory). Returns `ZCIO_OK` if
/// the file is at least as long as the mapped range, `ZCIO_ETRUNCATED` if
/// it shrank below it (touching the missing pages directly would raise
/// SIGBUS), or a negative errno from fstat. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_check(map: *const zcio_map, file_size_out: *mut u64) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or valid pointers.
        let (map, file_size_out) =
            unsafe { (map.as_ref().ok_or(Error::Null)?, out(file_size_out)?) };
        *file_size_out = 0;

        *file_size_out = map.map.file_size()?;
        map.map.check()?;
        Ok(ZCIO_OK)
    })
}

/// Locks the whole mapping in memory (mlock) so its pages are never
/// swapped or dropped; `zcio_map_unlock` releases it.
///
/// `map` must not be NULL. Locked memory counts against RLIMIT_MEMLOCK
/// (`ZCIO_ENOMEM` or `ZCIO_EPERM` past it). Faults every page in, so may
/// block on I/O. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_lock(map: *mut zcio_map) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a mapping that is not yet closed.
        let map = unsafe { map.as_ref() }.ok_or(Error::Null)?;
        map.map.lock(true)?;
        Ok(ZCIO_OK)
    })
}

/// Unlocks a mapping locked with `zcio_map_lock` (munlock). `map` must not
/// be NULL. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_unlock(map: *mut zcio_map) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a mapping that is not yet closed.
        let map = unsafe { map.as_ref() }.ok_or(Error::Null)?;
        map.map.lock(false)?;
        Ok(ZCIO_OK)
    })
}

/// Counts how many bytes of a range of the mapping are resident in memory
/// (mincore), for example after `ZCIO_ADVICE_WILLNEED`.
///
/// `map` and `resident_bytes_out` must not be NULL. The range is `offset`
/// to `offset + len` (`len == 0`: to the end) and must lie in the mapping
/// (`ZCIO_EBOUNDS`). Never blocks. Thread-safe. `*resident_bytes_out` is
/// written on every return except `ZCIO_ENULL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_resident(
    map: *const zcio_map,
    offset: u64,
    len: u64,
    resident_bytes_out: *mut u64,
) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or valid pointers.
        let (map, resident_out) =
            unsafe { (map.as_ref().ok_or(Error::Null)?, out(resident_bytes_out)?) };
        *resident_out = 0;

        *resident_out = map.map.resident(offset, len)?;
        Ok(ZCIO_OK)
    })
}

/// Changes the length of a mapping (mremap), moving it in memory if it
/// must: every pointer from `zcio_map_data` is invalid afterwards.
///
/// `map` must not be NULL. A file mapping keeps its start and cannot grow
/// past the current end of the file (`ZCIO_EBOUNDS`); anonymous memory can
/// take any length, new bytes being zero. `new_len == 0` unmaps the memory
/// and leaves a mapping of length 0 that can grow again. Not to be called
/// while another thread uses the mapping.
///
/// Returns `ZCIO_OK`, `ZCIO_ENULL`, `ZCIO_EBOUNDS`, or a negative errno
/// (`ZCIO_ENOMEM`). On error the mapping is unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_map_resize(map: *mut zcio_map, new_len: u64) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a mapping used by no other thread.
        let map = unsafe { map.as_mut() }.ok_or(Error::Null)?;
        map.map.resize(new_len)?;
        Ok(ZCIO_OK)
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
