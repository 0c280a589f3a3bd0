//! Choosing how to copy between two descriptors: which mechanisms can
//! serve the pair, in the order to try them.

use std::os::fd::RawFd;

use crate::error::Error;
use crate::sys;

/// A way of moving bytes. The numbers are the C API's `ZCIO_MECH_*` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Mechanism {
    CopyFileRange = 1,
    Sendfile = 2,
    Splice = 3,
    ReadWrite = 4,
}

impl Mechanism {
    /// This mechanism's bit in a mask of allowed mechanisms.
    pub fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// What a descriptor is, as far as choosing a mechanism goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    BlockDevice,
    Pipe,
    Socket,
    /// Character devices, directories and anything else: read/write only.
    Other,
}

/// A descriptor and the facts about it that the plan depends on.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub fd: RawFd,
    pub kind: Kind,
    pub nonblocking: bool,
    pub append: bool,
    /// O_DIRECT: reads and writes need aligned buffers, offsets and lengths.
    pub direct: bool,
    /// The size fstat reports (0 for pipes, sockets and procfs files).
    pub size: u64,
    /// Device and inode, to recognise two descriptors of one file.
    pub id: (u64, u64),
}

impl Endpoint {
    /// Learns what the plan needs of `fd`. An input file's status flags are
    /// not read: only O_DIRECT would matter there, and a read/write copy
    /// that O_DIRECT refuses falls back to the kernel's own copy.
    pub fn inspect(fd: RawFd, is_output: bool) -> Result<Endpoint, Error> {
        let info = sys::file_info(fd)?;
        let kind = match info.mode & libc::S_IFMT {
            libc::S_IFREG => Kind::File,
            libc::S_IFBLK => Kind::BlockDevice,
            libc::S_IFIFO => Kind::Pipe,
            libc::S_IFSOCK => Kind::Socket,
            _ => Kind::Other,
        };
        let flags = match kind {
            Kind::File | Kind::BlockDevice if !is_output => 0,
            _ => sys::status_flags(fd)?,
        };
        Ok(Endpoint {
            fd,
            kind,
            nonblocking: flags & libc::O_NONBLOCK != 0,
            append: flags & libc::O_APPEND != 0,
            direct: flags & libc::O_DIRECT != 0,
            size: info.size,
            id: info.id,
        })
    }

    fn is_file_like(&self) -> bool {
        matches!(self.kind, Kind::File | Kind::BlockDevice)
    }

    /// True if the bytes this descriptor reads cannot change after a copy
    /// returns: a memfd sealed against writes, or a file on a read-only
    /// mount. Sockets qualify too: their buffers belong to the kernel.
    pub fn is_immutable_source(&self) -> bool {
        const SEALED: i32 = libc::F_SEAL_WRITE | libc::F_SEAL_FUTURE_WRITE;
        match self.kind {
            Kind::Socket => true,
            Kind::File | Kind::BlockDevice => {
                sys::seals(self.fd).is_ok_and(|seals| seals & SEALED != 0)
                    || sys::on_read_only_mount(self.fd).unwrap_or(false)
            }
            _ => false,
        }
    }
}

/// What the caller allows and prefers.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Mask of `Mechanism::bit()`s that may be used.
    pub allowed: u32,
    /// Use zero-copy only when later writes to the source cannot show up in
    /// the output.
    pub stable_source: bool,
    /// Transfers smaller than this use read/write; `None` picks the
    /// measured default for the pair.
    pub read_write_below: Option<u64>,
}

/// Below these sizes read/write beats the zero-copy mechanisms, measured
/// with `demos/zcio-sweep` on a 2-vCPU VM (Linux 6.18, ext4 and tmpfs):
/// between files, copy_file_range costs 6-16% more than read/write up to
/// 4 KiB and 8-20% less at 16 and 64 KiB; into a TCP socket, sendfile ties
/// read/write at 512 B and wins from 4 KiB on (about half the time from
/// 64 KiB), so it is used at every size.
pub(crate) const FILE_TO_FILE_READ_WRITE_BELOW: u64 = 16 << 10;
pub(crate) const FILE_TO_OTHER_READ_WRITE_BELOW: u64 = 0;

