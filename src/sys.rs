//! The one module that makes system calls.
//!
//! Each wrapper makes exactly one call and turns a -1 return into
//! [`Error::Os`] with the raw `errno`. Retrying, looping and argument
//! checks belong to the callers in the safe core.

use std::ffi::{CStr, c_char, c_int};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::ptr;

use crate::error::Error;
use crate::fault::{self, Call, Effect};

unsafe extern "C" {
    // glibc 2.32 and later: static strings, safe from any thread, unlike
    // strerror().
    fn strerrordesc_np(errnum: c_int) -> *const c_char;
    fn strerrorname_np(errnum: c_int) -> *const c_char;

    // glibc (through libc_nonshared.a, which unregisters the handlers if the
    // library is unloaded).
    fn pthread_atfork(
        prepare: Option<unsafe extern "C" fn()>,
        parent: Option<unsafe extern "C" fn()>,
        child: Option<unsafe extern "C" fn()>,
    ) -> c_int;

    // src/guard.c: copies that survive SIGBUS from a truncated mapping.
    fn zcio_internal_guard_install() -> c_int;
    fn zcio_internal_guard_copy(
        dst: *mut std::ffi::c_void,
        src: *const std::ffi::c_void,
        len: usize,
        mapped: *const std::ffi::c_void,
        copied_out: *mut usize,
    ) -> c_int;
}

/// Copies `len` bytes from `src` to `dst`, one page of the mapped side
/// (`mapped`, equal to `src` or `dst`) at a time, catching SIGBUS. Returns
/// the bytes copied before a fault as the error.
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `len` bytes, except that
/// pages of the mapped side may have vanished with a truncated file; and
/// [`install_sigbus_guard`] has succeeded.
pub unsafe fn guarded_copy(
    dst: *mut u8,
    src: *const u8,
    len: usize,
    mapped: *const u8,
) -> Result<(), usize> {
    let mut copied = 0;
    // SAFETY: the pointers are valid per the caller; a fault on the mapped
    // side is caught in C and reported through `copied`.
    match unsafe {
        zcio_internal_guard_copy(dst.cast(), src.cast(), len, mapped.cast(), &mut copied)
    } {
        0 => Ok(()),
        _ => Err(copied),
    }
}

/// Installs, once per process, the SIGBUS handler that `guarded_copy`
/// relies on.
pub fn install_sigbus_guard() -> Result<(), Error> {
    // SAFETY: installing the handler is idempotent and thread-safe.
    match unsafe { zcio_internal_guard_install() } {
        0 => Ok(()),
        _ => Err(last_error()),
    }
}

/// A close-on-exec duplicate of `fd`.
pub fn dup_cloexec(fd: RawFd) -> Result<OwnedFd, Error> {
    let new_fd = fcntl_int(fd, libc::F_DUPFD_CLOEXEC, 0)?;
    // SAFETY: the descriptor is new and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new_fd) })
}

/// Opens `path` close-on-exec, read-only or read-write.
pub fn open(path: &CStr, writable: bool) -> Result<OwnedFd, Error> {
    let flags = libc::O_CLOEXEC
        | if writable {
            libc::O_RDWR
        } else {
            libc::O_RDONLY
        };
    // SAFETY: path is a valid NUL-terminated string.
    let fd = check_int(unsafe { libc::open(path.as_ptr(), flags) })?;
    // SAFETY: the descriptor is new and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Which pages of `addr..addr + len` are resident in memory (mincore).
///
/// # Safety
/// `addr` is page-aligned and the range lies inside one mapping.
pub unsafe fn resident_pages(addr: *mut u8, len: usize) -> Result<Vec<bool>, Error> {
    let mut pages = vec![0u8; len.div_ceil(page_size())];
    // SAFETY: the range is mapped per the caller; `pages` holds one byte
    // per page of it.
    check_int(unsafe { libc::mincore(addr.cast(), len, pages.as_mut_ptr()) })?;
    Ok(pages.iter().map(|p| p & 1 != 0).collect())
}

/// The size of a memory page.
pub fn page_size() -> usize {
    // SAFETY: sysconf takes no pointers.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// The C library's static message for `errno`, if it knows the value.
pub fn errno_message(errno: i32) -> Option<&'static CStr> {
    // SAFETY: the function returns NULL or a pointer to a static,
    // NUL-terminated string that is never freed.
    unsafe { static_str(strerrordesc_np(errno)) }
}

/// The C library's static name for `errno` (such as `EAGAIN`), if it knows it.
pub fn errno_name(errno: i32) -> Option<&'static CStr> {
    // SAFETY: as in errno_message.
    unsafe { static_str(strerrorname_np(errno)) }
}

