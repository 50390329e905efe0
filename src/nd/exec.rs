//! Plan and execution of a checked window copy.

use std::mem::MaybeUninit;
use std::ptr;

use super::Checked;
#[cfg(target_arch = "x86_64")]
use super::simd;
use crate::Error;
use crate::parallel::run_caught;
use crate::parallel::run_parts_for;

// Every store is a plain one. Streaming (non-temporal) stores measured
// slower on every large case on the machine this is developed on (2 cores:
// ezalloc.crop of a 4000 x 6000 x 3 uint8 window 1.39-1.67x numpy with
// plain stores against 0.82-0.93x streamed from 32 MiB out; a contiguous
// 256 MiB copy 1.95-2.24x against 1.69-1.81x), so the library has none.

/// An input stride (bytes) beyond which elements of neighbouring output
/// columns sit on different cache lines: the tiled copy then pays off.
const LINE: usize = 64;

/// An input span beyond which a tiled copy reads mostly from memory, not
/// from the caches (2 MiB of L2 per core on the machine this is developed
/// on). Short tile rows gather from here on ([`FAR_SHORT_ROW`]).
const FAR_BYTES: usize = 4 << 20;

/// The longest tile rows (bytes) that are not worth tiling from a far
/// input ([`FAR_BYTES`]) for elements of 4 bytes or more: such tiles write
/// many short output rows at once, far apart, and the plain gather (whose
/// stores run in sequence, and which finds its input lines again in L2
/// from one output row to the next) was faster. Measured on an Intel Xeon
/// with AVX-512 FP16 (2 MiB of L2 per core), on the sweep's cases, each
/// timed tiled and gathered in turn in one process: a float32 window with
/// 76-byte tile rows (`a[4:58, 29:1:-1, 4:48, 2:57:3]` of a Fortran
/// (58, 35, 52, 58) array) 0.86x numpy tiled against 2.54x gathered; one
/// with 488-byte rows 1.31x against 2.46x; a float64 one with 488-byte
/// rows 1.16x against 1.63x. Rows of 848 and 912 bytes were faster tiled
/// (3.43x and 2.55x against 2.02x and 1.84x), as were 1- and 2-byte
/// elements at every row length (a uint8 window with 120-byte rows 14.7x
/// against 2.0x).
const FAR_SHORT_ROW: usize = 512;

/// The most bytes of output in one tile.
const TILE_BYTES: usize = 32 << 10;

/// A contiguous innermost run of at most this many bytes (an RGB pixel, a
/// complex number, a pair) is copied as one element of the next axis out.
const SHORT_RUN: usize = 16;

/// An innermost axis of at most this many bytes is too short to be a
/// tile's axis when another can be (see [`Kernel::Tiled`]).
const SHORT_INNER: usize = 32;

/// Parts per thread of a copy shared with the helpers, from
/// [`FINE_PARTS_BYTES`] (of output, or a strided copy's
/// [`View::cost_bytes`]); one part per thread below it.
const PARTS_PER_THREAD: usize = 4;

/// Outputs from which a shared copy is cut into [`PARTS_PER_THREAD`] parts
/// per thread, so that a helper that starts late still finds some. Below
/// it each part's claim (an atomic on a line the threads pass back and
/// forth) costs more than the balance saves: a 256 KiB copy from C with two
/// threads took 5.2-5.6 us in 8 parts and 4.7-4.9 us in 2, against 6.0-6.4
/// us on one.
const FINE_PARTS_BYTES: usize = 4 << 20;

/// How the innermost output axis is copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// It is contiguous in the input: one block copy per row.
    Run,
    /// It is strided in the input: a typed gather loop.
    Gather,
    /// It is strided in the input, and output axis `j` is (nearly)
    /// contiguous there (Fortran order to C order, transposes) and at least
    /// 8 long (4 when the rows are long: 256 elements or more; shorter
    /// blocks cost more in tile set-up than they save): tiles of
    /// axes `j` x innermost, a few long output rows each (see
    /// [`tile_shape`]), so that the input lines they read stay in cache
    /// from one tile to the next.
    /// From a far input, short tile rows of 4-byte or wider elements
    /// gather instead (see [`FAR_SHORT_ROW`]).
    /// `tile` is the tile's shape ([`tile_shape`]), computed once.
    ///
    /// The tile's other axis `b` is the innermost, or, when the innermost
    /// is short (a few elements, [`SHORT_INNER`] bytes at most), the
    /// nearest axis out that is at least 8 long and whose output stride is
    /// at most a cache line: tiles of `j` x `b` then fill every other output
    /// element (or one in a few), and the innermost axis's next index fills
    /// the rest while the lines are in cache. Tiles of `j` x a 2-element
    /// innermost axis cost more to start than they copy.
    Tiled {
        j: usize,
        b: usize,
        tile: (usize, usize),
    },
}

/// A copy after normalisation: axes in output order, with no length-1 axis
/// and no two neighbours whose input strides chain; at most `N` axes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan<const N: usize> {
    n: usize,
    len: [usize; N],
    /// Input byte strides.
    src: [isize; N],
    /// Output byte strides (C-contiguous).
    dst: [usize; N],
    itemsize: usize,
    kernel: Kernel,
}

/// A [`Plan`] seen through slices of its `n` axes: the copy itself, one
/// piece of code whatever the plan's capacity.
#[derive(Clone, Copy, Debug)]
pub(super) struct View<'a> {
    n: usize,
    len: &'a [usize],
    src: &'a [isize],
    dst: &'a [usize],
    itemsize: usize,
    kernel: Kernel,
}

/// The output row a tile covers, in bytes: long rows keep the stores in
/// long sequential runs, and the input lines a tile
/// reads (one per output column) stay in L2 for the next tile down.
const TILE_ROW_BYTES: usize = 8 << 10;

/// The most output rows in a tile, and the multiple that tiles split along
/// the rows (for threads) are rounded to.
const TILE_ROWS_MAX: usize = 64;

/// The tile for a block whose output rows are `lb` elements of `itemsize`
/// bytes: `(rows, columns)`, at most [`TILE_BYTES`] in all, rows a power
/// of two from 4 to [`TILE_ROWS_MAX`].
fn tile_shape(itemsize: usize, lb: usize) -> (usize, usize) {
    let row = lb.saturating_mul(itemsize).clamp(itemsize, TILE_ROW_BYTES);
    let rows = (TILE_BYTES / row).clamp(4, TILE_ROWS_MAX);
    let rows = 1 << rows.ilog2();
    (
        rows,
        (TILE_BYTES / rows / itemsize).min(row / itemsize).max(1),
    )
}

impl<const N: usize> Plan<N> {
    /// Normalises a non-empty checked window.
    #[cfg(test)]
    pub(super) fn new(c: &Checked<N>) -> Plan<N> {
        let mut p = Plan::empty();
        p.normalise(c);
        p
    }

    /// A plan of no axes, for [`Plan::normalise`].
    pub(super) const fn empty() -> Plan<N> {
        Plan {
            n: 0,
            len: [0; N],
            src: [0; N],
            dst: [0; N],
            itemsize: 0,
            kernel: Kernel::Run,
        }
    }

