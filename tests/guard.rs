//! N-dimensional crops of arrays that lie flush against inaccessible
//! pages, against a model.
//!
//! Each input array is placed in a mapping between two `PROT_NONE` pages,
//! against one of them: its first byte right after the leading page, or its
//! last byte right before the trailing one. A kernel that reads a single
//! byte outside the array faults (SIGSEGV) instead of reading a neighbour's
//! bytes unseen. Each crop is compared with the window read element by
//! element, under every set of kernels the CPU offers: its own (SSSE3 and
//! AVX where present), then x86_64's baseline (SSE2) alone.

use std::sync::{Mutex, PoisonError};

use ezalloc::nd::{self, Array, Slice};
use proptest::prelude::*;

/// `len` bytes between two `PROT_NONE` pages, flush against the leading
/// page or the trailing one, filled with seeded pseudo-random bytes.
struct Guarded {
    /// The whole mapping: both guard pages and the body between them.
    map: *mut u8,
    map_len: usize,
    /// The `len` accessible bytes handed out.
    data: *mut u8,
    len: usize,
}

impl Guarded {
    fn new(len: usize, at_end: bool, seed: u64) -> Guarded {
        // SAFETY: sysconf and mmap take no pointer to our memory (mmap: no
        // address hint, no file): a new private anonymous mapping, checked
        // before use. Both mprotect calls then cover one whole page inside
        // that mapping: its first, and its last (mmap's result is
        // page-aligned, and the mapping is `body` plus two pages long).
        let (map, page, body) = unsafe {
            let page = usize::try_from(libc::sysconf(libc::_SC_PAGESIZE)).expect("page size");
            let body = len.div_ceil(page).max(1) * page;
            let map = libc::mmap(
                std::ptr::null_mut(),
                body + 2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(map, libc::MAP_FAILED, "mmap of {len} bytes and two pages");
            let map = map.cast::<u8>();
            let tail = map.wrapping_add(page + body);
            assert_eq!(libc::mprotect(map.cast(), page, libc::PROT_NONE), 0);
            assert_eq!(libc::mprotect(tail.cast(), page, libc::PROT_NONE), 0);
            (map, page, body)
        };
        let offset = if at_end { page + body - len } else { page };
        let mut guarded = Guarded {
            map,
            map_len: body + 2 * page,
            data: map.wrapping_add(offset),
            len,
        };
        let mut x = seed | 1;
        for chunk in guarded.bytes_mut().chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        guarded
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `data .. data + len` lies in the body of the mapping
        // (readable and writable), which lives as long as `self`; the shared
        // borrow of `self` excludes `bytes_mut` meanwhile.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `bytes`; the exclusive borrow of `self` excludes
        // every other reference into the body meanwhile.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: the mapping came from mmap with this address and length,
        // and no reference into it outlives `self` (`bytes` and `bytes_mut`
        // borrow it).
        let rc = unsafe { libc::munmap(self.map.cast(), self.map_len) };
        assert_eq!(rc, 0, "munmap");
    }
}

/// Runs `f` once under each set of kernels the CPU offers: all of its own
/// (SSSE3 and AVX where present), then x86_64's baseline alone. The choice
/// is one for the whole process, and the tests of this file run on
/// parallel threads, so they take turns; the default (every extension the
/// CPU has: see `nd::simd`) is restored afterwards, also when `f` panics.
fn for_each_kernel_set(mut f: impl FnMut(&'static str)) {
    static TURN: Mutex<()> = Mutex::new(());
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            nd::simd::use_avx(true);
            nd::simd::use_ssse3(true);
        }
    }
    // A test that failed holding the lock poisons it; the others still run.
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let _restore = Restore;
    let has_avx = nd::simd::use_avx(true);
    let has_ssse3 = nd::simd::use_ssse3(true);
    f(match (has_ssse3, has_avx) {
        (_, true) => "ssse3+avx",
        (true, false) => "ssse3",
        (false, false) => "baseline",
    });
    if has_avx || has_ssse3 {
        nd::simd::use_avx(false);
        nd::simd::use_ssse3(false);
        f("baseline");
    }
}

