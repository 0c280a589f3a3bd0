//! Error values of the safe core and the one table of codes that every
//! description of an error is generated from.
//!
//! A failure the operating system reports keeps its raw `errno`; the C code
//! for it is `-errno`. Codes the library invents are below -4095, the
//! highest errno Linux can return, so they can never be mistaken for one.

use std::ffi::CStr;
use std::fmt;

use crate::sys;

/// Success.
pub const ZCIO_OK: i32 = 0;

/// Operation not permitted (-EPERM), for example a seccomp filter.
pub const ZCIO_EPERM: i32 = -1;
/// No such file or directory (-ENOENT).
pub const ZCIO_ENOENT: i32 = -2;
/// Interrupted system call (-EINTR); zcio retries it, callers rarely see it.
pub const ZCIO_EINTR: i32 = -4;
/// Input/output error (-EIO).
pub const ZCIO_EIO: i32 = -5;
/// Bad file descriptor (-EBADF): closed, or opened without the needed access.
pub const ZCIO_EBADF: i32 = -9;
/// Resource temporarily unavailable (-EAGAIN): a non-blocking descriptor is
/// not ready; wait for readiness and call again.
pub const ZCIO_EAGAIN: i32 = -11;
/// Cannot allocate memory (-ENOMEM).
pub const ZCIO_ENOMEM: i32 = -12;
/// Permission denied (-EACCES), for example a writable mapping of a
/// read-only descriptor.
pub const ZCIO_EACCES: i32 = -13;
/// Bad address (-EFAULT).
pub const ZCIO_EFAULT: i32 = -14;
/// Device or resource busy (-EBUSY).
pub const ZCIO_EBUSY: i32 = -16;
/// Invalid cross-device link (-EXDEV): the two files are on different
/// filesystems and the kernel cannot copy between them with this call.
pub const ZCIO_EXDEV: i32 = -18;
/// No such device (-ENODEV): the descriptor's kind does not support mapping.
pub const ZCIO_ENODEV: i32 = -19;
/// Is a directory (-EISDIR).
pub const ZCIO_EISDIR: i32 = -21;
/// Invalid argument (-EINVAL): the kernel does not support this operation
/// for these descriptors, or an argument is out of range.
pub const ZCIO_EINVAL: i32 = -22;
/// Too many open files in system (-ENFILE).
pub const ZCIO_ENFILE: i32 = -23;
/// Too many open files (-EMFILE): the process's descriptor limit is reached.
pub const ZCIO_EMFILE: i32 = -24;
/// File too large (-EFBIG).
pub const ZCIO_EFBIG: i32 = -27;
/// No space left on device (-ENOSPC).
pub const ZCIO_ENOSPC: i32 = -28;
/// Illegal seek (-ESPIPE): a positional offset was given for a pipe or
/// socket.
pub const ZCIO_ESPIPE: i32 = -29;
/// Read-only file system (-EROFS).
pub const ZCIO_EROFS: i32 = -30;
/// Broken pipe (-EPIPE): the reader has gone away. zcio never lets this
/// raise SIGPIPE.
pub const ZCIO_EPIPE: i32 = -32;
/// Function not implemented (-ENOSYS): the running kernel lacks the call.
pub const ZCIO_ENOSYS: i32 = -38;
/// Value too large for defined data type (-EOVERFLOW): an offset would pass
/// the largest the file allows.
pub const ZCIO_EOVERFLOW: i32 = -75;
/// Operation not supported (-EOPNOTSUPP).
pub const ZCIO_EOPNOTSUPP: i32 = -95;
/// Connection reset by peer (-ECONNRESET).
pub const ZCIO_ECONNRESET: i32 = -104;
/// Transport endpoint is not connected (-ENOTCONN).
pub const ZCIO_ENOTCONN: i32 = -107;
/// Connection timed out (-ETIMEDOUT).
pub const ZCIO_ETIMEDOUT: i32 = -110;

