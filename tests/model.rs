//! The C ABI checked against a model of the original C functions, over
//! generated inputs (proptest), and the safe core's edge cases.

use std::ptr;

use ezalloc::Error;
use ezalloc::ffi::{alloc, crop, ezalloc_free, run};
use ezalloc::window::{Shape, Window, alloc_bytes};
use libc::c_int;
use proptest::prelude::*;

/// What the original `crop()` produces, written as its C reads: the window
/// check, then an element-by-element copy with int index arithmetic.
fn model_crop(
    input: &[c_int],
    dim1: c_int,
    dim2: c_int,
    w: Window,
) -> (Option<c_int>, Option<Vec<c_int>>, c_int, c_int) {
    let bad = w.d1_1 < w.d1_0
        || w.d2_1 < w.d2_0
        || w.d1_0 >= dim1
        || w.d1_1 >= dim1
        || w.d1_0 < 0
        || w.d1_1 < 0
        || w.d2_0 >= dim2
        || w.d2_1 >= dim2
        || w.d2_0 < 0
        || w.d2_1 < 0;
    if bad {
        return (Some(libc::EPERM), None, 0, 0);
    }
    let (r, c) = (w.d1_1 - w.d1_0, w.d2_1 - w.d2_0);
    let mut out = Vec::new();
    for j in 0..r {
        for i in 0..c {
            out.push(input[((j + w.d1_0) * dim2 + (i + w.d2_0)) as usize]);
        }
    }
    (None, Some(out), r, c)
}

/// Calls the C ABI `crop` with errno preset to `preset`; returns
/// (errno after, copied block contents or None for NULL, dims out).
fn call_crop(
    input: Option<&[c_int]>,
    dim1: c_int,
    dim2: c_int,
    w: Window,
    preset: c_int,
) -> (c_int, Option<Vec<c_int>>, c_int, c_int) {
    let mut out: *mut c_int = 7 as *mut c_int; // garbage, must be overwritten
    let (mut r, mut c) = (-1, -1);
    let arr_in = input.map_or(ptr::null_mut(), |s| s.as_ptr().cast_mut());
    errno::set_errno(errno::Errno(preset));
    // SAFETY: `input` holds dim1 * dim2 ints (or is NULL); outputs are locals.
    unsafe {
        crop(
            arr_in, dim1, dim2, w.d1_0, w.d1_1, w.d2_0, w.d2_1, &mut out, &mut r, &mut c,
        )
    };
    let err = errno::errno().0;
    let data = if out.is_null() {
        None
    } else {
        let len = (r.max(0) as usize) * (c.max(0) as usize);
        // SAFETY: on success the block holds r * c initialised ints.
        let v = unsafe { std::slice::from_raw_parts(out, len) }.to_vec();
        // SAFETY: the block came from the library and is released once.
        unsafe { ezalloc_free(out.cast()) };
        Some(v)
    };
    (err, data, r, c)
}

fn array(dim1: c_int, dim2: c_int) -> Vec<c_int> {
    (0..dim1 * dim2).map(|k| k * 7 - 3).collect()
}

