//! The N-dimensional crop (`ezalloc_crop_nd`, which allocates its output
//! with malloc as numpy's copy does) on the large cases numpy users crop
//! (outputs of 16 MiB and more) and a small one, beside two references
//! measured in the same run:
//! - `naive`: the same window copied element by element with index
//!   arithmetic into freshly malloc'd memory (what a plain C loop does);
//! - `ceiling`: a streaming copy of as many contiguous bytes into freshly
//!   malloc'd memory, split over all cores: the machine's limit for a copy
//!   whose output is new memory (page zeroing on first touch included).
//!
//! Figures, not pass/fail: `make bench` (or `make bench-nd`) runs it.

use std::hint::black_box;
use std::ptr;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ezalloc::ffi_nd::ezalloc_crop_nd;

/// One benchmark case: an input array (C-contiguous buffer viewed through
/// `strides`) and a window given as numpy's adjusted slices.
struct Case {
    name: &'static str,
    itemsize: usize,
    shape: Vec<usize>,
    strides: Vec<isize>,
    start: Vec<isize>,
    stop: Vec<isize>,
    step: Vec<isize>,
}

impl Case {
    fn out_shape(&self) -> Vec<usize> {
        (0..self.shape.len())
            .map(|k| {
                let (a, b, s) = (self.start[k], self.stop[k], self.step[k]);
                ((b - a).max(0) as usize).div_ceil(s as usize)
            })
            .collect()
    }
    fn out_bytes(&self) -> usize {
        self.out_shape().iter().product::<usize>() * self.itemsize
    }
    fn in_bytes(&self) -> usize {
        self.shape.iter().product::<usize>() * self.itemsize
    }
}

/// C-order strides of `shape`, in bytes.
fn c_strides(shape: &[usize], itemsize: usize) -> Vec<isize> {
    let mut s = vec![0isize; shape.len()];
    let mut acc = itemsize as isize;
    for k in (0..shape.len()).rev() {
        s[k] = acc;
        acc *= shape[k] as isize;
    }
    s
}

fn c_case(
    name: &'static str,
    itemsize: usize,
    shape: &[usize],
    win: &[(isize, isize, isize)],
) -> Case {
    Case {
        name,
        itemsize,
        shape: shape.to_vec(),
        strides: c_strides(shape, itemsize),
        start: win.iter().map(|w| w.0).collect(),
        stop: win.iter().map(|w| w.1).collect(),
        step: win.iter().map(|w| w.2).collect(),
    }
}

fn cases() -> Vec<Case> {
    // A Fortran-order float64 3000 x 3000 matrix: strides (8, 8 * 3000).
    let mut fortran = c_case(
        "f64_fortran_1500x1500_transposing",
        8,
        &[3000, 3000],
        &[(700, 2200, 1), (600, 2100, 1)],
    );
    fortran.strides = vec![8, 8 * 3000];
    vec![
        c_case(
            "u8_image_3000x2000x3_of_4096x4096x3",
            1,
            &[4096, 4096, 3],
            &[(500, 3500, 1), (1000, 3000, 1), (0, 3, 1)],
        ),
        c_case(
            "f32_2200x2000_of_4096x4096",
            4,
            &[4096, 4096],
            &[(900, 3100, 1), (1000, 3000, 1)],
        ),
        fortran,
        c_case(
            "u16_volume_100x300x300_of_256x512x512",
            2,
            &[256, 512, 512],
            &[(50, 150, 1), (100, 400, 1), (100, 400, 1)],
        ),
        c_case(
            "f32_step2_2100x2100_of_4200x4200",
            4,
            &[4200, 4200],
            &[(0, 4200, 2), (0, 4200, 2)],
        ),
        c_case(
            "f32_small_64x64_of_512x512",
            4,
            &[512, 512],
            &[(100, 164, 1), (200, 264, 1)],
        ),
    ]
}

