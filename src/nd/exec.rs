//! Plan and execution of a checked window copy.

use std::mem::MaybeUninit;
use std::ptr;

use super::{Checked, MAX_DIMS, run_parts};
use crate::Error;

/// Outputs of at least this size are written with streaming stores, which
/// neither read the destination into the cache first nor evict the input.
const STREAM_MIN_BYTES: usize = 8 << 20;

/// An input stride (bytes) beyond which elements of neighbouring output
/// columns sit on different cache lines: the tiled copy then pays off.
const LINE: usize = 64;

/// Contiguous innermost runs of at most this many bytes are gathered as
/// single elements of the next axis out.
const SHORT_RUN: usize = 16;

/// How the innermost output axis is copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// It is contiguous in the input: one block copy per row.
    Run,
    /// It is strided in the input: a typed gather loop.
    Gather,
    /// It is strided in the input, and output axis `j` is (nearly)
    /// contiguous there: tiles of axes `j` x innermost, small enough that
    /// the lines they touch on both sides stay in cache.
    Tiled { j: usize },
}

/// A copy after normalisation: axes in output order, with no length-1 axis
/// and no two neighbours whose input strides chain.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    n: usize,
    len: [usize; MAX_DIMS],
    /// Input byte strides.
    src: [isize; MAX_DIMS],
    /// Output byte strides (C-contiguous).
    dst: [usize; MAX_DIMS],
    itemsize: usize,
    kernel: Kernel,
    stream: bool,
}

/// The side of a tile, in elements, for an element size: tiles of about
/// 16 KiB on each side, within L1 together.
fn tile_side(itemsize: usize) -> usize {
    match itemsize {
        1 => 128,
        2 | 4 => 64,
        _ => 32,
    }
}

impl Plan {
    /// Normalises a non-empty checked window.
    pub(super) fn new(c: &Checked) -> Plan {
        let mut p = Plan {
            n: 0,
            len: [0; MAX_DIMS],
            src: [0; MAX_DIMS],
            dst: [0; MAX_DIMS],
            itemsize: c.itemsize,
            kernel: Kernel::Run,
            stream: false,
        };
        // Drop length-1 axes; coalesce an axis into its outer neighbour when
        // the neighbour's stride is this axis's whole extent.
        for k in (0..c.ndim).filter(|&k| c.shape[k] != 1) {
            let (len, stride) = (c.shape[k], c.strides[k]);
            let chained = p.n > 0
                && isize::try_from(len)
                    .ok()
                    .and_then(|l| l.checked_mul(stride))
                    .is_some_and(|extent| extent == p.src[p.n - 1]);
            if chained {
                p.len[p.n - 1] *= len;
                p.src[p.n - 1] = stride;
            } else {
                p.len[p.n] = len;
                p.src[p.n] = stride;
                p.n += 1;
            }
        }
        if p.n == 0 {
            // One element.
            p.len[0] = 1;
            p.src[0] = c.itemsize as isize;
            p.n = 1;
        }
        // A short contiguous innermost run (an RGB pixel, a pair) becomes
        // one element of the gather over the next axis out: one loop step
        // per run, instead of a walk and a block copy per run.
        if p.n >= 2
            && p.src[p.n - 1] == p.itemsize as isize
            && p.len[p.n - 1] * p.itemsize <= SHORT_RUN
        {
            p.itemsize *= p.len[p.n - 1];
            p.n -= 1;
        }
        let inner = p.n - 1;
        p.dst[inner] = p.itemsize;
        for k in (0..inner).rev() {
            p.dst[k] = p.dst[k + 1] * p.len[k + 1];
        }
        let item = p.itemsize as isize;
        p.kernel = if p.src[inner] == item {
            Kernel::Run
        } else {
            let inner_stride = p.src[inner].unsigned_abs();
            let j = (0..inner).min_by_key(|&k| p.src[k].unsigned_abs());
            match j {
                Some(j)
                    if matches!(p.itemsize, 1 | 2 | 4 | 8 | 16)
                        && inner_stride > LINE
                        && p.src[j].unsigned_abs() < LINE
                        && p.len[j] >= 4
                        && p.len[inner] >= 4 =>
                {
                    Kernel::Tiled { j }
                }
                _ => Kernel::Gather,
            }
        };
        p.stream =
            cfg!(target_arch = "x86_64") && p.kernel == Kernel::Run && c.bytes >= STREAM_MIN_BYTES;
        p
    }

