//! Exports that describe codes and the library: `zcio_strerror`,
//! `zcio_err_name` and `zcio_version`.

use std::os::raw::{c_char, c_int};

use super::boundary_or;
use crate::error;

/// Parses a decimal version component at compile time.
const fn parse(digits: &str) -> u32 {
    let bytes = digits.as_bytes();
    let mut value = 0;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

/// The version of `Cargo.toml`, packed as major << 16 | minor << 8 | patch.
const VERSION: u32 = parse(env!("CARGO_PKG_VERSION_MAJOR")) << 16
    | parse(env!("CARGO_PKG_VERSION_MINOR")) << 8
    | parse(env!("CARGO_PKG_VERSION_PATCH"));

/// Describes any code in words.
///
/// Never returns NULL: every int has a message, unknown values included.
/// For `-errno` the text equals strerror(errno). The string is static:
/// do not free or modify it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn zcio_strerror(code: c_int) -> *const c_char {
    boundary_or(c"Unknown zcio error code".as_ptr(), || {
        error::message(code).as_ptr()
    })
}

/// The name of any code, such as "ZCIO_EAGAIN".
///
/// Never returns NULL. A code that mirrors an errno without a `ZCIO_`
/// constant gets the errno's name (such as "ENODATA"), any other unknown
/// value "ZCIO_UNKNOWN". The string is static: do not free or modify it.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn zcio_err_name(code: c_int) -> *const c_char {
    boundary_or(c"ZCIO_UNKNOWN".as_ptr(), || error::name(code).as_ptr())
}

/// The version of the library that is running, as
/// `major << 16 | minor << 8 | patch`.
///
/// Compare it with the `ZCIO_VERSION_*` macros of the header a program was
/// compiled with. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn zcio_version() -> u32 {
    VERSION
}
