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
//! The AVX row copy (contiguous runs of 2 KiB or more, [`AVX_RUN_MIN`])
//! is used wherever the CPU has AVX, in place of `memcpy`: see
//! `exec::copy_runs` for what was measured. [`use_avx`] turns it off, for
//! the tests of both paths and `bench/dispatch.rs`.
//!
//! An AVX transpose of 8- and 16-byte elements was tried and removed:
//! against the typed loop it measured 1.08-1.27x on one machine, 0.44-0.97x
//! on a second, and 0.87-1.14x (from run to run) on a third.

use std::sync::atomic::{AtomicBool, Ordering};

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

/// Whether the run copy may use AVX where the CPU has it (the default);
/// [`use_avx`] changes it, for the tests of both paths.
static AVX_ALLOWED: AtomicBool = AtomicBool::new(true);

/// Whether the kernels may use AVX: the CPU (and the operating system) has
/// it and [`use_avx`] has not turned it off.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) fn avx() -> bool {
    AVX_ALLOWED.load(Ordering::Relaxed) && detect!("avx")
}

/// Test and benchmark hook, not part of the library's interface: `on`
/// (the default) lets the kernels use AVX where the CPU has it; `false`
/// keeps them from it, as on a CPU without AVX. Returns whether the CPU has
/// AVX. The results are the same either way.
#[doc(hidden)]
pub fn use_avx(on: bool) -> bool {
    AVX_ALLOWED.store(on, Ordering::Relaxed);
    detect!("avx")
}

/// Runs of this many bytes or more are copied by [`copy_avx`] where the
/// CPU has AVX; shorter ones by `memcpy`, whose own vector loop is as fast
/// there.
#[cfg(target_arch = "x86_64")]
pub(super) const AVX_RUN_MIN: usize = 2048;

/// Copies `n` bytes (at least 32) from `src` to `dst` with 32-byte AVX
/// loads and stores: the first 32 bytes unaligned, then the rest with
/// stores aligned to 32 bytes, four at a time, and the last 32 bytes
/// unaligned (overlapping stores of the same bytes).
///
/// # Safety
/// The CPU supports AVX ([`avx`]); `n >= 32`; `src` is readable and `dst`
/// writable for `n` bytes; they do not overlap.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
pub(super) unsafe fn copy_avx(src: *const u8, dst: *mut u8, n: usize) {
    use std::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm256_store_si256, _mm256_storeu_si256};
    const V: usize = 32;
    let load = |at: usize| -> __m256i {
        // SAFETY: bytes at .. at + 32 lie in the n bytes of src (every
        // caller below keeps at + 32 <= n); unaligned load.
        unsafe { _mm256_loadu_si256(src.add(at).cast()) }
    };
    // SAFETY: the first and the last 32 bytes of dst (n >= 32); unaligned.
    unsafe {
        _mm256_storeu_si256(dst.cast(), load(0));
        _mm256_storeu_si256(dst.add(n - V).cast(), load(n - V));
    }
    // From the first 32-byte boundary of dst after its start.
    let mut at = V - (dst as usize & (V - 1));
    let store = |at: usize, v: __m256i| {
        // SAFETY: bytes at .. at + 32 of dst, within its n bytes (at + 32
        // <= n below), aligned to 32 bytes (at starts at dst's first
        // boundary and moves by 32).
        unsafe { _mm256_store_si256(dst.add(at).cast(), v) }
    };
    while at + 4 * V <= n {
        let (a, b, c, d) = (load(at), load(at + V), load(at + 2 * V), load(at + 3 * V));
        store(at, a);
        store(at + V, b);
        store(at + 2 * V, c);
        store(at + 3 * V, d);
        at += 4 * V;
    }
    while at + V <= n {
        store(at, load(at));
        at += V;
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn the_avx_copy_writes_exactly_its_bytes() {
        if !detect!("avx") {
            eprintln!("SKIPPED: this CPU has no AVX");
            return;
        }
        let src: Vec<u8> = (0..1200).map(|i| (i * 131 % 251) as u8).collect();
        let mut dst = vec![0u8; 1300];
        // Every length from one vector to several 128-byte steps, from
        // sources and to destinations at offsets of 0 to 33 bytes from the
        // vectors' starts: the head before dst's first 32-byte boundary
        // takes every length from 1 to 32.
        for n in 32..=700 {
            for (from, to) in [(0, 0), (1, 0), (0, 1), (12, 5), (31, 17), (32, 33)] {
                dst.fill(0xee);
                // SAFETY: n >= 32 bytes readable at src[from..] (from + n <=
                // 732 < 1200) and writable at dst[to..] (to + n < 1300);
                // two vectors, no overlap; the CPU has AVX.
                unsafe { copy_avx(src[from..].as_ptr(), dst[to..].as_mut_ptr(), n) };
                assert_eq!(&dst[to..to + n], &src[from..from + n], "{n} {from} {to}");
                assert!(
                    dst[..to].iter().all(|&b| b == 0xee),
                    "before: {n} {from} {to}"
                );
                assert!(
                    dst[to + n..].iter().all(|&b| b == 0xee),
                    "after: {n} {from} {to}"
                );
            }
        }
    }
}
