//! The strided N-dimensional copy under every crop: validate, plan, execute.
//!
//! - **Validate** ([`check`]): window bounds, `shape x itemsize` and the byte
//!   offsets of the first and last element read, all in checked
//!   `usize`/`isize` arithmetic. An overflow is [`Error::Inval`], never a wrap;
//!   a window outside the array is [`Error::Perm`].
//! - **Plan** (`exec`): the output is C-contiguous. Length-1 axes are
//!   dropped, and neighbouring axes whose input strides chain are coalesced,
//!   so that a C-contiguous window of a C array becomes a few long rows. A
//!   short contiguous innermost run (up to 16 bytes: an RGB pixel) then
//!   becomes one element of the next axis out. The innermost axis picks the
//!   kernel.
//! - **Execute** (`exec`): contiguous runs as block copies; typed gather loops for 1, 2, 3, 4, 6, 8,
//!   12 and 16-byte elements with a stride; a cache-blocked tiled copy when the
//!   output's innermost axis is strided in the input and another axis is not
//!   (Fortran to C order, transposes). Large outputs are split along the
//!   outermost output axis across threads, and their block is advised to use
//!   huge pages.
//!
//! Nothing here allocates except the output block, so a failure is always an
//! [`Error`], never an abort.

use std::mem::MaybeUninit;

use libc::c_int;

use crate::{Error, MallocBlock};

mod exec;
pub mod simd;

use crate::parallel::threads_for;

/// The most dimensions an array may have (numpy's `NPY_MAXDIMS`).
pub const MAX_DIMS: usize = 64;

/// The window on one axis, as numpy's slices give it after
/// `PySlice_AdjustIndices`: the indices `start, start + step, ...` that lie
/// before `stop` (after it, for a negative step); none if `stop` is not
/// beyond `start` in the step's direction.
///
/// It fits an axis of length `dim` when `start` and `stop` both lie in
/// `0..=dim` (step positive) or in `-1..=dim - 1` (step negative): the
/// ranges `PySlice_AdjustIndices` clips to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    /// First index.
    pub start: isize,
    /// End, excluded.
    pub stop: isize,
    /// Distance between selected indices; never 0.
    pub step: isize,
}

/// The indices a step of `step` takes from a distance of `span` (no
/// division for the common steps of 1 and -1).
fn steps(span: isize, step: isize) -> usize {
    let span = span.max(0).unsigned_abs();
    match step.unsigned_abs() {
        1 => span,
        by => span.div_ceil(by),
    }
}

impl Slice {
    /// `start..stop` with step 1.
    pub const fn range(start: isize, stop: isize) -> Self {
        Slice {
            start,
            stop,
            step: 1,
        }
    }

    /// numpy's `a[start:stop:step]` with `None` for an omitted bound: the
    /// whole axis in the step's direction. The bounds are used as given (not
    /// clipped, not counted from the end).
    pub fn with_defaults(
        start: Option<isize>,
        stop: Option<isize>,
        step: isize,
        dim: usize,
    ) -> Self {
        let dim = isize::try_from(dim).unwrap_or(isize::MAX);
        let (first, end) = if step < 0 { (dim - 1, -1) } else { (0, dim) };
        Slice {
            start: start.unwrap_or(first),
            stop: stop.unwrap_or(end),
            step,
        }
    }

    /// How many indices the slice selects on an axis of length `dim`:
    /// [`Error::Perm`] if it does not fit, [`Error::Inval`] for step 0.
    pub fn count(self, dim: usize) -> Result<usize, Error> {
        let dim = isize::try_from(dim).map_err(|_| Error::Inval)?;
        let Slice { start, stop, step } = self;
        let fits = |lo: isize, hi: isize| (lo..=hi).contains(&start) && (lo..=hi).contains(&stop);
        if step > 0 && fits(0, dim) {
            Ok(steps(stop.saturating_sub(start), step))
        } else if step < 0 && fits(-1, dim - 1) {
            Ok(steps(start.saturating_sub(stop), step))
        } else if step == 0 {
            Err(Error::Inval)
        } else {
            Err(Error::Perm)
        }
    }
}

/// A validated window of an array with at most `N` dimensions: the
/// output's shape, and where each output element is in the input.
///
/// `N` only sizes the arrays held: small calls use a small `N` (see
/// [`SMALL_DIMS`]), so that nothing proportional to [`MAX_DIMS`] is filled
/// or copied on every call.
#[derive(Clone, Copy, Debug)]
pub struct Checked<const N: usize = MAX_DIMS> {
    itemsize: usize,
    ndim: usize,
    shape: [usize; N],
    /// Bytes between neighbours along each output axis, in the input.
    strides: [isize; N],
    /// Byte offset of the first output element in the input.
    first: isize,
    /// The bytes read, `lo..hi`, relative to the input's element 0 (`0..0`
    /// for an empty window).
    lo: isize,
    hi: isize,
    bytes: usize,
}