    /// Copies the window into `dst`, its parts along the outermost axis
    /// spread over `threads` threads.
    ///
    /// # Safety
    /// `src` is the window's first element; every element the plan reads
    /// from it is readable and not written during the call; `dst` has the
    /// output's length.
    pub(super) unsafe fn run(
        &self,
        src: *const u8,
        dst: &mut [MaybeUninit<u8>],
        threads: usize,
    ) -> Result<(), Error> {
        let len0 = self.len[0];
        let mut chunk = len0.div_ceil(threads.max(1)).max(1);
        if let Kernel::Tiled { j: 0 } = self.kernel {
            chunk = chunk.next_multiple_of(tile_side(self.itemsize));
        }
        let parts = len0.div_ceil(chunk);
        let shared = Shared {
            src,
            dst: dst.as_mut_ptr().cast(),
        };
        let work = |i: usize| {
            let shared = &shared;
            let lo = i * chunk;
            let hi = len0.min(lo + chunk);
            let src = shared.src.wrapping_offset(lo as isize * self.src[0]);
            let dst = shared.dst.wrapping_add(lo * self.dst[0]);
            // SAFETY: the part is the indices lo..hi of axis 0, whose
            // elements are read from and written to disjoint places within
            // what `run`'s caller guarantees; no two parts write the same byte.
            // A single part is the whole plan: no copy of it (a small crop
            // would spend more on copying the plan than on its data).
            unsafe {
                if lo == 0 && hi == len0 {
                    self.walk(0, src, dst)
                } else {
                    let mut part = *self;
                    part.len[0] = hi - lo;
                    part.walk(0, src, dst)
                }
            };
            if self.stream {
                fence();
            }
        };
        run_parts(parts, threads, &work)
    }

    /// Copies the sub-array from `axis` inwards.
    ///
    /// # Safety
    /// As for [`Plan::run`], for the sub-array at `src` and `dst`.
    unsafe fn walk(&self, axis: usize, src: *const u8, dst: *mut u8) {
        let inner = self.n - 1;
        if let Kernel::Tiled { j } = self.kernel
            && axis == j
            && axis != inner
        {
            // SAFETY: the caller's guarantee, passed on.
            return unsafe { self.walk(axis + 1, src, dst) };
        }
        if self.kernel == Kernel::Gather && axis + 1 == inner {
            // SAFETY: the caller's guarantee covers the rows of this axis at
            // src and dst.
            return unsafe {
                gather_rows(
                    self.itemsize,
                    src,
                    [self.src[axis], self.src[inner]],
                    dst,
                    self.dst[axis],
                    [self.len[axis], self.len[inner]],
                )
            };
        }
        if axis == inner {
            let (n, s) = (self.len[inner], self.src[inner]);
            // SAFETY: the caller's guarantee covers the innermost row (and,
            // for tiles, axis j) at src and dst.
            unsafe {
                match self.kernel {
                    Kernel::Run if self.stream => stream_copy(src, dst, n * self.itemsize),
                    Kernel::Run => ptr::copy_nonoverlapping(src, dst, n * self.itemsize),
                    Kernel::Gather => gather(self.itemsize, src, s, dst, n),
                    Kernel::Tiled { j } => tiled(
                        self.itemsize,
                        src,
                        [self.src[j], s],
                        dst,
                        self.dst[j],
                        [self.len[j], n],
                    ),
                }
            }
            return;
        }
        for i in 0..self.len[axis] {
            let s = src.wrapping_offset(i as isize * self.src[axis]);
            let d = dst.wrapping_add(i * self.dst[axis]);
            // SAFETY: element i of this axis is within the caller's sub-array.
            unsafe { self.walk(axis + 1, s, d) };
        }
    }
}

/// The two ends of a copy, shared by its parts.
struct Shared {
    src: *const u8,
    dst: *mut u8,
}

// SAFETY: the parts only read through `src`, and each writes its own
// disjoint range of `dst`, for the duration of `run_parts`.
unsafe impl Sync for Shared {}

