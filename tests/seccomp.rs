//! When a seccomp filter denies copy_file_range with EPERM, as container
//! runtimes have done, zcio_copy falls back to the next mechanism from the
//! same offsets and reports why.

mod common;

use std::os::fd::AsRawFd;
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::copy::*;
use zcio::ffi::primitives::*;

/// Installs, in the calling thread only, a filter that fails one system
/// call with EPERM and allows every other.
fn deny_in_this_thread(syscall: libc::c_long) {
    let op = |code: u32, k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let filter = [
        // Load the system call number (offset 0 of struct seccomp_data).
        op(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
        op(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            syscall as u32,
            0,
            1,
        ),
        op(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
            0,
            0,
        ),
        op(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW, 0, 0),
    ];
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: program points to a valid filter for the duration of the call;
    // without the TSYNC flag the filter applies to this thread alone.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &program),
            0
        );
    }
}

#[test]
fn denied_copy_file_range_falls_back_to_sendfile() {
    let data = pattern(500_000, 51);
    let input = file_with(&data);
    let output = tempfile::tempfile().unwrap();
    let (in_fd, out_fd) = (input.as_raw_fd(), output.as_raw_fd());

    std::thread::spawn(move || {
        deny_in_this_thread(libc::SYS_copy_file_range);
        let mut copied = u64::MAX;
        // SAFETY: copied is a live local.
        let rc = unsafe {
            zcio_copy_file_range(
                in_fd,
                ptr::null_mut(),
                out_fd,
                ptr::null_mut(),
                10,
                &mut copied,
            )
        };
        assert_eq!((rc, copied), (ZCIO_EPERM, 0), "the filter is in force");

        // SAFETY: all-zero is a valid result structure.
        let mut res: zcio_copy_result = unsafe { std::mem::zeroed() };
        res.size = std::mem::size_of::<zcio_copy_result>() as u32;
        // SAFETY: res is sized and live.
        let rc = unsafe { zcio_copy(out_fd, in_fd, ZCIO_TO_EOF, ptr::null(), &mut res) };
        assert_eq!(
            (rc, res.moved, res.mechanism),
            (ZCIO_OK, 500_000, ZCIO_MECH_SENDFILE)
        );
        assert_eq!(
            (res.fallback_from, res.fallback_code),
            (ZCIO_MECH_COPY_FILE_RANGE, ZCIO_EPERM)
        );
    })
    .join()
    .unwrap();
    assert_eq!(contents(&output), data);
}
