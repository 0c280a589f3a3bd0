//! The resumable copy engine behind `zcio_copy` and `zcio_transfer`: it
//! moves bytes with the planned mechanism, falls back to the next one when
//! the kernel refuses the first before any byte moved, and stops with a
//! precise reason when a non-blocking descriptor is not ready.
//!
//! Bytes taken from the input but not yet written sit in a leased pipe or
//! buffer, and the engine counts them. That count is what tells "our pipe is
//! full" apart from "the input is empty" when splice says EAGAIN, and what
//! lets a later step write them first, so nothing is lost or duplicated.

use crate::error::Error;
use crate::plan::{self, Endpoint, Kind, Mechanism, Plan, Policy};
use crate::pool::{self, BufferLease, NoPipe, PipeLease};
use crate::primitives::{MAX_PER_CALL, TO_EOF};
use crate::stats::{self, Fallback};
use crate::sys;

/// Where a step stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every byte was written.
    Done,
    /// The input is not ready: wait until it is readable.
    WantRead,
    /// The output is not ready: wait until it is writable.
    WantWrite,
    /// The step's budget is spent; call again.
    More,
}

/// The caller's choices for one copy.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub in_offset: Option<i64>,
    pub out_offset: Option<i64>,
    /// The capacity to ask for the splice pipe; `None`: the pool's.
    pub pipe_size: Option<usize>,
    pub policy: Policy,
}

/// Why a mechanism stopped without a status.
enum Stop {
    /// The kernel or the engine failed.
    Failed(Error),
    /// The mechanism reported end of input before any byte moved.
    EmptyAtStart,
    /// No pipe could be leased for splicing.
    NoPipe(NoPipe),
}

impl From<Error> for Stop {
    fn from(error: Error) -> Stop {
        Stop::Failed(error)
    }
}

/// Where bytes rest between reading and writing.
enum Stage {
    /// Not set up yet.
    Idle,
    /// The mechanism moves bytes in one call; nothing rests anywhere.
    Direct,
    /// Spliced into a leased pipe; its `buffered` bytes are not yet written.
    Pipe(PipeLease),
    /// Read into a leased buffer; `start..end` is not yet written.
    Buffer {
        lease: BufferLease,
        start: usize,
        end: usize,
    },
}

/// The fallback that happened first: the mechanism left and the code of
/// the reason (0 when it reported end of input at once).
pub type FirstFallback = (Mechanism, i32);

/// A copy of `count` bytes in progress.
pub struct Transfer {
    input: Endpoint,
    output: Endpoint,
    plan: Plan,
    index: usize,
    count: u64,
    in_offset: Option<i64>,
    out_offset: Option<i64>,
    read: u64,
    written: u64,
    eof: bool,
    stage: Stage,
    fallback: Option<FirstFallback>,
    pipe_size: Option<usize>,
}

impl Transfer {
    pub fn new(out_fd: i32, in_fd: i32, count: u64, options: &Options) -> Result<Transfer, Error> {
        let input = Endpoint::inspect(in_fd, false)?;
        let output = Endpoint::inspect(out_fd, true)?;
        check_offset(&input, options.in_offset)?;
        check_offset(&output, options.out_offset)?;
        let count = within_one_file(&input, &output, count, options)?;
        let positional_out = options.out_offset.is_some();
        let plan = plan::plan(
            &input,
            &output,
            count,
            options.in_offset,
            positional_out,
            &options.policy,
        )?;
        if plan.small {
            stats::count_small_copy();
        }
        if plan.stable {
            stats::count_stable_copy();
        }

        Ok(Transfer {
            input,
            output,
            plan,
            index: 0,
            count,
            in_offset: options.in_offset,
            out_offset: options.out_offset,
            read: 0,
            written: 0,
            eof: false,
            stage: Stage::Idle,
            fallback: None,
            pipe_size: options.pipe_size,
        })
    }

