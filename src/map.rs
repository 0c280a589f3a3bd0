//! Mappings: a file range (or anonymous memory) as memory, and copies in
//! and out of it that survive the file being truncated underneath.
//!
//! memmap2 creates, resizes and removes the mapping and aligns unaligned
//! offsets; this module adds bounds checks against the file's real size,
//! the choice of sharing mode, range-checked sync, advice and residency, and
//! the guarded copies: touching pages past the end of a truncated file
//! raises SIGBUS, which `read`, `write` and `send` turn into
//! [`Error::Truncated`] with the bytes done before the cut.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use memmap2::{Advice, MmapOptions, MmapRaw, RemapOptions, UncheckedAdvice};

use crate::error::{Error, Partial};
use crate::primitives;
use crate::sys;

/// How a mapping shares its pages with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read-only view of the file.
    Read,
    /// Writable, shared: writes reach the file.
    Shared,
    /// Copy-on-write: the file never sees writes. `writable` selects whether
    /// the private copy may be written at all.
    Private { writable: bool },
}

/// Advice about how a range will be used, passed to madvise(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Normal,
    Sequential,
    Random,
    WillNeed,
    /// Drops the pages; a private mapping loses its changes.
    DontNeed,
    HugePage,
}

/// A mapped range of a file, or anonymous memory. The caller's descriptor
/// may be closed once the mapping exists: the mapping keeps its own
/// duplicate, to check the file's size and to grow. Removed on drop.
#[derive(Debug)]
pub struct Map {
    /// `None` for a zero-length range, which mmap(2) cannot express.
    raw: Option<MmapRaw>,
    /// The mapped file; `None` for anonymous memory.
    file: Option<OwnedFd>,
    /// Where in the file the first mapped byte lies.
    file_offset: u64,
    access: Access,
    populate: bool,
}

/// What [`Map::data`] returns for an empty mapping: a valid address that
/// must not be read, so C callers never see NULL from a successful open.
static EMPTY: u8 = 0;

impl Map {
    /// Maps `len` bytes of `fd` from `offset` (`len == 0`: to the end of the
    /// file). The range must lie inside the file; `offset` needs no
    /// alignment.
    pub fn open(
        fd: RawFd,
        offset: u64,
        len: u64,
        access: Access,
        populate: bool,
    ) -> Result<Map, Error> {
        sys::install_sigbus_guard()?;
        let size = file_size(fd)?;
        let len = match len {
            0 => size.checked_sub(offset).ok_or(Error::Bounds)?,
            len if offset.checked_add(len).is_some_and(|end| end <= size) => len,
            _ => return Err(Error::Bounds),
        };
        let mut map = Map {
            raw: None,
            file: Some(sys::dup_cloexec(fd)?),
            file_offset: offset,
            access,
            populate,
        };
        map.raw = map.map_file(len)?;
        Ok(map)
    }

    /// Opens the file at `path` (read-write if the mapping is shared and
    /// writable) and maps it as [`Map::open`] does.
    pub fn open_path(
        path: &CStr,
        offset: u64,
        len: u64,
        access: Access,
        populate: bool,
    ) -> Result<Map, Error> {
        let file = sys::open(path, access == Access::Shared)?;
        Map::open(file.as_raw_fd(), offset, len, access, populate)
    }

    /// Maps `len` bytes of zeroed anonymous memory, private to the process.
    pub fn anonymous(len: u64, populate: bool) -> Result<Map, Error> {
        sys::install_sigbus_guard()?;
        let access = Access::Private { writable: true };
        let mut map = Map {
            raw: None,
            file: None,
            file_offset: 0,
            access,
            populate,
        };
        map.raw = map.map_anonymous(len)?;
        Ok(map)
    }

    fn options(&self, len: u64) -> Result<MmapOptions, Error> {
        let mut options = MmapOptions::new();
        options
            .offset(self.file_offset)
            .len(usize::try_from(len).map_err(|_| Error::Os(libc::ENOMEM))?);
        if self.populate {
            options.populate();
        }
        Ok(options)
    }