proptest! {
    #[test]
    fn crop_matches_the_original(
        dim1 in 0..12i32, dim2 in 0..12i32,
        d1_0 in -3..15i32, d1_1 in -3..15i32, d2_0 in -3..15i32, d2_1 in -3..15i32,
        preset in 1..200i32,
    ) {
        let input = array(dim1, dim2);
        let w = Window { d1_0, d1_1, d2_0, d2_1 };
        let (want_err, want, wr, wc) = model_crop(&input, dim1, dim2, w);
        let (err, got, r, c) = call_crop(Some(&input), dim1, dim2, w, preset);
        prop_assert_eq!(err, want_err.unwrap_or(preset));
        prop_assert_eq!(got, want);
        prop_assert_eq!((r, c), (wr, wc));
    }

    #[test]
    fn crop_null_input(d1_0 in -2..6i32, d1_1 in -2..6i32, d2_0 in -2..6i32, d2_1 in -2..6i32) {
        let w = Window { d1_0, d1_1, d2_0, d2_1 };
        let (want_err, want, wr, wc) = model_crop(&array(4, 4), 4, 4, w);
        let (err, got, r, c) = call_crop(None, 4, 4, w, 99);
        match (want_err, &want) {
            // A bad window stays EPERM; an empty window needs no input.
            (Some(e), _) => prop_assert_eq!((err, got, r, c), (e, None, 0, 0)),
            (None, Some(v)) if v.is_empty() => prop_assert_eq!((err, got, r, c), (99, want, wr, wc)),
            _ => prop_assert_eq!((err, got, r, c), (libc::EINVAL, None, 0, 0)),
        }
    }

    #[test]
    fn alloc_matches_the_original(ni in any::<i32>().prop_filter("keep it small", |n| *n < 1 << 16)) {
        let mut veco: *mut c_int = 7 as *mut c_int;
        let mut n = 12345;
        errno::set_errno(errno::Errno(42));
        // SAFETY: the out-pointers are locals.
        unsafe { alloc(ni, &mut veco, &mut n) };
        prop_assert_eq!(n, ni);
        if ni < 0 {
            prop_assert!(veco.is_null());
            prop_assert_eq!(errno::errno().0, libc::ENOMEM);
        } else {
            prop_assert!(!veco.is_null());
            prop_assert_eq!(errno::errno().0, 42);
            // SAFETY: the block holds ni ints; write them all, then free it.
            unsafe {
                std::slice::from_raw_parts_mut(veco, ni as usize).fill(1);
                ezalloc_free(veco.cast());
            }
        }
    }
}

#[test]
fn alloc_bytes_are_checked() {
    assert_eq!(alloc_bytes(0), Some(0));
    assert_eq!(alloc_bytes(3), Some(12));
    // Negative: C's size_t conversion gives a size malloc refuses.
    assert_eq!(alloc_bytes(-1), None);
    assert_eq!(alloc_bytes(i32::MIN), None);
    // 2^31 - 1 ints: 8 GiB, representable only with 64-bit sizes; C's
    // product would wrap around on 32-bit targets.
    #[cfg(target_pointer_width = "64")]
    assert_eq!(alloc_bytes(i32::MAX), Some((i32::MAX as usize) * 4));
    #[cfg(target_pointer_width = "32")]
    {
        assert_eq!(alloc_bytes(i32::MAX), None);
        assert_eq!(alloc_bytes(1 << 30), None);
        assert_eq!(alloc_bytes((1 << 30) - 1), Some(usize::MAX - 3));
    }
}

#[test]
fn alloc_of_an_unrepresentable_size_is_enomem() {
    let sizes: &[c_int] = if cfg!(target_pointer_width = "32") {
        &[-1, i32::MIN, -(1 << 30), 1 << 30, i32::MAX]
    } else {
        &[-1, i32::MIN, -(1 << 30)]
    };
    for &ni in sizes {
        let mut veco: *mut c_int = 7 as *mut c_int;
        let mut n = 0;
        errno::set_errno(errno::Errno(42));
        // SAFETY: the out-pointers are locals.
        unsafe { alloc(ni, &mut veco, &mut n) };
        assert_eq!(
            (errno::errno().0, veco, n),
            (libc::ENOMEM, ptr::null_mut(), ni)
        );
    }
}

#[test]
fn window_rule_is_strict_at_the_end() {
    let w = |a, b, c, d| Window {
        d1_0: a,
        d1_1: b,
        d2_0: c,
        d2_1: d,
    };
    assert_eq!(w(0, 4, 0, 4).check(5, 5), Ok(Shape { rows: 4, cols: 4 }));
    assert_eq!(w(0, 5, 0, 4).check(5, 5), Err(Error::Perm));
    assert_eq!(w(0, 4, 0, 5).check(5, 5), Err(Error::Perm));
    assert_eq!(w(2, 2, 3, 3).check(5, 5), Ok(Shape { rows: 0, cols: 0 }));
    assert_eq!(w(3, 2, 0, 0).check(5, 5), Err(Error::Perm));
    assert_eq!(w(0, 0, 0, 0).check(0, 5), Err(Error::Perm));
}