    pub fn read(&self) -> u64 {
        self.read
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes read from the input and not yet written to the output.
    pub fn buffered(&self) -> u64 {
        self.read - self.written
    }

    pub fn mechanism(&self) -> Mechanism {
        self.plan
            .get(self.index)
            .expect("the index stays inside the plan")
    }

    pub fn fallback(&self) -> Option<FirstFallback> {
        self.fallback
    }

    /// The input descriptor and whether the caller made it non-blocking.
    pub fn input(&self) -> (i32, bool) {
        (self.input.fd, self.input.nonblocking)
    }

    /// The output descriptor and whether the caller made it non-blocking.
    pub fn output(&self) -> (i32, bool) {
        (self.output.fd, self.output.nonblocking)
    }

    pub fn in_offset(&self) -> Option<i64> {
        self.in_offset
    }

    pub fn out_offset(&self) -> Option<i64> {
        self.out_offset
    }

    pub fn is_done(&self) -> bool {
        self.buffered() == 0 && (self.eof || self.read == self.count)
    }

    /// Moves bytes until the copy is done, a descriptor is not ready, or
    /// `budget` bytes (0: no limit) were written in this step.
    pub fn step(&mut self, budget: u64) -> Result<Status, Error> {
        self.run(budget, true)
    }

    /// Writes the bytes already taken from the input, reading no more.
    pub fn flush(&mut self) -> Result<Status, Error> {
        self.run(0, false)
    }

    fn run(&mut self, budget: u64, fill: bool) -> Result<Status, Error> {
        let limit = if budget == 0 { u64::MAX } else { budget };
        let start = self.written;
        // Only a pipe, socket or device output can raise SIGPIPE; files are
        // spared the two signal-mask calls.
        let mut guard = match self.output.kind {
            Kind::File | Kind::BlockDevice => None,
            _ => Some(sys::SigpipeGuard::new()),
        };
        let status = loop {
            if self.is_done() || (!fill && self.buffered() == 0) {
                break Ok(Status::Done);
            }
            if self.eof
                && !matches!(self.stage, Stage::Pipe(_) | Stage::Buffer { .. })
                && self.buffered() > 0
            {
                // Read bytes with nowhere to rest: a bug, reported rather
                // than spun on.
                break Err(Error::Os(libc::EIO));
            }
            let used = self.written - start;
            if used >= limit {
                break Ok(Status::More);
            }
            match self.advance(limit - used) {
                Ok(Some(status)) => break Ok(status),
                Ok(None) => continue,
                Err(stop) => {
                    if let Err(error) = self.fall_back(stop) {
                        break Err(error);
                    }
                }
            }
        };
        if let Some(guard) = guard.as_mut() {
            guard.note(&status);
        }

        stats::count_call(self.mechanism(), self.written - start);
        if matches!(status, Ok(Status::WantRead | Status::WantWrite)) {
            stats::count_would_block();
        }
        status
    }

    /// One system call's worth of progress; `Some` when a descriptor is not
    /// ready.
    ///
    /// When flushing, `run` stops before the stage is empty, so a staged
    /// mechanism only ever writes here.
    fn advance(&mut self, allowance: u64) -> Result<Option<Status>, Stop> {
        if matches!(self.stage, Stage::Idle) {
            self.stage = self.enter()?;
        }
        let want = self.want().min(allowance).min(MAX_PER_CALL as u64) as usize;
        let (in_fd, out_fd) = (self.input.fd, self.output.fd);
        let result = match self.mechanism() {
            Mechanism::CopyFileRange => {
                let (in_off, out_off) = (self.in_offset.as_mut(), self.out_offset.as_mut());
                sys::copy_file_range(in_fd, in_off, out_fd, out_off, want)
            }
            Mechanism::Sendfile => sys::sendfile(out_fd, in_fd, self.in_offset.as_mut(), want),
            Mechanism::Splice if matches!(self.stage, Stage::Direct) => {
                let flags =
                    libc::SPLICE_F_MOVE | self.nonblock_flag(true) | self.nonblock_flag(false);
                let (in_off, out_off) = (self.in_offset.as_mut(), self.out_offset.as_mut());
                sys::splice(in_fd, in_off, out_fd, out_off, want, flags)
            }
            Mechanism::Splice | Mechanism::ReadWrite => {
                return self.advance_staged(want, allowance.min(MAX_PER_CALL as u64) as usize);
            }
        };
        self.direct_result(result, want)
    }

    /// Books the result of a call that moved bytes straight from input to
    /// output.
    ///
    /// A short sendfile into a non-blocking socket or pipe usually means the
    /// output is full; asking poll costs far less than another sendfile that
    /// reads pages in only to fail with EAGAIN.
    fn direct_result(
        &mut self,
        result: Result<usize, Error>,
        want: usize,
    ) -> Result<Option<Status>, Stop> {
        match result {
            Ok(0) if self.read == 0 && self.mechanism() != Mechanism::Splice => {
                Err(Stop::EmptyAtStart)
            }
            Ok(0) => {
                self.eof = true;
                Ok(None)
            }
            Ok(n) => {
                self.read += n as u64;
                self.written += n as u64;
                let full = n < want
                    && self.mechanism() == Mechanism::Sendfile
                    && self.output.nonblocking
                    && matches!(self.output.kind, Kind::Socket | Kind::Pipe)
                    && !sys::ready_now(self.output.fd, self.output.fd)?.1;
                Ok(full.then_some(Status::WantWrite))
            }
            Err(Error::Os(libc::EINTR)) => Ok(None),
            Err(Error::Os(libc::EAGAIN)) => Ok(Some(self.which_blocked()?)),
            Err(error) => Err(Stop::Failed(error)),
        }
    }

    /// After EAGAIN from a call that touched both descriptors, finds the one
    /// that is not ready. A file input is always ready, so only the output
    /// can have blocked sendfile.
    fn which_blocked(&self) -> Result<Status, Error> {
        if self.input.kind != Kind::Pipe && self.input.kind != Kind::Socket {
            return Ok(Status::WantWrite);
        }
        Ok(match sys::ready_now(self.input.fd, self.output.fd)? {
            (false, _) => Status::WantRead,
            (true, false) => Status::WantWrite,
            // Both look ready, so the EAGAIN was a race: try again.
            (true, true) => Status::More,
        })
    }

    /// Moves bytes through the leased pipe or buffer: writes what rests
    /// there first (up to `allowance`), and reads more (up to `want`) only
    /// when it is empty.
    fn advance_staged(&mut self, want: usize, allowance: usize) -> Result<Option<Status>, Stop> {
        let (in_fd, out_fd) = (self.input.fd, self.output.fd);
        let in_flag = self.nonblock_flag(true);
        let out_flag = self.nonblock_flag(false);
        let first = self.written == 0;
        let (in_off, out_off) = (self.in_offset.as_mut(), self.out_offset.as_mut());

        let (result, is_write) = match &mut self.stage {
            Stage::Pipe(lease) if lease.buffered > 0 => {
                let len = lease.buffered.min(allowance);
                (
                    sys::splice(
                        lease.read_end(),
                        None,
                        out_fd,
                        out_off,
                        len,
                        libc::SPLICE_F_MOVE | out_flag,
                    ),
                    true,
                )
            }
            Stage::Pipe(lease) => {
                // Until the output has taken a byte, take no more than a
                // buffer holds, so a fallback can move it all to read/write.
                let cap = if first {
                    pool::config().buffer_size
                } else {
                    lease.capacity()
                };
                let len = want.min(cap).min(lease.capacity());
                (
                    sys::splice(
                        in_fd,
                        in_off,
                        lease.write_end(),
                        None,
                        len,
                        libc::SPLICE_F_MOVE | in_flag,
                    ),
                    false,
                )
            }
            Stage::Buffer { lease, start, end } if *start < *end => {
                let stop = (*end).min(*start + allowance);
                (
                    sys::write(out_fd, &lease.bytes()[*start..stop], out_off),
                    true,
                )
            }
            Stage::Buffer { lease, .. } => {
                let len = want.min(lease.bytes().len());
                (sys::read(in_fd, &mut lease.bytes()[..len], in_off), false)
            }
            Stage::Idle | Stage::Direct => unreachable!("advance() sets up the stage"),
        };
        self.staged_result(result, is_write)
    }

    /// Books the result of a staged read (into the pipe or buffer) or write
    /// (out of it).
    fn staged_result(
        &mut self,
        result: Result<usize, Error>,
        is_write: bool,
    ) -> Result<Option<Status>, Stop> {
        let n = match result {
            Ok(0) if is_write => return Err(Stop::Failed(Error::Os(libc::EIO))),
            Ok(0) => {
                self.eof = true;
                return Ok(None);
            }
            Ok(n) => n,
            Err(Error::Os(libc::EINTR)) => return Ok(None),
            Err(Error::Os(libc::EAGAIN)) if is_write => return Ok(Some(Status::WantWrite)),
            Err(Error::Os(libc::EAGAIN)) => return Ok(Some(Status::WantRead)),
            Err(error) => return Err(Stop::Failed(error)),
        };

        match (&mut self.stage, is_write) {
            (Stage::Pipe(lease), true) => lease.buffered -= n,
            (Stage::Pipe(lease), false) => lease.buffered += n,
            (Stage::Buffer { start, .. }, true) => *start += n,
            (Stage::Buffer { start, end, .. }, false) => (*start, *end) = (0, n),
            _ => unreachable!("only staged mechanisms get here"),
        }
        if is_write {
            self.written += n as u64;
        } else {
            self.read += n as u64;
        }
        Ok(None)
    }

    /// Bytes still to read from the input.
    fn want(&self) -> u64 {
        if self.count == TO_EOF {
            TO_EOF
        } else {
            self.count - self.read
        }
    }

    /// SPLICE_F_NONBLOCK if the caller's input (or output) is non-blocking.
    fn nonblock_flag(&self, input: bool) -> u32 {
        let endpoint = if input { &self.input } else { &self.output };
        if endpoint.nonblocking {
            libc::SPLICE_F_NONBLOCK
        } else {
            0
        }
    }

    /// Sets up the current mechanism: a leased pipe when splicing between
    /// two descriptors that are not pipes, a leased buffer for read/write.
    fn enter(&self) -> Result<Stage, Stop> {
        Ok(match self.mechanism() {
            Mechanism::Splice
                if self.input.kind != Kind::Pipe && self.output.kind != Kind::Pipe =>
            {
                Stage::Pipe(pool::lease_pipe(self.pipe_size).map_err(Stop::NoPipe)?)
            }
            Mechanism::ReadWrite => Stage::Buffer {
                lease: pool::lease_buffer(self.buffered() as usize),
                start: 0,
                end: 0,
            },
            _ => Stage::Direct,
        })
    }

    /// Moves on to the next mechanism if `stop` allows it and no byte has
    /// reached the output; otherwise returns the error.
    fn fall_back(&mut self, mut stop: Stop) -> Result<(), Error> {
        loop {
            let (reason, error) = match stop {
                Stop::Failed(error) => match fallback_reason(error, &self.output) {
                    Some(reason) if self.written == 0 => (reason, error),
                    _ => return Err(error),
                },
                Stop::EmptyAtStart => (Fallback::EmptyAtStart, Error::Short),
                Stop::NoPipe(NoPipe::Exhausted) => (Fallback::NoPipe, Error::NoPipe),
                Stop::NoPipe(NoPipe::Os(error)) => (Fallback::NoPipe, error),
            };
            let next = self.plan.get(self.index + 1);
            if next.is_none() {
                // With nothing left to try, an empty start is the end.
                self.eof = matches!(stop, Stop::EmptyAtStart);
                return if self.eof { Ok(()) } else { Err(error) };
            }
            // Bytes already read must reach the output through the next
            // mechanism, which only read/write can do, and only from a pipe.
            let carried =
                matches!(self.stage, Stage::Pipe(_)) && next == Some(Mechanism::ReadWrite);
            if self.buffered() > 0 && !carried {
                return Err(error);
            }

            stats::count_fallback(reason);
            let code = if reason == Fallback::EmptyAtStart {
                0
            } else {
                error.code()
            };
            self.fallback.get_or_insert((self.mechanism(), code));
            let stranded = self.take_stranded()?;
            self.index += 1;
            match self.enter() {
                Ok(stage) => self.stage = stage,
                Err(next) => {
                    stop = next;
                    continue;
                }
            }
            if let (Stage::Buffer { lease, start, end }, Some(bytes)) = (&mut self.stage, stranded)
            {
                lease.bytes()[..bytes.len()].copy_from_slice(&bytes);
                (*start, *end) = (0, bytes.len());
            }
            return Ok(());
        }
    }

    /// Takes the bytes that rest in a leased pipe out of it, so the next
    /// mechanism can write them.
    fn take_stranded(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let Stage::Pipe(lease) = &mut self.stage else {
            return Ok(None);
        };
        let mut bytes = vec![0u8; lease.buffered];
        let mut got = 0;
        while got < bytes.len() {
            match sys::read(lease.read_end(), &mut bytes[got..], None) {
                Ok(0) => return Err(Error::Os(libc::EIO)),
                Ok(n) => got += n,
                Err(Error::Os(libc::EINTR)) => continue,
                Err(error) => return Err(error),
            }
        }
        lease.buffered = 0;
        Ok(Some(bytes))
    }
}

/// A positional offset needs a file or block device (devices such as
/// /dev/null accept one and ignore it), and must not be negative.
///
/// An O_APPEND output ignores write offsets (pwrite appends), so it cannot
/// honour one.
fn check_offset(endpoint: &Endpoint, offset: Option<i64>) -> Result<(), Error> {
    match offset {
        Some(off) if off < 0 => Err(Error::Os(libc::EINVAL)),
        Some(_) if endpoint.append => Err(Error::Os(libc::EINVAL)),
        Some(_) if !matches!(endpoint.kind, Kind::File | Kind::BlockDevice) => {
            Err(Error::Os(libc::ESPIPE))
        }
        _ => Ok(()),
    }
}

/// For a copy within one file, the count to use: to the end means to the
/// end as it is now, since the copy itself moves the end. Overlapping
/// source and destination ranges are refused, as copy_file_range does:
/// copied in chunks, they would read bytes already overwritten; so is an
/// O_APPEND output, whose writes land past the end being read.
fn within_one_file(
    input: &Endpoint,
    output: &Endpoint,
    count: u64,
    options: &Options,
) -> Result<u64, Error> {
    if input.kind != Kind::File || input.id != output.id {
        return Ok(count);
    }
    let position = |offset: Option<i64>, fd| offset.map_or_else(|| sys::position(fd), Ok);
    let from = position(options.in_offset, input.fd)?.max(0) as u64;
    let to = position(options.out_offset, output.fd)?.max(0) as u64;
    let len = count.min(input.size.saturating_sub(from));
    let overlap = from < to.saturating_add(len) && to < from.saturating_add(len);
    if overlap || (output.append && len > 0) {
        return Err(Error::Os(libc::EINVAL));
    }
    Ok(if count == TO_EOF { len } else { count })
}

/// Whether `error`, from a mechanism that has moved nothing yet, means the
/// next mechanism should be tried.
fn fallback_reason(error: Error, output: &Endpoint) -> Option<Fallback> {
    match error.errno()? {
        libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EXDEV => Some(Fallback::Unsupported),
        libc::EBADF if output.append => Some(Fallback::Unsupported),
        libc::EPERM => Some(Fallback::Denied),
        _ => None,
    }
}
