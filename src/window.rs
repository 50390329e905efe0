//! The semantics of the original `alloc()` and `crop()`, in safe Rust.

use std::mem::MaybeUninit;

use libc::c_int;

use crate::{Error, MallocBlock};

/// The byte count C computes for `malloc(ni * sizeof(int))`.
///
/// `ni` is converted to `size_t` before the multiplication, as C's usual
/// arithmetic conversions do: a negative `ni` wraps to a huge size, which
/// `malloc()` refuses.
pub fn alloc_bytes(ni: c_int) -> usize {
    (ni as isize as usize).wrapping_mul(size_of::<c_int>())
}

/// `alloc()`'s result: a block of `malloc(ni * sizeof(int))`.
pub fn alloc_block(ni: c_int) -> Result<MallocBlock, Error> {
    MallocBlock::with_bytes(alloc_bytes(ni)).ok_or(Error::NoMem)
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
    /// Number of elements, computed without overflow.
    pub fn len(self) -> usize {
        self.rows as usize * self.cols as usize
    }

    /// Whether the window holds no element.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The bytes to ask `malloc()` for; `None` if they do not fit in `size_t`.
    pub fn bytes(self) -> Option<usize> {
        self.len().checked_mul(size_of::<c_int>())
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
    /// Empty windows read nothing: `(0, 0)`.
    ///
    /// Call only on a window that passed [`Window::check`].
    pub fn source_span(self, dim2: c_int, shape: Shape) -> (usize, usize) {
        if shape.is_empty() {
            return (0, 0);
        }
        let stride = dim2 as usize;
        let start = self.d1_0 as usize * stride + self.d2_0 as usize;
        let len = (shape.rows as usize - 1) * stride + shape.cols as usize;
        (start, len)
    }
}

/// Copies a window, row by row, into `dst` (row-major, `shape.cols` wide).
///
/// `src` starts at the window's first element and its rows are `stride`
/// elements apart: the span given by [`Window::source_span`].
pub fn copy_window(src: &[c_int], stride: usize, shape: Shape, dst: &mut [MaybeUninit<c_int>]) {
    copy_rows_with(src, stride, shape, dst, |from, to| {
        to.write_copy_of_slice(from);
    });
}

/// The row walk of [`copy_window`], with the copy of one row given: `copy`
/// receives each source row and its destination row, of equal length.
pub fn copy_rows_with(
    src: &[c_int],
    stride: usize,
    shape: Shape,
    dst: &mut [MaybeUninit<c_int>],
    mut copy: impl FnMut(&[c_int], &mut [MaybeUninit<c_int>]),
) {
    let cols = shape.cols as usize;
    if cols == 0 {
        return;
    }
    for (row, out) in dst.chunks_exact_mut(cols).enumerate() {
        let from = row * stride;
        copy(&src[from..from + cols], out);
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