/// # Safety
/// `p` is NULL or points to a NUL-terminated string that lives forever.
unsafe fn static_str(p: *const c_char) -> Option<&'static CStr> {
    // SAFETY: the caller guarantees the pointer is static and terminated.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
}

/// The calling thread's current `errno` as an error.
fn last_error() -> Error {
    Error::Os(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// Sets the calling thread's `errno`, which C callers may read after a
/// failed call.
pub fn set_errno(errno: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot, which
    // is valid for the thread's lifetime.
    unsafe { *libc::__errno_location() = errno }
}

/// Applies an injected fault, if a rule fires for this call: an error to
/// return instead of making the call, or a shorter length.
fn inject(call: Call, len: &mut usize) -> Result<(), Error> {
    match fault::check(call) {
        Some(Effect::Fail(errno)) => Err(Error::Os(errno)),
        Some(Effect::Short(most)) => {
            *len = (*len).min(most.max(1));
            Ok(())
        }
        None => Ok(()),
    }
}

fn check_size(ret: isize) -> Result<usize, Error> {
    usize::try_from(ret).map_err(|_| last_error())
}

fn check_int(ret: c_int) -> Result<c_int, Error> {
    if ret < 0 { Err(last_error()) } else { Ok(ret) }
}

/// A caller's optional offset as one call sees it. The kernel gets a copy
/// to read (and advance, or not: devices such as /dev/null accept an offset
/// and leave it alone), and the caller's value is then set to where it was
/// plus exactly the bytes the call moved.
struct Offset<'a> {
    caller: Option<&'a mut i64>,
    copy: i64,
}

impl<'a> Offset<'a> {
    fn new(caller: Option<&'a mut i64>) -> Offset<'a> {
        let copy = caller.as_deref().copied().unwrap_or(0);
        Offset { caller, copy }
    }

    /// NULL for "use the file position", else the copy.
    fn ptr(&mut self) -> *mut libc::off64_t {
        if self.caller.is_some() {
            &mut self.copy
        } else {
            ptr::null_mut()
        }
    }

    fn settle(self, result: &Result<usize, Error>) {
        if let (Some(caller), Ok(n)) = (self.caller, result) {
            *caller += *n as i64;
        }
    }
}

/// One sendfile(2) call; `offset` (or the file position when it is `None`)
/// advances by the bytes it returns.
pub fn sendfile(
    out_fd: RawFd,
    in_fd: RawFd,
    offset: Option<&mut i64>,
    mut count: usize,
) -> Result<usize, Error> {
    inject(Call::Sendfile, &mut count)?;
    let mut offset = Offset::new(offset);
    // SAFETY: the offset pointer is NULL or a valid, exclusive i64 for the
    // duration of the call; descriptors are plain integers to the kernel.
    let result = check_size(unsafe { libc::sendfile64(out_fd, in_fd, offset.ptr(), count) });
    offset.settle(&result);
    result
}

/// One splice(2) call with the kernel's `SPLICE_F_*` flags.
pub fn splice(
    in_fd: RawFd,
    in_offset: Option<&mut i64>,
    out_fd: RawFd,
    out_offset: Option<&mut i64>,
    mut len: usize,
    flags: u32,
) -> Result<usize, Error> {
    inject(Call::Splice, &mut len)?;
    let (mut in_off, mut out_off) = (Offset::new(in_offset), Offset::new(out_offset));
    // SAFETY: both offset pointers are NULL or valid, exclusive i64s for the
    // duration of the call.
    let result =
        check_size(unsafe { libc::splice(in_fd, in_off.ptr(), out_fd, out_off.ptr(), len, flags) });
    in_off.settle(&result);
    out_off.settle(&result);
    result
}

/// One tee(2) call with the kernel's `SPLICE_F_*` flags.
pub fn tee(in_fd: RawFd, out_fd: RawFd, mut len: usize, flags: u32) -> Result<usize, Error> {
    inject(Call::Tee, &mut len)?;
    // SAFETY: tee takes no pointers.
    check_size(unsafe { libc::tee(in_fd, out_fd, len, flags) })
}

/// One copy_file_range(2) call.
pub fn copy_file_range(
    in_fd: RawFd,
    in_offset: Option<&mut i64>,
    out_fd: RawFd,
    out_offset: Option<&mut i64>,
    mut len: usize,
) -> Result<usize, Error> {
    inject(Call::CopyFileRange, &mut len)?;
    let (mut in_off, mut out_off) = (Offset::new(in_offset), Offset::new(out_offset));
    // SAFETY: both offset pointers are NULL or valid, exclusive i64s for the
    // duration of the call; flags must be 0.
    let result = check_size(unsafe {
        libc::copy_file_range(in_fd, in_off.ptr(), out_fd, out_off.ptr(), len, 0)
    });
    in_off.settle(&result);
    out_off.settle(&result);
    result
}

/// pipe2(2): returns the read end and the write end, owned.
pub fn pipe2(flags: c_int) -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [-1 as c_int; 2];
    // SAFETY: fds is a writable array of two ints, as pipe2 requires.
    check_int(unsafe { libc::pipe2(fds.as_mut_ptr(), flags) })?;
    // SAFETY: pipe2 succeeded, so both descriptors are open and nobody else
    // owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// fcntl(2) with an integer argument.
pub fn fcntl_int(fd: RawFd, cmd: c_int, arg: c_int) -> Result<c_int, Error> {
    // SAFETY: the commands used with this wrapper take an int argument.
    check_int(unsafe { libc::fcntl(fd, cmd, arg) })
}

/// fstat(2).
pub fn fstat(fd: RawFd) -> Result<libc::stat64, Error> {
    // SAFETY: a zeroed stat64 is a valid value of a plain C struct.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable stat64.
    check_int(unsafe { libc::fstat64(fd, &mut st) })?;
    Ok(st)
}

/// The size in bytes of a block device (BLKGETSIZE64), which fstat reports
/// as 0.
pub fn block_device_size(fd: RawFd) -> Result<u64, Error> {
    // <linux/fs.h>: _IOR(0x12, 114, size_t).
    const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer.
    check_int(unsafe { libc::ioctl(fd, BLKGETSIZE64, &mut size) })?;
    Ok(size)
}

/// Blocks SIGPIPE in the calling thread for as long as it lives, so a write
/// to a closed pipe or socket fails with EPIPE instead of killing the
/// process. On drop it discards a SIGPIPE that the guarded calls raised and
/// restores the thread's signal mask.
pub struct SigpipeGuard {
    old_mask: libc::sigset_t,
    /// The caller already blocked SIGPIPE: a pending one is theirs to handle.
    was_blocked: bool,
    raised: bool,
}

impl SigpipeGuard {
    pub fn new() -> SigpipeGuard {
        let set = sigpipe_set();
        // SAFETY: a zeroed sigset_t is valid storage for pthread_sigmask to
        // fill in.
        let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: both sets are valid; SIG_BLOCK only adds SIGPIPE.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old_mask) };
        // SAFETY: old_mask was filled in by pthread_sigmask.
        let was_blocked = unsafe { libc::sigismember(&old_mask, libc::SIGPIPE) } == 1;
        SigpipeGuard {
            old_mask,
            was_blocked,
            raised: false,
        }
    }

    /// Records the outcome of a guarded call; an EPIPE means a SIGPIPE is
    /// now pending for this thread.
    pub fn note<T>(&mut self, result: &Result<T, Error>) {
        if matches!(result, Err(Error::Os(libc::EPIPE))) {
            self.raised = true;
        }
    }
}

