//! The raw C-ABI functions, called from Rust: crop over window sizes from
//! 64x64 to 8192x8192, and alloc per call. `make bench` runs this beside the
//! Python comparison with numpy.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ezalloc::ffi::{alloc, crop, ezalloc_free};
use libc::c_int;

/// (window side, input side): the input is larger than the window because
/// the window may not end at the last row or column.
const SIZES: &[(c_int, c_int)] = &[
    (64, 512),
    (512, 2048),
    (2048, 4096),
    (6000, 8192),
    (8192, 8193),
];

fn bench_crop(c: &mut Criterion) {
    let mut group = c.benchmark_group("crop");
    for &(side, dim) in SIZES {
        let input: Vec<c_int> = (0..dim as usize * dim as usize)
            .map(|k| k as c_int)
            .collect();
        let bytes = side as u64 * side as u64 * 4;
        group.throughput(Throughput::Bytes(bytes));
        if bytes > 64 << 20 {
            group.sample_size(10);
        }
        group.bench_function(BenchmarkId::from_parameter(format!("{side}x{side}")), |b| {
            b.iter(|| {
                let (mut out, mut r, mut c) = (std::ptr::null_mut(), 0, 0);
                let d0 = (dim - side - 1) / 2;
                // SAFETY: `input` holds dim * dim ints; the outputs are locals.
                unsafe {
                    crop(
                        input.as_ptr().cast_mut(),
                        dim,
                        dim,
                        d0,
                        d0 + side,
                        d0,
                        d0 + side,
                        &mut out,
                        &mut r,
                        &mut c,
                    );
                    ezalloc_free(black_box(out).cast());
                }
            })
        });
    }
    group.finish();
}

fn bench_alloc(c: &mut Criterion) {
    c.bench_function("alloc/1000", |b| {
        b.iter(|| {
            let (mut v, mut n) = (std::ptr::null_mut(), 0);
            // SAFETY: the outputs are locals; the block is released at once.
            unsafe {
                alloc(black_box(1000), &mut v, &mut n);
                ezalloc_free(black_box(v).cast());
            }
        })
    });
}

criterion_group!(benches, bench_crop, bench_alloc);
criterion_main!(benches);