/// The order in which mechanisms are tried, and why read/write may have been
/// chosen outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    chain: [Option<Mechanism>; 4],
    pub small: bool,
    pub stable: bool,
}

impl Plan {
    pub fn get(&self, index: usize) -> Option<Mechanism> {
        self.chain.get(index).copied().flatten()
    }
}

/// Picks the mechanisms for copying `count` bytes (`u64::MAX`: to the end)
/// from `input` to `output`, from `in_offset` if positional.
///
/// sendfile cannot write at an output offset, so a positional output rules
/// it out; an O_APPEND output rules out every zero-copy mechanism.
pub fn plan(
    input: &Endpoint,
    output: &Endpoint,
    count: u64,
    in_offset: Option<i64>,
    positional_out: bool,
    policy: &Policy,
) -> Result<Plan, Error> {
    use Mechanism::*;
    let mut order: &[Mechanism] = match (input.kind, output.kind) {
        (Kind::File, Kind::File) if positional_out => &[CopyFileRange, ReadWrite],
        (Kind::File, Kind::File) if !output.append => &[CopyFileRange, Sendfile, ReadWrite],
        (Kind::File | Kind::BlockDevice, _) if positional_out => &[Splice, ReadWrite],
        (Kind::File | Kind::BlockDevice, _) if !output.append => &[Sendfile, ReadWrite],
        (Kind::Pipe | Kind::Socket, _) if !output.append => &[Splice, ReadWrite],
        _ => &[ReadWrite],
    };

    // O_DIRECT outputs are served best by the kernel's own copies, which
    // align for them; read/write would need aligned lengths and offsets.
    // (An input's O_DIRECT is not looked up; see `Endpoint::inspect`.)
    let direct = output.direct;
    let small =
        order[0] != ReadWrite && !direct && is_small(input, output, count, in_offset, policy);
    let stable = policy.stable_source && !input.is_immutable_source() && !output.is_file_like();
    if stable {
        order = &[ReadWrite];
    } else if small {
        // Read/write first; should the kernel refuse it before a byte moved
        // (an O_DIRECT input wants aligned lengths), the zero-copy order.
        order = match order {
            [CopyFileRange, Sendfile, ReadWrite] => &[ReadWrite, CopyFileRange, Sendfile],
            [CopyFileRange, ReadWrite] => &[ReadWrite, CopyFileRange],
            [Sendfile, ReadWrite] => &[ReadWrite, Sendfile],
            [Splice, ReadWrite] => &[ReadWrite, Splice],
            _ => &[ReadWrite],
        };
    }

    let mut chain = [None; 4];
    let allowed = order.iter().filter(|m| policy.allowed & m.bit() != 0);
    for (slot, mechanism) in chain.iter_mut().zip(allowed) {
        *slot = Some(*mechanism);
    }
    if chain[0].is_none() {
        return Err(Error::NoMechanism);
    }
    Ok(Plan {
        chain,
        small,
        stable,
    })
}

/// Whether the bytes to copy are known to be fewer than the read/write
/// threshold for this pair.
fn is_small(
    input: &Endpoint,
    output: &Endpoint,
    count: u64,
    in_offset: Option<i64>,
    policy: &Policy,
) -> bool {
    let default = match output.kind {
        Kind::File => FILE_TO_FILE_READ_WRITE_BELOW,
        _ => FILE_TO_OTHER_READ_WRITE_BELOW,
    };
    let threshold = policy.read_write_below.unwrap_or(default);
    if count < threshold {
        return true;
    }
    // A size of 0 may be a procfs file whose real length is unknown. The
    // file position is only looked up when the size alone cannot decide.
    let left_in_file = match (input.kind, input.size) {
        (Kind::File, size) if size > 0 && size >= threshold => {
            let start = in_offset
                .or_else(|| sys::position(input.fd).ok())
                .unwrap_or(0);
            size.saturating_sub(start.max(0) as u64)
        }
        (Kind::File, size) if size > 0 => size,
        _ => u64::MAX,
    };
    count.min(left_in_file) < threshold
}
