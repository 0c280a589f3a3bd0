//! Process-wide pools of pipes (for splicing between two descriptors that
//! are not pipes) and of buffers (for the read/write fallback).
//!
//! The pipe pool is bounded so that a busy process stays well inside the
//! kernel's per-user budget of pipe pages. A pipe comes back through a
//! [`PipeLease`]; one that still holds bytes is closed, never reused, so one
//! transfer's bytes can never reach another. After a fork the child drops
//! the pipes it inherited instead of sharing them with its parent.

use std::alloc::{Layout, alloc_zeroed, dealloc, handle_alloc_error};
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard};

use crate::error::Error;
use crate::{pipe, sys};

/// Pool settings; a zero field means "the default".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Config {
    pub max_pipes: usize,
    pub pipe_size: usize,
    pub max_buffers: usize,
    pub buffer_size: usize,
}

pub(crate) const DEFAULT_PIPE_SIZE: usize = 1 << 20;
pub(crate) const DEFAULT_BUFFER_SIZE: usize = 256 << 10;
const DEFAULT_MAX_BUFFERS: usize = 16;
/// The kernel's default `pipe-user-pages-soft`, if procfs cannot be read.
const DEFAULT_USER_PAGES: u64 = 16384;

impl Config {
    /// This configuration with every zero field replaced by its default.
    fn resolved(self) -> Config {
        let pipe_size = nonzero_or(self.pipe_size, DEFAULT_PIPE_SIZE);
        Config {
            max_pipes: nonzero_or(self.max_pipes, default_max_pipes(pipe_size)),
            pipe_size,
            max_buffers: nonzero_or(self.max_buffers, DEFAULT_MAX_BUFFERS),
            buffer_size: nonzero_or(self.buffer_size, DEFAULT_BUFFER_SIZE).next_multiple_of(ALIGN),
        }
    }
}

fn nonzero_or(value: usize, default: usize) -> usize {
    if value == 0 { default } else { value }
}

/// A quarter of the per-user soft budget of pipe pages, in pipes of
/// `pipe_size`: past that budget the kernel shrinks every new pipe of the
/// user to one page, which would hurt the whole process.
fn default_max_pipes(pipe_size: usize) -> usize {
    let pages = sys::pipe_user_pages_soft().unwrap_or(DEFAULT_USER_PAGES);
    let pages = if pages == 0 {
        DEFAULT_USER_PAGES
    } else {
        pages
    };
    let per_pipe = (pipe_size as u64).div_ceil(4096).max(1);
    (pages / 4 / per_pipe).clamp(1, 64) as usize
}

/// Counters and gauges of the pools.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub pipes_idle: u64,
    pub pipes_in_use: u64,
    pub pipes_created: u64,
    pub pipes_reused: u64,
    /// Pipes closed on return because they still held bytes.
    pub pipes_discarded: u64,
    /// Requests refused because `max_pipes` pipes were in use.
    pub pipes_exhausted: u64,
    /// The capacity the kernel granted the newest pipe.
    pub pipe_size: u64,
    pub max_pipes: u64,
    pub buffers_idle: u64,
    pub buffers_created: u64,
    pub buffers_reused: u64,
}

struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

struct Pool {
    config: Config,
    /// The fork generation the idle pipes belong to.
    generation: u64,
    idle_pipes: Vec<Pipe>,
    idle_buffers: Vec<AlignedBuf>,
    stats: Stats,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Locks the pool, creating it on first use and emptying it in a child
/// after fork.
fn pool() -> MutexGuard<'static, Option<Pool>> {
    // A panic while the lock was held cannot leave the pool inconsistent in
    // a way that matters: the worst case is a miscounted gauge.
    let mut guard = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let generation = sys::fork_generation();
    if guard
        .as_ref()
        .is_none_or(|pool| pool.generation != generation)
    {
        let config = guard
            .as_ref()
            .map_or(Config::default().resolved(), |pool| pool.config);
        let stats = Stats {
            max_pipes: config.max_pipes as u64,
            ..Stats::default()
        };
        *guard = Some(Pool {
            config,
            generation,
            idle_pipes: Vec::new(),
            idle_buffers: Vec::new(),
            stats,
        });
    }
    guard
}

