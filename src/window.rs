//! The semantics of the original `alloc()` and `crop()`, in safe Rust.

use libc::c_int;

use crate::{Error, MallocBlock};

/// The byte count of `ni` ints, or `None` when no block can hold them: `ni`
/// is negative (C converts it to a `size_t` so large that `malloc()` fails)
/// or `ni * sizeof(int)` does not fit in `size_t` (possible on 32-bit
/// targets, where C's product would wrap around to a block too small).
pub fn alloc_bytes(ni: c_int) -> Option<usize> {
    usize::try_from(ni).ok()?.checked_mul(size_of::<c_int>())
}

/// `alloc()`'s result: a block of `malloc(ni * sizeof(int))`; `ENOMEM`
/// without calling `malloc()` when the size cannot be represented (see
/// [`alloc_bytes`]), as `malloc()` would fail for it.
pub fn alloc_block(ni: c_int) -> Result<MallocBlock, Error> {
    let bytes = alloc_bytes(ni).ok_or(Error::NoMem)?;
    MallocBlock::with_bytes(bytes).ok_or(Error::NoMem)
}

/// The number of ints of a row-major `dim1` x `dim2` input, when such an
/// array can exist: its size in bytes must not exceed `isize::MAX` (no
/// object is larger, on any target). Otherwise, or for a negative
/// dimension, [`Error::Inval`].
pub fn input_len(dim1: c_int, dim2: c_int) -> Result<usize, Error> {
    let rows = usize::try_from(dim1).map_err(|_| Error::Inval)?;
    let cols = usize::try_from(dim2).map_err(|_| Error::Inval)?;
    let len = rows.checked_mul(cols).ok_or(Error::Inval)?;
    let bytes = len.checked_mul(size_of::<c_int>()).ok_or(Error::Inval)?;
    if bytes > isize::MAX as usize {
        return Err(Error::Inval);
    }
    Ok(len)
}

/// A crop window: rows `d1_0..d1_1` and columns `d2_0..d2_1`, ends excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// First row.
    pub d1_0: c_int,
    /// Row end (excluded).
    pub d1_1: c_int,
    /// First column.
    pub d2_0: c_int,
    /// Column end (excluded).
    pub d2_1: c_int,
}

/// The dimensions of a crop's output, in rows and columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Rows (`d1_1 - d1_0`).
    pub rows: c_int,
    /// Columns (`d2_1 - d2_0`).
    pub cols: c_int,
}

impl Shape {
    /// Number of elements; `None` if it does not fit in `usize` (or a
    /// dimension is negative).
    pub fn len(self) -> Option<usize> {
        let rows = usize::try_from(self.rows).ok()?;
        let cols = usize::try_from(self.cols).ok()?;
        rows.checked_mul(cols)
    }

    /// Whether the window holds no element.
    pub fn is_empty(self) -> bool {
        self.rows == 0 || self.cols == 0
    }

    /// The bytes to ask `malloc()` for; `None` if they do not fit in `size_t`.
    pub fn bytes(self) -> Option<usize> {
        self.len()?.checked_mul(size_of::<c_int>())
    }
}

impl Window {
    /// The original's value check: the window must satisfy
    /// `0 <= d1_0 <= d1_1 < dim1` and `0 <= d2_0 <= d2_1 < dim2`.
    ///
    /// The end bounds are strict, as in the original: a window that ends at the
    /// last row or column of the input is refused with [`Error::Perm`].
    pub fn check(self, dim1: c_int, dim2: c_int) -> Result<Shape, Error> {
        let inside = |start: c_int, end: c_int, dim: c_int| 0 <= start && start <= end && end < dim;
        if inside(self.d1_0, self.d1_1, dim1) && inside(self.d2_0, self.d2_1, dim2) {
            Ok(Shape {
                rows: self.d1_1 - self.d1_0,
                cols: self.d2_1 - self.d2_0,
            })
        } else {
            Err(Error::Perm)
        }
    }

    /// The span of a row-major `dim2`-column input that this window reads:
    /// `(offset of its first element, number of elements up to its last)`.
    /// Empty windows read nothing: `(0, 0)`. The arithmetic is checked: an
    /// offset that does not fit in `usize`, or a negative value (a window
    /// that did not pass [`Window::check`]), gives [`Error::Inval`]. The
    /// span lies within `dim1 * dim2` elements when the window passed
    /// [`Window::check`].
    pub fn source_span(self, dim2: c_int, shape: Shape) -> Result<(usize, usize), Error> {
        if shape.is_empty() {
            return Ok((0, 0));
        }
        let us = |v: c_int| usize::try_from(v).map_err(|_| Error::Inval);
        let stride = us(dim2)?;
        let start = us(self.d1_0)?
            .checked_mul(stride)
            .and_then(|o| o.checked_add(us(self.d2_0).ok()?))
            .ok_or(Error::Inval)?;
        let len = (us(shape.rows)? - 1)
            .checked_mul(stride)
            .and_then(|o| o.checked_add(us(shape.cols).ok()?))
            .ok_or(Error::Inval)?;
        start.checked_add(len).ok_or(Error::Inval)?;
        Ok((start, len))
    }
}

/// The block for a crop's output: `malloc(rows * cols * sizeof(int))`, the
/// size computed without overflow, advised to use huge pages when large.
pub fn output_block(shape: Shape) -> Result<MallocBlock, Error> {
    let bytes = shape.bytes().ok_or(Error::NoMem)?;
    let block = MallocBlock::with_bytes(bytes).ok_or(Error::NoMem)?;
    block.advise_huge_pages();
    Ok(block)
}
