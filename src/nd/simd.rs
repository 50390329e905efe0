//! Kernels that use vector extensions beyond x86_64's baseline (SSE2),
//! for CPUs that have them: the CPU is asked at run time (CPUID, through
//! `is_x86_feature_detected!`); otherwise the baseline kernels of `exec`
//! run.
//!
//! The SSSE3 byte gather (one channel of RGB or RGBA uint8 pixels, steps
//! of 3, 4, -3 and -4 bytes) is used wherever the CPU has SSSE3. Measured
//! through `ezalloc.crop` on an AMD EPYC, one thread, in turn in one
//! process against the plain loop: `a[:, :, 0]` of a 1080 x 1920 RGB image
//! 286 us against 494 us (numpy 563 us), `a[:, :, 2]` of a 512 x 512 RGBA
//! one 37 us against 63 us (numpy 72 us), a 4000 x 6000 RGB one 4.5 ms
//! against 5.9-7.4 ms (numpy 6.7-7.6 ms). [`use_ssse3`] turns it off, for
//! the tests of both paths.
//!
//! The AVX transpose is not used by default: on the Xeon with AVX-512 FP16
//! that the library is now tuned on, it was slower than the baseline's
//! typed loop on every far tile of 8- and 16-byte elements measured, in
//! one process, in turn (a float64 5000 x 5000 Fortran window 0.79x numpy
//! on one thread against 0.97x, a complex128 1500 x 1500 Fortran matrix
//! 0.67x against 1.03x, a float64 transpose with steps of -1 and -3 0.44x
//! against 0.91x), where the machine it was first measured on found it
//! 1.08-1.27x faster (`bench/dispatch.rs`). [`use_avx`] turns it on, for
//! the tests of both paths and that benchmark.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

const BASELINE: u8 = 1;
const AVX: u8 = 2;

/// What the kernels may use: the baseline unless [`use_avx`] turned AVX
/// on.
static LEVEL: AtomicU8 = AtomicU8::new(BASELINE);

/// Whether the CPU (and, for AVX, the operating system) supports the
/// extension named `feature` (`"avx"`, `"ssse3"`); `false` on other
/// architectures. `std` asks the CPU once and caches the answer.
macro_rules! detect {
    ($feature:tt) => {{
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!($feature)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }};
}

/// Whether the SSSE3 kernels may be used where the CPU has SSSE3 (the
/// default); [`use_ssse3`] changes it, for the tests of both paths.
static SSSE3_ALLOWED: AtomicBool = AtomicBool::new(true);

/// Whether the kernels may use SSSE3: the CPU has it and [`use_ssse3`]
/// has not turned it off.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) fn ssse3() -> bool {
    SSSE3_ALLOWED.load(Ordering::Relaxed) && detect!("ssse3")
}

/// Test and benchmark hook, not part of the library's interface: `on`
/// (the default) lets the kernels use SSSE3 where the CPU has it; `false`
/// keeps them to x86_64's baseline, as on a CPU without SSSE3. Returns
/// whether the CPU has SSSE3. The results are the same either way.
#[doc(hidden)]
pub fn use_ssse3(on: bool) -> bool {
    SSSE3_ALLOWED.store(on, Ordering::Relaxed);
    detect!("ssse3")
}

/// The `pshufb` control that takes output byte `m` (0..16) of a step from
/// input chunk `chunk` (16 bytes) of the step's `16 * k` bytes, where
/// output byte `m` sits at `k * m` forwards, or at `16 * k - 1 - k * m`
/// backwards (element `i` is the step's last byte); 0x80 (zero) for the
/// bytes of the other chunks.
#[cfg(target_arch = "x86_64")]
const fn pick(k: usize, backwards: bool, chunk: usize) -> [u8; 16] {
    let mut control = [0x80u8; 16];
    let mut m = 0;
    while m < 16 {
        let at = if backwards { 16 * k - 1 - k * m } else { k * m };
        if at / 16 == chunk {
            control[m] = (at % 16) as u8;
        }
        m += 1;
    }
    control
}

