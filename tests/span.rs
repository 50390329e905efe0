//! The offsets of a checked window (`check_dims`: the first element, the
//! span read) against a reference computed in i128 arithmetic throughout,
//! for extreme strides, starts, steps and extents: the isize fast path and
//! its exact i128 fallback give the same values and the same errors.

use ezalloc::Error;
use ezalloc::nd::{self, Slice};
use proptest::prelude::*;

fn reference(
    item: usize,
    shape: &[usize],
    strides: &[isize],
    win: &[Slice],
) -> Result<(Vec<usize>, isize, isize), Error> {
    let zeros = vec![0isize; shape.len()];
    let c = nd::check_dims::<8>(item, shape, Some(&zeros), win);
    // shape/empty handling delegated: only compare the span computation in i128
    let c = c?;
    let oshape = c.shape().to_vec();
    if c.is_empty() {
        return Ok((oshape, 0, 0));
    }
    let fit = |v: Option<i128>| v.and_then(|v| isize::try_from(v).ok()).ok_or(Error::Inval);
    let (mut first, mut below, mut above) = (0i128, 0i128, 0i128);
    for k in 0..shape.len() {
        let s = strides[k] as i128;
        first = first
            .checked_add(win[k].start as i128 * s)
            .ok_or(Error::Inval)?;
        if oshape[k] > 1 {
            let step = win[k].step as i128 * s;
            let ext = (oshape[k] as i128 - 1)
                .checked_mul(step)
                .ok_or(Error::Inval)?;
            if ext < 0 {
                below = below.checked_add(ext).ok_or(Error::Inval)?;
            } else {
                above = above.checked_add(ext).ok_or(Error::Inval)?;
            }
        }
    }
    let _ = fit(Some(first))?;
    let lo = fit(first.checked_add(below))?;
    let hi = fit(first
        .checked_add(above)
        .and_then(|h| h.checked_add(item as i128)))?;
    fit((hi as i128).checked_sub(lo as i128))?;
    Ok((oshape, lo, hi))
}

/// The pointer width: the extreme values scale with it (i686 too).
const B: u32 = isize::BITS;

fn ext_isize() -> impl Strategy<Value = isize> {
    prop_oneof![
        -5isize..5,
        Just(isize::MAX),
        Just(isize::MIN),
        Just(isize::MAX - 1),
        Just(isize::MIN + 1),
        Just(isize::MAX / 2),
        Just(isize::MIN / 2),
        Just(isize::MAX / 3),
        Just(-(isize::MAX / 3)),
        Just(1 << (B - 2)),
        Just(-(1 << (B - 2))),
        Just(1 << (B / 2)),
        Just(-(1 << (B / 2))),
        Just((1 << (B / 2 - 1)) - 1),
        any::<isize>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20000, .. ProptestConfig::default() })]
    #[test]
    fn span_matches_i128(
        item in prop_oneof![Just(1usize), Just(8usize), Just(3usize), Just(1usize << (B - 24)), Just(isize::MAX as usize)],
        dims in prop::collection::vec(prop_oneof![Just(1usize), Just(2usize), Just(3usize), Just(1usize << (B / 2 - 1)), Just(1usize << (B - 2)), Just(isize::MAX as usize)], 1..4),
        strides in prop::collection::vec(ext_isize(), 4),
        starts in prop::collection::vec(prop_oneof![Just(0isize), Just(1isize), Just(-1isize), Just(isize::MAX), Just(isize::MAX-1), Just(1isize << (B / 2 - 1))], 4),
        steps in prop::collection::vec(prop_oneof![Just(1isize), Just(-1isize), Just(2isize), Just(isize::MAX), Just(isize::MIN), Just(-2isize)], 4),
    ) {
        let n = dims.len();
        // build windows of at most 1..3 elements at clamped starts (dims may be huge, only the arithmetic matters)
        let win: Vec<Slice> = (0..n).map(|k| {
            let d = dims[k] as isize;
            let st = steps[k];
            let s0 = starts[k].clamp(0, d - 1);
            if st > 0 { Slice { start: s0, stop: d, step: st } } else { Slice { start: s0, stop: -1, step: st } }
        }).collect();
        let got = nd::check_dims::<8>(item, &dims, Some(&strides[..n]), &win)
            .map(|c| (c.shape().to_vec(), c.span().0, c.span().1));
        let want = reference(item, &dims, &strides[..n], &win);
        prop_assert_eq!(got, want);
    }
}