fn with_pool<T>(f: impl FnOnce(&mut Pool) -> T) -> T {
    f(pool().as_mut().expect("pool() always fills the slot"))
}

/// Changes the pool's settings. Idle pipes and buffers that no longer fit
/// are closed; leases in use are unaffected and judged when they return.
pub fn configure(config: Config) {
    with_pool(|pool| {
        pool.config = config.resolved();
        pool.stats.max_pipes = pool.config.max_pipes as u64;
        trim_locked(pool);
    });
}

pub fn config() -> Config {
    with_pool(|pool| pool.config)
}

pub fn stats() -> Stats {
    with_pool(|pool| Stats {
        pipes_idle: pool.idle_pipes.len() as u64,
        buffers_idle: pool.idle_buffers.len() as u64,
        ..pool.stats
    })
}

/// Closes every idle pipe and frees every idle buffer.
pub fn trim() {
    with_pool(|pool| {
        pool.idle_pipes.clear();
        pool.idle_buffers.clear();
    });
}

fn trim_locked(pool: &mut Pool) {
    let Config {
        max_pipes,
        pipe_size,
        max_buffers,
        buffer_size,
    } = pool.config;
    pool.idle_pipes.retain(|p| p.capacity >= pipe_size);
    pool.idle_pipes.truncate(max_pipes);
    pool.idle_buffers.retain(|b| b.len() == buffer_size);
    pool.idle_buffers.truncate(max_buffers);
}

/// A pipe borrowed from the pool, returned on drop. `buffered` is the
/// number of bytes its holder has put in and not yet taken out.
pub struct PipeLease {
    pipe: Option<Pipe>,
    pub buffered: usize,
    /// The fork generation that leased the pipe. After fork, parent and
    /// child share the pipe; the child must never give it to its own pool.
    generation: u64,
}

impl PipeLease {
    pub fn read_end(&self) -> RawFd {
        self.pipe().read.as_raw_fd()
    }

    pub fn write_end(&self) -> RawFd {
        self.pipe().write.as_raw_fd()
    }

    pub fn capacity(&self) -> usize {
        self.pipe().capacity
    }

    fn pipe(&self) -> &Pipe {
        self.pipe.as_ref().expect("present until drop")
    }
}

/// Why no pipe could be leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPipe {
    /// `max_pipes` pipes are in use.
    Exhausted,
    /// Creating a pipe failed (EMFILE, ENFILE, ENOMEM).
    Os(Error),
}

/// Leases an empty pipe: an idle one, or a new one while fewer than
/// `max_pipes` are in use. A `size` other than the pool's asks the kernel
/// to resize the leased pipe, best effort; a pipe smaller than the pool's
/// size is closed when it comes back.
pub fn lease_pipe(size: Option<usize>) -> Result<PipeLease, NoPipe> {
    let reused = with_pool(|pool| {
        if pool.stats.pipes_in_use as usize >= pool.config.max_pipes {
            pool.stats.pipes_exhausted += 1;
            return Err(NoPipe::Exhausted);
        }
        pool.stats.pipes_in_use += 1;
        let pipe = pool.idle_pipes.pop();
        pool.stats.pipes_reused += pipe.is_some() as u64;
        Ok((pipe, pool.config.pipe_size))
    })?;

    let mut pipe = match reused {
        (Some(pipe), _) => pipe,
        (None, size) => {
            new_pipe(size).inspect_err(|_| with_pool(|pool| pool.stats.pipes_in_use -= 1))?
        }
    };
    if let Some(size) = size.filter(|&size| size != pipe.capacity) {
        let fd = pipe.write.as_raw_fd();
        let _refusal_is_fine = sys::fcntl_int(
            fd,
            libc::F_SETPIPE_SZ,
            i32::try_from(size).unwrap_or(i32::MAX),
        );
        pipe.capacity =
            sys::fcntl_int(fd, libc::F_GETPIPE_SZ, 0).map_or(pipe.capacity, |n| n as usize);
    }
    Ok(PipeLease {
        pipe: Some(pipe),
        buffered: 0,
        generation: sys::fork_generation(),
    })
}