    /// Makes this [`Plan::empty`] plan the plan of a non-empty checked
    /// window, in place: a plan returned from a call was copied by `memcpy`
    /// (152 bytes for 4 axes), 8% of a 3-element crop's time in C.
    pub(super) fn normalise(&mut self, c: &Checked<N>) {
        let p = self;
        p.itemsize = c.itemsize;
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
        // A short contiguous innermost run becomes one element of a gather
        // over the next axis out: one loop step per run, instead of a block
        // copy call per run. (The next axis does not chain with it, or the
        // two would have been coalesced above.)
        if p.n >= 2
            && p.src[p.n - 1] == p.itemsize as isize
            && p.len[p.n - 1] * p.itemsize <= SHORT_RUN
        {
            p.n -= 1;
            p.itemsize *= p.len[p.n];
            p.len[p.n] = 0;
            p.src[p.n] = 0;
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
                        && p.len[inner] >= 2
                        && (p.len[j] >= 8 || (p.len[j] >= 4 && p.len[inner] >= 256)) =>
                {
                    let b = if p.len[inner] * p.itemsize <= SHORT_INNER {
                        (0..inner)
                            .rev()
                            .take_while(|&k| p.dst[k] <= LINE)
                            .find(|&k| k != j && p.len[k] >= 8 && p.src[k].unsigned_abs() > LINE)
                            .unwrap_or(inner)
                    } else {
                        inner
                    };
                    let far = c.hi.abs_diff(c.lo) > FAR_BYTES;
                    if far && p.itemsize >= 4 && p.len[b] * p.itemsize <= FAR_SHORT_ROW {
                        Kernel::Gather
                    } else {
                        Kernel::Tiled {
                            j,
                            b,
                            tile: tile_shape(p.itemsize, p.len[b]),
                        }
                    }
                }
                _ => Kernel::Gather,
            }
        };
    }

    /// The plan's axes, as slices.
    pub(super) fn view(&self) -> View<'_> {
        View {
            n: self.n,
            len: &self.len[..self.n],
            src: &self.src[..self.n],
            dst: &self.dst[..self.n],
            itemsize: self.itemsize,
            kernel: self.kernel,
        }
    }
}

impl View<'_> {
    /// The output bytes of a contiguous copy that costs about as much as
    /// this one, for the choice of threads
    /// ([`crate::parallel::threads_for`]): half of what the copy moves,
    /// its output plus the input it reads, counted as a whole cache line
    /// per element when the elements are a line or more apart (a gather
    /// pays for every line it touches, and a contiguous copy reads as many
    /// bytes as it writes). Measured on an AMD EPYC (2 cores): a uint16
    /// gather with a 24-byte stride, 82 KiB out, took 13 us, and a float64
    /// one with a 72-byte stride, 25.5 KiB out, 2.4 us, against 2.8 us for
    /// a contiguous 128 KiB.
    pub(super) fn cost_bytes(&self, out_bytes: usize) -> usize {
        let stride = match self.kernel {
            Kernel::Run => return out_bytes,
            Kernel::Gather => self.src[self.n - 1],
            Kernel::Tiled { j, .. } => self.src[j],
        };
        // At least the element itself (a stride of 0 repeats one; an
        // element wider than a line spans several).
        let per_element = stride.unsigned_abs().min(LINE).max(self.itemsize);
        let read = (out_bytes / self.itemsize).saturating_mul(per_element);
        out_bytes / 2 + read / 2
    }

    /// Copies the window into `dst`, its parts along the outermost axis
    /// spread over `threads` threads; `cost` is [`View::cost_bytes`] of
    /// the output's length (for the number of parts, and whether sleeping
    /// helpers are woken).
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
        cost: usize,
    ) -> Result<(), Error> {
        let len0 = self.len[0];
        // Parts are whole tiles when axis 0 is tiled, else single indices,
        // shared out evenly: for large outputs a few parts per thread, so
        // that a helper that wakes late still finds some left (the caller
        // starts at once, and takes a late helper's part itself).
        let unit = match self.kernel {
            Kernel::Tiled { j: 0, .. } => TILE_ROWS_MAX,
            _ => 1,
        };
        let units = len0.div_ceil(unit);
        let per_thread = if cost < FINE_PARTS_BYTES {
            1
        } else {
            PARTS_PER_THREAD
        };
        let parts = match threads {
            0 | 1 => 1,
            t => t.saturating_mul(per_thread).min(units.max(1)),
        };
        if parts == 1 {
            // The calling thread alone, the whole of axis 0 at once.
            let dst = dst.as_mut_ptr().cast();
            // SAFETY: the whole copy, as `run`'s caller guarantees.
            return match run_caught(|| unsafe { self.walk(0, src, dst, len0) }) {
                true => Ok(()),
                false => Err(Error::Internal),
            };
        }
        // i * units may exceed usize (32-bit targets): u64 holds it.
        let bound = |i: usize| {
            let first = (i as u64 * units as u64 / parts as u64) as usize;
            len0.min(first.saturating_mul(unit))
        };
        let shared = Shared {
            src,
            dst: dst.as_mut_ptr().cast(),
        };
        let work = |i: usize| {
            let shared = &shared;
            let (lo, hi) = (bound(i), bound(i + 1));
            let src = shared.src.wrapping_offset(lo as isize * self.src[0]);
            let dst = shared.dst.wrapping_add(lo * self.dst[0]);
            // SAFETY: the part is the indices lo..hi of axis 0, whose
            // elements are read from and written to disjoint places within
            // what `run`'s caller guarantees; no two parts write the same byte.
            unsafe { self.walk(0, src, dst, hi - lo) };
        };
        run_parts_for(cost, parts, threads, &work)
    }

    /// Copies the sub-array from `axis` inwards, with `len0` indices on
    /// axis 0 (a part of it).
    ///
    /// # Safety
    /// As for [`Plan::run`], for the sub-array at `src` and `dst`.
    unsafe fn walk(&self, axis: usize, src: *const u8, dst: *mut u8, len0: usize) {
        let len = |k: usize| if k == 0 { len0 } else { self.len[k] };
        let inner = self.n - 1;
        if let Kernel::Tiled { j, b, tile } = self.kernel {
            if axis == self.n {
                // Every other axis is looped over: one block of j x b.
                // SAFETY: the caller's guarantee covers the block.
                return unsafe {
                    tiled(
                        self.itemsize,
                        src,
                        [self.src[j], self.src[b]],
                        dst,
                        [self.dst[j], self.dst[b]],
                        [len(j), len(b)],
                        tile,
                    )
                };
            }
            if axis == j || axis == b {
                // SAFETY: the caller's guarantee, passed on.
                return unsafe { self.walk(axis + 1, src, dst, len0) };
            }
        } else if axis == inner {
            let (n, s) = (len(inner), self.src[inner]);
            // SAFETY: the caller's guarantee covers the innermost row (and,
            // for tiles, axis j) at src and dst.
            unsafe {
                match self.kernel {
                    Kernel::Gather => gather(self.itemsize, src, [0, s], dst, 0, [1, n]),
                    _ => copy_runs(src, 0, dst, 0, [1, n * self.itemsize]),
                }
            }
            return;
        }
        if axis + 1 == inner && !matches!(self.kernel, Kernel::Tiled { .. }) {
            // The rows of the last two axes, without a call per row, every
            // value the loop needs in a local (the copy calls are opaque).
            let (n, s, item) = (len(inner), self.src[inner], self.itemsize);
            let (rows, from_step, to_step) = (len(axis), self.src[axis], self.dst[axis]);
            if self.kernel == Kernel::Run {
                // SAFETY: these rows are the caller's sub-array.
                unsafe { copy_runs(src, from_step, dst, to_step, [rows, n * item]) };
            } else {
                // SAFETY: these rows are the caller's sub-array.
                unsafe { gather(item, src, [from_step, s], dst, to_step, [rows, n]) };
            }
            return;
        }
        for i in 0..len(axis) {
            let s = src.wrapping_offset(i as isize * self.src[axis]);
            let d = dst.wrapping_add(i * self.dst[axis]);
            // SAFETY: element i of this axis is within the caller's sub-array.
            unsafe { self.walk(axis + 1, s, d, len0) };
        }
    }
}

