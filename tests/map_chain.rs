//! zcio's SIGBUS handler passes on the faults it did not cause: a program
//! with its own SIGBUS handler still gets it for a fault outside zcio,
//! while zcio_map_read across a truncation is contained. (Alone in its
//! binary, in a child process, so that the program's handler is installed
//! before zcio's, as in a real program.)

mod common;

use std::os::fd::AsRawFd;
use std::ptr;

use common::*;
use zcio::error::*;
use zcio::ffi::map::*;

const PROGRAM_HANDLER_RAN: i32 = 42;

extern "C" fn program_handler(_sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(PROGRAM_HANDLER_RAN) }
}

/// Runs in the forked child; only async-signal-safe calls and no
/// allocation, since other threads of the test harness may hold locks.
unsafe fn child(map: *mut zcio_map, buf: *mut u8) -> ! {
    // SAFETY: installing a plain handler; map and buf are valid.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = program_handler as extern "C" fn(libc::c_int) as usize;
        libc::sigaction(libc::SIGBUS, &action, ptr::null_mut());

        let mut got = 0;
        let rc = zcio_map_read(map, 0, buf.cast(), 2 << 20, &mut got);
        if rc != ZCIO_ETRUNCATED || got != 1 << 20 {
            libc::_exit(1);
        }
        // A fault outside zcio: the program's own handler must run.
        ptr::read_volatile(zcio_map_data(map).add(3 << 20));
        libc::_exit(2)
    }
}

#[test]
fn faults_outside_zcio_reach_the_programs_handler() {
    let file = file_with(&pattern(4 << 20, 71));
    let mut map = ptr::null_mut();
    // SAFETY: map is a live local.
    assert_eq!(
        unsafe { zcio_map_open(file.as_raw_fd(), 0, 0, 0, &mut map) },
        ZCIO_OK
    );
    file.set_len(1 << 20).unwrap();
    let mut buf = vec![0u8; 2 << 20];

    // SAFETY: the child only makes async-signal-safe calls.
    let status = unsafe {
        match libc::fork() {
            0 => child(map, buf.as_mut_ptr()),
            pid => {
                let mut status = 0;
                assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
                status
            }
        }
    };
    assert!(libc::WIFEXITED(status), "child died: {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), PROGRAM_HANDLER_RAN);
    // SAFETY: map is closed once.
    unsafe { zcio_map_close(map) };
}
