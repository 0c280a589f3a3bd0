//! Exports for the best-path copy: `zcio_copy`, its options and result.

use std::os::raw::c_int;
use std::ptr;

use super::{Versioned, boundary, fail, out, read_versioned, write_versioned};
use crate::copy::{self, Ending, Report};
use crate::engine::Options;
use crate::error::{Error, ZCIO_MORE, ZCIO_OK};
use crate::plan::Policy;

/// No mechanism (a copy that could not start).
pub const ZCIO_MECH_NONE: u32 = 0;
/// copy_file_range(2): file to file inside the kernel, reflinks where the
/// filesystem shares extents.
pub const ZCIO_MECH_COPY_FILE_RANGE: u32 = 1;
/// sendfile(2): from a file or block device to anything.
pub const ZCIO_MECH_SENDFILE: u32 = 2;
/// splice(2): from or to a pipe, through a pooled pipe if neither is one.
pub const ZCIO_MECH_SPLICE: u32 = 3;
/// read(2) and write(2) through a pooled buffer: one copy through user
/// space.
pub const ZCIO_MECH_READ_WRITE: u32 = 4;

/// Bit for `zcio_copy_opts.mechanisms`: copy_file_range may be used.
pub const ZCIO_ALLOW_COPY_FILE_RANGE: u32 = 1 << ZCIO_MECH_COPY_FILE_RANGE;
/// Bit for `zcio_copy_opts.mechanisms`: sendfile may be used.
pub const ZCIO_ALLOW_SENDFILE: u32 = 1 << ZCIO_MECH_SENDFILE;
/// Bit for `zcio_copy_opts.mechanisms`: splice may be used.
pub const ZCIO_ALLOW_SPLICE: u32 = 1 << ZCIO_MECH_SPLICE;
/// Bit for `zcio_copy_opts.mechanisms`: read/write may be used.
pub const ZCIO_ALLOW_READ_WRITE: u32 = 1 << ZCIO_MECH_READ_WRITE;
/// Every mechanism; the same as 0 in `zcio_copy_opts.mechanisms`.
pub const ZCIO_ALLOW_ALL: u32 =
    ZCIO_ALLOW_COPY_FILE_RANGE | ZCIO_ALLOW_SENDFILE | ZCIO_ALLOW_SPLICE | ZCIO_ALLOW_READ_WRITE;

/// Source policy: use zero-copy whatever the source. Zero-copy into a
/// socket or pipe hands the kernel references to the source's pages, so
/// bytes written to the source file after the call returned can still show
/// up in the output.
pub const ZCIO_SOURCE_ANY: u32 = 0;
/// Source policy: use zero-copy only where later writes to the source cannot
/// change the output: the source cannot change (a memfd sealed with
/// F_SEAL_WRITE or F_SEAL_FUTURE_WRITE, a file on a read-only mount, a
/// socket), or the output is a file or block device, into which the kernel
/// copies during the call. Otherwise read/write.
pub const ZCIO_SOURCE_STABLE: u32 = 1;

/// Options for `zcio_copy` and `zcio_transfer_new`. Zero means "default" in
/// every field, so `zcio_copy_opts o = { .size = sizeof o };` or
/// `zcio_copy_opts_init` gives the defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zcio_copy_opts {
    /// `sizeof(zcio_copy_opts)` as the caller was compiled: lets the
    /// structure grow without breaking older callers.
    pub size: u32,
    /// Mask of `ZCIO_ALLOW_*` bits; 0 allows every mechanism. Note that the
    /// `ZCIO_ALLOW_*` bits are not the `ZCIO_MECH_*` numbers
    /// (`ZCIO_ALLOW_x == 1 << ZCIO_MECH_x`): pass the former here.
    pub mechanisms: u32,
    /// NULL: read from the input's file position. Otherwise read from
    /// `*in_offset`, which `zcio_copy` advances by the bytes read, and
    /// leave the position alone.
    pub in_offset: *mut i64,
    /// The same for the output, advanced by the bytes written.
    pub out_offset: *mut i64,
    /// Capacity to ask for the splice pipe, in bytes; 0: the pool's size.
    pub pipe_size: u32,
    /// `ZCIO_SOURCE_ANY` (0) or `ZCIO_SOURCE_STABLE`.
    pub source_policy: u32,
    /// Most bytes one call writes; 0: no limit. A `zcio_copy` that reaches
    /// it returns `ZCIO_MORE`; the next call must ask for `count - moved`
    /// (offsets, if given, have advanced already).
    pub budget: u64,
    /// Copies known to be smaller than this many bytes use read/write,
    /// which beats zero-copy for small sizes. 0: the library's measured
    /// default for the pair of descriptors (16 KiB file to file, none
    /// otherwise); 1: always zero-copy when possible.
    pub read_write_below: u64,
}