/// The indices a slice selects, one by one.
fn indices(s: Slice) -> Vec<isize> {
    let mut v = vec![];
    let mut i = s.start;
    while (s.step > 0 && i < s.stop) || (s.step < 0 && i > s.stop) {
        v.push(i);
        i += s.step;
    }
    v
}

/// How an input array lies in memory.
#[derive(Clone, Copy, Debug)]
struct Layout<'a> {
    itemsize: usize,
    shape: &'a [usize],
    /// The axes from the outermost in memory to the innermost.
    order: &'a [usize],
    /// The axes whose stride is negative.
    neg: &'a [bool],
    /// Each axis takes `pad` times its extent in its outer neighbour's
    /// stride.
    pad: &'a [usize],
}

/// An array laid out as a [`Layout`] says, in guarded memory.
struct Input<'a> {
    layout: Layout<'a>,
    at_end: bool,
    strides: Vec<isize>,
    /// Byte offset of element `(0, ..., 0)`.
    offset: usize,
    mem: Guarded,
}

impl<'a> Input<'a> {
    fn new(layout: Layout<'a>, at_end: bool, seed: u64) -> Input<'a> {
        let Layout {
            itemsize,
            shape,
            order,
            neg,
            pad,
        } = layout;
        let mut strides = vec![0isize; shape.len()];
        let mut acc = itemsize;
        for &k in order.iter().rev() {
            strides[k] = isize::try_from(acc).expect("stride");
            acc *= shape[k] * pad[k];
        }
        let (mut offset, mut extent) = (0usize, 0usize);
        for (k, stride) in strides.iter_mut().enumerate() {
            let ext = (shape[k].max(1) - 1) * stride.unsigned_abs();
            if neg[k] {
                *stride = -*stride;
                offset += ext;
            }
            extent += ext;
        }
        Input {
            layout,
            at_end,
            strides,
            offset,
            mem: Guarded::new(extent + itemsize, at_end, seed),
        }
    }

    /// The window, read from the input element by element in C order.
    fn model(&self, window: &[Slice]) -> Vec<u8> {
        /// The elements at `at` plus one offset of each axis, in C order.
        fn walk<const N: usize>(
            data: &[u8],
            at: isize,
            offs: &[Vec<isize>],
            out: &mut Vec<[u8; N]>,
        ) {
            let element = |a: isize| {
                let a = usize::try_from(a).expect("inside the input");
                <[u8; N]>::try_from(&data[a..a + N]).expect("N bytes")
            };
            match offs {
                [] => out.push(element(at)),
                [last] => out.extend(last.iter().map(|&o| element(at + o))),
                [first, rest @ ..] => {
                    for &o in first {
                        walk(data, at + o, rest, out);
                    }
                }
            }
        }
        fn read<const N: usize>(data: &[u8], at: isize, offs: &[Vec<isize>]) -> Vec<u8> {
            let mut out = Vec::with_capacity(offs.iter().map(Vec::len).product());
            if offs.iter().all(|o| !o.is_empty()) {
                walk::<N>(data, at, offs, &mut out);
            }
            out.into_flattened()
        }
        let offs: Vec<Vec<isize>> = window
            .iter()
            .zip(&self.strides)
            .map(|(&s, &stride)| indices(s).into_iter().map(|i| i * stride).collect())
            .collect();
        let (data, at) = (
            self.mem.bytes(),
            isize::try_from(self.offset).expect("offset"),
        );
        match self.layout.itemsize {
            1 => read::<1>(data, at, &offs),
            2 => read::<2>(data, at, &offs),
            3 => read::<3>(data, at, &offs),
            4 => read::<4>(data, at, &offs),
            8 => read::<8>(data, at, &offs),
            12 => read::<12>(data, at, &offs),
            16 => read::<16>(data, at, &offs),
            5 => read::<5>(data, at, &offs),
            6 => read::<6>(data, at, &offs),
            7 => read::<7>(data, at, &offs),
            9 => read::<9>(data, at, &offs),
            10 => read::<10>(data, at, &offs),
            11 => read::<11>(data, at, &offs),
            13 => read::<13>(data, at, &offs),
            14 => read::<14>(data, at, &offs),
            15 => read::<15>(data, at, &offs),
            72 => read::<72>(data, at, &offs),
            n => unreachable!("no test of {n}-byte elements"),
        }
    }

    /// Crops `window` under each set of kernels and compares with the model.
    fn check(&self, window: &[Slice]) {
        let want = self.model(window);
        let want_shape: Vec<usize> = window.iter().map(|&s| indices(s).len()).collect();
        let array = Array {
            data: self.mem.bytes(),
            offset: self.offset,
            itemsize: self.layout.itemsize,
            shape: self.layout.shape,
            strides: Some(&self.strides),
        };
        for_each_kernel_set(|kernels| {
            let got = nd::crop(&array, window).expect("crop");
            let what = || {
                format!(
                    "{:?}, at_end {}, window {window:?}, {kernels} kernels",
                    self.layout, self.at_end
                )
            };
            assert_eq!(got.shape(), &want_shape[..], "shape of {}", what());
            assert!(got.as_bytes() == &want[..], "bytes of {}", what());
        });
    }
}

/// A slice of an axis of length `dim` between `a` and `b` (clipped to the
/// axis), taken with `step` from the end its sign names.
fn slice_for(dim: usize, a: usize, b: usize, step: isize) -> Slice {
    let (lo, hi) = (a.min(b).min(dim) as isize, a.max(b).min(dim) as isize);
    if step > 0 {
        Slice {
            start: lo,
            stop: hi,
            step,
        }
    } else if hi == 0 {
        // Nothing below index 0 to take: an empty slice.
        Slice {
            start: -1,
            stop: -1,
            step,
        }
    } else {
        Slice {
            start: hi - 1,
            stop: lo - 1,
            step,
        }
    }
}

/// `start` down to `stop` (excluded) with step -1.
fn down(start: usize, stop: isize) -> Slice {
    Slice {
        start: start as isize,
        stop,
        step: -1,
    }
}

/// `start..stop` with step 1.
fn up(start: usize, stop: usize) -> Slice {
    Slice::range(start as isize, stop as isize)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 300 } else { 3000 }))]

    /// 2- and 3-D arrays of up to a few MiB in every memory order, with
    /// reversed and padded axes, and windows with steps.
    #[test]
    fn small_and_medium_arrays_match_the_model(
        itemsize in prop::sample::select(vec![1usize, 2, 3, 4, 8, 12, 16, 72]),
        ndim in 2usize..=3,
        dims in prop::collection::vec(prop_oneof![1usize..=12, 13usize..=80, 250usize..=300], 3),
        perm in 0usize..6,
        neg in prop::collection::vec(any::<bool>(), 3),
        pad in prop::collection::vec(prop_oneof![4 => Just(1usize), 1 => Just(2usize)], 3),
        cuts in prop::collection::vec(
            (0usize..300, 0usize..300, prop::sample::select(vec![1isize, 1, 1, -1, -1, 2, -2, 3, -3, 4])),
            3,
        ),
        full in prop::collection::vec(any::<bool>(), 3),
        at_end in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut shape: Vec<usize> = dims[..ndim].to_vec();
        // At most 3 MiB of elements: halve the longest axis until then.
        while shape.iter().product::<usize>() * itemsize > 3 << 20 {
            let longest = (0..ndim).max_by_key(|&k| shape[k]).expect("an axis");
            shape[longest] /= 2;
        }
        const ORDERS: [[usize; 3]; 6] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
        let order: Vec<usize> = match ndim {
            2 => if perm % 2 == 0 { vec![0, 1] } else { vec![1, 0] },
            _ => ORDERS[perm].to_vec(),
        };
        let window: Vec<Slice> = (0..ndim)
            .map(|k| {
                let (a, b, step) = cuts[k];
                if full[k] {
                    slice_for(shape[k], 0, shape[k], step.signum())
                } else {
                    slice_for(shape[k], a, b, step)
                }
            })
            .collect();
        let layout = Layout { itemsize, shape: &shape, order: &order, neg: &neg[..ndim], pad: &pad[..ndim] };
        Input::new(layout, at_end, seed).check(&window);
    }
}

