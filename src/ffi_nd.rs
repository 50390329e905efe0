//! The C ABI of the N-dimensional crop: `ezalloc_crop_nd()` (header
//! `include/ezalloc_nd.h`), a thin shell over [`crate::nd`].

use std::mem::MaybeUninit;
use std::ptr;

use libc::{c_int, c_void};

use crate::ffi::run;
use crate::nd::{self, MAX_DIMS, SMALL_DIMS, Slice};
use crate::{Error, MallocBlock};

/// Whether `p` may be read or written as a `T`: non-NULL and aligned.
fn usable<T>(p: *const T) -> bool {
    !p.is_null() && p.is_aligned()
}

/// Reads `n` values from `p`, or `None` if `p` is NULL with `n > 0`, or
/// misaligned.
///
/// # Safety
/// A non-NULL `p` is valid for reading `n` values.
unsafe fn read_array<'a, T>(p: *const T, n: usize) -> Result<Option<&'a [T]>, Error> {
    if p.is_null() {
        return Ok(None);
    }
    if !p.is_aligned() {
        return Err(Error::Inval);
    }
    // SAFETY: `p` is non-NULL and aligned, valid for `n` reads (the caller's
    // guarantee), and n <= MAX_DIMS keeps the size small.
    Ok(Some(unsafe { std::slice::from_raw_parts(p, n) }))
}

/// Copies a window of an N-dimensional strided array into a new
/// C-contiguous block from `malloc()`: numpy's `a[key].copy()` for a key of
/// slices.
///
/// The input has `ndim` axes (0 to 64) of `shape[k]` elements of `itemsize`
/// bytes; `strides[k]` is the distance in bytes between neighbours along
/// axis `k` (negative allowed; NULL: C-contiguous). `src` is the address of
/// element (0, ..., 0); no alignment is required.
///
/// On axis `k` the window takes the indices `start[k]`, `start[k] + step[k]`,
/// ... before `stop[k]` (after it for a negative step; none when `stop` is
/// not beyond `start`): the values Python's `PySlice_AdjustIndices` gives.
/// It must fit the axis: `start` and `stop` both in `[0, shape]` for a
/// positive step, both in `[-1, shape - 1]` for a negative one. `step` NULL means
/// 1 everywhere; `start` or `stop` NULL means numpy's default for an omitted
/// bound (the whole axis in the step's direction).
///
/// On success `*out` is the copy (never NULL, even when empty; release it
/// with `free()` or `ezalloc_free()`), `out_shape[k]` is the number of
/// indices taken on axis `k`, and the function returns 0 with errno
/// unchanged. Otherwise it returns the error number, which it also stores in
/// errno, sets `*out` to NULL and every `out_shape[k]` to 0 (the window's
/// shape for ENOMEM), when those are usable (`out_shape` is left untouched
/// when `ndim > 64`):
/// - EINVAL: `out` NULL or misaligned; `shape` or `out_shape` NULL with
///   `ndim > 0`; an array pointer misaligned; `ndim > 64`; `itemsize` 0;
///   a step of 0; the product of the nonzero extents times `itemsize` above
///   PTRDIFF_MAX; (after the window check) a byte offset of an element read,
///   or the span read, that does not fit in ptrdiff_t; `src` NULL with a
///   non-empty window; (before the allocation) addresses of the span read
///   that wrap around the address space.
/// - EPERM: the window does not fit the array (see above).
/// - ENOMEM: `malloc()` failed.
/// - ENOTRECOVERABLE: an internal error (a bug), caught before reaching C.
///
/// Nothing is allocated unless the call succeeds.
///
/// # Safety
/// The array pointers are NULL or valid for `ndim` reads; `out` is NULL or
/// valid for a write; when the window is not empty, every byte of every
/// element it selects is readable from `src` and not written during the call.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ezalloc_crop_nd(
    src: *const c_void,
    itemsize: usize,
    ndim: usize,
    shape: *const usize,
    strides: *const isize,
    start: *const isize,
    stop: *const isize,
    step: *const isize,
    out: *mut *mut c_void,
    out_shape: *mut usize,
) -> c_int {
    if ndim <= SMALL_DIMS {
        // SAFETY: the caller's guarantees, passed on.
        unsafe {
            crop_nd::<SMALL_DIMS>(
                src, itemsize, ndim, shape, strides, start, stop, step, out, out_shape,
            )
        }
    } else {
        // SAFETY: the caller's guarantees, passed on.
        unsafe {
            crop_nd::<MAX_DIMS>(
                src, itemsize, ndim, shape, strides, start, stop, step, out, out_shape,
            )
        }
    }
}