/// Copies `rows` runs of `bytes` bytes, `src_step` bytes apart in `src`
/// and `dst_step` apart in `dst`: with [`simd::copy_avx`] from
/// [`simd::AVX_RUN_MIN`] bytes where the CPU has AVX, else with `memcpy`.
///
/// `memcpy` (glibc 2.36's, on an AMD EPYC with AVX-512 and FSRM, which
/// copies these sizes with `rep movsb`) was 5-25% slower than an AVX loop
/// of aligned stores for runs of 2 KiB and more in a C loop, and far
/// slower (10-40x) for some placements of its two ends: 256 KiB into a
/// block reused from one call to the next took 90 us against 6.4 us.
/// Measured in C, runs of 512 B to 256 KiB, source offsets 0, 3, 12 and 32
/// bytes past a page, each into a fresh `malloc` block.
///
/// # Safety
/// Each run is readable at `src + r * src_step` and writable at
/// `dst + r * dst_step`; they do not overlap.
#[inline(always)]
unsafe fn copy_runs(
    mut src: *const u8,
    src_step: isize,
    mut dst: *mut u8,
    dst_step: usize,
    [rows, bytes]: [usize; 2],
) {
    #[cfg(target_arch = "x86_64")]
    let avx = bytes >= simd::AVX_RUN_MIN && simd::avx();
    for _ in 0..rows {
        // SAFETY: this run is readable and writable (the caller's
        // guarantee); copy_avx only with AVX, for runs of 32 bytes or more.
        unsafe {
            #[cfg(target_arch = "x86_64")]
            if avx {
                simd::copy_avx(src, dst, bytes);
            } else {
                ptr::copy_nonoverlapping(src, dst, bytes);
            }
            #[cfg(not(target_arch = "x86_64"))]
            ptr::copy_nonoverlapping(src, dst, bytes);
        }
        src = src.wrapping_offset(src_step);
        dst = dst.wrapping_add(dst_step);
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

/// Copies `rows` rows of `n` elements `stride` bytes apart in `src`, rows
/// `row_step` bytes apart, to rows of consecutive elements at `dst`, rows
/// `dst_row` bytes apart, with a loop typed by the element size and chosen
/// once for all rows (a row of a few elements costs little more than its
/// copies).
///
/// # Safety
/// The elements read are readable; `dst` is writable for the rows; they do
/// not overlap.
#[allow(clippy::too_many_arguments)]
unsafe fn gather(
    itemsize: usize,
    src: *const u8,
    [row_step, stride]: [isize; 2],
    dst: *mut u8,
    dst_row: usize,
    [rows, n]: [usize; 2],
) {
    /// The rows, typed.
    ///
    /// # Safety
    /// As for [`gather`], with `size_of::<T>()` the element size.
    #[inline(always)]
    unsafe fn typed<T: Copy>(
        src: *const u8,
        [row_step, stride]: [isize; 2],
        dst: *mut u8,
        dst_row: usize,
        [rows, n]: [usize; 2],
    ) {
        let size = size_of::<T>() as isize;
        // Steps of 2, 3 and 4 elements (a step-2 crop, one channel of
        // three) with the step known at compile time: the compiler
        // vectorises these into loads and shuffles. Not for the narrow
        // elements where x86_64's baseline (SSE2, no byte shuffle) makes
        // that form slower than the plain loop (measured through
        // `ezalloc.crop`: one channel of an RGB uint8 image 0.61 ms against
        // 0.36 ms plain; uint8 steps of 2 and 4 likewise). Chosen once for
        // all rows. On x86_64, rows of more than 16 elements of 1 or 2
        // bytes with a step of 2 or -2 do not come here: see
        // [`every_other_sse2`].
        let step = match stride / size {
            2 if stride == 2 * size && size > 1 => 2,
            3 if stride == 3 * size && size > 2 => 3,
            4 if stride == 4 * size && size > 2 => 4,
            -1 if stride == -size => -1,
            -2 if stride == -2 * size && size > 1 => -2,
            -3 if stride == -3 * size && size > 2 => -3,
            -4 if stride == -4 * size && size > 2 => -4,
            _ => 0,
        };
        if step == 0 {
            // Any other stride: the block loop, pointers stepped.
            let to = [dst_row, size_of::<T>()];
            // SAFETY: the caller's guarantee, for rows of `n` elements.
            return unsafe { block_typed::<T>(src, [row_step, stride], dst, to, [rows, n]) };
        }
        let (mut from, mut to) = (src, dst);
        for _ in 0..rows {
            // SAFETY: this row is within the block (the caller's
            // guarantee), its stride `step` elements.
            unsafe {
                match step {
                    2 => fixed::<T, 2>(from, to, n),
                    3 => fixed::<T, 3>(from, to, n),
                    4 => fixed::<T, 4>(from, to, n),
                    -1 => backwards::<T, 1>(from, to, n),
                    -2 => backwards::<T, 2>(from, to, n),
                    -3 => backwards::<T, 3>(from, to, n),
                    _ => backwards::<T, 4>(from, to, n),
                }
            }
            from = from.wrapping_offset(row_step);
            to = to.wrapping_add(dst_row);
        }
    }
    /// [`gather`] for elements `K` elements apart.
    ///
    /// # Safety
    /// As for one row of [`gather`], with `size_of::<T>()` the element
    /// size and a stride of `K` elements.
    #[inline(always)]
    unsafe fn fixed<T: Copy, const K: usize>(src: *const u8, dst: *mut u8, n: usize) {
        let (src, dst) = (src.cast::<T>(), dst.cast::<T>());
        for i in 0..n {
            // SAFETY: element i is readable at src + K * i and writable at
            // dst + i (the caller's guarantee); both accesses unaligned.
            unsafe { dst.add(i).write_unaligned(src.add(K * i).read_unaligned()) };
        }
    }
    /// [`gather`] for elements `K` elements apart backwards (a reversed
    /// row, a reversed step-2 crop, one channel of a reversed row of
    /// pixels).
    ///
    /// # Safety
    /// As for one row of [`gather`], with `size_of::<T>()` the element
    /// size and a stride of minus `K` elements.
    #[inline(always)]
    unsafe fn backwards<T: Copy, const K: usize>(src: *const u8, dst: *mut u8, n: usize) {
        let (src, dst) = (src.cast::<T>(), dst.cast::<T>());
        for i in 0..n {
            // SAFETY: element i is readable at src - K * i and writable at
            // dst + i (the caller's guarantee); both accesses unaligned.
            unsafe { dst.add(i).write_unaligned(src.sub(K * i).read_unaligned()) };
        }
    }
    let (steps, len) = ([row_step, stride], [rows, n]);
    #[cfg(target_arch = "x86_64")]
    if itemsize == 1 && matches!(stride.unsigned_abs(), 3 | 4) && n > 16 && simd::ssse3() {
        // SAFETY: the caller's guarantee, for bytes 3 or 4 apart; the CPU
        // has SSSE3.
        return unsafe { simd::channel_u8_ssse3(src, steps, dst, dst_row, len) };
    }
    #[cfg(target_arch = "x86_64")]
    if itemsize <= 2 && stride.unsigned_abs() == 2 * itemsize && n > 16 {
        // SAFETY: the caller's guarantee, for elements of 1 or 2 bytes two
        // elements apart.
        return unsafe { every_other_sse2(itemsize, src, steps, dst, dst_row, len) };
    }
    // SAFETY: the caller's guarantee, with the element size of each type.
    unsafe {
        match itemsize {
            1 => typed::<u8>(src, steps, dst, dst_row, len),
            2 => typed::<u16>(src, steps, dst, dst_row, len),
            4 => typed::<u32>(src, steps, dst, dst_row, len),
            8 => typed::<u64>(src, steps, dst, dst_row, len),
            16 => typed::<u128>(src, steps, dst, dst_row, len),
            // Pixels of three channels (u8, u16, f32), from short runs
            // (see [`SHORT_RUN`]): fixed-size copies, not a memcpy call per
            // element.
            3 => typed::<[u8; 3]>(src, steps, dst, dst_row, len),
            6 => typed::<[u8; 6]>(src, steps, dst, dst_row, len),
            12 => typed::<[u8; 12]>(src, steps, dst, dst_row, len),
            // The other sizes up to 16 (byte strings, packed records):
            // fixed-size copies too, not a memcpy call per element.
            5 => typed::<[u8; 5]>(src, steps, dst, dst_row, len),
            7 => typed::<[u8; 7]>(src, steps, dst, dst_row, len),
            9 => typed::<[u8; 9]>(src, steps, dst, dst_row, len),
            10 => typed::<[u8; 10]>(src, steps, dst, dst_row, len),
            11 => typed::<[u8; 11]>(src, steps, dst, dst_row, len),
            13 => typed::<[u8; 13]>(src, steps, dst, dst_row, len),
            14 => typed::<[u8; 14]>(src, steps, dst, dst_row, len),
            15 => typed::<[u8; 15]>(src, steps, dst, dst_row, len),
            _ => {
                for r in 0..rows {
                    let (from, to) = (src.offset(r as isize * row_step), dst.add(r * dst_row));
                    for i in 0..n {
                        ptr::copy_nonoverlapping(
                            from.offset(i as isize * stride),
                            to.add(i * itemsize),
                            itemsize,
                        );
                    }
                }
            }
        }
    }
}

/// Rows of every other element of 1- or 2-byte elements (a step of 2 or
/// -2: a reversed or stepped crop of uint8 or uint16 data, one channel of
/// two), with SSE2: each step loads 32 input bytes, keeps every other
/// element (a mask or shift, then a saturating pack, exact on values
/// widened from 8 or 16 bits) and stores 16 output bytes; backwards, the
/// elements are put back in reverse order. x86_64's baseline has no byte
/// shuffle, so the compiler's form of these loops is a scalar one (uint16
/// `v[::-2]` ran at numpy's speed, 1.0x).
///
/// No byte outside a row is read: a step covers 32 bytes from its first
/// element (forwards) or up to its first element's last byte (backwards),
/// and is taken only while one more element lies beyond those 32 bytes; the
/// rest of the row is copied element by element.
///
/// # Safety
/// `itemsize` is 1 or 2, `stride` is `2 * itemsize` or its negative; the
/// rows' elements are readable and `dst` writable for `rows` rows of `n`
/// elements `dst_row` bytes apart; they do not overlap.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
unsafe fn every_other_sse2(
    itemsize: usize,
    src: *const u8,
    [row_step, stride]: [isize; 2],
    dst: *mut u8,
    dst_row: usize,
    [rows, n]: [usize; 2],
) {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_loadu_si128, _mm_packs_epi32, _mm_packus_epi16, _mm_set1_epi16,
        _mm_shuffle_epi32, _mm_shufflehi_epi16, _mm_shufflelo_epi16, _mm_slli_epi32,
        _mm_srai_epi32, _mm_srli_epi16, _mm_storeu_si128,
    };
    let per = 16 / itemsize; // elements per step: 16 or 8
    let backwards = stride < 0;
    // Reverses the eight 16-bit lanes of `v`.
    let reverse16 = |v: __m128i| {
        _mm_shuffle_epi32::<0x4e>(_mm_shufflehi_epi16::<0x1b>(_mm_shufflelo_epi16::<0x1b>(v)))
    };
    for r in 0..rows {
        let row = src.wrapping_offset(r as isize * row_step);
        let out = dst.wrapping_add(r * dst_row);
        let mut i = 0;
        while i + per < n {
            // The step's 32 bytes: from element i forwards, or ending with
            // element i's last byte backwards (elements i .. i + per - 1 lie
            // in them; element i + per, beyond them, is in the row).
            let at = row.wrapping_offset(i as isize * stride);
            let first = if backwards {
                at.wrapping_add(itemsize).wrapping_sub(32)
            } else {
                at
            };
            // SAFETY: the 32 bytes lie between elements i and i + per of
            // this row, readable (the caller's guarantee); unaligned loads.
            let (lo, hi) = unsafe {
                (
                    _mm_loadu_si128(first.cast()),
                    _mm_loadu_si128(first.wrapping_add(16).cast()),
                )
            };
            let v = match (itemsize, backwards) {
                // Even bytes (the low byte of each 16-bit lane).
                (1, false) => {
                    let m = _mm_set1_epi16(0xff);
                    _mm_packus_epi16(_mm_and_si128(lo, m), _mm_and_si128(hi, m))
                }
                // Odd bytes, highest address first.
                (1, true) => _mm_packus_epi16(
                    reverse16(_mm_srli_epi16::<8>(hi)),
                    reverse16(_mm_srli_epi16::<8>(lo)),
                ),
                // Even 16-bit lanes (the low half of each 32-bit lane),
                // sign-extended so that the signed pack keeps them.
                (_, false) => _mm_packs_epi32(
                    _mm_srai_epi32::<16>(_mm_slli_epi32::<16>(lo)),
                    _mm_srai_epi32::<16>(_mm_slli_epi32::<16>(hi)),
                ),
                // Odd 16-bit lanes, highest address first.
                (_, true) => _mm_packs_epi32(
                    _mm_shuffle_epi32::<0x1b>(_mm_srai_epi32::<16>(hi)),
                    _mm_shuffle_epi32::<0x1b>(_mm_srai_epi32::<16>(lo)),
                ),
            };
            // SAFETY: output elements i .. i + per of this row are writable
            // (the caller's guarantee); unaligned store.
            unsafe { _mm_storeu_si128(out.wrapping_add(i * itemsize).cast(), v) };
            i += per;
        }
        for k in i..n {
            // SAFETY: element k of this row is readable and writable
            // (the caller's guarantee), `itemsize` bytes.
            unsafe {
                ptr::copy_nonoverlapping(
                    row.wrapping_offset(k as isize * stride),
                    out.wrapping_add(k * itemsize),
                    itemsize,
                )
            };
        }
    }
}

/// [`block`] for elements of `size_of::<T>()` bytes.
///
/// # Safety
/// As for [`block`], with `size_of::<T>()` the element size.
#[inline(always)]
unsafe fn block_typed<T: Copy>(
    src: *const u8,
    [sa, sb]: [isize; 2],
    dst: *mut u8,
    [dst_row, dst_col]: [usize; 2],
    [ta, tb]: [usize; 2],
) {
    let (mut row_from, mut row_to) = (src, dst);
    for _ in 0..ta {
        let (mut from, mut to) = (row_from, row_to);
        for _ in 0..tb {
            // SAFETY: this element of the block is readable at `from`
            // and writable at `to` (the caller's guarantee); both
            // accesses unaligned.
            unsafe {
                to.cast::<T>()
                    .write_unaligned(from.cast::<T>().read_unaligned())
            };
            from = from.wrapping_offset(sb);
            to = to.wrapping_add(dst_col);
        }
        row_from = row_from.wrapping_offset(sa);
        row_to = row_to.wrapping_add(dst_row);
    }
}

/// Copies a `ta` x `tb` block element by element, with a loop typed by
/// the element size: element `(a, b)` from `src + a * sa + b * sb` to
/// `dst + a * dst_row + b * dst_col`. Tiles without a block kernel, and the
/// edges those kernels leave.
///
/// # Safety
/// Every element of the block is readable and writable there, unaligned;
/// input and output do not overlap; `itemsize` is 1, 2, 4, 8 or 16.
#[inline(always)]
unsafe fn block(
    itemsize: usize,
    src: *const u8,
    strides: [isize; 2],
    dst: *mut u8,
    to: [usize; 2],
    len: [usize; 2],
) {
    // SAFETY: the caller's guarantee, with the element size of each type.
    unsafe {
        match itemsize {
            1 => block_typed::<u8>(src, strides, dst, to, len),
            2 => block_typed::<u16>(src, strides, dst, to, len),
            4 => block_typed::<u32>(src, strides, dst, to, len),
            8 => block_typed::<u64>(src, strides, dst, to, len),
            _ => block_typed::<u128>(src, strides, dst, to, len),
        }
    }
}

/// Copies a 2-D block of `len[0]` x `len[1]` elements, `strides` bytes apart
/// in the input, to rows `dst_row` bytes apart and columns `dst_col` bytes
/// apart (the element size, or a few elements), tile by tile (`rows` x
/// `cols` elements each, the plan's [`tile_shape`]).
///
/// # Safety
/// Every element of the block is readable at `src` and writable at `dst`;
/// they do not overlap; `itemsize` is 1, 2, 4, 8 or 16.
///
/// Not inlined into [`View::walk`]: its loops keep their values in
/// registers then (inlined, the walk's large frame spilled them).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn tiled(
    itemsize: usize,
    src: *const u8,
    [sa, sb]: [isize; 2],
    dst: *mut u8,
    [dst_row, dst_col]: [usize; 2],
    [la, lb]: [usize; 2],
    (rows, cols): (usize, usize),
) {
    /// One tile, dispatched on the element size.
    ///
    /// # Safety
    /// As for [`block`].
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    unsafe fn tile(
        itemsize: usize,
        src: *const u8,
        strides: [isize; 2],
        dst: *mut u8,
        [dst_row, dst_col]: [usize; 2],
        len: [usize; 2],
    ) {
        // SAFETY: the caller's guarantee, with the element size of each type.
        unsafe {
            #[cfg(target_arch = "x86_64")]
            if strides[0].unsigned_abs() == itemsize
                && dst_col == itemsize
                && matches!(itemsize, 1 | 2 | 4)
            {
                return transpose_sse2(itemsize, src, strides, dst, dst_row, len);
            }
            block(itemsize, src, strides, dst, [dst_row, dst_col], len)
        }
    }
    for a0 in (0..la).step_by(rows) {
        let ta = rows.min(la - a0);
        for b0 in (0..lb).step_by(cols) {
            let tb = cols.min(lb - b0);
            let s = src.wrapping_offset(a0 as isize * sa + b0 as isize * sb);
            let d = dst.wrapping_add(a0 * dst_row + b0 * dst_col);
            // SAFETY: the tile's elements are within the block (the caller's
            // guarantee).
            unsafe { tile(itemsize, s, [sa, sb], d, [dst_row, dst_col], [ta, tb]) };
        }
    }
}

