//! The best-path copy as one call: `copy` runs a [`Transfer`] to the end,
//! or until a non-blocking descriptor is not ready.

use crate::engine::{FirstFallback, Options, Status, Transfer};
use crate::error::Error;
use crate::plan::Mechanism;
use crate::primitives::TO_EOF;
use crate::sys;

/// What a copy did, known even when it failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub read: u64,
    pub written: u64,
    /// The mechanism that moved the bytes (or was about to); `None` when the
    /// descriptors could not even be inspected.
    pub mechanism: Option<Mechanism>,
    pub fallback: Option<FirstFallback>,
    pub in_offset: Option<i64>,
    pub out_offset: Option<i64>,
}

/// How a copy ended without failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Everything asked for was written.
    Complete,
    /// A non-blocking descriptor was not ready; nothing rests in between.
    WouldBlock,
    /// The byte budget is spent.
    Budget,
}

/// Copies `count` bytes (or to the end, with `u64::MAX`) from `in_fd` to
/// `out_fd` with the best mechanism, writing at most `budget` bytes
/// (0: no limit).
///
/// A copy never returns while bytes it took from the input are not written:
/// if a non-blocking output fills up while a pipe or buffer holds some, it
/// waits for the output to take them, then reports `WouldBlock`.
pub fn copy(
    out_fd: i32,
    in_fd: i32,
    count: u64,
    options: &Options,
    budget: u64,
) -> (Result<Ending, Error>, Report) {
    let mut transfer = match Transfer::new(out_fd, in_fd, count, options) {
        Ok(transfer) => transfer,
        Err(error) => return (Err(error), Report::default()),
    };
    let ending = run(&mut transfer, count, budget);
    let report = Report {
        read: transfer.read(),
        written: transfer.written(),
        mechanism: Some(transfer.mechanism()),
        fallback: transfer.fallback(),
        in_offset: transfer.in_offset(),
        out_offset: transfer.out_offset(),
    };
    (ending, report)
}

/// Steps the transfer to the end. Only a descriptor the caller made
/// non-blocking may end the call early: when one side is blocking and the
/// other is not, splice applies the non-blocking flag to both, so a wait the
/// caller asked for (blocking) is done here, with poll.
fn run(transfer: &mut Transfer, count: u64, budget: u64) -> Result<Ending, Error> {
    let ((in_fd, in_nonblocking), (out_fd, out_nonblocking)) =
        (transfer.input(), transfer.output());
    loop {
        let left = if budget == 0 {
            0
        } else {
            budget - transfer.written()
        };
        match transfer.step(left)? {
            Status::Done if count != TO_EOF && transfer.written() < count => {
                return Err(Error::Short);
            }
            Status::Done => return Ok(Ending::Complete),
            Status::More if budget != 0 && transfer.written() >= budget => {
                return Ok(Ending::Budget);
            }
            Status::More => continue,
            Status::WantRead if !in_nonblocking => sys::wait_ready(in_fd, libc::POLLIN)?,
            Status::WantRead => return Ok(Ending::WouldBlock),
            Status::WantWrite if !out_nonblocking => sys::wait_ready(out_fd, libc::POLLOUT)?,
            Status::WantWrite => {
                flush(transfer)?;
                return Ok(Ending::WouldBlock);
            }
        }
    }
}

/// Writes what rests between input and output, waiting for the output as
/// long as it takes: those bytes have left the input and exist nowhere else.
fn flush(transfer: &mut Transfer) -> Result<(), Error> {
    let (out_fd, _) = transfer.output();
    while transfer.buffered() > 0 {
        if transfer.flush()? == Status::WantWrite {
            sys::wait_ready(out_fd, libc::POLLOUT)?;
        }
    }
    Ok(())
}