/// A pointer the call requires was NULL.
pub const ZCIO_ENULL: i32 = -5001;
/// The library hit an internal bug and recovered; nothing was unwound into
/// the caller. Out-parameters hold what was known before the fault.
pub const ZCIO_EPANIC: i32 = -5002;
/// The input ended before the requested count; the out-parameter holds the
/// bytes that were moved.
pub const ZCIO_ESHORT: i32 = -5003;
/// An offset or length lies outside the file or the mapping.
pub const ZCIO_EBOUNDS: i32 = -5004;
/// A flags or advice argument holds a value this version does not define.
pub const ZCIO_EFLAGS: i32 = -5005;
/// None of the mechanisms the options allow can copy between these
/// descriptors.
pub const ZCIO_ENOMECH: i32 = -5006;
/// No pipe was available for splicing: the pipe pool is exhausted. As a
/// fallback reason it means read/write was used instead.
pub const ZCIO_ENOPIPE: i32 = -5007;
/// An options or result structure has a size this version does not know,
/// or sets fields past the ones it knows.
pub const ZCIO_ESTRUCT: i32 = -5008;

/// The file behind a mapping shrank below the range being copied; the
/// bytes before the cut were copied and the process keeps running.
pub const ZCIO_ETRUNCATED: i32 = -5009;

/// Not an error: the transfer waits for its input to become readable.
pub const ZCIO_WANT_READ: i32 = 1;
/// Not an error: the transfer waits for its output to become writable.
pub const ZCIO_WANT_WRITE: i32 = 2;
/// Not an error: the byte budget is spent and both descriptors may still be
/// ready; call again.
pub const ZCIO_MORE: i32 = 3;

/// One row of the code table: the value, its constant's name and message.
struct Code {
    value: i32,
    name: &'static CStr,
    message: &'static CStr,
}

const fn code(value: i32, name: &'static CStr, message: &'static CStr) -> Code {
    Code {
        value,
        name,
        message,
    }
}

/// Every named code. The messages of the OS codes are glibc's, so
/// `zcio_strerror(rc)` reads the same as `strerror(-rc)`.
const CODES: &[Code] = &[
    code(ZCIO_OK, c"ZCIO_OK", c"Success"),
    code(ZCIO_EPERM, c"ZCIO_EPERM", c"Operation not permitted"),
    code(ZCIO_ENOENT, c"ZCIO_ENOENT", c"No such file or directory"),
    code(ZCIO_EINTR, c"ZCIO_EINTR", c"Interrupted system call"),
    code(ZCIO_EIO, c"ZCIO_EIO", c"Input/output error"),
    code(ZCIO_EBADF, c"ZCIO_EBADF", c"Bad file descriptor"),
    code(
        ZCIO_EAGAIN,
        c"ZCIO_EAGAIN",
        c"Resource temporarily unavailable",
    ),
    code(ZCIO_ENOMEM, c"ZCIO_ENOMEM", c"Cannot allocate memory"),
    code(ZCIO_EACCES, c"ZCIO_EACCES", c"Permission denied"),
    code(ZCIO_EFAULT, c"ZCIO_EFAULT", c"Bad address"),
    code(ZCIO_EBUSY, c"ZCIO_EBUSY", c"Device or resource busy"),
    code(ZCIO_EXDEV, c"ZCIO_EXDEV", c"Invalid cross-device link"),
    code(ZCIO_ENODEV, c"ZCIO_ENODEV", c"No such device"),
    code(ZCIO_EISDIR, c"ZCIO_EISDIR", c"Is a directory"),
    code(ZCIO_EINVAL, c"ZCIO_EINVAL", c"Invalid argument"),
    code(
        ZCIO_ENFILE,
        c"ZCIO_ENFILE",
        c"Too many open files in system",
    ),
    code(ZCIO_EMFILE, c"ZCIO_EMFILE", c"Too many open files"),
    code(ZCIO_EFBIG, c"ZCIO_EFBIG", c"File too large"),
    code(ZCIO_ENOSPC, c"ZCIO_ENOSPC", c"No space left on device"),
    code(ZCIO_ESPIPE, c"ZCIO_ESPIPE", c"Illegal seek"),
    code(ZCIO_EROFS, c"ZCIO_EROFS", c"Read-only file system"),
    code(ZCIO_EPIPE, c"ZCIO_EPIPE", c"Broken pipe"),
    code(ZCIO_ENOSYS, c"ZCIO_ENOSYS", c"Function not implemented"),
    code(
        ZCIO_EOVERFLOW,
        c"ZCIO_EOVERFLOW",
        c"Value too large for defined data type",
    ),
    code(
        ZCIO_EOPNOTSUPP,
        c"ZCIO_EOPNOTSUPP",
        c"Operation not supported",
    ),
    code(
        ZCIO_ECONNRESET,
        c"ZCIO_ECONNRESET",
        c"Connection reset by peer",
    ),
    code(
        ZCIO_ENOTCONN,
        c"ZCIO_ENOTCONN",
        c"Transport endpoint is not connected",
    ),
    code(ZCIO_ETIMEDOUT, c"ZCIO_ETIMEDOUT", c"Connection timed out"),
    code(
        ZCIO_ENULL,
        c"ZCIO_ENULL",
        c"A required pointer argument was NULL",
    ),
    code(
        ZCIO_EPANIC,
        c"ZCIO_EPANIC",
        c"Internal error in zcio (a bug): the call was abandoned safely",
    ),
    code(
        ZCIO_ESHORT,
        c"ZCIO_ESHORT",
        c"Input ended before the requested number of bytes",
    ),
    code(
        ZCIO_EBOUNDS,
        c"ZCIO_EBOUNDS",
        c"Offset or length lies outside the file or mapping",
    ),
    code(
        ZCIO_EFLAGS,
        c"ZCIO_EFLAGS",
        c"Unknown flag bits or option value",
    ),
    code(
        ZCIO_ENOMECH,
        c"ZCIO_ENOMECH",
        c"No allowed mechanism can copy between these descriptors",
    ),
    code(
        ZCIO_ENOPIPE,
        c"ZCIO_ENOPIPE",
        c"No pipe available: the pipe pool is exhausted",
    ),
    code(
        ZCIO_ESTRUCT,
        c"ZCIO_ESTRUCT",
        c"Structure size or fields not supported by this version",
    ),
    code(
        ZCIO_ETRUNCATED,
        c"ZCIO_ETRUNCATED",
        c"The mapped file was truncated below the range copied",
    ),
    code(
        ZCIO_WANT_READ,
        c"ZCIO_WANT_READ",
        c"Waiting for the input to become readable",
    ),
    code(
        ZCIO_WANT_WRITE,
        c"ZCIO_WANT_WRITE",
        c"Waiting for the output to become writable",
    ),
    code(
        ZCIO_MORE,
        c"ZCIO_MORE",
        c"Byte budget spent; call again to continue",
    ),
];