/// A tile whose input is contiguous along its rows' axis (`a`, a stride of
/// one element, forwards or backwards): 4 x 4 (4-byte elements) or 8 x 8
/// (2- and 1-byte) blocks transposed in SSE2 registers,
/// the edges element by element. Backwards, a block's input columns are
/// loaded from their lowest address, the block's last row, so the rows come
/// out in reverse order and are stored so.
///
/// # Safety
/// As for [`tiled`], for the tile, with `itemsize` 1, 2 or 4 and a stride
/// of plus or minus one element along `a`.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
unsafe fn transpose_sse2(
    itemsize: usize,
    src: *const u8,
    [sa, sb]: [isize; 2],
    dst: *mut u8,
    dst_row: usize,
    [ta, tb]: [usize; 2],
) {
    use std::arch::x86_64::{
        __m128, _mm_loadu_ps, _mm_movehl_ps, _mm_movelh_ps, _mm_storeu_ps, _mm_unpackhi_ps,
        _mm_unpacklo_ps,
    };
    let k = 16 / itemsize.max(2); // 8, 8, 4
    let (fa, fb) = (ta / k * k, tb / k * k);
    let at = |a: usize, b: usize| src.wrapping_offset(a as isize * sa + b as isize * sb);
    let to = |a: usize, b: usize| dst.wrapping_add(a * dst_row + b * itemsize);
    let backwards = sa < 0;
    for a in (0..fa).step_by(k) {
        // The block's row held in lane i of its input columns: lane 0 is
        // the lowest-addressed row, where the columns are loaded from.
        let row = |i: usize| if backwards { a + k - 1 - i } else { a + i };
        let first = row(0);
        for b in (0..fb).step_by(k) {
            // SAFETY: the k x k block (a..a + k, b..b + k) lies within the
            // tile: its k input columns are k contiguous elements each from
            // row `first`, the lowest address (readable: the caller's
            // guarantee), its k output rows k
            // contiguous elements (writable); loads and stores are
            // unaligned; SSE2 is part of the x86_64 baseline.
            unsafe {
                if itemsize <= 2 {
                    let step = if backwards {
                        -(dst_row as isize)
                    } else {
                        dst_row as isize
                    };
                    transpose8_sse2(itemsize, at(first, b), sb, to(row(0), b), step);
                } else {
                    let c0: __m128 = _mm_loadu_ps(at(first, b).cast());
                    let c1: __m128 = _mm_loadu_ps(at(first, b + 1).cast());
                    let c2: __m128 = _mm_loadu_ps(at(first, b + 2).cast());
                    let c3: __m128 = _mm_loadu_ps(at(first, b + 3).cast());
                    let (t0, t1) = (_mm_unpacklo_ps(c0, c1), _mm_unpacklo_ps(c2, c3));
                    let (t2, t3) = (_mm_unpackhi_ps(c0, c1), _mm_unpackhi_ps(c2, c3));
                    _mm_storeu_ps(to(row(0), b).cast(), _mm_movelh_ps(t0, t1));
                    _mm_storeu_ps(to(row(1), b).cast(), _mm_movehl_ps(t1, t0));
                    _mm_storeu_ps(to(row(2), b).cast(), _mm_movelh_ps(t2, t3));
                    _mm_storeu_ps(to(row(3), b).cast(), _mm_movehl_ps(t3, t2));
                }
            }
        }
    }
    // SAFETY: the tile's elements are readable at src + a * sa + b * sb and
    // writable at dst + a * dst_row + b * itemsize (the caller's guarantee),
    // of 1, 2 or 4 bytes.
    unsafe { copy_edges(itemsize, src, [sa, sb], dst, dst_row, [fa, fb], [ta, tb]) };
}