/// The dimension count up to which the C entry points validate and plan in
/// arrays of this size instead of [`MAX_DIMS`].
pub const SMALL_DIMS: usize = 4;

impl<const N: usize> Checked<N> {
    /// The output's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape[..self.ndim]
    }

    /// The element size in bytes.
    pub fn itemsize(&self) -> usize {
        self.itemsize
    }

    /// The output's size in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the output has no element (nothing is read): its size is 0
    /// exactly then (elements are at least 1 byte).
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// The bytes the copy reads, `(lo, hi)` relative to the input's element
    /// `(0, ..., 0)`, `hi` excluded; `(0, 0)` for an empty window.
    pub fn span(&self) -> (isize, isize) {
        (self.lo, self.hi)
    }
}

/// Validates a window of an array with `shape`, elements of `itemsize` bytes
/// and byte `strides` (`None`: C-contiguous).
///
/// Errors, in this order:
/// - [`Error::Inval`]: more than [`MAX_DIMS`] dimensions; `strides` or
///   `window` not of `shape`'s length; `itemsize` 0; a step of 0; the
///   product of the nonzero extents times `itemsize` above `isize::MAX` (no
///   array is that large);
/// - [`Error::Perm`]: a slice does not fit its axis (see [`Slice`]);
/// - [`Error::Inval`]: the byte offset of the first element, of the lowest or
///   the highest byte read, or the length of that span does not fit in
///   `isize` (strides no real array has). They are computed exactly.
pub fn check(
    itemsize: usize,
    shape: &[usize],
    strides: Option<&[isize]>,
    window: &[Slice],
) -> Result<Checked, Error> {
    check_dims::<MAX_DIMS>(itemsize, shape, strides, window)
}

/// [`check`] into a [`Checked`] of at most `N` dimensions (`N` at most
/// [`MAX_DIMS`]): more than `N` dimensions are [`Error::Inval`].
pub fn check_dims<const N: usize>(
    itemsize: usize,
    shape: &[usize],
    strides: Option<&[isize]>,
    window: &[Slice],
) -> Result<Checked<N>, Error> {
    let ndim = shape.len();
    if ndim > N.min(MAX_DIMS)
        || window.len() != ndim
        || strides.is_some_and(|s| s.len() != ndim)
        || itemsize == 0
        || window.iter().any(|s| s.step == 0)
    {
        return Err(Error::Inval);
    }
    let limit = isize::MAX as usize;
    let mut size = itemsize;
    for &d in shape.iter().filter(|&&d| d != 0) {
        size = size
            .checked_mul(d)
            .filter(|&s| s <= limit)
            .ok_or(Error::Inval)?;
    }
    if size > limit {
        return Err(Error::Inval);
    }
    let mut in_strides = [0isize; N];
    match strides {
        Some(s) => in_strides[..ndim].copy_from_slice(s),
        None => {
            // Every partial product is at most `size`, so none overflows.
            let mut stride = itemsize;
            for k in (0..ndim).rev() {
                in_strides[k] = stride as isize;
                stride = stride.saturating_mul(shape[k].max(1));
            }
        }
    }
    let mut out = Checked {
        itemsize,
        ndim,
        shape: [0; N],
        strides: [0; N],
        first: 0,
        lo: 0,
        hi: 0,
        bytes: 0,
    };
    let mut count = 1usize;
    for k in 0..ndim {
        out.shape[k] = window[k].count(shape[k])?;
        count = count.saturating_mul(out.shape[k]);
    }
    if count == 0 {
        return Ok(out); // bytes 0: empty
    }
    // The output is no larger than the input, whose size was checked.
    out.bytes = count.checked_mul(itemsize).ok_or(Error::Inval)?;
    // The common case in isize arithmetic, every step checked; if any step
    // overflows, the exact computation in 128 bits decides.
    match span_isize(&in_strides[..ndim], window, &mut out) {
        Some(()) => {}
        None => span_i128(&in_strides[..ndim], window, &mut out)?,
    }
    Ok(out)
}