#[test]
fn large_shape_bytes_do_not_overflow() {
    let s = Shape {
        rows: i32::MAX,
        cols: i32::MAX,
    };
    #[cfg(target_pointer_width = "64")]
    {
        assert_eq!(s.len(), Some((i32::MAX as usize).pow(2)));
        assert_eq!(s.bytes(), Some((i32::MAX as usize).pow(2) * 4));
    }
    // 32-bit sizes: 65536 x 65536 ints do not fit (no wrap to malloc(0)).
    #[cfg(target_pointer_width = "32")]
    {
        assert_eq!(s.len(), None);
        let w = Shape {
            rows: 65536,
            cols: 65536,
        };
        assert_eq!(w.len(), None);
        assert_eq!(w.bytes(), None);
        let w = Shape {
            rows: 32768,
            cols: 32768,
        };
        assert_eq!(w.len(), Some(1 << 30));
        assert_eq!(w.bytes(), None);
    }
}

#[test]
fn input_len_refuses_arrays_larger_than_isize_max() {
    use ezalloc::window::input_len;
    assert_eq!(input_len(3, 4), Ok(12));
    assert_eq!(input_len(0, 4), Ok(0));
    assert_eq!(input_len(-1, 4), Err(Error::Inval));
    assert_eq!(input_len(i32::MAX, i32::MAX), Err(Error::Inval));
    // The largest dimensions an array of ints may have on this target.
    let max_ints = isize::MAX as usize / 4;
    let side = (max_ints as f64).sqrt() as usize;
    let side = (side.saturating_sub(2)..side + 2)
        .filter(|s| s * s <= max_ints)
        .max()
        .unwrap();
    let side = c_int::try_from(side).unwrap_or(c_int::MAX);
    if (side as usize).pow(2) <= max_ints {
        assert_eq!(input_len(side, side), Ok((side as usize).pow(2)));
    }
    #[cfg(target_pointer_width = "32")]
    assert_eq!(input_len(65536, 65536), Err(Error::Inval));
    #[cfg(target_pointer_width = "32")]
    assert_eq!(input_len(side + 1, side + 1), Err(Error::Inval));
}

/// crop() with a small input but dims that no array can have: errno and
/// outputs, reading and allocating nothing (the input is 16 ints).
fn crop_small(dim1: c_int, dim2: c_int, w: Window) -> (c_int, bool, c_int, c_int) {
    let input = array(4, 4);
    let (err, got, r, c) = call_crop(Some(&input), dim1, dim2, w, 77);
    (err, got.is_some(), r, c)
}

#[test]
fn impossible_dimensions_are_einval_wherever_the_window_is() {
    let m = i32::MAX;
    let w = |d1_0, d1_1, d2_0, d2_1| Window {
        d1_0,
        d1_1,
        d2_0,
        d2_1,
    };
    let einval = (libc::EINVAL, false, 0, 0);
    // The case: the window's start offset overflows.
    assert_eq!(crop_small(m, m, w(m - 2, m - 1, 0, 1)), einval);
    // Windows at the start, at the end, and large.
    assert_eq!(crop_small(m, m, w(0, 1, 0, 1)), einval);
    assert_eq!(crop_small(m, m, w(0, 1, m - 2, m - 1)), einval);
    assert_eq!(crop_small(m, m, w(0, m - 1, 0, m - 1)), einval);
    #[cfg(target_pointer_width = "32")]
    {
        assert_eq!(crop_small(m, 3, w(0, 1, 0, 1)), einval);
        assert_eq!(crop_small(3, m, w(0, 1, 0, 1)), einval);
        assert_eq!(crop_small(65537, 65537, w(0, 65536, 0, 65536)), einval);
        assert_eq!(crop_small(65537, 65537, w(0, 1, 0, 1)), einval);
        assert_eq!(crop_small(1 << 14, 1 << 15, w(0, 1, 0, 1)), einval);
    }
    // The original checks the window first: a bad window is EPERM.
    let eperm = (libc::EPERM, false, 0, 0);
    assert_eq!(crop_small(m, m, w(m - 1, m, 0, 1)), eperm);
    assert_eq!(crop_small(m, m, w(1, 0, 0, 1)), eperm);
    assert_eq!(crop_small(m, m, w(-1, 0, 0, 1)), eperm);
    // An empty window reads nothing: the original's malloc(0), as for any
    // dimensions.
    assert_eq!(crop_small(m, m, w(m - 2, m - 2, 5, 9)), (77, true, 0, 4));
    assert_eq!(crop_small(m, m, w(3, 9, m - 2, m - 2)), (77, true, 6, 0));
}

