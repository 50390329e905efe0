//! A fuzz target over `ezalloc_crop_nd`'s validation, on stable Rust: a
//! structure-aware random driver (xorshift, seed printed) that throws
//! arguments at the C entry (NULL pointers, up to 70 dimensions, extreme
//! sizes, strides, bounds and steps) and checks each result against an
//! independent model in 128-bit arithmetic: the errno class, the outputs on
//! failure, and, on success, every byte of the copy.
//!
//! It runs for `EZALLOC_FUZZ_SECONDS` seconds (default 2; `make nd-fuzz`
//! runs it longer). `EZALLOC_FUZZ_SEED` replays a seed.

use std::ptr;
use std::time::{Duration, Instant};

use ezalloc::ffi_nd::ezalloc_crop_nd;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

const EXTREME: &[isize] = &[
    isize::MIN,
    isize::MIN + 1,
    -(1 << 62),
    -(1 << 31),
    (1 << 31),
    1 << 62,
    isize::MAX - 1,
    isize::MAX,
];

/// One generated call.
#[derive(Debug)]
struct Case {
    itemsize: usize,
    shape: Option<Vec<usize>>,
    ndim: usize,
    strides: Option<Vec<isize>>,
    start: Option<Vec<isize>>,
    stop: Option<Vec<isize>>,
    step: Option<Vec<isize>>,
    null_out: bool,
    null_out_shape: bool,
    null_src: bool,
}

fn generate(r: &mut Rng) -> Case {
    let ndim = if r.chance(3) {
        60 + r.below(11) as usize
    } else {
        r.below(5) as usize
    };
    let itemsize = if r.chance(5) {
        r.pick(&[0, usize::MAX, isize::MAX as usize, 1 << 62, 1 << 40])
    } else {
        r.pick(&[1, 2, 3, 4, 8, 16, 24])
    };
    let dims: Vec<usize> = (0..ndim)
        .map(|_| {
            if ndim > 5 {
                r.pick(&[1, 1, 1, 2])
            } else if r.chance(4) {
                r.pick(&[usize::MAX, 1 << 62, isize::MAX as usize, 1 << 31, 1 << 40])
            } else {
                r.below(7) as usize
            }
        })
        .collect();
    let strides = r.chance(80).then(|| {
        let mut natural = itemsize as isize;
        let mut s = vec![0isize; ndim];
        for k in (0..ndim).rev() {
            s[k] = match r.below(10) {
                0 => 0,
                1 => r.pick(EXTREME),
                2 => r.below(129) as isize - 64,
                _ => natural * if r.chance(30) { -1 } else { 1 },
            };
            natural = natural.wrapping_mul(dims[k].max(1) as isize);
        }
        s
    });
    let bound = |r: &mut Rng, d: usize| -> isize {
        if r.chance(3) {
            r.pick(EXTREME)
        } else {
            (r.below(d.min(8) as u64 + 5) as isize) - 2
        }
    };
    let start = r
        .chance(70)
        .then(|| dims.iter().map(|&d| bound(r, d)).collect());
    let stop = r
        .chance(70)
        .then(|| dims.iter().map(|&d| bound(r, d)).collect());
    let step = r.chance(70).then(|| {
        (0..ndim)
            .map(|_| {
                if r.chance(3) {
                    r.pick(EXTREME)
                } else {
                    r.below(7) as isize - 3
                }
            })
            .collect()
    });
    Case {
        itemsize,
        shape: (!r.chance(3)).then_some(dims),
        ndim,
        strides,
        start,
        stop,
        step,
        null_out: r.chance(3),
        null_out_shape: r.chance(3),
        null_src: r.chance(5),
    }
}

/// What the call must do: an errno value, or success with the output shape,
/// the span read (lo, hi) and, per axis, the indices' first value, step and
/// byte stride.
enum Expect {
    Fail(i32),
    Ok {
        shape: Vec<usize>,
        lo: i128,
        hi: i128,
        axes: Vec<(i128, i128, i128)>,
    },
}