fn sigpipe_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set before sigaddset uses it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        set
    }
}

impl Drop for SigpipeGuard {
    fn drop(&mut self) {
        if self.was_blocked {
            return;
        }
        let set = sigpipe_set();
        if self.raised {
            // SAFETY: a zeroed sigset_t is valid storage for sigpending.
            let mut pending: libc::sigset_t = unsafe { std::mem::zeroed() };
            // SAFETY: pending is valid storage; the zero timeout makes
            // sigtimedwait return at once whether or not SIGPIPE is pending.
            unsafe {
                libc::sigpending(&mut pending);
                if libc::sigismember(&pending, libc::SIGPIPE) == 1 {
                    let zero = libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    };
                    libc::sigtimedwait(&set, ptr::null_mut(), &zero);
                }
            }
        }
        // SAFETY: old_mask is the mask pthread_sigmask reported in new().
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, ptr::null_mut()) };
    }
}

/// read(2), or pread(2) at `offset` (advanced by the bytes read).
pub fn read(fd: RawFd, buf: &mut [u8], offset: Option<&mut i64>) -> Result<usize, Error> {
    let mut len = buf.len();
    inject(Call::Read, &mut len)?;
    let buf = &mut buf[..len];
    let ptr = buf.as_mut_ptr().cast();
    // SAFETY: buf is valid for writes of buf.len() bytes.
    let n = check_size(unsafe {
        match offset.as_deref() {
            Some(&at) => libc::pread64(fd, ptr, buf.len(), at),
            None => libc::read(fd, ptr, buf.len()),
        }
    })?;
    if let Some(at) = offset {
        *at += n as i64;
    }
    Ok(n)
}

