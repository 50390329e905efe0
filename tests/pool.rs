//! The helper pool under concurrent use: many threads making large crops at
//! once (one of them holds the helpers, the others copy alone), every
//! output checked byte for byte. A guard that released the pool on a failed
//! attempt to take it once let two calls share the helpers and corrupt
//! outputs here.

use ezalloc::nd::{self, Array, Slice};
#[test]
fn concurrent_large_crops_from_eight_threads_are_exact() {
    let n = 1600usize;
    let data: Vec<u8> = (0..n * n * 4).map(|i| (i * 7 % 251) as u8).collect();
    let shape = [n, n];
    let strides = [(n * 4) as isize, 4];
    std::thread::scope(|s| {
        for t in 0..8 {
            let data = &data;
            s.spawn(move || {
                for k in 0..40 {
                    let a = Array {
                        data,
                        offset: 0,
                        itemsize: 4,
                        shape: &shape,
                        strides: Some(&strides),
                    };
                    let o = (t + k) % 50;
                    let w = [
                        Slice::range(o as isize, (o + 1500) as isize),
                        Slice::range(t as isize, (t + 1500) as isize),
                    ];
                    let got = nd::crop(&a, &w).unwrap();
                    let b = got.as_bytes();
                    for r in 0..1500 {
                        let src = &data[((o + r) * n + t) * 4..((o + r) * n + t + 1500) * 4];
                        if &b[r * 6000..(r + 1) * 6000] != src {
                            let first = (0..6000).find(|&i| b[r * 6000 + i] != src[i]).unwrap();
                            panic!("thread {t} crop {k}: row {r} differs from byte {first}");
                        }
                    }
                }
            });
        }
    });
}