    fn map_file(&self, len: u64) -> Result<Option<MmapRaw>, Error> {
        let (Some(file), true) = (&self.file, len > 0) else {
            return Ok(None);
        };
        let options = self.options(len)?;
        let fd = file.as_raw_fd();
        // SAFETY: the mapping is only exposed as raw pointers (never as Rust
        // references), so a file changed or truncated by another process
        // cannot break Rust's aliasing rules here; reads and writes through
        // this module are guarded against SIGBUS.
        let raw = unsafe {
            match self.access {
                Access::Read => options.map_raw_read_only(fd),
                Access::Shared => options.map_raw(fd),
                Access::Private { writable: true } => options.map_copy(fd).map(MmapRaw::from),
                Access::Private { writable: false } => {
                    options.map_copy_read_only(fd).map(MmapRaw::from)
                }
            }
        };
        raw.map(Some).map_err(io_error)
    }

    fn map_anonymous(&self, len: u64) -> Result<Option<MmapRaw>, Error> {
        if len == 0 {
            return Ok(None);
        }
        let mut options = self.options(len)?;
        Ok(Some(
            options
                .offset(0)
                .map_anon()
                .map(MmapRaw::from)
                .map_err(io_error)?,
        ))
    }

    /// The first mapped byte; for an empty mapping a valid address that must
    /// not be dereferenced.
    pub fn data(&self) -> *mut u8 {
        self.raw
            .as_ref()
            .map_or(&EMPTY as *const u8 as *mut u8, |raw| raw.as_mut_ptr())
    }