// SAFETY: repr(C), starts with the u32 size, integers and raw pointers only.
unsafe impl Versioned for zcio_copy_opts {
    const MIN_SIZE: usize = std::mem::size_of::<zcio_copy_opts>();
}

/// What `zcio_copy` did. Set `size` to `sizeof(zcio_copy_result)` before
/// the call; every other field is written on every return.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zcio_copy_result {
    /// `sizeof(zcio_copy_result)` as the caller was compiled.
    pub size: u32,
    /// The `ZCIO_MECH_*` that moved the bytes; `ZCIO_MECH_NONE` if the copy
    /// could not start.
    pub mechanism: u32,
    /// Bytes written to the output.
    pub moved: u64,
    /// Bytes read from the input. Equal to `moved` unless an error on the
    /// output left bytes read and unwritten.
    pub read: u64,
    /// The mechanism tried first, if the copy fell back from it; otherwise
    /// `ZCIO_MECH_NONE`.
    pub fallback_from: u32,
    /// Why it fell back: the negative errno the kernel gave (such as
    /// `ZCIO_EXDEV`), `ZCIO_ENOPIPE` when the pipe pool was exhausted, the
    /// errno of a failed pipe creation (such as `ZCIO_EMFILE`), or 0 when
    /// the mechanism reported end of input at once (as procfs files, and
    /// empty files, do).
    pub fallback_code: i32,
}

// SAFETY: repr(C), starts with the u32 size, integers only.
unsafe impl Versioned for zcio_copy_result {
    const MIN_SIZE: usize = std::mem::size_of::<zcio_copy_result>();
}

impl zcio_copy_result {
    fn from_report(report: &Report) -> zcio_copy_result {
        let (fallback_from, fallback_code) =
            report.fallback.map_or((0, 0), |(m, code)| (m as u32, code));
        zcio_copy_result {
            size: 0,
            mechanism: report.mechanism.map_or(ZCIO_MECH_NONE, |m| m as u32),
            moved: report.written,
            read: report.read,
            fallback_from,
            fallback_code,
        }
    }
}

/// Options from C, and the caller's offset pointers to write back.
pub(crate) struct CallerOptions {
    pub options: Options,
    pub budget: u64,
    pub in_offset: *mut i64,
    pub out_offset: *mut i64,
}

/// Checks and converts options from C; NULL gives the defaults.
///
/// # Safety
/// `opts` is NULL or a valid `zcio_copy_opts` whose offset pointers are
/// NULL or valid.
pub(crate) unsafe fn caller_options(opts: *const zcio_copy_opts) -> Result<CallerOptions, Error> {
    let opts = if opts.is_null() {
        zcio_copy_opts {
            size: 0,
            ..DEFAULT_OPTS
        }
    } else {
        // SAFETY: the caller passes a valid structure of the size it states.
        unsafe { read_versioned(opts) }?
    };
    if opts.mechanisms & !ZCIO_ALLOW_ALL != 0 || opts.source_policy > ZCIO_SOURCE_STABLE {
        return Err(Error::Flags);
    }

    let allowed = if opts.mechanisms == 0 {
        ZCIO_ALLOW_ALL
    } else {
        opts.mechanisms
    };
    let policy = Policy {
        allowed,
        stable_source: opts.source_policy == ZCIO_SOURCE_STABLE,
        read_write_below: (opts.read_write_below != 0).then_some(opts.read_write_below),
    };
    // SAFETY: the offset pointers are NULL or valid int64_t pointers.
    let (in_at, out_at) = unsafe {
        (
            opts.in_offset.as_ref().copied(),
            opts.out_offset.as_ref().copied(),
        )
    };
    let options = Options {
        in_offset: in_at,
        out_offset: out_at,
        pipe_size: (opts.pipe_size != 0).then_some(opts.pipe_size as usize),
        policy,
    };
    Ok(CallerOptions {
        options,
        budget: opts.budget,
        in_offset: opts.in_offset,
        out_offset: opts.out_offset,
    })
}

const DEFAULT_OPTS: zcio_copy_opts = zcio_copy_opts {
    size: std::mem::size_of::<zcio_copy_opts>() as u32,
    mechanisms: 0,
    in_offset: ptr::null_mut(),
    out_offset: ptr::null_mut(),
    pipe_size: 0,
    source_policy: ZCIO_SOURCE_ANY,
    budget: 0,
    read_write_below: 0,
};