/// The window copied element by element, with the index arithmetic a plain
/// C loop does, into freshly malloc'd memory.
fn naive(case: &Case, input: &[u8]) -> *mut libc::c_void {
    let shape = case.out_shape();
    let total: usize = shape.iter().product();
    let item = case.itemsize;
    // SAFETY: a malloc of the output's size; checked for NULL.
    let out = unsafe { libc::malloc(total * item) }.cast::<u8>();
    assert!(!out.is_null());
    let mut idx = vec![0usize; shape.len()];
    for e in 0..total {
        let at: isize = (0..shape.len())
            .map(|k| (case.start[k] + idx[k] as isize * case.step[k]) * case.strides[k])
            .sum();
        // SAFETY: `at` is an element of the input window (within `input`),
        // and e * item + item <= the output's size.
        unsafe { ptr::copy_nonoverlapping(input.as_ptr().offset(at), out.add(e * item), item) };
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out.cast()
}

/// A streaming copy of `src` into freshly malloc'd memory, split over all
/// cores (x86_64: 16-byte non-temporal stores).
fn ceiling(src: &[u8]) -> *mut libc::c_void {
    // SAFETY: a malloc of src's size; checked for NULL.
    let out = unsafe { libc::malloc(src.len()) }.cast::<u8>();
    assert!(!out.is_null());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = src.len().div_ceil(threads).next_multiple_of(64);
    let dst = out as usize;
    std::thread::scope(|s| {
        for (i, part) in src.chunks(chunk).enumerate() {
            s.spawn(move || {
                let d = (dst + i * chunk) as *mut u8;
                #[cfg(target_arch = "x86_64")]
                {
                    use std::arch::x86_64::{
                        __m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128,
                    };
                    let body = part.len() / 16 * 16;
                    // SAFETY: d .. d + part.len() is this thread's part of the
                    // block (chunk is a multiple of 64 and malloc aligns to 16,
                    // so d is 16-byte aligned); loads are unaligned and in bounds.
                    unsafe {
                        for o in (0..body).step_by(16) {
                            let v = _mm_loadu_si128(part.as_ptr().add(o).cast::<__m128i>());
                            _mm_stream_si128(d.add(o).cast::<__m128i>(), v);
                        }
                        ptr::copy_nonoverlapping(
                            part.as_ptr().add(body),
                            d.add(body),
                            part.len() - body,
                        );
                        _mm_sfence();
                    }
                }
                #[cfg(not(target_arch = "x86_64"))]
                // SAFETY: d .. d + part.len() is this thread's part of the block.
                unsafe {
                    ptr::copy_nonoverlapping(part.as_ptr(), d, part.len())
                };
            });
        }
    });
    out.cast()
}

fn bench_nd(c: &mut Criterion) {
    let mut group = c.benchmark_group("nd");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for case in cases() {
        let input: Vec<u8> = (0..case.in_bytes()).map(|k| (k * 31 % 251) as u8).collect();
        let bytes = case.out_bytes();
        group.throughput(Throughput::Bytes(bytes as u64));
        let mut out_shape = vec![0usize; case.shape.len()];
        group.bench_function(format!("{}/ezalloc", case.name), |b| {
            b.iter(|| {
                let mut out = ptr::null_mut();
                // SAFETY: the arrays have ndim entries; the window lies within `input`.
                let rc = unsafe {
                    ezalloc_crop_nd(
                        input.as_ptr().cast(),
                        case.itemsize,
                        case.shape.len(),
                        case.shape.as_ptr(),
                        case.strides.as_ptr(),
                        case.start.as_ptr(),
                        case.stop.as_ptr(),
                        case.step.as_ptr(),
                        &mut out,
                        out_shape.as_mut_ptr(),
                    )
                };
                assert_eq!(rc, 0);
                // SAFETY: the block came from malloc.
                unsafe { libc::free(black_box(out)) };
            })
        });
        group.bench_function(format!("{}/naive", case.name), |b| {
            // SAFETY: the block came from malloc.
            b.iter(|| unsafe { libc::free(black_box(naive(&case, &input))) })
        });
        if bytes >= 16 << 20 {
            let src = &input[..bytes];
            group.bench_function(format!("{}/ceiling", case.name), |b| {
                // SAFETY: the block came from malloc.
                b.iter(|| unsafe { libc::free(black_box(ceiling(src))) })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_nd);
criterion_main!(benches);
