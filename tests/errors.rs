//! zcio_strerror and zcio_err_name describe every int, and zcio_version
//! matches Cargo.toml.

use std::ffi::CStr;

use zcio::error::*;
use zcio::ffi::errors::*;

fn name(code: i32) -> String {
    // SAFETY: zcio_err_name returns a static, NUL-terminated string.
    unsafe { CStr::from_ptr(zcio_err_name(code)) }
        .to_str()
        .unwrap()
        .to_owned()
}

fn message(code: i32) -> String {
    // SAFETY: zcio_strerror returns a static, NUL-terminated string.
    unsafe { CStr::from_ptr(zcio_strerror(code)) }
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn named_codes_have_their_names() {
    let named = [
        (ZCIO_OK, "ZCIO_OK"),
        (ZCIO_EAGAIN, "ZCIO_EAGAIN"),
        (ZCIO_EPIPE, "ZCIO_EPIPE"),
        (ZCIO_EBADF, "ZCIO_EBADF"),
        (ZCIO_EINVAL, "ZCIO_EINVAL"),
        (ZCIO_ENULL, "ZCIO_ENULL"),
        (ZCIO_EPANIC, "ZCIO_EPANIC"),
        (ZCIO_ESHORT, "ZCIO_ESHORT"),
        (ZCIO_EBOUNDS, "ZCIO_EBOUNDS"),
        (ZCIO_EFLAGS, "ZCIO_EFLAGS"),
        (ZCIO_ENOMECH, "ZCIO_ENOMECH"),
        (ZCIO_ENOPIPE, "ZCIO_ENOPIPE"),
        (ZCIO_ESTRUCT, "ZCIO_ESTRUCT"),
        (ZCIO_WANT_READ, "ZCIO_WANT_READ"),
        (ZCIO_WANT_WRITE, "ZCIO_WANT_WRITE"),
        (ZCIO_MORE, "ZCIO_MORE"),
        (ZCIO_ETRUNCATED, "ZCIO_ETRUNCATED"),
    ];
    for (code, expected) in named {
        assert_eq!(name(code), expected);
        assert!(!message(code).is_empty());
    }
    assert_eq!(
        message(ZCIO_EAGAIN),
        std::io::Error::from_raw_os_error(libc::EAGAIN)
            .to_string()
            .split(" (os error")
            .next()
            .unwrap()
    );
}

#[test]
fn unnamed_errno_values_use_the_c_library_names() {
    assert_eq!(name(-libc::ENODATA), "ENODATA");
    assert_eq!(message(-libc::ENODATA), "No data available");
}

#[test]
fn any_int_gets_a_static_string() {
    let mut state: u32 = 0x9e37_79b9;
    let specials = [
        i32::MIN,
        i32::MIN + 1,
        -4096,
        -4095,
        -134,
        0,
        1,
        4095,
        i32::MAX,
    ];
    let randoms = (0..100_000).map(|_| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as i32
    });
    for code in specials.into_iter().chain(randoms) {
        assert!(!zcio_strerror(code).is_null() && !zcio_err_name(code).is_null());
        assert!(!name(code).is_empty() && !message(code).is_empty());
    }
    assert_eq!(name(12345), "ZCIO_UNKNOWN");
    assert_eq!(name(-4095), "ZCIO_UNKNOWN");
}

#[test]
fn version_matches_the_manifest() {
    let parts: Vec<u32> = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(zcio_version(), parts[0] << 16 | parts[1] << 8 | parts[2]);
}
