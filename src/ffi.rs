//! The C ABI: thin `extern "C"` functions over [`crate::window`].
//!
//! Every function catches panics (none reaches C), reports failure through
//! `errno`, and restores `errno` to its value on entry when it succeeds.

use std::panic::{self, AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use libc::{c_int, c_void};

use crate::window::{self, Shape, Window};
use crate::{Error, nd, parallel};

/// Runs `body` with panics caught, and sets `errno`: the error's value on
/// failure, the value `errno` had on entry on success.
///
/// A copy passes no cancellation point (the pool's waits and thread starts
/// run with cancellation disabled, see [`parallel::NoCancel`]), but the
/// report of a caught panic would: the panic hook writes its message to
/// stderr (`write`), where a pending cancel would start a forced unwind that
/// `catch_unwind` cannot stop, and the process would abort instead of
/// reporting [`Error::Internal`]. So the panic hook is wrapped, once (see
/// `panic_report_guarded`), to run with cancellation disabled. Until the
/// wrapper is in place (or where it cannot be installed), cancellation is
/// disabled for the whole call instead.
pub fn run<T>(body: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let _no_cancel = (!panic_report_guarded()).then(parallel::NoCancel::new);
    let saved = errno::errno();
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or(Err(Error::Internal));
    errno::set_errno(match &result {
        Ok(_) => saved,
        Err(e) => errno::Errno(e.errno()),
    });
    result
}

/// The hook the wrapper calls: the one installed before it. Kept here, not
/// captured, so that installing the wrapper allocates nothing (a hook that
/// captures nothing is a zero-sized box, and so is the default hook).
type PanicHook = Box<dyn Fn(&panic::PanicHookInfo<'_>) + Sync + Send + 'static>;
static PREVIOUS_HOOK: OnceLock<PanicHook> = OnceLock::new();

/// The wrapper: the previous hook, with cancellation disabled (and the
/// caller's state restored after it).
fn report_panic(info: &panic::PanicHookInfo<'_>) {
    let _no_cancel = parallel::NoCancel::new();
    if let Some(previous) = PREVIOUS_HOOK.get() {
        previous(info);
    }
}

/// The state of the panic hook's wrapper.
static HOOK: AtomicU8 = AtomicU8::new(HOOK_NONE);
const HOOK_NONE: u8 = 0;
const HOOK_BUSY: u8 = 1;
const HOOK_SET: u8 = 2;

/// Whether the panic hook runs with cancellation disabled; wraps the
/// current hook so on first use.
///
/// The wrapper calls the hook it replaced for every panic, so a panic's
/// report is unchanged, with cancellation disabled around it (and the
/// thread's state restored after it). No thread-local flag tells a panic
/// inside a call from others: touching a thread-local of a library loaded
/// with `dlopen` makes glibc allocate that thread's block of it, which
/// stays after `dlclose`. In the shared and the static library the hook
/// belongs to the library's own copy of Rust's standard library, which
/// nothing else uses, so only the library's panics reach it. A Rust program
/// that depends on the crate shares it: its own panics are then reported
/// with cancellation disabled too, and a hook it sets after the library's
/// first call replaces the wrapper.
#[inline]
fn panic_report_guarded() -> bool {
    HOOK.load(Ordering::Acquire) == HOOK_SET || install_panic_report_guard()
}

/// The first use of [`panic_report_guarded`]: installs the wrapper, unless
/// another thread is doing so or has done so meanwhile (or this one is
/// panicking); whether this call installed it.
#[cold]
fn install_panic_report_guard() -> bool {
    // set_hook panics on a panicking thread (a Rust host's destructor may
    // call a C entry point while unwinding): a later call tries again.
    if std::thread::panicking()
        || HOOK
            .compare_exchange(HOOK_NONE, HOOK_BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        return false;
    }
    let installed = catch_unwind(|| {
        let previous = panic::take_hook();
        match PREVIOUS_HOOK.set(previous) {
            Ok(()) => {
                panic::set_hook(Box::new(report_panic));
                true
            }
            Err(previous) => {
                // Only after an earlier attempt panicked: leave it as it was.
                panic::set_hook(previous);
                false
            }
        }
    })
    .unwrap_or(false);
    let state = if installed { HOOK_SET } else { HOOK_NONE };
    HOOK.store(state, Ordering::Release);
    installed
}

/// Whether `p` may be written or read as a `T`: non-NULL and aligned.
fn usable<T>(p: *const T) -> bool {
    !p.is_null() && p.is_aligned()
}

/// Stores `value` through `out`, unless `out` is NULL or misaligned.
///
/// # Safety
/// A usable `out` must be valid for a write of `T`.
unsafe fn store<T>(out: *mut T, value: T) {
    if usable(out) {
        // SAFETY: `out` is non-NULL and aligned; the caller guarantees it is
        // valid for writes.
        unsafe { out.write(value) }
    }
}

/// Allocates `ni` ints with `malloc(ni * sizeof(int))`. A negative `ni`
/// (which C converts to a size too large for malloc), or a size that does
/// not fit in `size_t` (32-bit targets), fails with ENOMEM.
///
/// On return `*veco` is the block (uninitialised; the caller owns it and
/// releases it with `free()` or `ezalloc_free()`) or NULL, and `*n` is `ni`.
/// `ni == 0` behaves as `malloc(0)`: on glibc a non-NULL block to free.
///
/// errno: left unchanged on success.
/// - ENOMEM: malloc returned NULL, or the size cannot be represented (see
///   above); `*veco` is NULL, `*n` is still `ni`.
/// - EINVAL: `veco` or `n` is NULL (or misaligned); nothing is allocated,
///   and the other out-pointer, if usable, receives NULL or 0.
///
/// # Safety
/// `veco` and `n` are NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn alloc(ni: c_int, veco: *mut *mut c_int, n: *mut c_int) {
    let result = run(|| {
        if !usable(veco) || !usable(n) {
            return Err(Error::Inval);
        }
        window::alloc_block(ni)
    });
    let (block, len) = match result {
        Ok(block) => (block.into_raw().cast(), ni),
        Err(Error::NoMem) => (ptr::null_mut(), ni),
        Err(_) => (ptr::null_mut(), 0),
    };
    // SAFETY: the caller guarantees both pointers are NULL or writable; store
    // skips unusable ones.
    unsafe {
        store(veco, block);
        store(n, len);
    }
}

/// Copies rows `d1_0..d1_1` and columns `d2_0..d2_1` (ends excluded) of the
/// row-major `dim1` x `dim2` array `arr_in` into a new malloc'd block.
///
/// The window must satisfy `0 <= d1_0 <= d1_1 < dim1` and
/// `0 <= d2_0 <= d2_1 < dim2`. The ends are strict: a window that ends at the
/// last row or column is refused, as in the original. On success `*arr_out`
/// is the row-major copy (the caller owns it and releases it with `free()` or
/// `ezalloc_free()`), `*dim1_out = d1_1 - d1_0` and `*dim2_out = d2_1 - d2_0`.
/// An empty window gives `malloc(0)`'s block and reads nothing from `arr_in`.
/// Nothing is printed.
///
/// Outputs of 96 KiB or more are copied by up to ezalloc_get_threads()
/// threads: the calling thread and helper pthreads of a pool, started on
/// the first copy of 1 MiB or more (or of 96 KiB or more within 50 us of
/// another) with every signal blocked, kept for the next one,
/// gone after 200 ms idle, after ezalloc_set_threads(1), and when the
/// library is unloaded; no helper reads the input or writes the output
/// after crop() returns. A helper that cannot start leaves its rows to the
/// caller. The call passes no cancellation point: a cancel acts at the
/// caller's next one after the call. It leaves the cancellation state as it
/// was.
///
/// errno: left unchanged on success. Checked in this order:
/// - EINVAL: an out-pointer is NULL (or misaligned); nothing is allocated
///   and the usable out-pointers receive NULL and 0.
/// - EPERM: the window fails the check above; `*arr_out` is NULL and both
///   dims out are 0. A bad window is EPERM whatever `arr_in`, `dim1` and
///   `dim2` are.
/// - EINVAL: the window is not empty, and `dim1 * dim2 * sizeof(int)`
///   exceeds the largest object size (`PTRDIFF_MAX`), so that no such input
///   exists, or `arr_in` is NULL or misaligned. Nothing is read or
///   allocated; `*arr_out` is NULL and both dims out are 0.
/// - ENOMEM: malloc returned NULL; `*arr_out` is NULL, the dims out are the
///   window's dimensions.
/// - ENOTRECOVERABLE: an internal error (a bug); nothing is leaked.
///
/// # Safety
/// `arr_in` is NULL or points to `dim1 * dim2` readable ints that nobody
/// writes during the call; the out-pointers are NULL or valid for writes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn crop(
    arr_in: *mut c_int,
    dim1: c_int,
    dim2: c_int,
    d1_0: c_int,
    d1_1: c_int,
    d2_0: c_int,
    d2_1: c_int,
    arr_out: *mut *mut c_int,
    dim1_out: *mut c_int,
    dim2_out: *mut c_int,
) {
    let empty = Shape { rows: 0, cols: 0 };
    let mut shape = empty;
    let result = run(|| {
        if !usable(arr_out) || !usable(dim1_out) || !usable(dim2_out) {
            return Err(Error::Inval);
        }
        let window = Window {
            d1_0,
            d1_1,
            d2_0,
            d2_1,
        };
        // The original checks the window first, whatever the rest is.
        let checked = window.check(dim1, dim2)?;
        if checked.is_empty() {
            // Reads nothing: the original's malloc(0), whatever arr_in,
            // dim1 and dim2 are.
            shape = checked;
            return window::output_block(checked);
        }
        // No dim1 x dim2 array larger than isize::MAX bytes exists: refuse
        // before reading or allocating anything.
        let input_len = window::input_len(dim1, dim2)?;
        if !usable(arr_in) {
            return Err(Error::Inval);
        }
        let (start, len) = window.source_span(dim2, checked)?;
        if start.checked_add(len).is_none_or(|end| end > input_len) {
            return Err(Error::Inval);
        }
        shape = checked;
        // Allocate before reading the input, as the original does.
        let mut block = window::output_block(checked)?;
        // SAFETY: `arr_in` is non-NULL and aligned; the caller guarantees it
        // points to dim1 * dim2 ints not written during the call (an array
        // of at most isize::MAX bytes, checked above), and the checked
        // window's span `start..start + len` lies within them.
        let src = unsafe { std::slice::from_raw_parts(arr_in.add(start), len) };
        let (rows, cols) = (checked.rows as usize, checked.cols as usize);
        nd::copy_window_c_int(src, dim2 as usize, rows, cols, block.as_uninit_mut_of())?;
        Ok(block)
    });
    let (block, dims): (*mut c_int, Shape) = match result {
        Ok(block) => (block.into_raw().cast(), shape),
        Err(Error::NoMem) => (ptr::null_mut(), shape),
        Err(_) => (ptr::null_mut(), empty),
    };
    // SAFETY: the caller guarantees the out-pointers are NULL or writable;
    // store skips unusable ones.
    unsafe {
        store(arr_out, block);
        store(dim1_out, dims.rows);
        store(dim2_out, dims.cols);
    }
}

