//! The C ABI: thin exported functions that check arguments, call the safe
//! core and turn its errors into codes.
//!
//! Every export runs its body through [`boundary`], so a panic inside the
//! library becomes `ZCIO_EPANIC` instead of unwinding into C.

// Each export's doc comment states its pointer contract for C callers, in
// the words the header shows; a Rust-style "# Safety" heading would repeat it.
#![allow(clippy::missing_safety_doc)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Error, Partial, ZCIO_EPANIC, ZCIO_OK};
use crate::sys;

pub mod copy;
pub mod errors;
pub mod fault;
pub mod map;
pub mod pipe;
pub mod pool;
pub mod primitives;
pub mod stats;
pub mod transfer;

/// Runs an export's body, turning an error into its code and a panic into
/// `ZCIO_EPANIC`.
///
/// Out-parameters are written before the work starts, so after a panic they
/// hold whatever was last stored in them, never garbage.
pub(crate) fn boundary(body: impl FnOnce() -> Result<i32, Error>) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(code)) => code,
        Ok(Err(error)) => fail(error),
        Err(_) => ZCIO_EPANIC,
    }
}

/// Like [`boundary`] for exports that return a value instead of a code;
/// `fallback` is returned after a panic.
pub(crate) fn boundary_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Borrows a required out-parameter, or reports `ZCIO_ENULL`.
///
/// # Safety
/// `ptr` is NULL or valid for writes of a `T` for the lifetime `'a`.
pub(crate) unsafe fn out<'a, T>(ptr: *mut T) -> Result<&'a mut T, Error> {
    // SAFETY: the caller guarantees a non-NULL pointer is valid and unaliased.
    unsafe { ptr.as_mut() }.ok_or(Error::Null)
}

/// Borrows an optional offset: NULL means "use the file position".
///
/// # Safety
/// `ptr` is NULL or valid for reads and writes of an `i64` for `'a`.
pub(crate) unsafe fn offset<'a>(ptr: *mut i64) -> Option<&'a mut i64> {
    // SAFETY: the caller guarantees a non-NULL pointer is valid and unaliased.
    unsafe { ptr.as_mut() }
}

/// The code for an error, leaving `errno` set when the OS reported it.
pub(crate) fn fail(error: Error) -> i32 {
    if let Some(errno) = error.errno() {
        sys::set_errno(errno);
    }
    error.code()
}

/// Stores the bytes a transfer moved and returns its code.
pub(crate) fn finish(result: Result<u64, Partial>, moved_out: &mut u64) -> i32 {
    match result {
        Ok(moved) => {
            *moved_out = moved;
            ZCIO_OK
        }
        Err(partial) => {
            *moved_out = partial.moved;
            fail(partial.error)
        }
    }
}

/// A C structure that can grow: its first field is a `uint32_t size` that
/// the caller sets to `sizeof` the structure it was compiled with.
///
/// # Safety
/// The type is `repr(C)`, starts with a `u32` size, holds only integers and
/// raw pointers (so all-zero bytes and any bytes are valid values), and
/// `MIN_SIZE` ends on a field boundary.
pub(crate) unsafe trait Versioned: Copy {
    /// The size of the first published version.
    const MIN_SIZE: usize;
}

/// Reads a versioned structure from C. A caller compiled against a newer,
/// larger version is accepted if the fields this version does not know are
/// all zero.
///
/// # Safety
/// `ptr` is NULL or points to at least `(*ptr).size` readable bytes.
pub(crate) unsafe fn read_versioned<T: Versioned>(ptr: *const T) -> Result<T, Error> {
    if ptr.is_null() {
        return Err(Error::Null);
    }
    let base = ptr.cast::<u8>();
    // SAFETY: a non-NULL ptr points to a structure that starts with a u32.
    let size = unsafe { ptr.cast::<u32>().read() } as usize;
    let ours = std::mem::size_of::<T>();
    if size < T::MIN_SIZE {
        return Err(Error::Struct);
    }
    // SAFETY: the caller's structure holds `size` bytes.
    let newer = unsafe { std::slice::from_raw_parts(base, size) };
    if newer
        .get(ours..)
        .is_some_and(|extra| extra.iter().any(|&b| b != 0))
    {
        return Err(Error::Struct);
    }

    // SAFETY: all-zero bytes are a valid T (trait contract), and the copy
    // stays within both structures and ends on a field boundary.
    unsafe {
        let mut value: T = std::mem::zeroed();
        std::ptr::copy_nonoverlapping(base, (&raw mut value).cast::<u8>(), size.min(ours));
        Ok(value)
    }
}

/// Writes a versioned structure to C: at most the caller's `size` bytes,
/// keeping its `size` field.
///
/// # Safety
/// `ptr` is NULL or points to at least `(*ptr).size` writable bytes.
pub(crate) unsafe fn write_versioned<T: Versioned>(ptr: *mut T, value: &T) -> Result<(), Error> {
    if ptr.is_null() {
        return Err(Error::Null);
    }
    // SAFETY: a non-NULL ptr points to a structure that starts with a u32.
    let size = unsafe { ptr.cast::<u32>().read() } as usize;
    if size < T::MIN_SIZE {
        return Err(Error::Struct);
    }
    let keep = std::mem::size_of::<u32>();
    let len = size.min(std::mem::size_of::<T>());
    // SAFETY: both structures hold at least `len` bytes; the size field in
    // the first four bytes is left as the caller set it.
    unsafe {
        let from = (value as *const T).cast::<u8>().add(keep);
        std::ptr::copy_nonoverlapping(from, ptr.cast::<u8>().add(keep), len - keep);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_code() {
        assert_eq!(boundary(|| panic!("deliberate")), ZCIO_EPANIC);
        assert_eq!(boundary_or(7u64, || panic!("deliberate")), 7);
        assert_eq!(boundary(|| Ok(3)), 3);
        assert_eq!(boundary(|| Err(Error::Null)), crate::error::ZCIO_ENULL);
    }

    #[test]
    fn os_failure_sets_errno() {
        sys::set_errno(0);
        assert_eq!(fail(Error::Os(libc::EBADF)), -libc::EBADF);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EBADF)
        );
    }
}