const UNKNOWN_NAME: &CStr = c"ZCIO_UNKNOWN";
const UNKNOWN_MESSAGE: &CStr = c"Unknown zcio error code";

/// The highest errno value Linux can return; `-errno` codes lie in
/// `-4095..=-1`.
const MAX_ERRNO: i32 = 4095;

fn lookup(value: i32) -> Option<&'static Code> {
    CODES.iter().find(|row| row.value == value)
}

/// The static, NUL-terminated name of any code: the constant's name for a
/// named code, the errno's name (such as `ENODATA`) for other OS codes.
pub fn name(value: i32) -> &'static CStr {
    match lookup(value) {
        Some(row) => row.name,
        None if (-MAX_ERRNO..0).contains(&value) => sys::errno_name(-value).unwrap_or(UNKNOWN_NAME),
        None => UNKNOWN_NAME,
    }
}

/// The static, NUL-terminated message of any code.
pub fn message(value: i32) -> &'static CStr {
    match lookup(value) {
        Some(row) => row.message,
        None if (-MAX_ERRNO..0).contains(&value) => {
            sys::errno_message(-value).unwrap_or(UNKNOWN_MESSAGE)
        }
        None => UNKNOWN_MESSAGE,
    }
}

/// Why an operation of the safe core failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The kernel refused, with this raw `errno` value.
    Os(i32),
    /// The input ended before the requested count.
    Short,
    /// An offset or length lies outside the file or mapping.
    Bounds,
    /// A flags argument holds undefined bits.
    Flags,
    /// A required pointer was NULL (reported by the C layer).
    Null,
    /// A panic was caught at the C boundary.
    Panic,
    /// No allowed mechanism can serve the pair of descriptors.
    NoMechanism,
    /// No pipe could be leased and no other mechanism is allowed.
    NoPipe,
    /// An options structure has an unsupported size or unknown fields set.
    Struct,
    /// The mapped file shrank below the range being copied.
    Truncated,
}

impl Error {
    /// The C code for this error: `-errno` or one of the library's codes.
    pub fn code(self) -> i32 {
        match self {
            Error::Os(errno) => -errno,
            Error::Short => ZCIO_ESHORT,
            Error::Bounds => ZCIO_EBOUNDS,
            Error::Flags => ZCIO_EFLAGS,
            Error::Null => ZCIO_ENULL,
            Error::Panic => ZCIO_EPANIC,
            Error::NoMechanism => ZCIO_ENOMECH,
            Error::NoPipe => ZCIO_ENOPIPE,
            Error::Struct => ZCIO_ESTRUCT,
            Error::Truncated => ZCIO_ETRUNCATED,
        }
    }