#[test]
fn alloc_null_out_pointers_are_einval() {
    let mut n = 5;
    let mut veco: *mut c_int = 7 as *mut c_int;
    errno::set_errno(errno::Errno(0));
    // SAFETY: NULL is allowed; `n` is a local.
    unsafe { alloc(10, ptr::null_mut(), &mut n) };
    assert_eq!((errno::errno().0, n), (libc::EINVAL, 0));
    errno::set_errno(errno::Errno(0));
    // SAFETY: NULL is allowed; `veco` is a local.
    unsafe { alloc(10, &mut veco, ptr::null_mut()) };
    assert_eq!(errno::errno().0, libc::EINVAL);
    assert!(veco.is_null());
}

#[test]
fn crop_null_out_pointers_are_einval() {
    let input = array(4, 4);
    let mut out: *mut c_int = 7 as *mut c_int;
    let mut r = -1;
    errno::set_errno(errno::Errno(0));
    // SAFETY: `input` holds 16 ints; NULL out-pointers are allowed.
    unsafe {
        crop(
            input.as_ptr().cast_mut(),
            4,
            4,
            0,
            1,
            0,
            1,
            &mut out,
            &mut r,
            ptr::null_mut(),
        )
    };
    assert_eq!(
        (errno::errno().0, out, r),
        (libc::EINVAL, ptr::null_mut(), 0)
    );
}

#[test]
fn crop_refuses_a_misaligned_input() {
    let input = array(4, 4);
    let misaligned = input
        .as_ptr()
        .cast::<u8>()
        .wrapping_add(1)
        .cast::<c_int>()
        .cast_mut();
    let (mut out, mut r, mut c) = (ptr::null_mut(), -1, -1);
    errno::set_errno(errno::Errno(0));
    // SAFETY: a misaligned pointer is refused before any read.
    unsafe { crop(misaligned, 4, 4, 0, 1, 0, 1, &mut out, &mut r, &mut c) };
    assert_eq!(
        (errno::errno().0, out.is_null(), r, c),
        (libc::EINVAL, true, 0, 0)
    );
}

#[test]
fn a_panic_is_caught_and_reported() {
    errno::set_errno(errno::Errno(3));
    let result: Result<(), Error> = run(|| panic!("deliberate"));
    assert_eq!(result, Err(Error::Internal));
    assert_eq!(errno::errno().0, libc::ENOTRECOVERABLE);
    errno::set_errno(errno::Errno(3));
    assert_eq!(run(|| Ok::<_, Error>(1)), Ok(1));
    assert_eq!(errno::errno().0, 3);
}