/// Sets the number of threads (the calling thread included) that large
/// copies use from now on, in every thread of the process.
///
/// `n >= 1` sets it (values above 64 count as 64); `n == 0` returns to the
/// default, fixed when the library was loaded: `EZALLOC_THREADS` if it was
/// a positive integer (at most 64), else the CPUs available to the process
/// (affinity mask and cgroup CPU quota; at most 8). Outputs under 96 KiB
/// are always copied by the calling thread alone, except strided ones that
/// read many times their size (see docs/threading.md). When the setting becomes
/// 1, the helper threads of earlier large copies are joined before this
/// returns.
///
/// Returns the previous setting (what ezalloc_get_threads() returned).
/// errno: left unchanged on success.
/// - EINVAL: `n < 0`; returns -1 and changes nothing.
#[unsafe(no_mangle)]
pub extern "C" fn ezalloc_set_threads(n: c_int) -> c_int {
    let result = run(|| {
        let n = usize::try_from(n).map_err(|_| Error::Inval)?;
        Ok(parallel::set_threads(n))
    });
    result.map_or(-1, |previous| {
        c_int::try_from(previous).unwrap_or(c_int::MAX)
    })
}

/// The number of threads (the calling thread included) that a large copy
/// uses: the value set with ezalloc_set_threads(), else the default.
/// Between 1 and 64. errno is left unchanged.
#[unsafe(no_mangle)]
pub extern "C" fn ezalloc_get_threads() -> c_int {
    run(|| Ok(parallel::threads())).map_or(-1, |n| c_int::try_from(n).unwrap_or(c_int::MAX))
}

/// Releases a block returned by `alloc()` or `crop()`; NULL is ignored.
/// It is `free()`: for FFI users (ctypes, other languages) that cannot reach
/// the C library's `free()` directly.
///
/// # Safety
/// `ptr` is NULL or a block from this library not yet released.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ezalloc_free(ptr: *mut c_void) {
    // SAFETY: the caller passes NULL or a live block obtained from malloc.
    unsafe { libc::free(ptr) }
}
