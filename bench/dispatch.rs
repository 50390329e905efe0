//! The runtime CPU dispatch, measured: each row copy and channel pick
//! timed with the kernels the CPU allows (AVX and SSSE3 where present) and
//! with x86_64's baseline only (`memcpy` for the rows; `simd::use_avx`,
//! `simd::use_ssse3`), in turn, in this one process; best of many rounds.
//! `make bench` runs it (`cargo bench --bench dispatch`).

use std::hint::black_box;
use std::time::Instant;

use ezalloc::nd::{Array, Slice, crop, simd};

/// One case: an array of `shape` (elements of `itemsize` bytes) with
/// `strides`, its first element `offset` bytes into a vector, and a window.
struct Case {
    label: &'static str,
    itemsize: usize,
    offset: usize,
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
    let whole = |rows: usize, cols: usize| {
        [
            Slice::range(0, rows as isize),
            Slice::range(0, cols as isize),
        ]
    };
    let cases = [
        // Contiguous runs: the AVX row copy from simd::AVX_RUN_MIN bytes.
        Case {
            label: "S12 (6513,)[1:], 76 KiB in one run",
            itemsize: 12,
            offset: 12,
            shape: [1, 6512],
            strides: [78156, 12],
            window: whole(1, 6512),
        },
        Case {
            label: "uint8 RGB 1080p frame [90:990, 160:1760]",
            itemsize: 1,
            offset: 0,
            shape: [1080, 5760],
            strides: [5760, 1],
            window: [Slice::range(90, 990), Slice::range(480, 5280)],
        },
        Case {
            label: "float32 (512, 4100)[:, 3:4099], 16 KiB rows",
            itemsize: 4,
            offset: 0,
            shape: [512, 4100],
            strides: [16400, 4],
            window: [Slice::range(0, 512), Slice::range(3, 4099)],
        },
        // One channel of pixels: the SSSE3 byte gather.
        Case {
            label: "uint8 1080x1920 RGB, one channel",
            itemsize: 1,
            offset: 0,
            shape: [1080, 1920],
            strides: [5760, 3],
            window: whole(1080, 1920),
        },
        Case {
            label: "uint8 512x512 RGBA, one channel",
            itemsize: 1,
            offset: 0,
            shape: [512, 512],
            strides: [2048, 4],
            window: whole(512, 512),
        },
    ];
    // Every extension the CPU has, or x86_64's baseline alone.
    let cpu_kernels = |on: bool| (simd::use_avx(on), simd::use_ssse3(on));
    let (has_avx, has_ssse3) = cpu_kernels(true);
    println!(
        "runtime dispatch: row copies and channel picks (ezalloc::nd::crop), the CPU's kernels (AVX: {}, SSSE3: {}) against x86_64's baseline",
        if has_avx { "yes" } else { "no" },
        if has_ssse3 { "yes" } else { "no" }
    );
    for case in &cases {
        // The bytes the view spans (its strides are positive).
        let len = (0..2).fold(case.offset + case.itemsize, |n, k| {
            n + (case.shape[k] - 1) * case.strides[k].unsigned_abs()
        });
        let data: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
        let array = Array {
            data: &data,
            offset: case.offset,
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