#[test]
fn large_crops_equal_the_model_on_any_thread_count() {
    use ezalloc::parallel::{PARALLEL_MIN_BYTES, set_threads};
    // Windows above the threshold (split into parts on 2,
    // 7 and 1 threads; rows of every alignment), and one with fewer rows
    // than threads. Other tests may change the setting meanwhile: the
    // result must not depend on it.
    let (dim1, dim2) = (1500, 1700);
    let input: Vec<c_int> = (0..dim1 * dim2).map(|k| k ^ 0x5a5a).collect();
    for (w, threads) in [
        ((3, 1499, 5, 1699), 2),
        ((3, 1499, 5, 1699), 7),
        ((0, 1, 0, 1699), 4),
        ((1, 1499, 0, 1699), 1),
    ] {
        let (d1_0, d1_1, d2_0, d2_1) = w;
        let window = Window {
            d1_0,
            d1_1,
            d2_0,
            d2_1,
        };
        let previous = set_threads(threads);
        let got = call_crop(Some(&input), dim1, dim2, window, 5);
        set_threads(previous);
        let (rows, cols) = (d1_1 - d1_0, d2_1 - d2_0);
        let expected: Vec<c_int> = (d1_0..d1_1)
            .flat_map(|r| (d2_0..d2_1).map(move |c| (r * dim2 + c) ^ 0x5a5a))
            .collect();
        assert_eq!(got, (5, Some(expected), rows, cols));
        if rows > 1 {
            assert!(rows as usize * cols as usize * size_of::<c_int>() >= PARALLEL_MIN_BYTES);
        }
    }
}

#[test]
fn thread_setting_defaults_to_the_cpus() {
    use ezalloc::parallel::{DEFAULT_MAX_THREADS, MAX_THREADS, threads_setting};
    assert_eq!(threads_setting(None, 2), 2);
    assert_eq!(threads_setting(None, 0), 1);
    assert_eq!(threads_setting(None, 64), DEFAULT_MAX_THREADS);
    assert_eq!(threads_setting(Some("0"), 2), 2);
    assert_eq!(threads_setting(Some("-3"), 2), 2);
    assert_eq!(threads_setting(Some("many"), 3), 3);
    // An explicit value is taken as given, up to MAX_THREADS.
    assert_eq!(threads_setting(Some("1"), 8), 1);
    assert_eq!(threads_setting(Some("4"), 2), 4);
    assert_eq!(threads_setting(Some(" 3 "), 8), 3);
    assert_eq!(threads_setting(Some("5"), 0), 5);
    assert_eq!(threads_setting(Some("1000"), 2), MAX_THREADS);
    // Above MAX_THREADS means MAX_THREADS, however large (not the CPUs).
    for huge in [
        "65",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999",
        "+340282366920938463463374607431768211456",
        "000000000000000000000000000000000000000000064",
    ] {
        assert_eq!(threads_setting(Some(huge), 2), MAX_THREADS, "{huge}");
    }
    assert_eq!(threads_setting(Some("+2"), 8), 2);
    assert_eq!(threads_setting(Some("0000"), 3), 3);
    for junk in ["", " ", "+", "-0", "1e3", "0x10", "2 3", "3.0", "- 1"] {
        assert_eq!(threads_setting(Some(junk), 3), 3, "{junk:?}");
    }
}