/// [`ezalloc_crop_nd`] with arrays of `N` axes (`N` at least `ndim` when
/// `ndim <= MAX_DIMS`): a small call fills and copies no array of
/// [`MAX_DIMS`] axes.
///
/// # Safety
/// As for [`ezalloc_crop_nd`].
#[allow(clippy::too_many_arguments)]
unsafe fn crop_nd<const N: usize>(
    src: *const c_void,
    itemsize: usize,
    ndim: usize,
    shape: *const usize,
    strides: *const isize,
    start: *const isize,
    stop: *const isize,
    step: *const isize,
    out: *mut *mut c_void,
    out_shape: *mut usize,
) -> c_int {
    // The window's shape, for the success and ENOMEM outputs.
    let mut window_shape = [0usize; N];
    let result = run(|| {
        if !usable(out) || ndim > N || (ndim > 0 && !usable(out_shape)) {
            return Err(Error::Inval);
        }
        // SAFETY: the caller guarantees the array pointers are NULL or valid
        // for ndim reads.
        let (shape, strides, start, stop, step) = unsafe {
            (
                read_array(shape, ndim)?,
                read_array(strides, ndim)?,
                read_array(start, ndim)?,
                read_array(stop, ndim)?,
                read_array(step, ndim)?,
            )
        };
        if ndim == 0 {
            // A 0-d array: its one element, nothing to plan (the checks and
            // their order are those of the general path for no axis).
            if itemsize == 0 || itemsize > isize::MAX as usize || src.is_null() {
                return Err(Error::Inval);
            }
            if (src as usize).checked_add(itemsize).is_none() {
                return Err(Error::Inval); // the element's address range wraps
            }
            let mut block = MallocBlock::with_len(itemsize).ok_or(Error::NoMem)?;
            // SAFETY: the caller guarantees the window's one element, the
            // `itemsize` bytes at `src`, is readable; the block is as long.
            let element =
                unsafe { std::slice::from_raw_parts(src.cast::<MaybeUninit<u8>>(), itemsize) };
            block.as_uninit_mut().copy_from_slice(element);
            return Ok(block);
        }
        let shape = shape.ok_or(Error::Inval)?;
        let mut window = [Slice::range(0, 0); N];
        for k in 0..ndim {
            window[k] = Slice::with_defaults(
                start.map(|s| s[k]),
                stop.map(|s| s[k]),
                step.map_or(1, |s| s[k]),
                shape[k],
            );
        }
        let checked = nd::check_dims::<N>(itemsize, shape, strides, &window[..ndim])?;
        if !checked.is_empty() && src.is_null() {
            return Err(Error::Inval);
        }
        window_shape[..ndim].copy_from_slice(checked.shape());
        // SAFETY: the caller guarantees every element of the window is
        // readable from `src` (the address of element 0), unchanged during
        // the call.
        unsafe { nd::crop_raw(src.cast(), &checked) }
    });
    let (block, rc) = match result {
        Ok(block) => (block.into_raw(), 0),
        Err(e) => {
            if e != Error::NoMem {
                window_shape = [0; N];
            }
            (ptr::null_mut(), e.errno())
        }
    };
    if usable(out) {
        // SAFETY: `out` is non-NULL and aligned; the caller guarantees it is
        // valid for a write.
        unsafe { out.write(block) };
    }
    if ndim <= N && usable(out_shape) {
        // SAFETY: `out_shape` is non-NULL and aligned; the caller guarantees
        // it is valid for ndim writes.
        unsafe { ptr::copy_nonoverlapping(window_shape.as_ptr(), out_shape, ndim) };
    }
    rc
}