/// write(2), or pwrite(2) at `offset` (advanced by the bytes written).
pub fn write(fd: RawFd, buf: &[u8], offset: Option<&mut i64>) -> Result<usize, Error> {
    let mut len = buf.len();
    inject(Call::Write, &mut len)?;
    let buf = &buf[..len];
    let ptr = buf.as_ptr().cast();
    // SAFETY: buf is valid for reads of buf.len() bytes.
    let n = check_size(unsafe {
        match offset.as_deref() {
            Some(&at) => libc::pwrite64(fd, ptr, buf.len(), at),
            None => libc::write(fd, ptr, buf.len()),
        }
    })?;
    if let Some(at) = offset {
        *at += n as i64;
    }
    Ok(n)
}

/// Whether each descriptor is ready right now: `(readable, writable)` for
/// `read_fd` and `write_fd`, without waiting.
pub fn ready_now(read_fd: RawFd, write_fd: RawFd) -> Result<(bool, bool), Error> {
    let mut fds = [
        libc::pollfd {
            fd: read_fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: write_fd,
            events: libc::POLLOUT,
            revents: 0,
        },
    ];
    // SAFETY: fds is a valid array of two pollfd structs.
    check_int(unsafe { libc::poll(fds.as_mut_ptr(), 2, 0) })?;
    // Errors and hang-ups count as ready: the next call reports them.
    let ready = |p: &libc::pollfd| p.revents != 0;
    Ok((ready(&fds[0]), ready(&fds[1])))
}

