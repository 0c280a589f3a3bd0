//! zcio: zero-copy I/O for Linux, as a C library written in Rust.
//!
//! The safe core ([`primitives`], [`pipe`], [`map`], and the best-path copy
//! in [`plan`], [`engine`], [`pool`] and [`stats`]) returns
//! `Result<_, Error>` and keeps the raw `errno` of every OS failure; all
//! system calls are made in `sys`. The [`ffi`] module is the C ABI that
//! `include/zcio.h` declares: it checks arguments, calls the core and maps
//! errors to the codes in [`error`].

#[cfg(not(target_os = "linux"))]
compile_error!("zcio is Linux-only: it is built on sendfile, splice, tee and copy_file_range");

pub mod copy;
pub mod engine;
pub mod error;
pub mod fault;
pub mod ffi;
pub mod map;
pub mod pipe;
pub mod plan;
pub mod pool;
pub mod primitives;
pub mod stats;
mod sys;

pub use error::{Error, Partial};