/// The edges a block transpose leaves in a `ta` x `tb` tile whose first
/// `fa` x `fb` elements it copied: columns `fb..` of rows `..fa`, then rows
/// `fa..`, by [`block`] (narrow tiles, a pick of two channels say, are
/// nearly all edge). Element `(a, b)` of the tile is at
/// `src + a * sa + b * sb` and goes to `dst + a * dst_row + b * itemsize`.
///
/// # Safety
/// Every element of the tile is readable and writable there, unaligned,
/// `itemsize` (1, 2, 4, 8 or 16) bytes; input and output do not overlap.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn copy_edges(
    itemsize: usize,
    src: *const u8,
    [sa, sb]: [isize; 2],
    dst: *mut u8,
    dst_row: usize,
    [fa, fb]: [usize; 2],
    [ta, tb]: [usize; 2],
) {
    let to = [dst_row, itemsize];
    // SAFETY: both parts lie within the tile (the caller's guarantee).
    unsafe {
        if fb < tb {
            let (s, d) = (
                src.wrapping_offset(fb as isize * sb),
                dst.wrapping_add(fb * itemsize),
            );
            block(itemsize, s, [sa, sb], d, to, [fa, tb - fb]);
        }
        if fa < ta {
            let (s, d) = (
                src.wrapping_offset(fa as isize * sa),
                dst.wrapping_add(fa * dst_row),
            );
            block(itemsize, s, [sa, sb], d, to, [ta - fa, tb]);
        }
    }
}