/// Waits until `fd` is ready for `events` (POLLIN or POLLOUT) or has
/// failed, retrying EINTR.
pub fn wait_ready(fd: RawFd, events: libc::c_short) -> Result<(), Error> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: pfd is one valid pollfd.
        match check_int(unsafe { libc::poll(&mut pfd, 1, -1) }) {
            Err(Error::Os(libc::EINTR)) => continue,
            result => return result.map(drop),
        }
    }
}

/// The descriptor's file position (lseek to the current position).
pub fn position(fd: RawFd) -> Result<i64, Error> {
    // SAFETY: lseek takes no pointers.
    let at = unsafe { libc::lseek64(fd, 0, libc::SEEK_CUR) };
    if at < 0 { Err(last_error()) } else { Ok(at) }
}

/// The descriptor's status flags (F_GETFL).
pub fn status_flags(fd: RawFd) -> Result<c_int, Error> {
    fcntl_int(fd, libc::F_GETFL, 0)
}

/// The memfd seals of `fd` (F_GET_SEALS); EINVAL for files without seals.
pub fn seals(fd: RawFd) -> Result<c_int, Error> {
    fcntl_int(fd, libc::F_GET_SEALS, 0)
}

/// Whether the filesystem holding `fd` is mounted read-only.
pub fn on_read_only_mount(fd: RawFd) -> Result<bool, Error> {
    // SAFETY: a zeroed statvfs is valid storage for fstatvfs to fill in.
    let mut st: libc::statvfs64 = unsafe { std::mem::zeroed() };
    // SAFETY: st is valid, writable storage.
    check_int(unsafe { libc::fstatvfs64(fd, &mut st) })?;
    Ok(st.f_flag & libc::ST_RDONLY != 0)
}

/// The number of unread bytes in a pipe or socket (FIONREAD).
pub fn unread_bytes(fd: RawFd) -> Result<usize, Error> {
    let mut n: c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer.
    check_int(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) })?;
    Ok(n as usize)
}

static FORKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

unsafe extern "C" fn after_fork_in_child() {
    FORKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// How many forks separate this process from the one that first asked: it
/// changes in a child after fork. Cheaper than comparing getpid() on every
/// call, and immune to pid reuse.
pub fn fork_generation() -> u64 {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    // SAFETY: the handler only increments an atomic, which is
    // async-signal-safe as fork requires.
    REGISTER.call_once(|| unsafe {
        pthread_atfork(None, None, Some(after_fork_in_child));
    });
    FORKS.load(std::sync::atomic::Ordering::Relaxed)
}

/// What the planner needs to know of a descriptor, from statx(2): its type,
/// size, and device and inode.
///
/// statx asks only for these fields, not for timestamps: on Linux 6.13 and
/// later, reading a file's timestamps makes its next write update them,
/// which slows small writes to the output measurably.
pub struct FileInfo {
    pub mode: u32,
    pub size: u64,
    pub id: (u64, u64),
}

pub fn file_info(fd: RawFd) -> Result<FileInfo, Error> {
    // SAFETY: a zeroed statx is valid storage for the call to fill in.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let mask = libc::STATX_TYPE | libc::STATX_SIZE | libc::STATX_INO;
    // SAFETY: the empty path with AT_EMPTY_PATH names fd itself; stx is
    // valid, writable storage.
    check_int(unsafe { libc::statx(fd, c"".as_ptr(), libc::AT_EMPTY_PATH, mask, &mut stx) })?;
    let dev = (u64::from(stx.stx_dev_major) << 32) | u64::from(stx.stx_dev_minor);
    Ok(FileInfo {
        mode: u32::from(stx.stx_mode),
        size: stx.stx_size,
        id: (dev, stx.stx_ino),
    })
}

/// A soft limit of pipe pages per user, from procfs; `None` if unreadable.
pub fn pipe_user_pages_soft() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/pipe-user-pages-soft")
        .ok()?
        .trim()
        .parse()
        .ok()
}