#[test]
fn run_parts_runs_every_part_once() {
    use ezalloc::parallel::run_parts;
    use std::sync::atomic::{AtomicUsize, Ordering};
    for threads in [0, 1, 2, 3, 8, 100] {
        for parts in [0, 1, 2, 5, 64, 300] {
            let counts: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            let result = run_parts(parts, threads, &|i| {
                counts[i].fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(result, Ok(()));
            assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
        }
    }
}

#[test]
fn the_caller_takes_parts_from_the_front_and_helpers_from_the_back() {
    use ezalloc::parallel::run_parts;
    use std::sync::Mutex;
    let me = thread_id();
    for _ in 0..50 {
        let by_caller = Mutex::new(vec![false; 64]);
        let result = run_parts(64, 2, &|i| {
            // A little work per part, so that a helper has time to join.
            std::hint::black_box((0..2000).sum::<u64>());
            by_caller.lock().unwrap()[i] = thread_id() == me;
        });
        assert_eq!(result, Ok(()));
        let by_caller = by_caller.into_inner().unwrap();
        // The caller's parts are a prefix (empty if it was descheduled
        // while a helper took them all), the helpers' the rest: in a loop
        // of copies each thread writes the same rows call after call.
        let front = by_caller.iter().take_while(|&&c| c).count();
        assert!(by_caller[front..].iter().all(|&c| !c), "{by_caller:?}");
    }
}

/// The calling thread's id, to tell helpers from the caller.
fn thread_id() -> libc::pthread_t {
    // SAFETY: pthread_self has no precondition.
    unsafe { libc::pthread_self() }
}

#[test]
fn a_panic_in_a_helper_thread_is_reported_not_an_abort() {
    use ezalloc::parallel::run_parts;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let caller = thread_id();
    let on_helpers = AtomicUsize::new(0);
    let result = run_parts(16, 2, &|i| {
        // Slow parts, so that the helper takes some.
        std::thread::sleep(std::time::Duration::from_millis(5));
        if thread_id() != caller {
            on_helpers.fetch_add(1, Ordering::Relaxed);
            panic!("deliberate panic in part {i} on a helper thread");
        }
    });
    assert_eq!(
        on_helpers.load(Ordering::Relaxed),
        1,
        "no new part after a panic"
    );
    assert_eq!(result, Err(Error::Internal));
    // On the calling thread too, and the next call is fine.
    assert_eq!(
        run_parts(4, 1, &|_| panic!("deliberate")),
        Err(Error::Internal)
    );
    assert_eq!(run_parts(4, 2, &|_| ()), Ok(()));
}

#[test]
fn large_crop_through_the_c_abi_matches_the_model() {
    // 36 MB out: the parallel, huge-page path.
    let (dim1, dim2): (c_int, c_int) = (3100, 3050);
    let input: Vec<c_int> = (0..dim1 * dim2)
        .map(|k| k.wrapping_mul(2654435761u32 as i32))
        .collect();
    let w = Window {
        d1_0: 17,
        d1_1: 3017,
        d2_0: 9,
        d2_1: 3009,
    };
    let (_, want, wr, wc) = model_crop(&input, dim1, dim2, w);
    let (err, got, r, c) = call_crop(Some(&input), dim1, dim2, w, 5);
    assert_eq!((err, r, c), (5, wr, wc));
    assert!(got == want);
}

/// A C entry point that catches a panic (reported as `Error::Internal`)
/// on a thread with a cancel pending: the panic message is written to
/// stderr, a cancellation point, so without cancellation disabled the
/// cancel would act there, as a forced unwind the library cannot stop, and
/// the process would abort.
#[test]
fn a_caught_panic_with_a_cancel_pending_is_reported_not_an_abort() {
    use std::sync::atomic::{AtomicI32, Ordering};
    static OUTCOME: AtomicI32 = AtomicI32::new(0);

    // SAFETY: the prototype is POSIX's (not in the libc crate for this target).
    unsafe extern "C" {
        fn pthread_cancel(thread: libc::pthread_t) -> libc::c_int;
    }

    extern "C" fn body(_: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: cancels the calling thread, which is valid; deferred
        // cancellation acts at its next cancellation point.
        unsafe { pthread_cancel(libc::pthread_self()) };
        let result: Result<(), ezalloc::Error> =
            ezalloc::ffi::run(|| panic!("ezalloc test: a deliberate internal error"));
        let code = if result == Err(ezalloc::Error::Internal) {
            1
        } else {
            2
        };
        OUTCOME.store(code, Ordering::SeqCst);
        std::ptr::null_mut()
    }

    let mut thread: libc::pthread_t = 0;
    // SAFETY: `thread` is a valid out-pointer; `body` takes and returns a
    // pointer as a pthread start routine must, and never unwinds.
    let rc =
        unsafe { libc::pthread_create(&mut thread, std::ptr::null(), body, std::ptr::null_mut()) };
    assert_eq!(rc, 0);
    // SAFETY: joins the thread started above, once.
    assert_eq!(
        unsafe { libc::pthread_join(thread, std::ptr::null_mut()) },
        0
    );
    assert_eq!(
        OUTCOME.load(Ordering::SeqCst),
        1,
        "the thread was cancelled inside ffi::run"
    );
}