/// The controls of [`pick`] for steps of 3 and 4, forwards and backwards:
/// `PICKS[k - 3][backwards][chunk]`.
#[cfg(target_arch = "x86_64")]
const PICKS: [[[[u8; 16]; 4]; 2]; 2] = {
    let mut t = [[[[0x80u8; 16]; 4]; 2]; 2];
    let mut k = 3;
    while k <= 4 {
        let mut b = 0;
        while b < 2 {
            let mut c = 0;
            while c < k {
                t[k - 3][b][c] = pick(k, b == 1, c);
                c += 1;
            }
            b += 1;
        }
        k += 1;
    }
    t
};

/// Rows of `n` bytes `k` bytes apart (`k` is 3 or 4: one channel of RGB or
/// RGBA pixels), forwards or backwards (`stride` is `k` or `-k`), 16 output
/// bytes at a time: `k` unaligned 16-byte loads, each shuffled by `pshufb`
/// into the output bytes it holds, or-ed together. The rest of a row is
/// copied byte by byte.
///
/// No byte outside a row is read: a step covers `16 * k` bytes from its
/// first element (forwards) or up to it (backwards), and is taken only
/// while one more element lies beyond them.
///
/// # Safety
/// The CPU supports SSSE3 ([`ssse3`]); `stride` is 3, 4, -3 or -4; the
/// rows' bytes are readable and `dst` writable for `rows` rows of `n`
/// bytes `dst_row` bytes apart; they do not overlap.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "ssse3")]
pub(super) unsafe fn channel_u8_ssse3(
    src: *const u8,
    [row_step, stride]: [isize; 2],
    dst: *mut u8,
    dst_row: usize,
    [rows, n]: [usize; 2],
) {
    use std::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm_or_si128, _mm_setzero_si128, _mm_shuffle_epi8,
        _mm_storeu_si128,
    };
    let k = stride.unsigned_abs();
    let backwards = stride < 0;
    let picks = &PICKS[k - 3][usize::from(backwards)];
    // SAFETY: each control is 16 bytes of a static array; unaligned loads.
    let control: [__m128i; 4] =
        std::array::from_fn(|c| unsafe { _mm_loadu_si128(picks[c].as_ptr().cast()) });
    let span = 16 * k;
    for r in 0..rows {
        let row = src.wrapping_offset(r as isize * row_step);
        let out = dst.wrapping_add(r * dst_row);
        let mut i = 0;
        while i + 16 < n {
            let at = row.wrapping_offset(i as isize * stride);
            let first = if backwards {
                at.wrapping_add(1).wrapping_sub(span)
            } else {
                at
            };
            let mut v = _mm_setzero_si128();
            for (c, control) in control.iter().enumerate().take(k) {
                // SAFETY: chunk c lies in the step's 16 * k bytes, between
                // elements i and i + 16 of this row (readable: the
                // caller's guarantee); unaligned load.
                let chunk = unsafe { _mm_loadu_si128(first.wrapping_add(16 * c).cast()) };
                v = _mm_or_si128(v, _mm_shuffle_epi8(chunk, *control));
            }
            // SAFETY: output bytes i .. i + 16 of this row are writable (the
            // caller's guarantee); unaligned store.
            unsafe { _mm_storeu_si128(out.wrapping_add(i).cast(), v) };
            i += 16;
        }
        for m in i..n {
            // SAFETY: byte m of this row is readable at row + m * stride and
            // writable at out + m (the caller's guarantee).
            unsafe { *out.add(m) = *row.offset(m as isize * stride) };
        }
    }
}

/// Whether the kernels may use AVX: only once [`use_avx`] turned it on
/// (see the module's documentation), on a CPU that has it.
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
    let has = detect!("avx");
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