/// One 8 x 8 block of 2- or 1-byte elements: input column `j` (8 elements
/// contiguous along `a`) at `src + j * sb`, output row `i` (8 elements, lane
/// `i` of every column) at `dst + i * dst_row`. Three rounds of SSE2 unpacks (16-, 32- and 64-bit
/// for 2-byte elements; 8-, 16- and 32-bit for 1-byte ones, whose columns
/// are 64-bit loads).
///
/// # Safety
/// The 8 columns are readable and the 8 rows writable, unaligned; none
/// overlap.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn transpose8_sse2(
    itemsize: usize,
    src: *const u8,
    sb: isize,
    dst: *mut u8,
    dst_row: isize,
) {
    use std::arch::x86_64::{
        __m128i, _mm_loadl_epi64, _mm_loadu_si128, _mm_srli_si128, _mm_storel_epi64,
        _mm_storeu_si128, _mm_unpackhi_epi16, _mm_unpackhi_epi32, _mm_unpackhi_epi64,
        _mm_unpacklo_epi8, _mm_unpacklo_epi16, _mm_unpacklo_epi32, _mm_unpacklo_epi64,
    };
    let col = |j: isize| src.wrapping_offset(j * sb).cast::<__m128i>();
    let row = |i: usize| dst.wrapping_offset(i as isize * dst_row).cast::<__m128i>();
    // SAFETY: the caller's guarantee: 8 readable columns of `itemsize * 8`
    // bytes, 8 writable rows of as many; SSE2 is part of the x86_64
    // baseline; every load and store is unaligned.
    unsafe {
        if itemsize == 2 {
            let r: [__m128i; 8] = std::array::from_fn(|j| _mm_loadu_si128(col(j as isize)));
            let a = [
                _mm_unpacklo_epi16(r[0], r[1]),
                _mm_unpackhi_epi16(r[0], r[1]),
                _mm_unpacklo_epi16(r[2], r[3]),
                _mm_unpackhi_epi16(r[2], r[3]),
                _mm_unpacklo_epi16(r[4], r[5]),
                _mm_unpackhi_epi16(r[4], r[5]),
                _mm_unpacklo_epi16(r[6], r[7]),
                _mm_unpackhi_epi16(r[6], r[7]),
            ];
            // b[0]: rows 0-3 of output rows 0 and 1; b[4]: rows 4-7 of them.
            let b = [
                _mm_unpacklo_epi32(a[0], a[2]),
                _mm_unpackhi_epi32(a[0], a[2]),
                _mm_unpacklo_epi32(a[1], a[3]),
                _mm_unpackhi_epi32(a[1], a[3]),
                _mm_unpacklo_epi32(a[4], a[6]),
                _mm_unpackhi_epi32(a[4], a[6]),
                _mm_unpacklo_epi32(a[5], a[7]),
                _mm_unpackhi_epi32(a[5], a[7]),
            ];
            for q in 0..4 {
                _mm_storeu_si128(row(2 * q), _mm_unpacklo_epi64(b[q], b[q + 4]));
                _mm_storeu_si128(row(2 * q + 1), _mm_unpackhi_epi64(b[q], b[q + 4]));
            }
        } else {
            let r: [__m128i; 8] = std::array::from_fn(|j| _mm_loadl_epi64(col(j as isize)));
            let a = [
                _mm_unpacklo_epi8(r[0], r[1]),
                _mm_unpacklo_epi8(r[2], r[3]),
                _mm_unpacklo_epi8(r[4], r[5]),
                _mm_unpacklo_epi8(r[6], r[7]),
            ];
            let b = [
                _mm_unpacklo_epi16(a[0], a[1]),
                _mm_unpackhi_epi16(a[0], a[1]),
                _mm_unpacklo_epi16(a[2], a[3]),
                _mm_unpackhi_epi16(a[2], a[3]),
            ];
            // c[q]: output rows 2q (low 8 bytes) and 2q + 1 (high 8 bytes).
            let c = [
                _mm_unpacklo_epi32(b[0], b[2]),
                _mm_unpackhi_epi32(b[0], b[2]),
                _mm_unpacklo_epi32(b[1], b[3]),
                _mm_unpackhi_epi32(b[1], b[3]),
            ];
            for (q, &v) in c.iter().enumerate() {
                _mm_storel_epi64(row(2 * q), v);
                _mm_storel_epi64(row(2 * q + 1), _mm_srli_si128::<8>(v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nd::{Slice, check};

    fn plan(
        itemsize: usize,
        shape: &[usize],
        strides: Option<&[isize]>,
        window: &[Slice],
    ) -> Plan<{ crate::nd::MAX_DIMS }> {
        Plan::new(&check(itemsize, shape, strides, window).expect("valid window"))
    }

    fn full(shape: &[usize]) -> Vec<Slice> {
        shape.iter().map(|&d| Slice::range(0, d as isize)).collect()
    }

    #[test]
    fn a_c_window_of_whole_rows_coalesces_into_one_run() {
        // Full rows and channels of an H x W x 3 image: one axis of rows.
        let p = plan(
            1,
            &[40, 30, 3],
            None,
            &[Slice::range(5, 25), Slice::range(0, 30), Slice::range(0, 3)],
        );
        assert_eq!((p.n, p.len[0], p.kernel), (1, 20 * 30 * 3, Kernel::Run));
        // A window of columns: rows of W' x 3 contiguous bytes.
        let p = plan(
            1,
            &[40, 30, 3],
            None,
            &[Slice::range(5, 25), Slice::range(2, 12), Slice::range(0, 3)],
        );
        assert_eq!(
            (p.n, p.len[..2].to_vec(), p.kernel),
            (2, vec![20, 30], Kernel::Run)
        );
        // Length-1 axes are dropped.
        let p = plan(4, &[1, 7, 1, 9], None, &full(&[1, 7, 1, 9]));
        assert_eq!((p.n, p.len[0], p.kernel), (1, 63, Kernel::Run));
    }

    #[test]
    fn transposed_layouts_tile_and_strided_rows_gather() {
        // A Fortran-order matrix read into C order: tiles over axes 0 x 1.
        let p = plan(8, &[100, 200], Some(&[8, 800]), &full(&[100, 200]));
        assert!(matches!(p.kernel, Kernel::Tiled { j: 0, .. }));
        // A step-2 crop of a C array: a gather along the rows.
        let w = [
            Slice {
                start: 0,
                stop: 100,
                step: 2,
            },
            Slice {
                start: 0,
                stop: 200,
                step: 2,
            },
        ];
        let p = plan(4, &[100, 200], None, &w);
        assert_eq!(p.kernel, Kernel::Gather);
        // Reversed rows: a gather with a negative stride.
        let w = [
            Slice::range(0, 100),
            Slice {
                start: 199,
                stop: -1,
                step: -1,
            },
        ];
        let p = plan(4, &[100, 200], None, &w);
        assert_eq!((p.kernel, p.src[1]), (Kernel::Gather, -4));
        // Odd element sizes never tile.
        let p = plan(3, &[100, 200], Some(&[3, 300]), &full(&[100, 200]));
        assert_eq!(p.kernel, Kernel::Gather);
    }

    #[test]
    fn far_inputs_gather_short_rows_of_wide_elements() {
        // A Fortran-order (58, 35, 52, 58) array read into C order, its last
        // axis in steps of 3: tile rows of 19 elements, an input span of
        // about 24 MB (far).
        let fortran = |item: usize| {
            let mut s = [item as isize; 4];
            for k in 1..4 {
                s[k] = s[k - 1] * [58, 35, 52, 58][k - 1];
            }
            s
        };
        let w = [
            Slice::range(4, 58),
            Slice::range(2, 30),
            Slice::range(4, 48),
            Slice {
                start: 2,
                stop: 57,
                step: 3,
            },
        ];
        let shape = [58, 35, 52, 58];
        // 76-byte rows of float32: gathered.
        let p = plan(4, &shape, Some(&fortran(4)), &w);
        assert_eq!(p.kernel, Kernel::Gather);
        // The same rows of 2-byte elements (38 bytes): still tiled.
        let p = plan(2, &shape, Some(&fortran(2)), &w);
        assert!(matches!(p.kernel, Kernel::Tiled { j: 0, b: 3, .. }));
        // Rows of 58 float64 (464 bytes) gather, of 64 (512) too, of 65
        // tile: every 32nd column of a Fortran 400 x 2100 matrix (a span of
        // 6 MB or more).
        for (cols, tiled) in [(58, false), (64, false), (65, true)] {
            let shape = [400, 2100];
            let w = [
                Slice::range(0, 400),
                Slice {
                    start: 0,
                    stop: cols * 32,
                    step: 32,
                },
            ];
            let p = plan(8, &shape, Some(&[8, 3200]), &w);
            assert_eq!(matches!(p.kernel, Kernel::Tiled { .. }), tiled, "{cols}");
        }
        // A near input (under FAR_BYTES) tiles its short rows as before.
        let p = plan(4, &[58, 64], Some(&[4, 232]), &full(&[58, 64]));
        assert!(matches!(p.kernel, Kernel::Tiled { .. }));
    }

    #[test]
    fn a_gathers_cost_counts_the_input_lines_it_reads() {
        let cost = |p: &Plan<{ crate::nd::MAX_DIMS }>, out: usize| p.view().cost_bytes(out);
        // A contiguous window costs its output.
        let p = plan(
            4,
            &[100, 200],
            None,
            &[Slice::range(10, 90), Slice::range(5, 195)],
        );
        assert_eq!(cost(&p, 80 * 190 * 4), 80 * 190 * 4);
        // Every third uint16 of a 1-D array (6-byte stride): the output and
        // three times as much input, halved.
        let step = |start, stop, step| Slice { start, stop, step };
        let p = plan(2, &[30_000], None, &[step(0, 30_000, 3)]);
        assert_eq!(p.kernel, Kernel::Gather);
        assert_eq!(cost(&p, 20_000), 10_000 + 30_000);
        // One channel of a uint16 RGBA row read backwards in steps of 3
        // (a 24-byte stride): 12 times the output read, halved.
        let p = plan(
            2,
            &[126_372, 4],
            None,
            &[step(126_367, 3, -3), Slice::range(0, 1)],
        );
        assert_eq!((p.kernel, p.src[0]), (Kernel::Gather, -24));
        assert_eq!(cost(&p, 84_244), 84_244 / 2 + 42_122 * 24 / 2);
        // Elements a cache line or more apart cost a whole line each.
        let p = plan(
            8,
            &[100, 200],
            None,
            &[Slice::range(0, 100), step(0, 200, 9)],
        );
        assert_eq!(p.src[p.n - 1], 72);
        assert_eq!(cost(&p, 8 * 100 * 23), (8 * 100 * 23 + 64 * 100 * 23) / 2);
        // Elements wider than a line (and a stride of 0) cost themselves.
        let p = plan(100, &[50], None, &[step(49, -1, -1)]);
        assert_eq!((p.kernel, p.src[0]), (Kernel::Gather, -100));
        assert_eq!(cost(&p, 5000), 5000);
        let p = plan(
            4,
            &[10, 30],
            Some(&[0, 4]),
            &[Slice::range(0, 10), step(0, 30, 2)],
        );
        assert_eq!(cost(&p, 4 * 10 * 15), (4 * 10 * 15 + 8 * 10 * 15) / 2);
        let p = plan(4, &[30, 10], Some(&[4, 0]), &full(&[30, 10]));
        assert_eq!((p.kernel, p.src[p.n - 1]), (Kernel::Gather, 0));
        assert_eq!(cost(&p, 4 * 300), 4 * 300);
        // A tile reads along axis j: a Fortran matrix costs its output.
        let p = plan(8, &[100, 200], Some(&[8, 800]), &full(&[100, 200]));
        assert!(matches!(p.kernel, Kernel::Tiled { j: 0, .. }));
        assert_eq!(cost(&p, 8 * 100 * 200), 8 * 100 * 200);
    }

    #[test]
    fn short_contiguous_runs_become_elements() {
        let step2 = |d: isize| Slice {
            start: 0,
            stop: d,
            step: 2,
        };
        // Every second pixel of an RGB image: 3-byte elements, gathered.
        let p = plan(
            1,
            &[40, 30, 3],
            None,
            &[step2(40), step2(30), Slice::range(0, 3)],
        );
        assert_eq!(
            (p.n, p.len[..2].to_vec(), p.itemsize, p.kernel),
            (2, vec![20, 15], 3, Kernel::Gather)
        );
        assert_eq!((p.src[1], p.dst[1], p.dst[0]), (6, 3, 45));
        // Pairs of float64 (16 bytes) are elements; four float32 channels
        // (16 bytes) too; five (20 bytes) stay a run.
        let p = plan(8, &[10, 2], None, &[step2(10), Slice::range(0, 2)]);
        assert_eq!((p.n, p.itemsize, p.src[0]), (1, 16, 32));
        let p = plan(4, &[10, 4], None, &[step2(10), Slice::range(0, 4)]);
        assert_eq!((p.n, p.itemsize), (1, 16));
        let p = plan(4, &[10, 5], None, &[step2(10), Slice::range(0, 5)]);
        assert_eq!((p.n, p.itemsize, p.kernel), (2, 4, Kernel::Run));
        // A channel window that is not contiguous is not folded.
        let w = [step2(40), step2(30), step2(3)];
        let p = plan(1, &[40, 30, 3], None, &w);
        assert_eq!((p.n, p.itemsize), (3, 1));
    }

    #[test]
    fn fortran_matrices_of_every_tiled_size_copy_exactly() {
        // The SSE2 blocks (8 x 8 for 1- and 2-byte elements, 4 x 4 for
        // 4-byte), the typed tiles of 8- and 16-byte elements (also from an
        // input beyond FAR_BYTES), forwards and backwards, and
        // their edges: shapes below, at and beyond a block, and beyond a
        // tile, against the element-by-element definition.
        let far = (FAR_BYTES / 8 / 600 + 3, 601);
        for itemsize in [1usize, 2, 4, 8, 16] {
            let shapes = [
                (8, 8),
                (9, 17),
                (16, 7),
                (5, 64),
                (64, 5),
                (72, 8),
                (130, 75),
                (300, 9),
                far,
            ];
            for (rows, cols) in shapes {
                if (rows, cols) == far && itemsize < 8 {
                    continue;
                }
                let data: Vec<u8> = (0..rows * cols * itemsize)
                    .map(|i| (i * 131 % 251) as u8)
                    .collect();
                // Rows forwards, then backwards (a Fortran matrix with its
                // first axis reversed: element (r, c) at (c + 1) * rows - 1 - r).
                for backwards in [false, true] {
                    let item = itemsize as isize;
                    let strides = [
                        if backwards { -item } else { item },
                        (rows * itemsize) as isize,
                    ];
                    let p = plan(
                        itemsize,
                        &[rows, cols],
                        Some(&strides),
                        &full(&[rows, cols]),
                    );
                    // Tiled once a column is longer than a cache line, and
                    // 8 elements long (the rows here are shorter than 256).
                    let tiled = matches!(p.kernel, Kernel::Tiled { j: 0, .. });
                    let want = rows * itemsize > LINE && rows >= 8;
                    assert_eq!(tiled, want, "{itemsize} {rows}x{cols}");
                    let array = crate::nd::Array {
                        data: &data,
                        offset: if backwards { (rows - 1) * itemsize } else { 0 },
                        itemsize,
                        shape: &[rows, cols],
                        strides: Some(&strides),
                    };
                    let got = crate::nd::crop(&array, &full(&[rows, cols])).expect("crop");
                    let mut want = Vec::with_capacity(data.len());
                    for r in 0..rows {
                        for c in 0..cols {
                            let r = if backwards { rows - 1 - r } else { r };
                            let at = (c * rows + r) * itemsize;
                            want.extend_from_slice(&data[at..at + itemsize]);
                        }
                    }
                    assert_eq!(
                        got.as_bytes(),
                        &want[..],
                        "{itemsize} {rows}x{cols} {backwards}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_short_innermost_axis_tiles_with_the_next_axis_out() {
        // Fortran arrays of 4 axes whose last (innermost in the output) is
        // 2 to 4 long: tiles of axis 0 x axis 2, and the copy exact, with
        // axis 1 reversed and stepped, for every tiled element size.
        for itemsize in [1usize, 2, 4, 8, 16] {
            for (shape, inner) in [([20usize, 7, 23, 3], 2usize), ([37, 5, 13, 4], 4)] {
                let mut strides = [0isize; 4];
                let mut stride = itemsize;
                for k in 0..4 {
                    strides[k] = stride as isize;
                    stride *= shape[k];
                }
                let window = [
                    Slice::range(3, 16),
                    Slice {
                        start: shape[1] as isize - 1,
                        stop: 0,
                        step: -2,
                    },
                    Slice::range(0, shape[2] as isize),
                    Slice::range((shape[3] - inner) as isize, shape[3] as isize),
                ];
                let checked = check(itemsize, &shape, Some(&strides), &window).expect("valid");
                let p = Plan::new(&checked);
                let short = inner * itemsize <= SHORT_INNER;
                match p.kernel {
                    Kernel::Tiled { j: 0, b, .. } => {
                        assert_eq!(b == 2, short, "{itemsize} {shape:?}: b {b}");
                        assert_eq!(b == 3, !short, "{itemsize} {shape:?}: b {b}");
                    }
                    kernel => panic!("{itemsize} {shape:?}: {kernel:?}"),
                }
                let data: Vec<u8> = (0..stride).map(|i| (i * 131 % 251) as u8).collect();
                let array = crate::nd::Array {
                    data: &data,
                    offset: 0,
                    itemsize,
                    shape: &shape,
                    strides: Some(&strides),
                };
                let got = crate::nd::crop(&array, &window).expect("crop");
                let mut want = Vec::with_capacity(got.as_bytes().len());
                for i0 in (3..16).map(|i| i as isize) {
                    for i1 in (1..shape[1] as isize).rev().step_by(2) {
                        for i2 in 0..shape[2] as isize {
                            for i3 in (shape[3] - inner) as isize..shape[3] as isize {
                                let at = [i0, i1, i2, i3]
                                    .iter()
                                    .zip(&strides)
                                    .map(|(i, s)| i * s)
                                    .sum::<isize>()
                                    as usize;
                                want.extend_from_slice(&data[at..at + itemsize]);
                            }
                        }
                    }
                }
                assert_eq!(got.as_bytes(), &want[..], "{itemsize} {shape:?}");
            }
        }
    }

    #[test]
    fn strided_rows_of_every_element_size_and_step_copy_exactly() {
        // With the SSSE3 kernel where the CPU has SSSE3 (the default), then
        // with x86_64's baseline only.
        let has_ssse3 = crate::nd::simd::use_ssse3(true);
        strided_rows_copy_exactly();
        if has_ssse3 {
            crate::nd::simd::use_ssse3(false);
            strided_rows_copy_exactly();
            crate::nd::simd::use_ssse3(true);
        }
    }

    fn strided_rows_copy_exactly() {
        // gather()'s loops: steps of -4 to 4 elements (fixed, backwards,
        // reversed and plain forms), rows of 0 to 70 elements, 1 to 17-byte
        // elements, one row and several (the last two axes at once).
        let data: Vec<u8> = (0..17 * 4 * 71 * 3)
            .map(|i| (i * 131 % 251) as u8)
            .collect();
        for itemsize in 1..=17usize {
            for step in [-4isize, -3, -2, -1, 2, 3, 4] {
                for n in [0usize, 1, 2, 7, 16, 17, 18, 33, 40, 49, 64, 70] {
                    for rows in [1usize, 3] {
                        let len = 4 * 71;
                        let stride = (len * itemsize) as isize;
                        let start = if step < 0 && n > 0 {
                            (n as isize - 1) * -step
                        } else {
                            0
                        };
                        // Just past the last index taken.
                        let stop = match n {
                            0 => start,
                            _ => start + (n as isize - 1) * step + step.signum(),
                        };
                        let window = [Slice::range(0, rows as isize), Slice { start, stop, step }];
                        let array = crate::nd::Array {
                            data: &data,
                            offset: 0,
                            itemsize,
                            shape: &[3, len],
                            strides: Some(&[stride, itemsize as isize]),
                        };
                        let got = crate::nd::crop(&array, &window).expect("crop");
                        let mut want = Vec::new();
                        for r in 0..rows as isize {
                            for i in 0..n as isize {
                                let at =
                                    (r * stride + (start + i * step) * itemsize as isize) as usize;
                                want.extend_from_slice(&data[at..at + itemsize]);
                            }
                        }
                        assert_eq!(got.as_bytes(), &want[..], "{itemsize} {step} {n} {rows}");
                    }
                }
            }
        }
    }

    #[test]
    fn tiles_fit_the_stage() {
        for itemsize in [1, 2, 4, 8, 16] {
            for lb in [1, 3, 64, 1000, 5000, 1 << 20] {
                let (rows, cols) = tile_shape(itemsize, lb);
                assert!(rows * cols * itemsize <= TILE_BYTES, "{itemsize} {lb}");
                assert!(rows.is_power_of_two() && (4..=TILE_ROWS_MAX).contains(&rows));
                assert!(cols >= 1 && cols <= lb.max(1));
            }
        }
    }
}
