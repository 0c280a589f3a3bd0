//! File mappings: a file (or block device) range as memory.
//!
//! memmap2 creates and removes the mapping and aligns unaligned offsets;
//! this module adds bounds checks against the file's real size, the choice
//! of sharing mode, and range-checked sync and advice.

use std::os::fd::RawFd;

use memmap2::{Advice, MmapOptions, MmapRaw, UncheckedAdvice};

use crate::error::Error;
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

/// A mapped range of a file. The descriptor it was made from may be closed
/// once the mapping exists; the mapping is removed on drop.
#[derive(Debug)]
pub struct Map {
    /// `None` for a zero-length range, which mmap(2) cannot express.
    raw: Option<MmapRaw>,
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
        let size = file_size(fd)?;
        let len = match len {
            0 => size.checked_sub(offset).ok_or(Error::Bounds)?,
            len if offset.checked_add(len).is_some_and(|end| end <= size) => len,
            _ => return Err(Error::Bounds),
        };
        if len == 0 {
            return Ok(Map { raw: None });
        }

        let mut options = MmapOptions::new();
        options
            .offset(offset)
            .len(usize::try_from(len).map_err(|_| Error::Os(libc::ENOMEM))?);
        if populate {
            options.populate();
        }
        Ok(Map {
            raw: Some(map_with(&options, fd, access).map_err(io_error)?),
        })
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

    /// Writes dirty pages of the range back to the file (msync), waiting
    /// for the writes unless `wait` is false. `len == 0` means to the end.
    pub fn sync(&self, offset: u64, len: u64, wait: bool) -> Result<(), Error> {
        let Some((raw, offset, len)) = self.range(offset, len)? else {
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
        let Some((raw, offset, len)) = self.range(offset, len)? else {
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

    /// Checks that `offset..offset + len` (`len == 0`: to the end) lies in
    /// the mapping; `None` when the range is empty.
    fn range(&self, offset: u64, len: u64) -> Result<Option<(&MmapRaw, usize, usize)>, Error> {
        let total = self.len() as u64;
        let len = if len == 0 {
            total.checked_sub(offset).ok_or(Error::Bounds)?
        } else {
            len
        };
        if offset.checked_add(len).is_none_or(|end| end > total) {
            return Err(Error::Bounds);
        }
        Ok(self
            .raw
            .as_ref()
            .filter(|_| len > 0)
            .map(|raw| (raw, offset as usize, len as usize)))
    }
}

fn map_with(options: &MmapOptions, fd: RawFd, access: Access) -> std::io::Result<MmapRaw> {
    // SAFETY: the mapping is only exposed as raw pointers (never as Rust
    // references), so a file changed or truncated by another process cannot
    // break Rust's aliasing rules here; the C API documents that touching
    // pages past a truncated end raises SIGBUS.
    unsafe {
        match access {
            Access::Read => options.map_raw_read_only(fd),
            Access::Shared => options.map_raw(fd),
            Access::Private { writable: true } => options.map_copy(fd).map(MmapRaw::from),
            Access::Private { writable: false } => {
                options.map_copy_read_only(fd).map(MmapRaw::from)
            }
        }
    }
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
