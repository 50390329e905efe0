"""Child process of test_nd_failmalloc.py: one allocation-failure scenario
of ezalloc.crop, run with LD_PRELOAD=libfailmalloc.so, exits 0 or fails
with a traceback.

    python child_nd.py <scenario>
"""

import gc
import os
import sys

import numpy as np

import ezalloc
from child_reliability import (FailMalloc, expect_memory_error, fail_each_size, malloc_in_use,
                               object_malloc_size)

# A block size nothing else asks for: a 37 x 53 window of float64
# (15,688 bytes).
ROWS, COLS = 37, 53
SIZE = ROWS * COLS * 8


def failmalloc_block():
    """The library's malloc of the block fails: MemoryError naming its size,
    exactly one failure, for every layout and key form that gives a
    37 x 53 float64 result; the same call then gives numpy's result."""
    fm = FailMalloc()
    base = np.random.default_rng(1).standard_normal((60, 120))
    inputs = {"c": base, "fortran": np.asfortranarray(base),
              "reversed": base[::-1, ::-1].copy()[::-1, ::-1],
              "transposed": np.ascontiguousarray(base.T).T}
    keys = [np.s_[1:1 + ROWS, 2:2 + COLS], (slice(1, 1 + ROWS), Ellipsis, slice(2, 2 + COLS)),
            (slice(-1, -1 - ROWS, -1), slice(0, 2 * COLS, 2))]
    message = f"crop: malloc of {SIZE} bytes failed (ENOMEM)"
    for label, a in inputs.items():
        for key in keys:
            want = a[key].copy()
            assert want.shape == (ROWS, COLS)
            before = fm.failures
            fm.arm(SIZE)
            expect_memory_error(lambda: ezalloc.crop(a, key), message)
            assert fm.failures == before + 1, (label, key)
            got = ezalloc.crop(a, key)
            assert np.array_equal(got, want) and got.flags.c_contiguous, (label, key)
    print("ok")


def failmalloc_no_leak():
    """Thousands of failed blocks and of successful crops: glibc's bytes in
    use stay flat."""
    fm = FailMalloc()
    a = np.random.default_rng(2).standard_normal((60, 80))
    key = np.s_[1:1 + ROWS, 2:2 + COLS]

    def rounds(n):
        for _ in range(n):
            fm.arm(SIZE, 1)
            try:
                ezalloc.crop(a, key)
            except MemoryError:
                pass
            else:
                raise AssertionError("no MemoryError")
            assert ezalloc.crop(a, key).shape == (ROWS, COLS)

    rounds(300)
    gc.collect()
    heap = malloc_in_use()
    rounds(5000)
    gc.collect()
    growth = malloc_in_use() - heap
    assert growth < 256 << 10, growth
    print("ok")


def failmalloc_wrap():
    """numpy cannot wrap the block: with PYTHONMALLOC=malloc every Python
    object comes from malloc(), so failing one size at a time (8 to 256
    bytes) during crops of 16 MiB outputs reaches the ndarray object and the
    capsule. Every call gives numpy's result or a clean MemoryError (never a
    SystemError), and leaves no block behind (a leaked block is 16 MiB)."""
    if os.environ.get("PYTHONMALLOC") != "malloc":
        sys.exit("failmalloc_wrap needs PYTHONMALLOC=malloc")
    fm = FailMalloc()
    a = np.random.default_rng(3).integers(0, 255, (2100, 2100, 4), dtype=np.uint8)
    key = np.s_[10:2058, 20:2068]               # 2048 x 2048 x 4 = 16 MiB
    want = a[key].copy()
    probe = ezalloc.crop(a, np.s_[:1, :1])
    reached = {object_malloc_size(np.ndarray), object_malloc_size(type(probe.base))}
    del probe
    def same(result, size):
        assert np.array_equal(result, want), size

    failed = fail_each_size(fm, lambda: ezalloc.crop(a, key), same, "ezalloc.crop")
    missing = {s for s in reached if s <= 256} - failed
    assert not missing, f"no MemoryError when mallocs of {missing} bytes failed"
    print(f"ok, MemoryError for sizes {sorted(failed)}")


SCENARIOS = {f.__name__: f for f in (failmalloc_block, failmalloc_no_leak, failmalloc_wrap)}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]]()
