//! Exports for the pipe and buffer pools: `zcio_pool_configure`,
//! `zcio_pool_config_get`, `zcio_pool_stats` and `zcio_pool_trim`.

use std::os::raw::c_int;

use super::{Versioned, boundary, read_versioned, write_versioned};
use crate::error::{Error, ZCIO_OK};
use crate::pool::{self, Config};

/// Settings of the process-wide pools. A zero field means the default.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zcio_pool_config {
    /// `sizeof(zcio_pool_config)` as the caller was compiled.
    pub size: u32,
    /// Most pipes in use at once (idle ones included in the bound). Default:
    /// a quarter of /proc/sys/fs/pipe-user-pages-soft in pipes of
    /// `pipe_size`, between 1 and 64, so the process stays clear of the
    /// kernel's per-user pipe budget. Past it, copies use read/write.
    pub max_pipes: u32,
    /// Capacity to ask for each pipe, in bytes (default 1 MiB; the kernel
    /// may grant less, see `zcio_pool_stats.pipe_size`). At most 1 GiB.
    pub pipe_size: u32,
    /// Most idle buffers kept for read/write copies (default 16).
    pub max_buffers: u32,
    /// Size of each read/write buffer in bytes (default 256 KiB, at most
    /// 64 MiB).
    pub buffer_size: u32,
    /// Must be 0; kept for a future setting.
    pub reserved: u32,
}

// SAFETY: repr(C), starts with the u32 size, integers only.
unsafe impl Versioned for zcio_pool_config {
    const MIN_SIZE: usize = std::mem::size_of::<zcio_pool_config>();
}

/// Counters and gauges of the pools, filled in by `zcio_pool_stats`. (The
/// structure cannot share the function's name: C keeps typedef and function
/// names in one namespace.) Set `size` before passing it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zcio_pool_counters {
    /// `sizeof(zcio_pool_counters)` as the caller was compiled.
    pub size: u32,
    /// Unused; written as 0.
    pub reserved: u32,
    /// Empty pipes waiting in the pool.
    pub pipes_idle: u64,
    /// Pipes leased to copies and transfers right now.
    pub pipes_in_use: u64,
    /// Pipes created since the process started (or forked).
    pub pipes_created: u64,
    /// Leases served by an idle pipe instead of a new one.
    pub pipes_reused: u64,
    /// Pipes closed on return because bytes were left in them.
    pub pipes_discarded: u64,
    /// Requests refused because `max_pipes` were in use.
    pub pipes_exhausted: u64,
    /// Capacity the kernel granted the newest pipe, in bytes.
    pub pipe_size: u64,
    /// The bound on pipes in use, as configured or defaulted.
    pub max_pipes: u64,
    /// Read/write buffers waiting in the pool.
    pub buffers_idle: u64,
    /// Buffers allocated since the process started.
    pub buffers_created: u64,
    /// Leases served by an idle buffer instead of a new one.
    pub buffers_reused: u64,
}

// SAFETY: repr(C), starts with the u32 size, integers only.
unsafe impl Versioned for zcio_pool_counters {
    const MIN_SIZE: usize = std::mem::size_of::<zcio_pool_counters>();
}

/// Changes the pool settings for the whole process.
///
/// `config` must not be NULL and its `size` must be set; zero fields take
/// their defaults. Idle pipes and buffers that no longer fit the settings
/// are closed now; those in use are judged when they come back. Never
/// blocks on I/O. Thread-safe.
///
/// Returns `ZCIO_OK`, `ZCIO_ENULL`, `ZCIO_ESTRUCT` (also for a non-zero
/// `reserved`), or `ZCIO_EINVAL` for a size beyond the limits above.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_pool_configure(config: *const zcio_pool_config) -> c_int {
    boundary(|| {
        // SAFETY: the caller passes NULL or a structure of its stated size.
        let config = unsafe { read_versioned(config) }?;
        if config.pipe_size > 1 << 30 || config.buffer_size > 64 << 20 {
            return Err(Error::Os(libc::EINVAL));
        }
        if config.reserved != 0 {
            return Err(Error::Struct);
        }

        pool::configure(Config {
            max_pipes: config.max_pipes as usize,
            pipe_size: config.pipe_size as usize,
            max_buffers: config.max_buffers as usize,
            buffer_size: config.buffer_size as usize,
        });
        Ok(ZCIO_OK)
    })
}

/// Reads the settings in force, defaults resolved, into `*config_out`,
/// whose `size` must be set. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_pool_config_get(config_out: *mut zcio_pool_config) -> c_int {
    boundary(|| {
        let config = pool::config();
        let value = zcio_pool_config {
            size: 0,
            max_pipes: config.max_pipes as u32,
            pipe_size: config.pipe_size as u32,
            max_buffers: config.max_buffers as u32,
            buffer_size: config.buffer_size as u32,
            reserved: 0,
        };
        // SAFETY: the caller passes NULL or a structure of its stated size.
        unsafe { write_versioned(config_out, &value) }?;
        Ok(ZCIO_OK)
    })
}

/// Reads the pool counters into `*stats_out`, whose `size` must be set.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zcio_pool_stats(stats_out: *mut zcio_pool_counters) -> c_int {
    boundary(|| {
        let s = pool::stats();
        let value = zcio_pool_counters {
            size: 0,
            reserved: 0,
            pipes_idle: s.pipes_idle,
            pipes_in_use: s.pipes_in_use,
            pipes_created: s.pipes_created,
            pipes_reused: s.pipes_reused,
            pipes_discarded: s.pipes_discarded,
            pipes_exhausted: s.pipes_exhausted,
            pipe_size: s.pipe_size,
            max_pipes: s.max_pipes,
            buffers_idle: s.buffers_idle,
            buffers_created: s.buffers_created,
            buffers_reused: s.buffers_reused,
        };
        // SAFETY: the caller passes NULL or a structure of its stated size.
        unsafe { write_versioned(stats_out, &value) }?;
        Ok(ZCIO_OK)
    })
}

/// Closes every idle pipe and frees every idle buffer, for example before
/// a long idle period. (After fork the child drops the pipes it inherited
/// by itself.) Thread-safe. Returns `ZCIO_OK`.
#[unsafe(no_mangle)]
pub extern "C" fn zcio_pool_trim() -> c_int {
    boundary(|| {
        pool::trim();
        Ok(ZCIO_OK)
    })
}
