"""Many threads calling both functions of both front ends at once, mixing
successes with every failure reachable from Python. The SWIG modules release
the GIL around large crops and read errno right after the library call on
the same thread (EZ_CALL in ezerrno.i); ctypes releases it around every
call and keeps its private errno. Each thread checks that every call gives exactly its own outcome: the
exception whose message names this call's arguments, or the right contents.
"""

import random
import sys
import threading

import numpy as np
import pytest

from conftest import FRONT_ENDS

INTC = np.intc
THREADS = 8
CALLS = 2500
KINDS = ["alloc", "crop", "crop_layout", "big_crop", "eperm", "enomem",
         "type", "overflow", "ragged"]
WEIGHTS = [12, 12, 6, 0.3, 12, 8, 6, 6, 3]
# A crop of 8 MiB or more is copied by helper threads inside the library.
BIG = np.arange(1500 * 1500, dtype=INTC).reshape(1500, 1500)


@pytest.fixture
def busy_switching():
    """Makes the interpreter switch threads every 10 microseconds."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(saved)


def expect(exc, message, call):
    try:
        result = call()
    except exc as e:
        if str(e) != message:
            raise AssertionError(f"{type(e).__name__}: {e!s} != {message!r}") from e
    else:
        raise AssertionError(f"expected {exc.__name__}({message!r}), got {result!r}")


def worker(k, barrier, tally, kept, errors):
    rng = random.Random(k)
    rows, cols = 10 + k, 13 + 2 * k                  # a shape of its own
    mine = (np.arange(rows * cols, dtype=INTC).reshape(rows, cols) + 1000 * k)
    layouts = {"fortran": np.asfortranarray(mine), "list": mine.tolist(),
               "reversed": mine[::-1, ::-1].copy()[::-1, ::-1]}
    names = sorted(FRONT_ENDS)
    try:
        barrier.wait()
        for i in range(CALLS):
            fe = FRONT_ENDS[rng.choice(names)]
            kind = rng.choices(KINDS, WEIGHTS)[0]
            tally[k][kind] += 1
            if kind == "alloc":
                ni = rng.randrange(0, 3000)
                a = fe.alloc_managed(ni)
                assert a.shape == (ni,) and a.dtype == INTC
                a[:] = np.arange(ni, dtype=INTC) * THREADS + k
                if i % 50 == 0:
                    kept.append((k, a, a.copy()))
            elif kind in ("crop", "crop_layout", "big_crop"):
                source = {"crop": mine, "big_crop": BIG}.get(kind)
                if source is None:
                    source = layouts[rng.choice(sorted(layouts))]
                r, c = np.shape(source)
                d1_0 = rng.randrange(0, r)
                d1_1 = rng.randrange(d1_0, r)
                d2_0 = rng.randrange(0, c)
                d2_1 = rng.randrange(d2_0, c)
                if kind == "big_crop":
                    d1_0, d1_1, d2_0, d2_1 = 0, r - 1, rng.randrange(0, 3), c - 1
                out = fe.crop(source, d1_0, d1_1, d2_0, d2_1)
                expected = np.asarray(source)[d1_0:d1_1, d2_0:d2_1]
                assert out.shape == expected.shape and out.dtype == INTC
                assert np.array_equal(out, expected), (kind, d1_0, d1_1, d2_0, d2_1)
                if i % 50 == 0 and kind != "big_crop":
                    kept.append((k, out, expected.copy()))
            elif kind == "eperm":
                window = [rng.randrange(0, rows), rng.randrange(rows, rows + 5),
                          rng.randrange(-5, cols), rng.randrange(0, cols)]
                if rng.random() < 0.5:
                    window = [rng.randrange(0, rows), rng.randrange(0, rows),
                              rng.randrange(-5, 0), rng.randrange(0, cols)]
                expect(IndexError,
                       f"crop: window [{window[0]}:{window[1]}, {window[2]}:{window[3]}] does not fit "
                       f"an array of shape ({rows}, {cols}): need 0 <= d1_0 <= d1_1 < {rows} and "
                       f"0 <= d2_0 <= d2_1 < {cols}",
                       lambda: fe.crop(mine, *window))
            elif kind == "enomem":
                ni = -rng.randrange(1, 2 ** 31 + 1)
                expect(MemoryError,
                       f"alloc_managed({ni}): malloc of {(ni * 4) % 2 ** 64} bytes failed (ENOMEM)",
                       lambda: fe.alloc_managed(ni))
            elif kind == "type":
                choice = rng.randrange(3)
                if choice == 0:
                    expect(TypeError, "alloc_managed: argument 'ni' must be an integer, not 'float'",
                           lambda: fe.alloc_managed(float(k)))
                elif choice == 1:
                    expect(TypeError, "crop: argument 'd2_1' must be an integer, not 'str'",
                           lambda: fe.crop(mine, 0, 1, 0, str(k)))
                else:
                    expect(TypeError,
                           "crop: expected an array of dtype intc (C int, int32), got dtype int64; "
                           "ezalloc.crop(a, np.s_[d1_0:d1_1, d2_0:d2_1]) copies windows of any "
                           "such dtype",
                           lambda: fe.crop(mine.astype(np.int64), 0, 1, 0, 1))
            elif kind == "overflow":
                big = 2 ** 31 + 1000 * k + i
                if rng.random() < 0.5:
                    expect(OverflowError, f"alloc_managed: argument 'ni' = {big} does not fit in a C int",
                           lambda: fe.alloc_managed(big))
                else:
                    expect(OverflowError, f"crop: argument 'd1_0' = {-big} does not fit in a C int",
                           lambda: fe.crop(mine, -big, 1, 0, 1))
            elif kind == "ragged":
                with pytest.raises(ValueError, match="inhomogeneous"):
                    fe.crop([[k, 1], [2]], 0, 1, 0, 1)
    except BaseException as e:  # noqa: BLE001 (reported by the test)
        errors.append(f"thread {k}, call {i}, {kind}: {type(e).__name__}: {e}")


def test_threads_mixing_successes_and_every_failure(busy_switching):
    barrier = threading.Barrier(THREADS)
    tally = [dict.fromkeys(KINDS, 0) for _ in range(THREADS)]
    kept, errors = [], []
    threads = [threading.Thread(target=worker, args=(k, barrier, tally, kept, errors))
               for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], "\n".join(errors[:10])
    # Every kind ran in every thread (big crops: in some).
    for k in range(THREADS):
        assert sum(tally[k].values()) == CALLS
        assert all(tally[k][kind] > 0 for kind in KINDS if kind != "big_crop"), tally[k]
    assert sum(t["big_crop"] for t in tally) > 0
    # Arrays kept from every thread still hold what that thread put there:
    # no block was shared, reused or freed early.
    assert {k for k, _, _ in kept} == set(range(THREADS))
    for k, array, expected in kept:
        assert np.array_equal(array, expected), k
        if array.ndim == 1:
            assert np.array_equal(array, np.arange(array.size, dtype=INTC) * THREADS + k)


def test_failures_and_successes_on_alternate_threads(fe, busy_switching):
    """Half the threads only fail (EPERM), half only succeed, all on the same
    input at once, and each thread also alternates with the other outcome
    on itself every 10 calls: no success becomes an exception and no failure
    a success."""
    a = np.arange(64 * 64, dtype=INTC).reshape(64, 64)
    expected = a[1:60, 2:50]
    barrier = threading.Barrier(THREADS)
    counts = {"ok": 0, "eperm": 0}
    errors = []
    lock = threading.Lock()

    def run(k):
        local = {"ok": 0, "eperm": 0}
        try:
            barrier.wait()
            for i in range(1500):
                failing = (k % 2 == 1) != (i % 10 == 9)
                if failing:
                    try:
                        result = fe.crop(a, 1, 64, 2, 50)
                    except IndexError as e:
                        assert "window [1:64, 2:50]" in str(e)
                        local["eperm"] += 1
                    else:
                        raise AssertionError(f"no IndexError, got {result.shape}")
                else:
                    assert np.array_equal(fe.crop(a, 1, 60, 2, 50), expected)
                    local["ok"] += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(f"thread {k}: {type(e).__name__}: {e}")
        with lock:
            for key, value in local.items():
                counts[key] += value

    threads = [threading.Thread(target=run, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], errors[:5]
    assert counts == {"ok": 6000, "eperm": 6000}