/// Fills `opts` with the defaults and sets its size. NULL gives
/// `ZCIO_ENULL`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_copy_opts_init(opts: *mut zcio_copy_opts) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a writable zcio_copy_opts.
        *unsafe { out(opts) }? = DEFAULT_OPTS;
        Ok(ZCIO_OK)
    })
}

/// Copies bytes from `in_fd` to `out_fd` with the fastest correct mechanism
/// for the pair, falling back cleanly when the kernel refuses one.
///
/// File to file tries copy_file_range, then sendfile, then read/write; a
/// file or block device to anything else uses sendfile; a pipe or socket
/// input uses splice (through a pooled pipe when neither side is a pipe);
/// anything else read/write. A mechanism refused before any byte moved
/// (EINVAL, ENOSYS, EOPNOTSUPP, EXDEV, EPERM, or EBADF for an O_APPEND
/// output) gives way to the next from the same offsets; an error after
/// bytes moved is returned with the progress. Small copies use read/write
/// (see `zcio_copy_opts.read_write_below`). Procfs and sysfs files are read
/// to their real end whatever size they claim. Descriptor flags are never
/// changed.
///
/// `count` is a byte count or `ZCIO_TO_EOF`. `opts` may be NULL for the
/// defaults; its offset pointers, if set, are advanced: the input offset by
/// `result_out->read`, the output offset by `result_out->moved`. The two
/// differ only after an output error left bytes read and unwritten; those
/// bytes are gone from the input, so resuming from the advanced offsets
/// skips them. Offsets apply to files and block devices only (`ZCIO_ESPIPE`
/// for anything else); an O_APPEND output refuses one (`ZCIO_EINVAL`),
/// and so does a copy within one file whose ranges overlap. `result_out`
/// must not be NULL and its `size` must be set; it is written on every
/// return except `ZCIO_ENULL` and `ZCIO_ESTRUCT` for it.
///
/// Blocks on blocking descriptors, even when the other one is non-blocking.
/// With a non-blocking descriptor that is not ready it returns
/// `ZCIO_EAGAIN` and `result_out->moved` bytes were copied; call again with
/// `count - moved`. It never returns while bytes it has read are
/// unwritten: if a non-blocking output fills up then, it waits for the
/// output to take them (at most one pipe's worth). Event loops that must
/// never wait use `zcio_transfer`. Never raises SIGPIPE. Thread-safe.
///
/// Returns `ZCIO_OK`, `ZCIO_MORE` when `opts->budget` is reached,
/// `ZCIO_EAGAIN`, `ZCIO_ESHORT` when the input ended before `count` bytes,
/// `ZCIO_ENOMECH` when no allowed mechanism fits the descriptors,
/// `ZCIO_EFLAGS` or `ZCIO_ESTRUCT` for bad options, or a negative errno.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_copy(
    out_fd: c_int,
    in_fd: c_int,
    count: u64,
    opts: *const zcio_copy_opts,
    result_out: *mut zcio_copy_result,
) -> c_int {
    boundary(|| {
        let blank = zcio_copy_result::from_report(&Report::default());
        // SAFETY: the caller passes NULL or a zcio_copy_result of its size.
        unsafe { write_versioned(result_out, &blank) }?;
        // SAFETY: the caller passes NULL or valid options.
        let caller = unsafe { caller_options(opts) }?;

        let (ending, report) = copy::copy(out_fd, in_fd, count, &caller.options, caller.budget);
        // SAFETY: the offset pointers are NULL or valid, as checked above.
        unsafe { write_offsets(&caller, report.in_offset, report.out_offset) };
        // SAFETY: checked non-NULL and large enough above.
        unsafe { write_versioned(result_out, &zcio_copy_result::from_report(&report)) }?;
        Ok(match ending {
            Ok(Ending::Complete) => ZCIO_OK,
            Ok(Ending::Budget) => ZCIO_MORE,
            Ok(Ending::WouldBlock) => fail(Error::Os(libc::EAGAIN)),
            Err(error) => fail(error),
        })
    })
}

/// Stores the advanced offsets through the caller's pointers.
///
/// # Safety
/// The pointers in `caller` are NULL or valid int64_t pointers.
pub(crate) unsafe fn write_offsets(
    caller: &CallerOptions,
    in_at: Option<i64>,
    out_at: Option<i64>,
) {
    // SAFETY: NULL or valid, per the contract.
    unsafe {
        if let (Some(p), Some(at)) = (caller.in_offset.as_mut(), in_at) {
            *p = at;
        }
        if let (Some(p), Some(at)) = (caller.out_offset.as_mut(), out_at) {
            *p = at;
        }
    }
}