/// A Fortran-order matrix (the transposing tiles): `rows` x `cols`, the
/// rows' axis padded `pad` times, each pair of stride signs in `negs`
/// (rows, columns), and the windows cropped from it.
struct Matrix {
    rows: usize,
    cols: usize,
    pad: usize,
    negs: &'static [[bool; 2]],
    windows: Vec<[Slice; 2]>,
}

/// The matrices of `itemsize`-byte elements: inputs beyond 4 MiB, where
/// short tile rows gather and the copy is shared among threads, and a small
/// one. Odd counts of rows and columns leave edges
/// on every side of the blocks.
fn matrices(itemsize: usize) -> Vec<Matrix> {
    const BOTH: &[[bool; 2]] = &[[false, false], [true, false], [false, true], [true, true]];
    const ROWS_ONLY: &[[bool; 2]] = &[[false, false], [true, false]];
    let far = 5 << 20;
    let mut m = vec![];
    // Many rows, few rows, few long ones.
    for (rows, cols) in [
        (1031, 4099 / itemsize + 3),
        (far / itemsize / 7 + 1, 7),
        (9, far / itemsize / 9 + 5),
        (4, far / itemsize / 4 + 1),
    ] {
        m.push(Matrix {
            rows,
            cols,
            pad: 1,
            negs: BOTH,
            windows: vec![
                [up(0, rows), up(0, cols)],
                [up(1, rows - 2), up(3, cols - 1)],
                [down(rows - 1, -1), up(0, cols)],
            ],
        });
    }
    // Odd counts of rows (blocks of 4 only when the rows are long).
    for rows in [4, 5, 6, 7, 11, 13] {
        let cols = far / itemsize / rows + 3;
        m.push(Matrix {
            rows,
            cols,
            pad: 1,
            negs: ROWS_ONLY,
            windows: vec![
                [up(0, rows), up(0, cols)],
                [up(1, rows), up(1, cols - 1)],
                [down(rows - 2, -1), up(0, cols)],
            ],
        });
    }
    // Short padded columns, more than 64 bytes apart.
    for rows in [4, 5, 6, 7, 9] {
        let pad = 80 / (rows * itemsize) + 1;
        let cols = far / itemsize / rows / pad + 300;
        m.push(Matrix {
            rows,
            cols,
            pad,
            negs: ROWS_ONLY,
            windows: vec![
                [up(0, rows), up(0, cols)],
                [down(rows - 1, -1), up(3, cols)],
            ],
        });
    }
    // Both ends of both axes left out, far and near.
    for (rows, cols) in [(1031, far / itemsize / 1031 + 7), (37, 41)] {
        m.push(Matrix {
            rows,
            cols,
            pad: 1,
            negs: BOTH,
            windows: vec![[up(0, rows), up(0, cols)], [down(rows - 1, 0), up(1, cols)]],
        });
    }
    m
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "minutes unoptimised: run with --release, as make test does"
)]
fn fortran_matrices_match_the_model() {
    for itemsize in [1, 2, 4, 8, 16] {
        for m in matrices(itemsize) {
            for neg in m.negs {
                for at_end in [false, true] {
                    let shape = [m.rows, m.cols];
                    let layout = Layout {
                        itemsize,
                        shape: &shape,
                        order: &[1, 0],
                        neg,
                        pad: &[m.pad, 1],
                    };
                    let input = Input::new(layout, at_end, 7);
                    for window in &m.windows {
                        input.check(window);
                    }
                }
            }
        }
    }
}

