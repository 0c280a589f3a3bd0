//! Opening and closing mappings, and failing to open them, leaves no
//! descriptor and no mapping behind. (Alone in its binary so that no other
//! test opens files while this one counts.)

mod common;

use std::os::fd::AsRawFd;

use common::*;
use zcio::error::*;
use zcio::ffi::map::*;

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn no_descriptor_or_mapping_leaks() {
    let file = file_with(&pattern(10_000, 14));
    let (fds_before, maps_before) = (open_fds(), mappings());
    for _ in 0..100 {
        let mut map = std::ptr::null_mut();
        // SAFETY: map is a live local; each opened map is closed once.
        unsafe {
            assert_eq!(
                zcio_map_open(file.as_raw_fd(), 1, 0, ZCIO_MAP_POPULATE, &mut map),
                ZCIO_OK
            );
            zcio_map_close(map);
            assert_eq!(
                zcio_map_open(file.as_raw_fd(), 0, 20_000, 0, &mut map),
                ZCIO_EBOUNDS
            );
        }
    }
    assert_eq!(open_fds(), fds_before);
    assert_eq!(mappings(), maps_before);
}