fn model(c: &Case) -> Expect {
    use libc::{EINVAL, EPERM};
    if c.null_out || c.ndim > 64 || (c.ndim > 0 && (c.null_out_shape || c.shape.is_none())) {
        return Expect::Fail(EINVAL);
    }
    let dims = c.shape.clone().unwrap_or_default();
    let steps: Vec<i128> = (0..c.ndim)
        .map(|k| c.step.as_ref().map_or(1, |s| s[k] as i128))
        .collect();
    if c.itemsize == 0 || steps.contains(&0) {
        return Expect::Fail(EINVAL);
    }
    let size = dims
        .iter()
        .filter(|&&d| d != 0)
        .fold(Some(c.itemsize as u128), |a, &d| {
            a.and_then(|a| a.checked_mul(d as u128))
        });
    if size.is_none_or(|s| s > isize::MAX as u128) {
        return Expect::Fail(EINVAL);
    }
    let mut shape = Vec::new();
    let mut axes = Vec::new();
    for k in 0..c.ndim {
        let (d, step) = (dims[k] as i128, steps[k]);
        let start = c
            .start
            .as_ref()
            .map_or(if step > 0 { 0 } else { d - 1 }, |s| s[k] as i128);
        let stop = c
            .stop
            .as_ref()
            .map_or(if step > 0 { d } else { -1 }, |s| s[k] as i128);
        let (lo, hi) = if step > 0 { (0, d) } else { (-1, d - 1) };
        if !(lo <= start && start <= hi && lo <= stop && stop <= hi) {
            return Expect::Fail(EPERM);
        }
        let n = if step > 0 {
            (stop - start).max(0)
        } else {
            (start - stop).max(0)
        };
        let count = (n + step.abs() - 1) / step.abs();
        shape.push(count as usize);
        axes.push((start, step));
    }
    let strides: Vec<i128> = match &c.strides {
        Some(s) => s.iter().map(|&v| v as i128).collect(),
        None => {
            let mut s = vec![0i128; c.ndim];
            let mut acc = c.itemsize as i128;
            for k in (0..c.ndim).rev() {
                s[k] = acc;
                acc *= dims[k].max(1) as i128;
            }
            s
        }
    };
    let axes: Vec<(i128, i128, i128)> = axes
        .iter()
        .zip(&strides)
        .map(|(&(a, b), &s)| (a, b, s))
        .collect();
    if shape.contains(&0) {
        return Expect::Ok {
            shape,
            lo: 0,
            hi: 0,
            axes,
        };
    }
    if c.null_src {
        return Expect::Fail(EINVAL);
    }
    // Lowest and highest byte read, from both ends of every axis.
    let fits = |v: i128| isize::try_from(v).is_ok();
    let (mut lo, mut hi, mut first) = (0i128, 0i128, 0i128);
    for (k, &(start, step, stride)) in axes.iter().enumerate() {
        let a = start * stride;
        let last = start + (shape[k] as i128 - 1) * step;
        let Some(b) = last.checked_mul(stride) else {
            return Expect::Fail(EINVAL);
        };
        first += a;
        lo += a.min(b);
        hi += a.max(b);
    }
    hi += c.itemsize as i128;
    if !(fits(first) && fits(lo) && fits(hi) && fits(hi - lo)) {
        return Expect::Fail(EINVAL);
    }
    Expect::Ok {
        shape,
        lo,
        hi,
        axes,
    }
}