/// The permutations of `0..n`, the `k`-th of them (`k < n!`).
fn permutation(n: usize, mut k: usize) -> Vec<usize> {
    let mut left: Vec<usize> = (0..n).collect();
    let mut out = vec![];
    for m in (1..=n).rev() {
        out.push(left.remove(k % m));
        k /= m;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 200 } else { 2000 }))]

    /// 3- and 4-D arrays in every memory order (Fortran and transposed
    /// ones among them), whose window's last axis is short (1-4 elements,
    /// a channel pick among them), so that a tile's second axis may be an
    /// outer one; reversed, stepped and padded axes; every element size
    /// from 1 to 16; outputs up to about 1 MiB, so that the copy is also
    /// split among threads.
    #[test]
    fn short_last_axes_of_3_and_4_d_arrays_match_the_model(
        itemsize in 1usize..=16,
        ndim in 3usize..=4,
        dims in prop::collection::vec(prop_oneof![2usize..=12, 13usize..=70, 100usize..=260], 4),
        last in 1usize..=6,
        perm in 0usize..24,
        neg in prop::collection::vec(any::<bool>(), 4),
        pad in prop::collection::vec(prop_oneof![4 => Just(1usize), 1 => Just(2usize), 1 => Just(5usize)], 4),
        cuts in prop::collection::vec(
            (0usize..260, 0usize..260, prop::sample::select(vec![1isize, 1, 1, -1, -1, 2, -2, 3, -3])),
            4,
        ),
        full in prop::collection::vec(any::<bool>(), 4),
        pick in prop::collection::vec((0usize..6, 1usize..=4, prop::sample::select(vec![1isize, -1, 2])), 1),
        at_end in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut shape: Vec<usize> = dims[..ndim].to_vec();
        shape[ndim - 1] = last;
        // At most 4 MiB of elements (with padding): halve the longest axis
        // until then.
        let bytes = |shape: &[usize]| {
            shape.iter().zip(&pad).map(|(d, p)| d * p).product::<usize>() * itemsize
        };
        while bytes(&shape) > 4 << 20 {
            let longest = (0..ndim).max_by_key(|&k| shape[k]).expect("an axis");
            shape[longest] /= 2;
        }
        // The halving may have shortened the last axis too.
        let last = shape[ndim - 1];
        let order = permutation(ndim, perm);
        let mut window: Vec<Slice> = (0..ndim - 1)
            .map(|k| {
                let (a, b, step) = cuts[k];
                if full[k] {
                    slice_for(shape[k], 0, shape[k], step.signum())
                } else {
                    slice_for(shape[k], a, b, step)
                }
            })
            .collect();
        // The last axis: a pick of 1 to 4 of its elements.
        let (from, count, step) = pick[0];
        let from = from.min(last - 1);
        let to = (from as isize + step * count as isize).clamp(-1, last as isize);
        window.push(if step > 0 {
            Slice { start: from as isize, stop: to.max(from as isize), step }
        } else {
            Slice { start: from as isize, stop: to.min(from as isize), step }
        });
        let layout = Layout { itemsize, shape: &shape, order: &order, neg: &neg[..ndim], pad: &pad[..ndim] };
        Input::new(layout, at_end, seed).check(&window);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 200 } else { 3000 }))]

    /// As above, with the short last axis outermost in memory and the
    /// other axes at least 8 long (Fortran and transposed arrays): tiles
    /// whose second axis is an outer one.
    #[test]
    fn short_last_axes_outermost_in_memory_match_the_model(
        itemsize in 1usize..=16,
        ndim in 3usize..=4,
        dims in prop::collection::vec(prop_oneof![8usize..=40, 41usize..=300], 4),
        last in 2usize..=4,
        perm in 0usize..6,
        neg in prop::collection::vec(any::<bool>(), 4),
        pad in prop::collection::vec(prop_oneof![4 => Just(1usize), 1 => Just(2usize)], 4),
        cuts in prop::collection::vec(
            (0usize..300, 0usize..300, prop::sample::select(vec![1isize, 1, 1, -1, -1, 2, -2, 3, -3])),
            4,
        ),
        full in prop::collection::vec(any::<bool>(), 4),
        rev_last in any::<bool>(),
        at_end in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut shape: Vec<usize> = dims[..ndim].to_vec();
        shape[ndim - 1] = last;
        let bytes = |shape: &[usize]| {
            shape.iter().zip(&pad).map(|(d, p)| d * p).product::<usize>() * itemsize
        };
        while bytes(&shape) > 6 << 20 {
            let longest = (0..ndim).max_by_key(|&k| shape[k]).expect("an axis");
            shape[longest] /= 2;
        }
        // The last axis outermost in memory; the others in any order.
        let mut order = vec![ndim - 1];
        order.extend(permutation(ndim - 1, perm));
        let mut window: Vec<Slice> = (0..ndim - 1)
            .map(|k| {
                let (a, b, step) = cuts[k];
                if full[k] {
                    slice_for(shape[k], 0, shape[k], step.signum())
                } else {
                    slice_for(shape[k], a, b, step)
                }
            })
            .collect();
        window.push(slice_for(last, 0, last, if rev_last { -1 } else { 1 }));
        let layout = Layout { itemsize, shape: &shape, order: &order, neg: &neg[..ndim], pad: &pad[..ndim] };
        Input::new(layout, at_end, seed).check(&window);
    }
}