/// The offsets of a non-empty window ([`Checked`]'s `strides`, `first`,
/// `lo`, `hi`) in isize arithmetic: `None` as soon as a step overflows
/// (then [`span_i128`] computes them exactly), with `out` partly written.
fn span_isize<const N: usize>(
    in_strides: &[isize],
    window: &[Slice],
    out: &mut Checked<N>,
) -> Option<()> {
    let (mut first, mut below, mut above) = (0isize, 0isize, 0isize);
    for (k, (&stride, w)) in in_strides.iter().zip(window).enumerate() {
        first = first.checked_add(w.start.checked_mul(stride)?)?;
        let n = out.shape[k];
        if n > 1 {
            let step = w.step.checked_mul(stride)?;
            let extent = isize::try_from(n - 1).ok()?.checked_mul(step)?;
            out.strides[k] = step;
            if extent < 0 {
                below = below.checked_add(extent)?;
            } else {
                above = above.checked_add(extent)?;
            }
        }
    }
    let item = isize::try_from(out.itemsize).ok()?;
    out.first = first;
    out.lo = first.checked_add(below)?;
    out.hi = first.checked_add(above)?.checked_add(item)?;
    out.hi.checked_sub(out.lo)?;
    Some(())
}

/// [`span_isize`] in 128 bits: a product of two isize values always fits,
/// so the only failures ([`Error::Inval`]) are results outside isize (or,
/// for sums of several such products, outside i128), never a wrap.
fn span_i128<const N: usize>(
    in_strides: &[isize],
    window: &[Slice],
    out: &mut Checked<N>,
) -> Result<(), Error> {
    let fit = |v: Option<i128>| v.and_then(|v| isize::try_from(v).ok()).ok_or(Error::Inval);
    let (mut first, mut below, mut above) = (0i128, 0i128, 0i128);
    for (k, (&stride, w)) in in_strides.iter().zip(window).enumerate() {
        let stride = stride as i128;
        first = first
            .checked_add(w.start as i128 * stride)
            .ok_or(Error::Inval)?;
        if out.shape[k] > 1 {
            let step = w.step as i128 * stride;
            let extent = (out.shape[k] as i128 - 1)
                .checked_mul(step)
                .ok_or(Error::Inval)?;
            // |step| <= |extent|, which fits once the span below does.
            out.strides[k] = isize::try_from(step).map_err(|_| Error::Inval)?;
            if extent < 0 {
                below = below.checked_add(extent).ok_or(Error::Inval)?;
            } else {
                above = above.checked_add(extent).ok_or(Error::Inval)?;
            }
        }
    }
    out.first = fit(Some(first))?;
    out.lo = fit(first.checked_add(below))?;
    out.hi = fit(first
        .checked_add(above)
        .and_then(|h| h.checked_add(out.itemsize as i128)))?;
    fit((out.hi as i128).checked_sub(out.lo as i128))?;
    Ok(())
}

/// Whether the addresses of the span read (see [`Checked::span`]) around
/// `src` wrap around the address space (the address arithmetic must not
/// wrap either).
fn span_wraps<const N: usize>(src: *const u8, checked: &Checked<N>) -> bool {
    let base = src as usize;
    base.checked_add_signed(checked.lo).is_none() || base.checked_add_signed(checked.hi).is_none()
}

/// Copies a checked window into `dst`, C-contiguous.
///
/// Returns [`Error::Inval`] if `dst` is not [`Checked::bytes`] long, and
/// [`Error::Internal`] if a part of the copy panicked.
///
/// # Safety
/// Unless the window is empty, `src` is the address of the input's element
/// `(0, ..., 0)`, every byte `src + lo .. src + hi` (see [`Checked::span`])
/// is readable, and nobody writes them during the call.
pub unsafe fn copy_into<const N: usize>(
    src: *const u8,
    checked: &Checked<N>,
    dst: &mut [MaybeUninit<u8>],
) -> Result<(), Error> {
    if dst.len() != checked.bytes {
        return Err(Error::Inval);
    }
    if checked.is_empty() {
        return Ok(());
    }
    if span_wraps(src, checked) {
        return Err(Error::Inval);
    }
    let mut plan = exec::Plan::empty();
    plan.normalise(checked);
    let view = plan.view();
    let cost = view.cost_bytes(checked.bytes);
    // SAFETY: `src + first` is the first element read; the caller guarantees
    // that every byte of the span is readable (the plan reads only inside
    // it); dst has the output's length.
    unsafe {
        view.run(
            src.wrapping_offset(checked.first),
            dst,
            threads_for(cost),
            cost,
        )
    }
}

/// [`copy_into`] a new block: `malloc(max(bytes, 1))`, advised to use huge
/// pages when large, freed on every error.
///
/// # Safety
/// As for [`copy_into`].
pub unsafe fn crop_raw<const N: usize>(
    src: *const u8,
    checked: &Checked<N>,
) -> Result<MallocBlock, Error> {
    // Checked before anything is allocated (copy_into checks it again).
    if !checked.is_empty() && span_wraps(src, checked) {
        return Err(Error::Inval);
    }
    let mut block = MallocBlock::with_len(checked.bytes).ok_or(Error::NoMem)?;
    block.advise_huge_pages();
    // SAFETY: the caller's guarantees are those of copy_into.
    unsafe { copy_into(src, checked, block.as_uninit_mut()) }?;
    Ok(block)
}