    pub fn len(&self) -> usize {
        self.raw.as_ref().map_or(0, |raw| raw.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_writable(&self) -> bool {
        matches!(
            self.access,
            Access::Shared | Access::Private { writable: true }
        )
    }

    /// Copies `buf.len()` bytes from `offset` in the mapping into `buf`.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), Partial> {
        let (from, _) = self.range(offset, buf.len() as u64).map_err(none_moved)?;
        // SAFETY: `range` checked that the source lies inside the mapping;
        // buf is valid for writes of its length; `open` installed the guard.
        let result = unsafe { sys::guarded_copy(buf.as_mut_ptr(), from, buf.len(), from) };
        result.map_err(|copied| self.truncated(offset, copied))
    }

    /// Copies `buf` into the mapping at `offset`; the mapping must be
    /// writable.
    pub fn write(&self, offset: u64, buf: &[u8]) -> Result<(), Partial> {
        if !self.is_writable() {
            return Err(none_moved(Error::Os(libc::EACCES)));
        }
        let (to, _) = self.range(offset, buf.len() as u64).map_err(none_moved)?;
        // SAFETY: `range` checked that the destination lies inside the
        // mapping, which is writable; buf is valid for reads; `open`
        // installed the guard.
        let result = unsafe { sys::guarded_copy(to, buf.as_ptr(), buf.len(), to) };
        result.map_err(|copied| self.truncated(offset, copied))
    }

    /// Writes `len` bytes from `offset` in the mapping to `out_fd` with
    /// write(2), looping like the other transfers.
    ///
    /// The kernel, not this process, touches the mapped pages, so a
    /// truncated file makes write fail with EFAULT rather than raise
    /// SIGBUS. A write that spans the cut fails whole on some descriptors
    /// (a socket drops the buffer it was filling), so the bytes still
    /// before the cut are then sent on their own, and the result is
    /// [`Error::Truncated`] with everything up to the cut sent.
    pub fn send(&self, offset: u64, len: u64, out_fd: RawFd) -> Result<u64, Partial> {
        self.range(offset, len).map_err(none_moved)?;
        let sent = match self.write_out(offset, len, out_fd) {
            Err(Partial {
                moved,
                error: Error::Os(libc::EFAULT),
            }) if self.check().is_err() => moved,
            other => return other,
        };
        let before_cut = self.truncated(offset, len as usize).moved;
        let rest = before_cut.saturating_sub(sent);
        match self.write_out(offset + sent, rest, out_fd) {
            Ok(more) => Err(Partial {
                moved: sent + more,
                error: Error::Truncated,
            }),
            Err(partial) => Err(Partial {
                moved: sent + partial.moved,
                error: partial.error,
            }),
        }
    }

    /// The write(2) loop of `send`, for a range already checked.
    fn write_out(&self, offset: u64, len: u64, out_fd: RawFd) -> Result<u64, Partial> {
        let mut sent = 0usize;
        let mut guard = sys::SigpipeGuard::new();
        primitives::pump(len, |want| {
            // SAFETY: the caller checked that offset..offset + len lies in
            // the mapping; the kernel reports vanished pages as EFAULT.
            let slice = unsafe {
                std::slice::from_raw_parts(self.data().add(offset as usize + sent), want)
            };
            let result = sys::write(out_fd, slice, None);
            guard.note(&result);
            sent += *result.as_ref().unwrap_or(&0);
            result
        })
    }

    /// The size of the file now; [`Error::Truncated`] (with the size known
    /// through [`Map::file_size`]) if it no longer covers the mapping.
    pub fn check(&self) -> Result<u64, Error> {
        let size = self.file_size()?;
        if size < self.file_offset + self.len() as u64 {
            Err(Error::Truncated)
        } else {
            Ok(size)
        }
    }

    /// The current size of the mapped file (0 for anonymous memory).
    pub fn file_size(&self) -> Result<u64, Error> {
        self.file
            .as_ref()
            .map_or(Ok(0), |file| file_size(file.as_raw_fd()))
    }

    /// The partial result of a copy that faulted after `copied` bytes: no
    /// more than what the file still holds from `offset` on.
    fn truncated(&self, offset: u64, copied: usize) -> Partial {
        let start = self.file_offset + offset;
        let left = self
            .file_size()
            .map_or(0, |size| size.saturating_sub(start));
        Partial {
            moved: (copied as u64).min(left),
            error: Error::Truncated,
        }
    }

    /// Writes dirty pages of the range back to the file (msync), waiting
    /// for the writes unless `wait` is false. `len == 0` means to the end.
    pub fn sync(&self, offset: u64, len: u64, wait: bool) -> Result<(), Error> {
        let Some((raw, offset, len)) = self.raw_range(offset, len)? else {
            return Ok(());
        };
        let result = if wait {
            raw.flush_range(offset, len)
        } else {
            raw.flush_async_range(offset, len)
        };
        result.map_err(io_error)
    }

    /// Gives the kernel advice about the range (madvise). `len == 0` means
    /// to the end.
    pub fn advise(&self, offset: u64, len: u64, usage: Usage) -> Result<(), Error> {
        let Some((raw, offset, len)) = self.raw_range(offset, len)? else {
            return Ok(());
        };
        let result = match usage {
            Usage::Normal => raw.advise_range(Advice::Normal, offset, len),
            Usage::Sequential => raw.advise_range(Advice::Sequential, offset, len),
            Usage::Random => raw.advise_range(Advice::Random, offset, len),
            Usage::WillNeed => raw.advise_range(Advice::WillNeed, offset, len),
            Usage::HugePage => raw.advise_range(Advice::HugePage, offset, len),
            // SAFETY: dropping pages changes what a private mapping holds; the
            // core hands out no Rust references into the mapping, and C
            // callers ask for this advice knowing its effect.
            Usage::DontNeed => unsafe {
                raw.unchecked_advise_range(UncheckedAdvice::DontNeed, offset, len)
            },
        };
        result.map_err(io_error)
    }

    /// Locks the whole mapping in memory (mlock), or unlocks it.
    pub fn lock(&self, lock: bool) -> Result<(), Error> {
        let Some(raw) = &self.raw else { return Ok(()) };
        if lock { raw.lock() } else { raw.unlock() }.map_err(io_error)
    }

    /// How many bytes of the range are resident in memory (mincore).
    pub fn resident(&self, offset: u64, len: u64) -> Result<u64, Error> {
        let Some((_, offset, len)) = self.raw_range(offset, len)? else {
            return Ok(0);
        };
        let page = sys::page_size();
        let start = self.data() as usize + offset;
        let aligned = start - start % page;
        let span = start + len - aligned;
        // SAFETY: aligned..aligned + span lies inside the mapping, whose
        // first page starts at or before data() - it is page-aligned by mmap.
        let pages = unsafe { sys::resident_pages(aligned as *mut u8, span) }?;
        let overlap = |i: usize| {
            let (lo, hi) = (aligned + i * page, aligned + (i + 1) * page);
            (hi.min(start + len) - lo.max(start)) as u64
        };
        Ok(pages
            .iter()
            .enumerate()
            .filter(|(_, resident)| **resident)
            .map(|(i, _)| overlap(i))
            .sum())
    }

    /// Changes the mapping's length, moving it if needed (mremap); data
    /// pointers taken before are invalid afterwards. A file mapping cannot
    /// grow past the end of the file.
    pub fn resize(&mut self, new_len: u64) -> Result<(), Error> {
        if self.file.is_some() {
            let size = self.file_size()?;
            if self
                .file_offset
                .checked_add(new_len)
                .is_none_or(|end| end > size)
            {
                return Err(Error::Bounds);
            }
        }
        let new_len_usize = usize::try_from(new_len).map_err(|_| Error::Os(libc::ENOMEM))?;
        match (&mut self.raw, new_len_usize) {
            (_, 0) => self.raw = None,
            (Some(raw), len) => {
                // SAFETY: nothing in Rust holds references into the mapping;
                // C callers are told that old pointers die here.
                unsafe { raw.remap(len, RemapOptions::new().may_move(true)) }.map_err(io_error)?;
            }
            (None, _) if self.file.is_some() => self.raw = self.map_file(new_len)?,
            (None, _) => self.raw = self.map_anonymous(new_len)?,
        }
        Ok(())
    }

    /// Checks that `offset..offset + len` lies in the mapping and returns
    /// its address and length.
    fn range(&self, offset: u64, len: u64) -> Result<(*mut u8, usize), Error> {
        let total = self.len() as u64;
        if offset.checked_add(len).is_none_or(|end| end > total) {
            return Err(Error::Bounds);
        }
        // SAFETY: offset <= len() keeps the pointer inside (or one past) the
        // mapping.
        Ok((unsafe { self.data().add(offset as usize) }, len as usize))
    }

    /// Like `range` with `len == 0` meaning to the end; `None` when the
    /// range is empty.
    fn raw_range(&self, offset: u64, len: u64) -> Result<Option<(&MmapRaw, usize, usize)>, Error> {
        let total = self.len() as u64;
        let len = if len == 0 {
            total.checked_sub(offset).ok_or(Error::Bounds)?
        } else {
            len
        };
        self.range(offset, len)?;
        Ok(self
            .raw
            .as_ref()
            .filter(|_| len > 0)
            .map(|raw| (raw, offset as usize, len as usize)))
    }
}

fn none_moved(error: Error) -> Partial {
    Partial { moved: 0, error }
}

/// The mappable size of a regular file or block device.
fn file_size(fd: RawFd) -> Result<u64, Error> {
    let st = sys::fstat(fd)?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => Ok(st.st_size as u64),
        libc::S_IFBLK => sys::block_device_size(fd),
        libc::S_IFDIR => Err(Error::Os(libc::EISDIR)),
        _ => Err(Error::Os(libc::ENODEV)),
    }
}

fn io_error(error: std::io::Error) -> Error {
    Error::Os(error.raw_os_error().unwrap_or(libc::EINVAL))
}