fn new_pipe(size: usize) -> Result<Pipe, NoPipe> {
    let (read, write) =
        pipe::pipe_new(u32::try_from(size).unwrap_or(u32::MAX), false).map_err(NoPipe::Os)?;
    let capacity = pipe::pipe_size(&read).map_err(NoPipe::Os)?;
    with_pool(|pool| {
        pool.stats.pipes_created += 1;
        pool.stats.pipe_size = capacity as u64;
    });
    Ok(Pipe {
        read,
        write,
        capacity,
    })
}

impl Drop for PipeLease {
    fn drop(&mut self) {
        let Some(pipe) = self.pipe.take() else { return };
        if self.generation != sys::fork_generation() {
            // Leased before a fork: the parent may still be using it.
            return;
        }
        // The holder's count is checked against the kernel's: a pipe with a
        // single byte left in it must never be handed to another transfer.
        let empty = self.buffered == 0 && sys::unread_bytes(pipe.read.as_raw_fd()) == Ok(0);
        let mut guard = pool();
        let pool = guard.as_mut().expect("pool() always fills the slot");
        pool.stats.pipes_in_use = pool.stats.pipes_in_use.saturating_sub(1);
        let fits =
            pipe.capacity >= pool.config.pipe_size && pool.idle_pipes.len() < pool.config.max_pipes;
        if !empty {
            pool.stats.pipes_discarded += 1;
        } else if fits {
            pool.idle_pipes.push(pipe);
        }
    }
}

/// Buffer alignment and size granularity: a page, which O_DIRECT
/// descriptors accept.
const ALIGN: usize = 4096;

/// A zeroed, page-aligned heap buffer whose length is a multiple of a page.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the buffer is plain owned memory with no thread affinity.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    fn new(len: usize) -> AlignedBuf {
        let len = len.max(1).next_multiple_of(ALIGN);
        let layout =
            Layout::from_size_align(len, ALIGN).expect("a page-multiple size is a valid layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })
            .unwrap_or_else(|| handle_alloc_error(layout));
        AlignedBuf { ptr, len }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr owns len initialised bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr owns len initialised bytes, borrowed uniquely here.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.len, ALIGN).expect("checked in new");
        // SAFETY: ptr came from alloc_zeroed with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), layout) }
    }
}

/// A buffer borrowed from the pool, returned on drop.
pub struct BufferLease {
    buf: Option<AlignedBuf>,
}

impl BufferLease {
    pub fn bytes(&mut self) -> &mut [u8] {
        self.buf.as_mut().expect("present until drop")
    }
}

/// Leases a buffer of at least `min_len` bytes (0: the configured size),
/// reusing an idle one if it is large enough. A buffer larger than the
/// configured size is never kept on return.
pub fn lease_buffer(min_len: usize) -> BufferLease {
    let (idle, size) = with_pool(|pool| {
        let size = pool.config.buffer_size.max(min_len.next_multiple_of(ALIGN));
        let fits = pool
            .idle_buffers
            .last()
            .is_some_and(|buf| buf.len() >= size);
        let idle = if fits { pool.idle_buffers.pop() } else { None };
        match idle {
            Some(_) => pool.stats.buffers_reused += 1,
            None => pool.stats.buffers_created += 1,
        }
        (idle, size)
    });
    BufferLease {
        buf: Some(idle.unwrap_or_else(|| AlignedBuf::new(size))),
    }
}

impl Drop for BufferLease {
    fn drop(&mut self) {
        let Some(buf) = self.buf.take() else { return };
        with_pool(|pool| {
            if buf.len() == pool.config.buffer_size
                && pool.idle_buffers.len() < pool.config.max_buffers
            {
                pool.idle_buffers.push(buf);
            }
        });
    }
}