    /// The raw `errno` if the operating system reported this error.
    pub fn errno(self) -> Option<i32> {
        match self {
            Error::Os(errno) => Some(errno),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code();
        write!(
            f,
            "{} ({})",
            message(code).to_string_lossy(),
            name(code).to_string_lossy()
        )
    }
}

impl std::error::Error for Error {}

/// A transfer that stopped early: the bytes it moved before `error`.
///
/// Returned instead of a bare [`Error`] by every call that moves bytes, so a
/// count of bytes already moved can never be dropped on the way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    pub moved: u64,
    pub error: Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_codes_equal_negated_errno() {
        let pairs = [
            (ZCIO_EPERM, libc::EPERM),
            (ZCIO_ENOENT, libc::ENOENT),
            (ZCIO_EINTR, libc::EINTR),
            (ZCIO_EIO, libc::EIO),
            (ZCIO_EBADF, libc::EBADF),
            (ZCIO_EAGAIN, libc::EAGAIN),
            (ZCIO_ENOMEM, libc::ENOMEM),
            (ZCIO_EACCES, libc::EACCES),
            (ZCIO_EFAULT, libc::EFAULT),
            (ZCIO_EBUSY, libc::EBUSY),
            (ZCIO_EXDEV, libc::EXDEV),
            (ZCIO_ENODEV, libc::ENODEV),
            (ZCIO_EISDIR, libc::EISDIR),
            (ZCIO_EINVAL, libc::EINVAL),
            (ZCIO_ENFILE, libc::ENFILE),
            (ZCIO_EMFILE, libc::EMFILE),
            (ZCIO_EFBIG, libc::EFBIG),
            (ZCIO_ENOSPC, libc::ENOSPC),
            (ZCIO_ESPIPE, libc::ESPIPE),
            (ZCIO_EROFS, libc::EROFS),
            (ZCIO_EPIPE, libc::EPIPE),
            (ZCIO_ENOSYS, libc::ENOSYS),
            (ZCIO_EOVERFLOW, libc::EOVERFLOW),
            (ZCIO_EOPNOTSUPP, libc::EOPNOTSUPP),
            (ZCIO_ECONNRESET, libc::ECONNRESET),
            (ZCIO_ENOTCONN, libc::ENOTCONN),
            (ZCIO_ETIMEDOUT, libc::ETIMEDOUT),
        ];
        for (code, errno) in pairs {
            assert_eq!(code, -errno, "{:?}", name(code));
            assert_eq!(Error::Os(errno).code(), code);
        }
        // Every OS row of the table is covered above.
        let os_rows = CODES
            .iter()
            .filter(|row| (-MAX_ERRNO..0).contains(&row.value))
            .count();
        assert_eq!(os_rows, pairs.len());
    }

    #[test]
    fn os_messages_match_the_c_library() {
        for row in CODES
            .iter()
            .filter(|row| row.value < 0 && row.value >= -MAX_ERRNO)
        {
            assert_eq!(
                Some(row.message),
                sys::errno_message(-row.value),
                "{:?}",
                row.name
            );
        }
    }

    #[test]
    fn library_codes_never_collide_with_errno() {
        for row in CODES.iter().filter(|row| row.value < -MAX_ERRNO) {
            assert!(row.name.to_bytes().starts_with(b"ZCIO_E"));
        }
        for row in CODES.iter().filter(|row| row.value > 0) {
            assert!(row.name.to_bytes().starts_with(b"ZCIO_WANT_") || row.value == ZCIO_MORE);
        }
        let mut values: Vec<i32> = CODES.iter().map(|row| row.value).collect();
        values.sort_unstable();
        values.dedup();
        assert_eq!(values.len(), CODES.len(), "duplicate code in the table");
    }

    #[test]
    fn every_int_has_a_name_and_message() {
        for value in [
            i32::MIN,
            -1_000_000,
            -5000,
            -4096,
            -4095,
            -61,
            1,
            7,
            i32::MAX,
        ] {
            assert!(!name(value).to_bytes().is_empty());
            assert!(!message(value).to_bytes().is_empty());
        }
        assert_eq!(name(-libc::ENODATA), c"ENODATA");
        assert_eq!(name(4), UNKNOWN_NAME);
        assert_eq!(
            message(ZCIO_ESHORT),
            c"Input ended before the requested number of bytes"
        );
    }
}
