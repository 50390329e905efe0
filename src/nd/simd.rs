//! Kernels that use vector extensions beyond x86_64's baseline (SSE2),
//! for CPUs that have them: the CPU is asked at run time (CPUID, through
//! `is_x86_feature_detected!`); otherwise the baseline kernels of `exec`
//! run.
//!
//! The AVX transpose is not used by default: on the Xeon with AVX-512 FP16
//! that the library is now tuned on, it was slower than the baseline's
//! typed loop on every far tile of 8- and 16-byte elements measured, in
//! one process, in turn (a float64 5000 x 5000 Fortran window 0.79x numpy
//! on one thread against 0.97x, a complex128 1500 x 1500 Fortran matrix
//! 0.67x against 1.03x, a float64 transpose with steps of -1 and -3 0.44x
//! against 0.91x), where the machine it was first measured on found it
//! 1.08-1.27x faster (`bench/dispatch.rs`). [`use_avx`] turns it on, for the tests of both paths and that benchmark.

use std::sync::atomic::{AtomicU8, Ordering};

const BASELINE: u8 = 1;
const AVX: u8 = 2;

/// What the kernels may use: the baseline unless [`use_avx`] turned AVX
/// on.
static LEVEL: AtomicU8 = AtomicU8::new(BASELINE);

/// Whether the CPU and the operating system support AVX.
fn detect() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the kernels may use AVX: only once [`use_avx`] turned it on (see the module's documentation), on a CPU that has it.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) fn avx() -> bool {
    LEVEL.load(Ordering::Relaxed) == AVX
}

/// Test and benchmark hook, not part of the library's interface: `on`
/// lets the kernels use AVX where the CPU has it; `false` keeps every
/// kernel to x86_64's baseline (SSE2), as by default and on a CPU without
/// AVX. Returns whether the CPU has AVX. The results are the same either
/// way.
#[doc(hidden)]
pub fn use_avx(on: bool) -> bool {
    let has = detect();
    let level = if on && has { AVX } else { BASELINE };
    LEVEL.store(level, Ordering::Relaxed);
    has
}

/// A tile of 8- or 16-byte elements (of an input too large for the caches:
/// see `FAR_BYTES` in `exec`) whose input is contiguous along its
/// rows' axis (`a`, a stride of one element, forwards or backwards): 4 x 4
/// blocks of 8-byte elements, or 2 x 2 of 16-byte ones, transposed in AVX
/// registers; the edges element by element. Backwards, a block's input
/// columns are loaded from their lowest address, its last row, so the rows
/// come out in reverse order and are stored so.
///
/// # Safety
/// The CPU supports AVX ([`avx`]); element `(a, b)` of the `ta` x `tb`
/// tile is readable at `src + a * sa + b * sb` and writable at
/// `dst + a * dst_row + b * itemsize`; `itemsize` is 8 or 16 and `sa` is
/// plus or minus `itemsize`; input and output do not overlap.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
pub(super) unsafe fn transpose_avx(
    itemsize: usize,
    src: *const u8,
    [sa, sb]: [isize; 2],
    dst: *mut u8,
    dst_row: usize,
    [ta, tb]: [usize; 2],
) {
    use std::arch::x86_64::{
        __m256d, _mm256_loadu_pd, _mm256_permute2f128_pd, _mm256_storeu_pd, _mm256_unpackhi_pd,
        _mm256_unpacklo_pd,
    };
    let k = 32 / itemsize; // 4 or 2
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
            let load = |j: usize| -> __m256d {
                // SAFETY: column b + j of the block, k elements (32 bytes)
                // from row `first`, its lowest address, lies in the tile
                // (readable: the caller's guarantee); unaligned load; AVX is
                // enabled for this function.
                unsafe { _mm256_loadu_pd(at(first, b + j).cast()) }
            };
            let store = |i: usize, v: __m256d| {
                // SAFETY: output row row(i) of the block, k elements from
                // column b, lies in the tile (writable: the caller's
                // guarantee); unaligned store; AVX is enabled here.
                unsafe { _mm256_storeu_pd(to(row(i), b).cast(), v) }
            };
            if k == 4 {
                let (c0, c1, c2, c3) = (load(0), load(1), load(2), load(3));
                // t0 = (c0[0], c1[0], c0[2], c1[2]), t1 = (c0[1], c1[1], c0[3], c1[3]).
                let (t0, t1) = (_mm256_unpacklo_pd(c0, c1), _mm256_unpackhi_pd(c0, c1));
                let (t2, t3) = (_mm256_unpacklo_pd(c2, c3), _mm256_unpackhi_pd(c2, c3));
                store(0, _mm256_permute2f128_pd::<0x20>(t0, t2));
                store(1, _mm256_permute2f128_pd::<0x20>(t1, t3));
                store(2, _mm256_permute2f128_pd::<0x31>(t0, t2));
                store(3, _mm256_permute2f128_pd::<0x31>(t1, t3));
            } else {
                let (c0, c1) = (load(0), load(1));
                store(0, _mm256_permute2f128_pd::<0x20>(c0, c1));
                store(1, _mm256_permute2f128_pd::<0x31>(c0, c1));
            }
        }
    }
    // SAFETY: the tile's elements are readable at src + a * sa + b * sb and
    // writable at dst + a * dst_row + b * itemsize (the caller's guarantee),
    // of 8 or 16 bytes.
    unsafe { super::exec::copy_edges(itemsize, src, [sa, sb], dst, dst_row, [fa, fb], [ta, tb]) };
}