/// Copies `n` elements `stride` bytes apart in `src` to consecutive elements
/// at `dst`, with a loop typed by the element size.
///
/// # Safety
/// The `n` elements at `src` are readable; `dst` is writable for `n`
/// elements; they do not overlap.
unsafe fn gather(itemsize: usize, src: *const u8, stride: isize, dst: *mut u8, n: usize) {
    /// One typed loop.
    ///
    /// # Safety
    /// As for [`gather`], with `size_of::<T>()` the element size.
    #[inline(always)]
    unsafe fn typed<T: Copy>(src: *const u8, stride: isize, dst: *mut u8, n: usize) {
        let dst = dst.cast::<T>();
        for i in 0..n {
            // SAFETY: element i is readable at src + i * stride and writable
            // at dst + i (the caller's guarantee); both accesses unaligned.
            unsafe {
                let v = src.offset(i as isize * stride).cast::<T>().read_unaligned();
                dst.add(i).write_unaligned(v);
            }
        }
    }
    // SAFETY: the caller's guarantee, with the element size of each type.
    unsafe {
        match itemsize {
            1 => typed::<u8>(src, stride, dst, n),
            2 => typed::<u16>(src, stride, dst, n),
            4 => typed::<u32>(src, stride, dst, n),
            8 => typed::<u64>(src, stride, dst, n),
            16 => typed::<u128>(src, stride, dst, n),
            // Pixels of three channels (u8, u16, f32): fixed-size copies,
            // not a memcpy call per element.
            3 => typed::<[u8; 3]>(src, stride, dst, n),
            6 => typed::<[u8; 6]>(src, stride, dst, n),
            12 => typed::<[u8; 12]>(src, stride, dst, n),
            _ => {
                for i in 0..n {
                    ptr::copy_nonoverlapping(
                        src.offset(i as isize * stride),
                        dst.add(i * itemsize),
                        itemsize,
                    );
                }
            }
        }
    }
}

/// [`gather`] over `len[0]` rows of `len[1]` elements, `strides` bytes apart
/// in the input, to rows `dst_row` bytes apart: one typed loop for all the
/// rows, so that short rows (the three channels of a pixel read backwards)
/// cost no walk and no size dispatch each.
///
/// # Safety
/// Every element of the rows is readable at `src` and writable at `dst`;
/// they do not overlap.
unsafe fn gather_rows(
    itemsize: usize,
    src: *const u8,
    strides: [isize; 2],
    dst: *mut u8,
    dst_row: usize,
    len: [usize; 2],
) {
    /// One typed loop.
    ///
    /// # Safety
    /// As for [`gather_rows`], with `size_of::<T>()` the element size.
    #[inline(always)]
    unsafe fn typed<T: Copy>(
        src: *const u8,
        strides: [isize; 2],
        dst: *mut u8,
        dst_row: usize,
        len: [usize; 2],
    ) {
        for r in 0..len[0] {
            let s = src.wrapping_offset(r as isize * strides[0]);
            let d = dst.wrapping_add(r * dst_row).cast::<T>();
            for i in 0..len[1] {
                // SAFETY: element (r, i) is readable at s + i * stride and
                // writable at d + i (the caller's guarantee); both unaligned.
                unsafe {
                    let v = s
                        .offset(i as isize * strides[1])
                        .cast::<T>()
                        .read_unaligned();
                    d.add(i).write_unaligned(v);
                }
            }
        }
    }
    // SAFETY: the caller's guarantee, with the element size of each type.
    unsafe {
        match itemsize {
            1 => typed::<u8>(src, strides, dst, dst_row, len),
            2 => typed::<u16>(src, strides, dst, dst_row, len),
            4 => typed::<u32>(src, strides, dst, dst_row, len),
            8 => typed::<u64>(src, strides, dst, dst_row, len),
            16 => typed::<u128>(src, strides, dst, dst_row, len),
            _ => {
                for r in 0..len[0] {
                    gather(
                        itemsize,
                        src.wrapping_offset(r as isize * strides[0]),
                        strides[1],
                        dst.wrapping_add(r * dst_row),
                        len[1],
                    );
                }
            }
        }
    }
}

