//! The N-dimensional copy (`ezalloc::nd`) checked against a model: an
//! element-by-element copy in C order, with Python's slice rules written out
//! here, over element sizes, shapes, strides (negative, zero, padded,
//! permuted), steps and windows; and the C entry `ezalloc_crop_nd` over the
//! same cases.

use std::ptr;

use ezalloc::Error;
use ezalloc::ffi_nd::ezalloc_crop_nd;
use ezalloc::nd::{self, Array, Slice};
use proptest::prelude::*;

/// Python's `slice(start, stop, step).indices(dim)`, written from its
/// documented rules: negative bounds count from the end, then bounds are
/// clipped to the axis (to -1..dim-1 for a negative step).
fn adjust(start: Option<isize>, stop: Option<isize>, step: isize, dim: isize) -> Slice {
    let clip = |v: Option<isize>, default: isize| match v {
        None => default,
        Some(v) => {
            let v = if v < 0 { v + dim } else { v };
            if step > 0 {
                v.clamp(0, dim)
            } else {
                v.clamp(-1, dim - 1)
            }
        }
    };
    if step > 0 {
        Slice {
            start: clip(start, 0),
            stop: clip(stop, dim),
            step,
        }
    } else {
        Slice {
            start: clip(start, dim - 1),
            stop: clip(stop, -1),
            step,
        }
    }
}

/// The indices a slice takes, as Python's `range(start, stop, step)`.
fn indices(s: Slice) -> Vec<isize> {
    let mut out = Vec::new();
    let mut i = s.start;
    while (s.step > 0 && i < s.stop) || (s.step < 0 && i > s.stop) {
        out.push(i);
        i += s.step;
    }
    out
}