/// The window's bytes, element by element in C order, from `buf` (which
/// holds bytes lo..hi).
fn model_copy(
    buf: &[u8],
    lo: i128,
    itemsize: usize,
    shape: &[usize],
    axes: &[(i128, i128, i128)],
) -> Vec<u8> {
    let total: usize = shape.iter().product();
    let mut out = Vec::with_capacity(total * itemsize);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..total {
        let at: i128 = axes
            .iter()
            .zip(&idx)
            .map(|(&(s, st, sd), &i)| (s + i as i128 * st) * sd)
            .sum::<i128>()
            - lo;
        out.extend_from_slice(&buf[at as usize..at as usize + itemsize]);
        for k in (0..idx.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

fn run_case(c: &Case, r: &mut Rng) -> Result<(), String> {
    let expect = model(c);
    // The memory to back: element 0 (whose address `src` is, so a real
    // one) and the span read. Failures read nothing: a small buffer.
    let (buf_len, lo) = match &expect {
        Expect::Ok { lo, hi, shape, .. } => {
            let (lo, hi) = ((*lo).min(0), (*hi).max(c.itemsize as i128));
            let bytes = shape.iter().try_fold(c.itemsize, |a, &d| a.checked_mul(d));
            // Too large to back with memory, or to copy (broadcast strides).
            if hi - lo > (1 << 20) || bytes.is_none_or(|b| b > 1 << 20) {
                return Ok(());
            }
            ((hi - lo) as usize, lo)
        }
        Expect::Fail(_) => (16, 0),
    };
    let buf: Vec<u8> = (0..buf_len.max(1)).map(|_| r.next() as u8).collect();
    let src = if c.null_src {
        ptr::null()
    } else {
        buf.as_ptr().wrapping_offset(-(lo as isize))
    };
    let ptr_of = |v: &Option<Vec<isize>>| v.as_ref().map_or(ptr::null(), |v| v.as_ptr());
    let shape_ptr = c.shape.as_ref().map_or(ptr::null(), |v| v.as_ptr());
    let mut out: *mut libc::c_void = ptr::dangling_mut();
    let mut out_shape = vec![usize::MAX; c.ndim.min(64)];
    let out_ptr: *mut *mut libc::c_void = if c.null_out {
        ptr::null_mut()
    } else {
        &mut out
    };
    let shape_out_ptr = if c.null_out_shape {
        ptr::null_mut()
    } else {
        out_shape.as_mut_ptr()
    };
    errno::set_errno(errno::Errno(777));
    // SAFETY: every array pointer is NULL or has ndim entries (ndim <= 70;
    // out_shape is only written for ndim <= 64); on success the model says
    // the window lies within `buf`, placed at its span.
    let rc = unsafe {
        ezalloc_crop_nd(
            src.cast(),
            c.itemsize,
            c.ndim,
            shape_ptr,
            ptr_of(&c.strides),
            ptr_of(&c.start),
            ptr_of(&c.stop),
            ptr_of(&c.step),
            out_ptr,
            shape_out_ptr,
        )
    };
    let errno = errno::errno().0;
    match expect {
        Expect::Fail(e) => {
            if rc != e || errno != e {
                return Err(format!("expected errno {e}, got rc {rc} errno {errno}"));
            }
            if !c.null_out && !out.is_null() {
                return Err("out not NULL on failure".into());
            }
            if !c.null_out_shape && c.ndim <= 64 && out_shape.iter().any(|&d| d != 0) {
                return Err(format!("out_shape {out_shape:?} on failure"));
            }
        }
        Expect::Ok { shape, axes, .. } => {
            if rc != 0 || errno != 777 || out.is_null() {
                return Err(format!("expected success, got rc {rc} errno {errno}"));
            }
            let mut problem =
                (out_shape != shape).then(|| format!("shape {out_shape:?}, expected {shape:?}"));
            let want = model_copy(&buf, lo, c.itemsize, &shape, &axes);
            // SAFETY: on success `out` holds the window's bytes.
            let got = unsafe { std::slice::from_raw_parts(out.cast::<u8>(), want.len()) };
            if problem.is_none() && got != &want[..] {
                problem = Some(format!("copied bytes differ: {got:?} vs {want:?}"));
            }
            // SAFETY: `out` came from malloc and is released once.
            unsafe { libc::free(out) };
            if let Some(p) = problem {
                return Err(p);
            }
        }
    }
    Ok(())
}

#[test]
fn fuzz_the_nd_entry() {
    let seconds: u64 = std::env::var("EZALLOC_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let seed: u64 = std::env::var("EZALLOC_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    println!("fuzz_nd: seed {seed}, {seconds} s");
    let mut r = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut cases, mut ok, mut copied) = (0u64, [0u64; 3], 0u64);
    while Instant::now() < deadline {
        for _ in 0..256 {
            let case = generate(&mut r);
            let class = match model(&case) {
                Expect::Ok { .. } => 0,
                Expect::Fail(libc::EPERM) => 1,
                Expect::Fail(_) => 2,
            };
            ok[class] += 1;
            copied += u64::from(class == 0);
            if let Err(e) = run_case(&case, &mut r) {
                panic!("seed {seed}, case {cases}: {e}\n{case:?}");
            }
            cases += 1;
        }
    }
    println!(
        "fuzz_nd: {cases} cases: {} valid (copies of up to 1 MiB checked byte by byte), {} EPERM, {} EINVAL",
        ok[0], ok[1], ok[2]
    );
    assert!(
        copied > 0 && ok[1] > 0 && ok[2] > 0,
        "the generator must reach every class"
    );
}