/// Copies a 2-D block of `len[0]` x `len[1]` elements, `strides` bytes apart
/// in the input, to rows `dst_row` bytes apart and contiguous columns, tile
/// by tile.
///
/// # Safety
/// Every element of the block is readable at `src` and writable at `dst`;
/// they do not overlap; `itemsize` is 1, 2, 4, 8 or 16.
unsafe fn tiled(
    itemsize: usize,
    src: *const u8,
    strides: [isize; 2],
    dst: *mut u8,
    dst_row: usize,
    len: [usize; 2],
) {
    /// One typed tiled loop.
    ///
    /// # Safety
    /// As for [`tiled`], with `size_of::<T>()` the element size.
    #[inline(always)]
    unsafe fn typed<T: Copy>(
        src: *const u8,
        [sa, sb]: [isize; 2],
        dst: *mut u8,
        dst_row: usize,
        [la, lb]: [usize; 2],
        side: usize,
    ) {
        for a0 in (0..la).step_by(side) {
            let a1 = la.min(a0 + side);
            for b0 in (0..lb).step_by(side) {
                let b1 = lb.min(b0 + side);
                for a in a0..a1 {
                    let s = src.wrapping_offset(a as isize * sa);
                    let d = dst.wrapping_add(a * dst_row).cast::<T>();
                    for b in b0..b1 {
                        // SAFETY: element (a, b) of the block is readable at
                        // s + b * sb and writable at d + b (the caller's
                        // guarantee); both accesses unaligned.
                        unsafe {
                            let v = s.offset(b as isize * sb).cast::<T>().read_unaligned();
                            d.add(b).write_unaligned(v);
                        }
                    }
                }
            }
        }
    }
    let side = tile_side(itemsize);
    // SAFETY: the caller's guarantee, with the element size of each type.
    unsafe {
        match itemsize {
            1 => typed::<u8>(src, strides, dst, dst_row, len, side),
            2 => typed::<u16>(src, strides, dst, dst_row, len, side),
            4 => typed::<u32>(src, strides, dst, dst_row, len, side),
            8 => typed::<u64>(src, strides, dst, dst_row, len, side),
            16 => typed::<u128>(src, strides, dst, dst_row, len, side),
            _ => unreachable!("tiles are planned for 1, 2, 4, 8 and 16-byte elements only"),
        }
    }
}

/// Orders the streaming stores of this thread before its later stores (and
/// before whoever joins it).
fn fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of the x86_64 baseline; sfence only orders stores.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

/// Copies `n` bytes with 16-byte streaming stores for the middle part made
/// of whole 64-byte lines of `dst` (plain copies for the partial lines at
/// either end); the caller fences.
///
/// Streaming stores to part of a line, while plain stores (of this row or of
/// its neighbour) write the rest, cost a partial write-combining flush and a
/// read of the line each: short rows whose ends fall inside lines ran
/// several times slower than plain copies until the streamed part was
/// aligned to whole lines.
///
/// # Safety
/// `n` bytes are readable at `src` and writable at `dst`; they do not overlap.
unsafe fn stream_copy(src: *const u8, dst: *mut u8, n: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
        let head = dst.align_offset(64).min(n);
        let body = head + (n - head) / 64 * 64;
        // SAFETY: head <= body <= n, so every access below is within the n
        // bytes; dst + i is 64-byte aligned for i in head..body step 64; the
        // loads are unaligned; SSE2 is part of the x86_64 baseline.
        unsafe {
            ptr::copy_nonoverlapping(src, dst, head);
            let mut i = head;
            while i < body {
                let s = src.add(i).cast::<__m128i>();
                let d = dst.add(i).cast::<__m128i>();
                let (a, b) = (_mm_loadu_si128(s), _mm_loadu_si128(s.add(1)));
                let (c, e) = (_mm_loadu_si128(s.add(2)), _mm_loadu_si128(s.add(3)));
                _mm_stream_si128(d, a);
                _mm_stream_si128(d.add(1), b);
                _mm_stream_si128(d.add(2), c);
                _mm_stream_si128(d.add(3), e);
                i += 64;
            }
            ptr::copy_nonoverlapping(src.add(body), dst.add(body), n - body);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: the caller's guarantee.
    unsafe {
        ptr::copy_nonoverlapping(src, dst, n)
    };
}