/// The model: every selected element, in C order, copied byte by byte.
fn model(
    data: &[u8],
    offset: usize,
    itemsize: usize,
    strides: &[isize],
    window: &[Slice],
) -> (Vec<usize>, Vec<u8>) {
    let axes: Vec<Vec<isize>> = window.iter().map(|&s| indices(s)).collect();
    let shape: Vec<usize> = axes.iter().map(Vec::len).collect();
    let mut out = Vec::new();
    if shape.contains(&0) {
        return (shape, out);
    }
    let mut idx = vec![0usize; axes.len()];
    loop {
        let mut at = offset as isize;
        for (k, &i) in idx.iter().enumerate() {
            at += axes[k][i] * strides[k];
        }
        out.extend_from_slice(&data[at as usize..at as usize + itemsize]);
        // Odometer, last axis fastest.
        let mut k = idx.len();
        loop {
            if k == 0 {
                return (shape, out);
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

/// An array layout: byte strides from a permutation of the axes (the
/// memory order), a padding factor per axis, sign flips and broadcast
/// (stride 0) axes; the offset of element 0 and the buffer length that make
/// every element addressable.
#[derive(Clone, Debug)]
struct Layout {
    itemsize: usize,
    shape: Vec<usize>,
    strides: Vec<isize>,
    offset: usize,
    len: usize,
}

fn layout(
    itemsize: usize,
    shape: Vec<usize>,
    perm_seed: Vec<usize>,
    pad: Vec<usize>,
    flip: Vec<bool>,
    zero: Vec<bool>,
) -> Layout {
    let n = shape.len();
    let mut order: Vec<usize> = (0..n).collect();
    for (k, &s) in perm_seed.iter().enumerate().take(n) {
        order.swap(k, k + s % (n - k));
    }
    let mut strides = vec![0isize; n];
    let mut stride = itemsize as isize;
    for &axis in order.iter().rev() {
        strides[axis] = if zero[axis] { 0 } else { stride };
        stride *= shape[axis].max(1) as isize * pad[axis] as isize;
    }
    let mut offset = 0usize;
    let mut high = 0usize;
    for k in 0..n {
        if flip[k] {
            strides[k] = -strides[k];
        }
        let extent = (shape[k].saturating_sub(1)) * strides[k].unsigned_abs();
        if strides[k] < 0 {
            offset += extent;
        } else {
            high += extent;
        }
    }
    Layout {
        itemsize,
        shape,
        strides,
        offset,
        len: offset + high + itemsize,
    }
}

fn arb_layout(max_dims: usize, max_dim: usize) -> impl Strategy<Value = Layout> {
    (
        prop::sample::select(vec![1usize, 2, 3, 4, 8, 12, 16, 24]),
        prop::collection::vec(0..=max_dim, 0..=max_dims),
    )
        .prop_flat_map(|(itemsize, shape)| {
            let n = shape.len();
            (
                Just(itemsize),
                Just(shape),
                prop::collection::vec(0usize..8, n),
                prop::collection::vec(prop::sample::select(vec![1usize, 1, 1, 2, 3]), n),
                prop::collection::vec(any::<bool>(), n),
                prop::collection::vec(prop::bool::weighted(0.1), n),
            )
        })
        .prop_map(|(i, s, p, pad, f, z)| layout(i, s, p, pad, f, z))
}

/// A Python-style key for one axis: optional bounds (possibly negative or
/// out of range) and a nonzero step.
fn arb_key() -> impl Strategy<Value = (Option<isize>, Option<isize>, isize)> {
    (
        prop::option::weighted(0.7, -9isize..9),
        prop::option::weighted(0.7, -9isize..9),
        prop::sample::select(vec![1isize, 1, 1, 2, 3, -1, -2, 5]),
    )
}

fn data_for(l: &Layout) -> Vec<u8> {
    (0..l.len).map(|k| (k * 131 % 251) as u8).collect()
}

fn check_case(
    l: &Layout,
    keys: &[(Option<isize>, Option<isize>, isize)],
) -> Result<(), TestCaseError> {
    let window: Vec<Slice> = l
        .shape
        .iter()
        .zip(keys)
        .map(|(&d, &(a, b, s))| adjust(a, b, s, d as isize))
        .collect();
    let data = data_for(l);
    let (want_shape, want) = model(&data, l.offset, l.itemsize, &l.strides, &window);
    let array = Array {
        data: &data,
        offset: l.offset,
        itemsize: l.itemsize,
        shape: &l.shape,
        strides: Some(&l.strides),
    };
    let got = nd::crop(&array, &window).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert_eq!(got.shape(), &want_shape[..]);
    prop_assert_eq!(got.as_bytes(), &want[..]);

    // The C entry, from element 0's address, with explicit bounds.
    let starts: Vec<isize> = window.iter().map(|s| s.start).collect();
    let stops: Vec<isize> = window.iter().map(|s| s.stop).collect();
    let steps: Vec<isize> = window.iter().map(|s| s.step).collect();
    let mut out = ptr::null_mut();
    let mut out_shape = vec![usize::MAX; l.shape.len()];
    errno::set_errno(errno::Errno(4242));
    // SAFETY: every array has ndim entries; the window's elements lie in `data`.
    let rc = unsafe {
        ezalloc_crop_nd(
            data.as_ptr().add(l.offset).cast(),
            l.itemsize,
            l.shape.len(),
            l.shape.as_ptr(),
            l.strides.as_ptr(),
            starts.as_ptr(),
            stops.as_ptr(),
            steps.as_ptr(),
            &mut out,
            out_shape.as_mut_ptr(),
        )
    };
    prop_assert_eq!(rc, 0);
    prop_assert_eq!(errno::errno().0, 4242);
    prop_assert!(!out.is_null());
    prop_assert_eq!(&out_shape, &want_shape);
    // SAFETY: on success `out` holds the window's bytes.
    let bytes = unsafe { std::slice::from_raw_parts(out.cast::<u8>(), want.len()) };
    prop_assert_eq!(bytes, &want[..]);
    // SAFETY: `out` came from malloc and is released once.
    unsafe { libc::free(out) };
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Small arrays of up to 5 dimensions, every kind of layout and key.
    #[test]
    fn small_arrays_match_the_model(
        (l, keys) in arb_layout(5, 6).prop_flat_map(|l| {
            let n = l.shape.len();
            (Just(l), prop::collection::vec(arb_key(), n))
        })
    ) {
        check_case(&l, &keys)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Larger 2- and 3-D arrays, so that tiles (transposed layouts), long
    /// runs and gathers all run over more than one block.
    #[test]
    fn larger_arrays_match_the_model(
        (l, keys) in (prop::sample::select(vec![1usize, 2, 3, 4, 8, 16, 24]), prop::collection::vec(1usize..150, 2..=3))
            .prop_flat_map(|(itemsize, shape)| {
                let n = shape.len();
                (Just(itemsize), Just(shape), prop::collection::vec(0usize..8, n),
                 prop::collection::vec(any::<bool>(), n))
            })
            .prop_map(|(i, s, p, f)| { let n = s.len(); layout(i, s, p, vec![1; n], f, vec![false; n]) })
            .prop_flat_map(|l| {
                let n = l.shape.len();
                let keys = prop::collection::vec((prop::option::of(0isize..40), prop::option::of(-40isize..200),
                    prop::sample::select(vec![1isize, 1, 2, -1])), n);
                (Just(l), keys)
            })
    ) {
        check_case(&l, &keys)?;
    }

    /// Images of short contiguous pixels (H x W x C, C x itemsize up to a
    /// little beyond 16 bytes) with strided, reversed or windowed rows and
    /// columns: the pixels are gathered as single elements, in typed loops
    /// for 3, 6 and 12-byte pixels and a byte copy for the other sizes.
    #[test]
    fn short_pixels_are_gathered_whole(
        (l, keys) in (prop::sample::select(vec![1usize, 2, 4, 8]), 1usize..40, 1usize..300, 1usize..7,
                      prop::sample::select(vec![1usize, 1, 2, 3]), any::<bool>(), any::<bool>())
            .prop_map(|(i, h, w, c, pad, fh, fw)| layout(i, vec![h, w, c], vec![0; 3], vec![pad, 1, 1],
                                                          vec![fh, fw, false], vec![false; 3]))
            .prop_flat_map(|l| {
                let key = || (prop::option::weighted(0.5, -20isize..20), prop::option::weighted(0.5, -20isize..300),
                              prop::sample::select(vec![1isize, 2, 2, 3, 4, -1, -2, 5]));
                let channels = prop::sample::select(vec![(None, None, 1isize), (None, None, 1), (Some(1), None, 1)]);
                (Just(l), (key(), key(), channels).prop_map(|(a, b, c)| vec![a, b, c]))
            })
    ) {
        check_case(&l, &keys)?;
    }

    /// Windows that do not fit are EPERM; a step of 0 is EINVAL.
    #[test]
    fn bad_windows_are_refused(dim in 0usize..8, start in -3isize..11, stop in -3isize..11, step in -3isize..4) {
        let w = Slice { start, stop, step };
        let d = dim as isize;
        let fits = if step > 0 { (0..=d).contains(&start) && (0..=d).contains(&stop) }
                   else { (-1..d).contains(&start) && (-1..d).contains(&stop) };
        let data = vec![0u8; dim.max(1)];
        let array = Array { data: &data, offset: 0, itemsize: 1, shape: &[dim], strides: None };
        let got = nd::crop(&array, &[w]).map(|c| c.shape().to_vec());
        if step == 0 {
            prop_assert_eq!(got, Err(Error::Inval));
        } else if fits {
            prop_assert_eq!(got, Ok(vec![indices(w).len()]));
        } else {
            prop_assert_eq!(got, Err(Error::Perm));
        }
    }
}

#[test]
fn the_key_model_agrees_with_python_on_known_cases() {
    // Known results of Python's slice.indices, for the model itself.
    assert_eq!(
        adjust(None, None, -1, 5),
        Slice {
            start: 4,
            stop: -1,
            step: -1
        }
    );
    assert_eq!(
        adjust(Some(-2), None, 1, 5),
        Slice {
            start: 3,
            stop: 5,
            step: 1
        }
    );
    assert_eq!(
        adjust(Some(10), Some(-10), -2, 5),
        Slice {
            start: 4,
            stop: -1,
            step: -2
        }
    );
    assert_eq!(
        indices(Slice {
            start: 4,
            stop: -1,
            step: -2
        }),
        vec![4, 2, 0]
    );
}

#[test]
fn sizes_and_offsets_that_overflow_are_einval() {
    let big = usize::MAX / 2;
    let w = |n: usize| vec![Slice::range(0, 1); n];
    // shape x itemsize beyond isize::MAX.
    assert_eq!(
        nd::check(8, &[big, 4], None, &w(2)).err(),
        Some(Error::Inval)
    );
    assert_eq!(
        nd::check(usize::MAX, &[1], None, &w(1)).err(),
        Some(Error::Inval)
    );
    // A huge stride: the last element's offset overflows isize.
    let s = [isize::MAX / 2 + 1, 1];
    let win = [Slice::range(0, 3), Slice::range(0, 1)];
    assert_eq!(
        nd::check(1, &[3, 1], Some(&s), &win).err(),
        Some(Error::Inval)
    );
    // The first element's offset overflows.
    let win = [Slice::range(2, 3), Slice::range(0, 1)];
    assert_eq!(
        nd::check(1, &[3, 1], Some(&s), &win).err(),
        Some(Error::Inval)
    );
    // Within range when only element 0 is read, whatever the stride.
    let win = [Slice::range(0, 1), Slice::range(0, 1)];
    assert!(nd::check(1, &[3, 1], Some(&s), &win).is_ok());
    // 65 dimensions, itemsize 0, step 0.
    assert_eq!(
        nd::check(1, &[1; 65], None, &w(65)).err(),
        Some(Error::Inval)
    );
    assert_eq!(nd::check(0, &[1], None, &w(1)).err(), Some(Error::Inval));
    let step0 = [Slice {
        start: 0,
        stop: 1,
        step: 0,
    }];
    assert_eq!(nd::check(1, &[1], None, &step0).err(), Some(Error::Inval));
    // 64 dimensions of length 1 are fine.
    let c = nd::check(2, &[1; 64], None, &w(64)).expect("64 dims");
    assert_eq!(c.shape(), &[1; 64][..]);
    assert_eq!(c.bytes(), 2);
}

#[test]
fn a_span_outside_the_slice_is_einval() {
    let data = [0u8; 10];
    let array = Array {
        data: &data,
        offset: 0,
        itemsize: 1,
        shape: &[11],
        strides: None,
    };
    assert_eq!(
        nd::crop(&array, &[Slice::range(0, 11)]).err(),
        Some(Error::Inval)
    );
    let array = Array {
        data: &data,
        offset: 0,
        itemsize: 1,
        shape: &[3],
        strides: Some(&[-1]),
    };
    assert_eq!(
        nd::crop(&array, &[Slice::range(0, 3)]).err(),
        Some(Error::Inval)
    );
}

#[test]
fn large_outputs_split_into_parts() {
    // 3000 x 3000 bytes window of a 3001-wide image: 9 MB, above the
    // thread threshold, so the copy is split into parts along the rows.
    let (h, w) = (3002usize, 3001usize);
    let data: Vec<u8> = (0..h * w).map(|k| (k * 7 % 253) as u8).collect();
    let array = Array {
        data: &data,
        offset: 0,
        itemsize: 1,
        shape: &[h, w],
        strides: None,
    };
    let window = [Slice::range(1, 3001), Slice::range(1, 3001)];
    let got = nd::crop(&array, &window).expect("crop");
    let (_, want) = model(&data, 0, 1, &[w as isize, 1], &window);
    assert!(got.as_bytes() == &want[..]);
    // The same window of the transposed (Fortran-order) array: tiles.
    let array = Array {
        data: &data,
        offset: 0,
        itemsize: 1,
        shape: &[w, h],
        strides: Some(&[1, w as isize]),
    };
    let got = nd::crop(&array, &window).expect("crop");
    let (_, want) = model(&data, 0, 1, &[1, w as isize], &window);
    assert!(got.as_bytes() == &want[..]);
}

#[test]
fn large_transposing_copies_of_4_and_8_byte_elements() {
    // Large Fortran-order windows: SSE2 block transposes, tiles split
    // between threads, edges on both sides.
    for (itemsize, n) in [(8usize, 1203usize), (4, 1701)] {
        let data: Vec<u8> = (0..n * n * itemsize)
            .map(|k| (k * 13 % 241) as u8)
            .collect();
        let strides = [itemsize as isize, (n * itemsize) as isize];
        let array = Array {
            data: &data,
            offset: 0,
            itemsize,
            shape: &[n, n],
            strides: Some(&strides),
        };
        let window = [Slice::range(1, n as isize - 1), Slice::range(3, n as isize)];
        let got = nd::crop(&array, &window).expect("crop");
        assert!(got.as_bytes().len() >= 8 << 20);
        let (_, want) = model(&data, 0, itemsize, &strides, &window);
        assert!(got.as_bytes() == &want[..], "itemsize {itemsize}");
    }
}

#[test]
fn the_int_window_copy_for_crop_matches_the_window_module() {
    use std::mem::MaybeUninit;
    let (dim1, dim2) = (37usize, 53usize);
    let src: Vec<libc::c_int> = (0..(dim1 * dim2) as libc::c_int).collect();
    for (r0, rows, c0, cols) in [
        (0, 0, 0, 0),
        (3, 10, 5, 20),
        (0, 36, 0, 52),
        (36, 1, 52, 1),
        (2, 5, 0, 53),
    ] {
        let start = r0 * dim2 + c0;
        let mut dst = vec![MaybeUninit::new(-1); rows * cols];
        nd::copy_window_c_int(&src[start..], dim2, rows, cols, &mut dst).expect("copy");
        for r in 0..rows {
            for c in 0..cols {
                // SAFETY: every element was initialised above.
                assert_eq!(
                    unsafe { dst[r * cols + c].assume_init() },
                    src[(r0 + r) * dim2 + c0 + c]
                );
            }
        }
    }
    // A source too short for the window is refused.
    let mut dst = vec![MaybeUninit::new(0); 4];
    assert_eq!(
        nd::copy_window_c_int(&src[..10], dim2, 2, 2, &mut dst),
        Err(Error::Inval)
    );
}

#[test]
fn narrow_picks_of_fortran_inputs_match_the_model() {
    // Two or three channels of a Fortran-order input read into C order: a
    // transposing tile only two or three elements wide, nearly all edge.
    let cases: [(usize, Vec<usize>, Vec<Slice>); 5] = [
        // 35 MB out: each tile a block of whole output rows.
        (
            8,
            vec![2_200_000, 4],
            vec![Slice::range(3, 2_199_999), Slice::range(2, 4)],
        ),
        (
            4,
            vec![3001, 4],
            vec![
                Slice {
                    start: 2999,
                    stop: 0,
                    step: -3,
                },
                Slice::range(0, 2),
            ],
        ),
        (
            4,
            vec![56, 95, 4],
            vec![Slice::range(4, 56), Slice::range(0, 95), Slice::range(0, 2)],
        ),
        (
            8,
            vec![77, 3],
            vec![Slice::range(1, 77), Slice::range(0, 3)],
        ),
        (
            2,
            vec![500, 4],
            vec![
                Slice {
                    start: 0,
                    stop: 500,
                    step: 2,
                },
                Slice::range(1, 3),
            ],
        ),
    ];
    for (itemsize, shape, window) in cases {
        // Fortran order: the first axis varies fastest.
        let mut strides = vec![0isize; shape.len()];
        let mut stride = itemsize as isize;
        for (k, &d) in shape.iter().enumerate() {
            strides[k] = stride;
            stride *= d as isize;
        }
        let data: Vec<u8> = (0..stride as usize)
            .map(|i| (i * 131 % 251) as u8)
            .collect();
        let array = Array {
            data: &data,
            offset: 0,
            itemsize,
            shape: &shape,
            strides: Some(&strides),
        };
        let got = nd::crop(&array, &window).expect("crop");
        let (want_shape, want) = model(&data, 0, itemsize, &strides, &window);
        assert_eq!(got.shape(), &want_shape[..]);
        assert!(got.as_bytes() == &want[..], "{itemsize} {shape:?}");
    }
}

#[test]
fn large_rows_and_tiles_match_the_model() {
    // Outputs of more than 32 MiB: rows of a C window (block copies) and a
    // Fortran window read into C order (tiles).
    for (shape, strides, window) in [
        (
            vec![5000usize, 8200],
            vec![8200isize, 1],
            vec![Slice::range(1, 4999), Slice::range(3, 8197)],
        ),
        (
            vec![6200, 6000],
            vec![1, 6200],
            vec![Slice::range(5, 6195), Slice::range(1, 5999)],
        ),
    ] {
        let len = shape[0] * shape[1];
        let data: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
        let array = Array {
            data: &data,
            offset: 0,
            itemsize: 1,
            shape: &shape,
            strides: Some(&strides),
        };
        let got = nd::crop(&array, &window).expect("crop");
        assert!(got.as_bytes().len() > 32 << 20);
        let (_, want) = model(&data, 0, 1, &strides, &window);
        assert!(got.as_bytes() == &want[..], "{shape:?} {strides:?}");
    }
}