/// Contiguous runs around the length from which they are copied with AVX
/// (2 KiB, `simd::AVX_RUN_MIN`), and around its 128-byte steps, flush
/// against either guard page, their first byte at every offset from a
/// 32-byte boundary: the first run starts at the array's first byte and
/// the last ends at its last byte.
#[test]
fn contiguous_runs_stay_inside_the_rows() {
    let lengths = (2016..=2080).chain([2047 + 128, 2048 + 128, 4096 + 31, 4096 + 33]);
    for n in lengths {
        for rows in [1usize, 3] {
            for lead in [0usize, 1, 5, 12, 31] {
                // Rows of lead + n bytes, the window their last n.
                let shape = [rows, lead + n];
                for at_end in [false, true] {
                    let layout = Layout {
                        itemsize: 1,
                        shape: &shape,
                        order: &[0, 1],
                        neg: &[false, false],
                        pad: &[1, 1],
                    };
                    let input = Input::new(layout, at_end, (n + lead) as u64);
                    input.check(&[up(0, rows), up(lead, lead + n)]);
                }
            }
        }
    }
}

/// Rows of every other 1- or 2-byte element, forwards and backwards (the
/// SSE2 kernel's 32-byte steps and its element-by-element rest), flush
/// against either guard page: each row's first and last elements are the
/// array's first and last bytes, for every row length around the steps'
/// sizes, one row and several.
#[test]
fn every_other_narrow_element_stays_inside_the_rows() {
    for itemsize in [1, 2] {
        for n in 1..=70usize {
            for rows in [1usize, 3] {
                let shape = [rows, 2 * n - 1];
                for neg in [[false, false], [false, true], [true, true]] {
                    for at_end in [false, true] {
                        let layout = Layout {
                            itemsize,
                            shape: &shape,
                            order: &[0, 1],
                            neg: &neg,
                            pad: &[1, 1],
                        };
                        let input = Input::new(layout, at_end, n as u64);
                        let last = 2 * n as isize - 2;
                        for step in [2, -2] {
                            let cols = if step > 0 {
                                Slice {
                                    start: 0,
                                    stop: last + 1,
                                    step,
                                }
                            } else {
                                Slice {
                                    start: last,
                                    stop: -1,
                                    step,
                                }
                            };
                            input.check(&[up(0, rows), cols]);
                        }
                    }
                }
            }
        }
    }
}
