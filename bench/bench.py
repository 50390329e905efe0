"""`make bench`: crop and alloc through each front end, side by side with numpy.

Crop: numpy's slicing copy `a[r0:r1, c0:c1].copy()`, the SWIG module, the
ctypes module, the library's crop() called from C (no interpreter), the
classic element-by-element C loop into a fresh malloc block, and memcpy of
each row into already-touched memory on one thread (the ceiling of a
single-threaded copy: no allocation, no page fault). Every figure is the best
of several timeit repeats in this one process, on the same input.
Alloc: per-call cost of numpy.empty(1000, intc) and alloc_managed(1000).

Run from the repository root by `make bench` (which builds everything first).
"""

import ctypes
import os
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402

from ezalloc import recipe as swig_crop  # noqa: E402  (the installed package)
from ezalloc import recipe as swig_ezalloc  # noqa: E402
from ezalloc import recipe_ctypes as ezalloc_ctypes  # noqa: E402

baseline = ctypes.CDLL(os.environ.get("EZALLOC_BASELINE", str(ROOT / "target/bench/libbaseline.so")))
for name in ("bench_naive_crop", "bench_memcpy_touched"):
    getattr(baseline, name).restype = ctypes.c_double
    getattr(baseline, name).argtypes = [ctypes.c_void_p] + [ctypes.c_int] * 6
baseline.bench_lib_crop.restype = ctypes.c_double
baseline.bench_lib_crop.argtypes = [ctypes.c_void_p] + [ctypes.c_int] * 7

# (window side, input side): the window may not end at the last row/column.
SIZES = [(64, 512), (256, 1024), (1024, 2048), (2048, 4096), (4096, 8192), (6000, 8192), (8192, 8193)]


def best_per_call(stmt, seconds=0.4, min_repeat=5):
    """Best time per call (s) over repeats, each of a number of calls sized
    so that a repeat lasts about seconds / min_repeat."""
    timer = timeit.Timer(stmt)
    number = 1
    while True:
        t = timer.timeit(number)
        if t >= seconds / min_repeat / 4 or number >= 1 << 20:
            break
        number *= 4
    return min(timer.repeat(repeat=min_repeat, number=number)) / number


def fmt_row(label, seconds, nbytes, ref):
    gbs = nbytes / seconds / 1e9
    ratio = ref / seconds
    t = f"{seconds * 1e6:10.2f} us" if seconds < 1e-2 else f"{seconds * 1e3:10.2f} ms"
    return f"  {label:<32}{t}  {gbs:8.2f} GB/s  {ratio:6.2f}x numpy"


def crop_table():
    print("crop: time per call, throughput (output bytes / time), speed relative to numpy's slicing copy")
    for side, dim in SIZES:
        a = np.arange(dim * dim, dtype=np.intc).reshape(dim, dim)
        r0 = c0 = (dim - side - 1) // 2
        r1, c1 = r0 + side, c0 + side
        nbytes = side * side * 4
        reps = 5 if nbytes > (64 << 20) else 9
        addr = a.ctypes.data
        res = {}
        res["numpy a[r0:r1, c0:c1].copy()"] = best_per_call(lambda: a[r0:r1, c0:c1].copy())
        want = a[r0:r1, c0:c1]
        assert np.array_equal(swig_crop.crop(a, r0, r1, c0, c1), want)
        assert np.array_equal(ezalloc_crop(a, r0, r1, c0, c1), want)
        res["SWIG recipe.crop"] = best_per_call(lambda: swig_crop.crop(a, r0, r1, c0, c1))
        res["ctypes recipe_ctypes.crop"] = best_per_call(lambda: ezalloc_crop(a, r0, r1, c0, c1))
        res["crop() from C (raw)"] = baseline.bench_lib_crop(addr, dim, dim, r0, r1, c0, c1, reps * 20 if nbytes < (1 << 20) else reps)
        res["naive C element loop"] = baseline.bench_naive_crop(addr, dim, r0, r1, c0, c1, reps * 20 if nbytes < (1 << 20) else reps)
        res["memcpy rows, touched, 1 thread"] = baseline.bench_memcpy_touched(addr, dim, r0, r1, c0, c1, reps * 20 if nbytes < (1 << 20) else reps)
        ref = res["numpy a[r0:r1, c0:c1].copy()"]
        print(f"{side}x{side} window of a {dim}x{dim} intc array ({nbytes / 2**20:.2f} MiB out)")
        for label, seconds in res.items():
            print(fmt_row(label, seconds, nbytes, ref))
        del a
    print()


ezalloc_crop = ezalloc_ctypes.crop


def alloc_table():
    print("alloc of 1000 C ints: time per call (the array is dropped at once)")
    res = {
        "numpy.empty(1000, numpy.intc)": best_per_call(lambda: np.empty(1000, np.intc)),
        "SWIG recipe.alloc_managed(1000)": best_per_call(lambda: swig_ezalloc.alloc_managed(1000)),
        "ctypes recipe_ctypes.alloc_managed(1000)": best_per_call(lambda: ezalloc_ctypes.alloc_managed(1000)),
    }
    ref = res["numpy.empty(1000, numpy.intc)"]
    for label, seconds in res.items():
        print(f"  {label:<42}{seconds * 1e6:8.3f} us  {ref / seconds:6.2f}x numpy")
    print()


if __name__ == "__main__":
    threads = os.environ.get("EZALLOC_THREADS", "unset (all cores)")
    print(f"cores: {os.cpu_count()}, EZALLOC_THREADS={threads}, numpy {np.__version__}\n")
    alloc_table()
    crop_table()
