//! The process-wide thread setting: ezalloc_set_threads() and
//! ezalloc_get_threads(), and a panic on a crop's helper thread. One test
//! function, in its own test binary (its own process), since the setting is
//! global.

use std::ptr;

use ezalloc::ffi::{crop, ezalloc_free};
use libc::c_int;

fn thread_count_set_and_get() {
    use ezalloc::ffi::{ezalloc_get_threads, ezalloc_set_threads};
    use ezalloc::parallel::{MAX_THREADS, default_threads};
    let default = default_threads() as c_int;
    errno::set_errno(errno::Errno(9));
    let before = ezalloc_get_threads();
    assert_eq!(ezalloc_set_threads(3), before);
    assert_eq!(ezalloc_get_threads(), 3);
    assert_eq!(ezalloc_set_threads(1000), 3);
    assert_eq!(ezalloc_get_threads(), MAX_THREADS as c_int);
    assert_eq!(ezalloc_set_threads(0), MAX_THREADS as c_int);
    assert_eq!(ezalloc_get_threads(), default);
    assert_eq!(errno::errno().0, 9);
    assert_eq!(ezalloc_set_threads(-1), -1);
    assert_eq!(errno::errno().0, libc::EINVAL);
    assert_eq!(ezalloc_get_threads(), default);
    ezalloc_set_threads(before);
}

/// A large crop whose helper threads panic (test hook): ENOTRECOVERABLE,
/// NULL out, dims 0, nothing leaked; the next crop is correct.
fn a_panic_in_a_crop_helper_is_enotrecoverable() {
    use ezalloc::ffi::ezalloc_set_threads;
    use ezalloc::parallel::panic_in_helpers_for_tests;
    let previous = ezalloc_set_threads(2);
    let (dim1, dim2): (c_int, c_int) = (2100, 2100);
    let input: Vec<c_int> = (0..dim1 * dim2).map(|k| k * 3 + 1).collect();
    let run = || {
        let mut out: *mut c_int = 7 as *mut c_int;
        let (mut r, mut c) = (-1, -1);
        errno::set_errno(errno::Errno(5));
        // SAFETY: `input` holds dim1 * dim2 ints; outputs are locals.
        unsafe {
            crop(
                input.as_ptr().cast_mut(),
                dim1,
                dim2,
                1,
                2049,
                2,
                2050,
                &mut out,
                &mut r,
                &mut c,
            )
        };
        (errno::errno().0, out, r, c)
    };
    panic_in_helpers_for_tests(true);
    let failed = run();
    panic_in_helpers_for_tests(false);
    assert_eq!(failed, (libc::ENOTRECOVERABLE, ptr::null_mut(), 0, 0));
    let (err, out, r, c) = run();
    assert_eq!((err, r, c), (5, 2048, 2048));
    assert!(!out.is_null());
    // SAFETY: on success the block holds r * c ints.
    let got = unsafe { std::slice::from_raw_parts(out, 2048 * 2048) };
    let same = got
        .chunks(2048)
        .enumerate()
        .all(|(j, row)| row == &input[(j + 1) * 2100 + 2..(j + 1) * 2100 + 2050]);
    assert!(same);
    // SAFETY: the block came from crop and is released once.
    unsafe { ezalloc_free(out.cast()) };
    ezalloc_set_threads(previous);
}

#[test]
fn process_wide_thread_setting() {
    thread_count_set_and_get();
    a_panic_in_a_crop_helper_is_enotrecoverable();
}
