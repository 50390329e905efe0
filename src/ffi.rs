//! The C ABI: thin `extern "C"` functions over [`crate::window`].
//!
//! Every function catches panics (none reaches C), reports failure through
//! `errno`, and restores `errno` to its value on entry when it succeeds.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use libc::{c_int, c_void};

use crate::window::{self, Shape, Window};
use crate::{Error, parallel};

/// Runs `body` with panics caught and sets `errno`: the error's value on
/// failure, the value `errno` had on entry on success.
pub fn run<T>(body: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let saved = errno::errno();
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or(Err(Error::Internal));
    errno::set_errno(match &result {
        Ok(_) => saved,
        Err(e) => errno::Errno(e.errno()),
    });
    result
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

/// Allocates `ni` ints with `malloc(ni * sizeof(int))`, the size computed as C
/// computes it (a negative `ni` converts to a huge size, which fails).
///
/// On return `*veco` is the block (uninitialised; the caller owns it and
/// releases it with `free()` or `ezalloc_free()`) or NULL, and `*n` is `ni`.
/// `ni == 0` behaves as `malloc(0)`: on glibc a non-NULL block to free.
///
/// errno: left unchanged on success.
/// - ENOMEM: malloc returned NULL; `*veco` is NULL, `*n` is still `ni`.
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
        Ok(block) => (block.into_raw(), ni),
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
/// Outputs of 8 MiB or more are copied by up to `EZALLOC_THREADS` threads
/// (default: the cores this thread may run on; at most 8; read once, at the
/// first call): the calling thread and helper pthreads, all joined before
/// crop() returns. A helper that cannot start leaves its rows to the caller.
///
/// errno: left unchanged on success.
/// - EPERM: the window fails the check above; `*arr_out` is NULL and both
///   dims out are 0. A bad window is EPERM even when `arr_in` is NULL.
/// - ENOMEM: malloc returned NULL; `*arr_out` is NULL, the dims out are the
///   window's dimensions.
/// - EINVAL: an out-pointer is NULL, or `arr_in` is NULL with a non-empty
///   valid window (or a pointer is misaligned); nothing is allocated and the
///   usable out-pointers receive NULL and 0.
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
        let checked = window.check(dim1, dim2)?;
        let (start, len) = window.source_span(dim2, checked);
        if len > 0 && !usable(arr_in) {
            return Err(Error::Inval);
        }
        shape = checked;
        // Allocate before reading the input, as the original does.
        let mut block = window::output_block(checked)?;
        if len > isize::MAX as usize / size_of::<c_int>() {
            // No array of dim1 * dim2 ints can be that large: the input
            // cannot be what the caller says it is.
            return Err(Error::Inval);
        }
        let src: &[c_int] = if len == 0 {
            &[]
        } else {
            // SAFETY: `arr_in` is non-NULL and aligned; the caller guarantees
            // it points to dim1 * dim2 ints not written during the call, and
            // the checked window's span `start..start + len` lies within them
            // (its size was checked against isize::MAX above).
            unsafe { std::slice::from_raw_parts(arr_in.add(start), len) }
        };
        let threads = parallel::crop_threads();
        parallel::copy_window_parallel(src, dim2 as usize, checked, block.as_uninit_mut(), threads);
        Ok(block)
    });
    let (block, dims): (*mut c_int, Shape) = match result {
        Ok(block) => (block.into_raw(), shape),
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