/// An array described over a byte slice, for safe callers.
#[derive(Clone, Copy, Debug)]
pub struct Array<'a> {
    /// The memory holding the array.
    pub data: &'a [u8],
    /// Byte offset in `data` of the element `(0, ..., 0)`.
    pub offset: usize,
    /// Bytes per element.
    pub itemsize: usize,
    /// Extent of each axis.
    pub shape: &'a [usize],
    /// Byte stride of each axis (`None`: C-contiguous).
    pub strides: Option<&'a [isize]>,
}

/// A crop's result: a C-contiguous, fully written block and its shape.
#[derive(Debug)]
pub struct Cropped {
    block: MallocBlock,
    checked: Checked,
}

impl Cropped {
    /// The output's shape.
    pub fn shape(&self) -> &[usize] {
        self.checked.shape()
    }

    /// The output's bytes, C-contiguous.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: crop() wrote every byte of the block before building self.
        unsafe { self.block.assume_init() }
    }

    /// Gives up the block: the caller releases it with `free()`.
    pub fn into_block(self) -> MallocBlock {
        self.block
    }
}

/// `array[window]` copied into a new C-contiguous block: numpy's
/// `a[key].copy()` for a key of slices. Errors as [`check`]; also
/// [`Error::Inval`] when the span read lies outside `array.data`, and
/// [`Error::NoMem`].
pub fn crop(array: &Array<'_>, window: &[Slice]) -> Result<Cropped, Error> {
    let checked = check(array.itemsize, array.shape, array.strides, window)?;
    let (lo, hi) = checked.span();
    let offset = isize::try_from(array.offset).map_err(|_| Error::Inval)?;
    let inside = |at: isize| {
        offset
            .checked_add(at)
            .and_then(|a| usize::try_from(a).ok())
            .is_some_and(|a| a <= array.data.len())
    };
    let readable = checked.is_empty() || (inside(lo) && inside(hi));
    if !readable {
        return Err(Error::Inval);
    }
    let src = array.data.as_ptr().wrapping_add(array.offset);
    // SAFETY: the span lo..hi around `src` lies within `array.data`, borrowed
    // shared for the call, so it is readable and not written.
    let block = unsafe { crop_raw(src, &checked) }?;
    Ok(Cropped { block, checked })
}

/// The copy under the recipe's `crop()`: `rows` x `cols` ints, rows `stride`
/// ints apart in `src` (which starts at the window's first element), into
/// the row-major `dst`, on the N-dimensional core (threads for large
/// outputs). `crop()` checks the window itself (its strict rule).
///
/// [`Error::Inval`] if `src` is too short for that window or `dst` is not
/// `rows * cols` long; [`Error::Internal`] if a part of the copy panicked.
pub fn copy_window_c_int(
    src: &[c_int],
    stride: usize,
    rows: usize,
    cols: usize,
    dst: &mut [MaybeUninit<c_int>],
) -> Result<(), Error> {
    let item = size_of::<c_int>();
    let needed = match rows.checked_mul(cols) {
        Some(0) => 0,
        Some(_) => (rows - 1)
            .checked_mul(stride)
            .and_then(|n| n.checked_add(cols))
            .ok_or(Error::Inval)?,
        None => return Err(Error::Inval),
    };
    if src.len() < needed || dst.len() != rows * cols {
        return Err(Error::Inval);
    }
    if threads_for(dst.len() * item) == 1 {
        // One thread: the rows one after the other, as the plan would copy
        // them, without planning (a small crop's fixed cost).
        if cols > 0 {
            for (r, out) in dst.chunks_exact_mut(cols).enumerate() {
                let row = &src[r * stride..][..cols];
                for (o, &v) in out.iter_mut().zip(row) {
                    *o = MaybeUninit::new(v);
                }
            }
        }
        return Ok(());
    }
    let row_bytes = isize::try_from(stride.saturating_mul(item)).map_err(|_| Error::Inval)?;
    let checked = check_dims::<2>(
        item,
        &[rows, cols],
        Some(&[row_bytes, item as isize]),
        &[
            Slice::range(0, rows as isize),
            Slice::range(0, cols as isize),
        ],
    )?;
    let len = dst.len() * item;
    // SAFETY: MaybeUninit<c_int> and MaybeUninit<u8> impose no validity, and
    // the byte view covers exactly dst's memory, borrowed uniquely.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<MaybeUninit<u8>>(), len) };
    // SAFETY: the span read, rows - 1 strides plus cols ints from src, lies
    // within `src` (checked above), borrowed shared for the call.
    unsafe { copy_into(src.as_ptr().cast(), &checked, bytes) }
}
