//! The runtime CPU dispatch, measured: each transposed copy and channel
//! pick timed with the kernels the CPU allows (AVX and SSSE3 where
//! present) and with x86_64's baseline only (`simd::use_avx`,
//! `simd::use_ssse3`), in turn, in this one process; best of many rounds.
//! `make bench` runs it (`cargo bench --bench dispatch`).

use std::hint::black_box;
use std::time::Instant;

use ezalloc::nd::{Array, Slice, crop, simd};

/// One case: a C array of `shape` (elements of `itemsize` bytes) seen
/// through `strides` (a transposed or Fortran-order view), and a window.
struct Case {
    label: &'static str,
    itemsize: usize,
    shape: [usize; 2],
    strides: [isize; 2],
    window: [Slice; 2],
}

/// Best time of one call, over `rounds` rounds of `calls` calls.
fn best(f: &dyn Fn(), rounds: usize, calls: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..calls {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / calls as f64);
    }
    best
}

fn main() {
    let fortran = |itemsize: usize, rows: usize| [itemsize as isize, (rows * itemsize) as isize];
    let whole = |rows: usize, cols: usize| {
        [
            Slice::range(0, rows as isize),
            Slice::range(0, cols as isize),
        ]
    };
    let cases = [
        Case {
            label: "complex128 86x126 transposed [1:79, 121:2:-2]",
            itemsize: 16,
            shape: [86, 126],
            strides: [16, 1376],
            window: [
                Slice::range(1, 79),
                Slice {
                    start: 121,
                    stop: 2,
                    step: -2,
                },
            ],
        },
        Case {
            label: "float64 193x275 Fortran",
            itemsize: 8,
            shape: [193, 275],
            strides: fortran(8, 193),
            window: whole(193, 275),
        },
        Case {
            label: "complex128 1000x1000 Fortran",
            itemsize: 16,
            shape: [1000, 1000],
            strides: fortran(16, 1000),
            window: whole(1000, 1000),
        },
        Case {
            label: "float64 3000x3000 Fortran",
            itemsize: 8,
            shape: [3000, 3000],
            strides: fortran(8, 3000),
            window: whole(3000, 3000),
        },
        // One channel of pixels: the SSSE3 byte gather.
        Case {
            label: "uint8 1080x1920 RGB, one channel",
            itemsize: 1,
            shape: [1080, 1920],
            strides: [5760, 3],
            window: whole(1080, 1920),
        },
        Case {
            label: "uint8 512x512 RGBA, one channel",
            itemsize: 1,
            shape: [512, 512],
            strides: [2048, 4],
            window: whole(512, 512),
        },
    ];
    // Every extension the CPU has, or x86_64's baseline alone.
    let cpu_kernels = |on: bool| (simd::use_avx(on), simd::use_ssse3(on));
    let (has_avx, has_ssse3) = cpu_kernels(true);
    println!(
        "runtime dispatch: transposed copies and channel picks (ezalloc::nd::crop), the CPU's kernels (AVX: {}, SSSE3: {}) against x86_64's baseline",
        if has_avx { "yes" } else { "no" },
        if has_ssse3 { "yes" } else { "no" }
    );
    for case in &cases {
        // The bytes the view spans (its strides are positive).
        let len = (0..2).fold(case.itemsize, |n, k| {
            n + (case.shape[k] - 1) * case.strides[k].unsigned_abs()
        });
        let data: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
        let array = Array {
            data: &data,
            offset: 0,
            itemsize: case.itemsize,
            shape: &case.shape,
            strides: Some(&case.strides),
        };
        let call = || {
            black_box(crop(&array, &case.window).expect("a valid window"));
        };
        let calls = (4 << 20) / len + 1;
        let (mut fast, mut base) = (f64::MAX, f64::MAX);
        for _ in 0..5 {
            cpu_kernels(true);
            fast = fast.min(best(&call, 20, calls));
            cpu_kernels(false);
            base = base.min(best(&call, 20, calls));
        }
        println!(
            "  {:<48} {:9.1} us with the CPU's kernels  {:9.1} us baseline  {:5.2}x",
            case.label,
            fast * 1e6,
            base * 1e6,
            base / fast
        );
    }
}
