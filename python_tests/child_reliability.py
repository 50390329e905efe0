"""Child process of test_failmalloc.py and test_memory_growth.py: runs one
scenario against one front end and exits 0, or fails with a traceback.

    python child_reliability.py <swig|ctypes|both> <scenario>      (growth: both)

Scenarios named `failmalloc_*` and `growth` need LD_PRELOAD=libfailmalloc.so,
whose controls they find in the global symbol namespace:
failmalloc_arm(size, count) makes the next `count` malloc() calls of exactly
`size` bytes return NULL; failmalloc_failures() counts the failed calls.

Each alloc() or crop() call makes exactly one malloc() of ni * 4 or
rows * cols * 4 bytes. The sizes armed below (7844 bytes = 1961 = 37 x 53
ints, and a few others) are ones that nothing else in the process asks for
between the arming and the call, so only the library's malloc() of the block
meets them; each scenario checks failmalloc_failures() to be sure.
"""

import ctypes
import gc
import os
import resource
import sys
import threading

import numpy as np

import conftest

INTC = np.intc
PAGE = resource.getpagesize()
MIB = 1 << 20
SKIP = 77


# --------------------------------------------------------------- measurements

class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                 "fsmblks", "uordblks", "fordblks", "keepcost")]


_libc = ctypes.CDLL(None)
_libc.mallinfo2.restype = Mallinfo2


def malloc_in_use():
    """Bytes handed out by glibc's malloc (all arenas, mmap'd blocks included)."""
    info = _libc.mallinfo2()
    return info.uordblks + info.hblkhd


def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def address_space():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * PAGE


# --------------------------------------------------------------- failmalloc

class FailMalloc:
    def __init__(self):
        try:
            self._arm = _libc.failmalloc_arm
            self._failures = _libc.failmalloc_failures
        except AttributeError:
            sys.exit("libfailmalloc.so is not preloaded (LD_PRELOAD)")
        self._arm.argtypes = [ctypes.c_size_t, ctypes.c_int]
        self._arm.restype = None
        self._failures.argtypes = []
        self._failures.restype = ctypes.c_int

    def arm(self, size, count=1):
        self._arm(size, count)

    def disarm(self):
        self._arm(0, 0)

    @property
    def failures(self):
        return self._failures()


def expect_memory_error(call, message):
    try:
        result = call()
    except MemoryError as e:
        assert str(e) == message, (str(e), message)
    else:
        raise AssertionError(f"no MemoryError (expected {message!r}), got {result!r}")


def matrix(rows, cols, seed=0):
    return np.random.default_rng(seed).integers(-2 ** 31, 2 ** 31, (rows, cols), dtype=INTC)


def layouts(base):
    """The same values in layouts that the front ends read directly and in
    layouts they first convert (a copy that a failed call must release)."""
    rows, cols = base.shape
    readonly = base.copy()
    readonly.flags.writeable = False
    big = np.zeros((rows * 2, cols * 3), INTC)
    big[::2, ::3] = base
    return {"c": base, "readonly": readonly, "fortran": np.asfortranarray(base),
            "strided": big[::2, ::3], "list": base.tolist()}


# A block size nothing else asks for: 1961 = 37 * 53 ints.
N = 1961
SIZE = N * 4
ROWS, COLS = 37, 53


def failmalloc_alloc(fe):
    """Each variant: an injected malloc failure is a MemoryError naming the
    size, it costs exactly one malloc failure, and the next call works."""
    fm = FailMalloc()
    for variant in ("alloc_managed", "alloc_leaking"):
        for ni in (N, 0, 262147):          # 0: malloc(0) may fail too
            size = ni * 4
            before = fm.failures
            fm.arm(size)
            expect_memory_error(lambda: getattr(fe, variant)(ni),
                                f"{variant}({ni}): malloc of {size} bytes failed (ENOMEM)")
            assert fm.failures == before + 1, (variant, ni, fm.failures, before)
            a = getattr(fe, variant)(ni)          # disarmed by then: works again
            assert a.shape == (ni,) and a.dtype == INTC and a.flags.writeable
            a[:] = np.arange(ni, dtype=INTC)
            assert (a == np.arange(ni)).all()
            assert fm.failures == before + 1
    print("ok")


def failmalloc_crop(fe):
    """crop: an injected failure is a MemoryError naming the block's
    dimensions, for every input layout, and the same call then succeeds with
    the right contents; the input is never modified."""
    fm = FailMalloc()
    base = matrix(40, 60)
    windows = [(1, 1 + ROWS, 2, 2 + COLS),     # 37 x 53
               (5, 5, 0, COLS),                # 0 x 53: malloc(0)
               (0, 39, 0, 59)]                 # 39 x 59
    for layout, a in layouts(base).items():
        for d1_0, d1_1, d2_0, d2_1 in windows:
            rows, cols = d1_1 - d1_0, d2_1 - d2_0
            before = fm.failures
            fm.arm(rows * cols * 4)
            expect_memory_error(lambda: fe.crop(a, d1_0, d1_1, d2_0, d2_1),
                                f"crop: malloc of a {rows} x {cols} int block failed (ENOMEM)")
            assert fm.failures == before + 1, (layout, rows, cols)
            c = fe.crop(a, d1_0, d1_1, d2_0, d2_1)
            assert c.shape == (rows, cols) and c.dtype == INTC and c.flags.c_contiguous
            np.testing.assert_array_equal(c, base[d1_0:d1_1, d2_0:d2_1], err_msg=layout)
            assert fm.failures == before + 1
        np.testing.assert_array_equal(np.asarray(a), base, err_msg=layout)
    print("ok")


def failmalloc_count(fe):
    """Armed for 3 failures of one size: exactly the next 3 calls of that
    size fail, whichever function makes them (one malloc per call), and
    calls of other sizes in between are untouched."""
    fm = FailMalloc()
    base = matrix(40, 60, seed=1)
    window = (2, 2 + ROWS, 3, 3 + COLS)
    expected = base[2:2 + ROWS, 3:3 + COLS]
    before = fm.failures
    fm.arm(SIZE, 3)
    expect_memory_error(lambda: fe.alloc_managed(N), f"alloc_managed({N}): malloc of {SIZE} bytes failed (ENOMEM)")
    assert fe.alloc_managed(N + 1).shape == (N + 1,)          # other sizes
    expect_memory_error(lambda: fe.crop(base, *window), f"crop: malloc of a {ROWS} x {COLS} int block failed (ENOMEM)")
    np.testing.assert_array_equal(fe.crop(base, 2, 2 + ROWS, 3, 2 + COLS), base[2:2 + ROWS, 3:2 + COLS])
    expect_memory_error(lambda: fe.alloc_managed(N), f"alloc_managed({N}): malloc of {SIZE} bytes failed (ENOMEM)")
    assert fm.failures == before + 3
    np.testing.assert_array_equal(fe.crop(base, *window), expected)   # the 4th: works
    assert fe.alloc_managed(N).shape == (N,)
    assert fm.failures == before + 3
    print("ok")


def failmalloc_no_leak(fe):
    """Thousands of injected failures leave nothing behind: glibc's count of
    bytes in use and the resident size stay flat. The crop input is in
    Fortran order, so every call makes a C-ordered copy that the failed call
    must release (9600 bytes a call: 28 MiB if leaked)."""
    fm = FailMalloc()
    base = matrix(40, 60, seed=2)
    fortran = np.asfortranarray(base)
    window = (1, 1 + ROWS, 2, 2 + COLS)
    alloc_message = f"alloc_managed({N}): malloc of {SIZE} bytes failed (ENOMEM)"
    crop_message = f"crop: malloc of a {ROWS} x {COLS} int block failed (ENOMEM)"

    def rounds(count):
        for _ in range(count):
            fm.arm(SIZE, 2)
            for call, message in ((lambda: fe.alloc_managed(N), alloc_message),
                                  (lambda: fe.crop(fortran, *window), crop_message)):
                try:
                    call()
                except MemoryError as e:
                    if str(e) != message:
                        raise
                else:
                    raise AssertionError("no MemoryError")

    rounds(300)
    gc.collect()
    refs = sys.getrefcount(fortran)
    heap, rss, failures = malloc_in_use(), resident(), fm.failures
    rounds(3000)
    gc.collect()
    heap_growth, rss_growth = malloc_in_use() - heap, resident() - rss
    assert fm.failures == failures + 6000
    assert sys.getrefcount(fortran) == refs
    assert heap_growth < 256 << 10, f"malloc'd bytes in use grew by {heap_growth}"
    assert rss_growth < 1 * MIB, f"resident size grew by {rss_growth}"
    np.testing.assert_array_equal(fe.crop(fortran, *window), base[1:1 + ROWS, 2:2 + COLS])
    print(f"ok heap {heap_growth:+d} B, rss {rss_growth:+d} B")


def failmalloc_threads(fe):
    """8 threads allocate and crop blocks of the armed size at once while
    other sizes succeed: exactly as many MemoryErrors as failures armed,
    each in the thread whose call failed, and every success intact."""
    fm = FailMalloc()
    base = matrix(40, 60, seed=3)
    expected = base[1:1 + ROWS, 2:2 + COLS]
    armed = 1200
    barrier = threading.Barrier(8)
    counts = [0] * 8
    errors = []

    def work(k):
        try:
            barrier.wait()
            for i in range(400):
                if i % 2:
                    try:
                        c = fe.crop(base, 1, 1 + ROWS, 2, 2 + COLS)
                    except MemoryError as e:
                        assert str(e) == f"crop: malloc of a {ROWS} x {COLS} int block failed (ENOMEM)"
                        counts[k] += 1
                    else:
                        assert (c == expected).all()
                else:
                    try:
                        a = fe.alloc_managed(N)
                    except MemoryError as e:
                        assert str(e) == f"alloc_managed({N}): malloc of {SIZE} bytes failed (ENOMEM)"
                        counts[k] += 1
                        a = None
                    else:
                        a[:] = k
                        assert a.shape == (N,)
                # another size, never failed
                b = fe.alloc_managed(N + 1 + k)
                b[:] = i
                if i % 2 and a is not None:
                    assert a.shape == (N,) and (a == k).all()
                assert (b == i).all()
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))

    before = fm.failures
    fm.arm(SIZE, armed)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fm.disarm()
    assert errors == [], errors[:5]
    assert sum(counts) == armed == fm.failures - before, (counts, fm.failures - before)
    print("ok", counts)


# --------------------------------------------------------------- RLIMIT_AS

def rlimit(fe):
    """Under an address-space cap (RLIMIT_AS) a huge alloc_managed() and the
    crop of a large window raise MemoryError; the process carries on: blocks
    that fit are allocated, filled and freed again and again (also a crop
    large enough to be copied by several threads), and once the cap is lifted
    the large crop succeeds."""
    base = np.arange(3072 * 4096, dtype=INTC).reshape(3072, 4096)     # 48 MiB
    huge = ("alloc_managed(2147483647): malloc of 8589934588 bytes failed (ENOMEM)")
    large = "crop: malloc of a 3071 x 4095 int block failed (ENOMEM)"  # 48 MiB
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = address_space() + 40 * MIB
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        expect_memory_error(lambda: fe.alloc_managed(2 ** 31 - 1), huge)
        expect_memory_error(lambda: fe.crop(base, 0, 3071, 0, 4095), large)
        for i in range(20):
            a = fe.alloc_managed(MIB // 4 + i)                  # 1 MiB
            a.fill(i)
            assert a.sum(dtype=np.int64) == i * a.size
            c = fe.crop(base, i, 1024 + i, 7, 2107)             # 1024 x 2100: 8.2 MiB
            assert np.array_equal(c, base[i:1024 + i, 7:2107])
            del a, c
            if i % 5 == 0:
                expect_memory_error(lambda: fe.alloc_managed(2 ** 31 - 1), huge)
                expect_memory_error(lambda: fe.crop(base, 0, 3071, 0, 4095), large)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    c = fe.crop(base, 0, 3071, 0, 4095)
    assert np.array_equal(c, base[:3071, :4095])
    print("ok")


def parallel_crop_aux_malloc(fe):
    """A crop of at least 8 MiB is copied by several threads; the small
    allocations that this needs (the list of bands, the threads' own state)
    go through malloc() too. When one of them fails, the call must still
    either succeed or raise MemoryError: it must not abort the process.
    Each size from 8 to 256 bytes is failed once, in a forked child."""
    fm = FailMalloc()
    if len(os.sched_getaffinity(0)) < 2:
        print("one core: large crops are copied by the calling thread only")
        sys.exit(SKIP)
    base = np.arange(2048 * 1100, dtype=INTC).reshape(2048, 1100)
    expected = base[0:2047, 0:1099]                      # 8.6 MiB: parallel copy
    np.testing.assert_array_equal(fe.crop(base, 0, 2047, 0, 1099), expected)
    aborted, wrong = [], []
    for size in range(8, 257, 8):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                fm.arm(size, 1)
                try:
                    c = fe.crop(base, 0, 2047, 0, 1099)
                except MemoryError:
                    code = 0
                else:
                    code = 0 if (c == expected).all() else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code == 2:
            wrong.append(size)
        elif code != 0:
            aborted.append((size, code))
    assert wrong == [], f"malloc sizes whose failure gave a wrong crop: {wrong}"
    assert aborted == [], f"(malloc size, exit status) of crops that did not return: {aborted}"
    print("ok")


# CPython's type flag of the types whose objects the garbage collector can
# track (Include/object.h).
_TPFLAGS_HAVE_GC = 1 << 14


def object_malloc_size(tp):
    """The size CPython asks malloc() for (PYTHONMALLOC=malloc) to make an
    object of type tp that has no items: its basic size, plus the 16-byte
    header before the object when the type is one the garbage collector
    handles (PyCapsule is one from Python 3.13 on, even when the capsule
    itself is not tracked)."""
    return tp.__basicsize__ + (16 if tp.__flags__ & _TPFLAGS_HAVE_GC else 0)


def fail_each_size(fm, call, check, label):
    """Fails one malloc of each size from 8 to 256 bytes (in steps of 8)
    during `call()`. Each call must return a result that `check(result,
    size)` accepts, or raise a clean MemoryError, and leave glibc's bytes in
    use where they were. Returns the sizes whose failure gave MemoryError."""
    failed = set()
    for size in range(8, 257, 8):
        gc.collect()
        heap = malloc_in_use()
        before = fm.failures
        fm.arm(size, 1)
        try:
            result = call()
        except MemoryError:
            result = None
        # The failure, if the call did not take it, may hit disarm's own
        # call or anything Python allocates before it (on 3.12 and later, the
        # iterator of a for loop): a loop that allocates nothing itself,
        # which ends because the armed failure happens at most once.
        while True:
            try:
                fm.disarm()
                break
            except (MemoryError, ctypes.ArgumentError):
                pass
        if result is None:
            assert fm.failures == before + 1, (label, size)
            failed.add(size)
        else:
            check(result, size)
        del result
        gc.collect()
        growth = malloc_in_use() - heap
        assert growth < MIB, f"{label}, malloc of {size} bytes failed: {growth} bytes more in use"
    return failed


def failmalloc_wrap(fe):
    """numpy cannot wrap the block: with PYTHONMALLOC=malloc every Python
    object comes from malloc(), so failing one size at a time (8 to 256
    bytes) during 2048 x 2048 crops (16 MiB blocks) and 4 Mi-int allocations
    reaches the allocation of the ndarray object and of its base (the SWIG
    capsule, the ctypes owner), as well as of everything else the call makes.
    Every call must give the right array or a clean MemoryError (never a
    SystemError), and leave no block behind: glibc's bytes in use (a leaked
    block is 16 MiB of mmap'd memory) come back to where they were after
    every call. Stock numpy.i's ARGOUTVIEWM leaked the block when the ndarray
    could not be made, and raised SystemError when the capsule could not."""
    if os.environ.get("PYTHONMALLOC") != "malloc":
        sys.exit("failmalloc_wrap needs PYTHONMALLOC=malloc")
    fm = FailMalloc()
    base = matrix(2049, 2049, seed=6)
    expected = base[:2048, :2048]
    probe = fe.crop(base, 0, 1, 0, 1)
    # The sizes that must have been reached: the ndarray object and the
    # array's base.
    reached = {object_malloc_size(np.ndarray), object_malloc_size(type(probe.base))}
    del probe
    def same_crop(result, size):
        np.testing.assert_array_equal(result, expected, err_msg=f"crop {size}")

    def managed(result, size):
        assert result.shape == (1 << 22,) and result.base is not None, size

    calls = {"crop": (lambda: fe.crop(base, 0, 2048, 0, 2048), same_crop),
             "alloc_managed": (lambda: fe.alloc_managed(1 << 22), managed)}
    failed = {}
    for name, (call, check) in calls.items():
        failed[name] = fail_each_size(fm, call, check, name)
        missing = {s for s in reached if s <= 256} - failed[name]
        assert not missing, f"{name}: no MemoryError when mallocs of {missing} bytes failed"
    print(f"ok, MemoryError for sizes {sorted(failed['crop'])} (crop), "
          f"{sorted(failed['alloc_managed'])} (alloc_managed)")


# --------------------------------------------------------------- growth

def failing_calls(fe, fm):
    """(call, exception type, failed by failmalloc) triples: every kind of
    failure reachable from Python through one front end. Inputs that the
    front end converts first (Fortran order, lists) make the failed call
    release a copy."""
    a = matrix(40, 60, seed=4)
    fortran = np.asfortranarray(a)
    small = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    calls = [
        # ENOMEM: a negative ni is a huge size
        (lambda: fe.alloc_managed(-7), MemoryError),
        (lambda: fe.alloc_managed(-2 ** 31), MemoryError),
        (lambda: fe.alloc_leaking(-1), MemoryError),
        # EPERM
        (lambda: fe.crop(a, 0, 40, 0, 1), IndexError),
        (lambda: fe.crop(fortran, 5, 3, 0, 1), IndexError),
        (lambda: fe.crop(small, 0, 3, 0, 1), IndexError),
        (lambda: fe.crop(np.zeros((0, 5), INTC), 0, 0, 0, 0), IndexError),
        # argument checks
        (lambda: fe.alloc_managed("12"), TypeError),
        (lambda: fe.alloc_managed(None), TypeError),
        (lambda: fe.crop(a, 0, 1.0, 0, 1), TypeError),
        (lambda: fe.crop(a.astype(np.int64), 0, 1, 0, 1), TypeError),
        (lambda: fe.crop(fortran[None], 0, 1, 0, 1), TypeError),
        (lambda: fe.crop([[1.5, 2], [3, 4]], 0, 1, 0, 1), TypeError),
        (lambda: fe.crop([[1, 2], [3]], 0, 1, 0, 1), ValueError),
        (lambda: fe.alloc_managed(2 ** 40), OverflowError),
        (lambda: fe.crop(fortran, 0, 2 ** 31, 0, 1), OverflowError),
        (lambda: fe.crop([[2 ** 31, 0], [0, 0]], 0, 1, 0, 1), OverflowError),
    ]
    calls = [(call, exc, False) for call, exc in calls]
    if fm is not None:
        # ENOMEM injected: every malloc of SIZE bytes fails
        calls += [(lambda: fe.alloc_managed(N), MemoryError, True),
                  (lambda: fe.crop(a, 1, 1 + ROWS, 2, 2 + COLS), MemoryError, True),
                  (lambda: fe.crop(fortran, 1, 1 + ROWS, 2, 2 + COLS), MemoryError, True)]
    return calls


def growth(_):
    """100,000 failing calls, every kind, both front ends interleaved: after
    a warm-up of 10,000, the resident size grows by less than 2 MiB (and
    glibc's count of malloc'd bytes in use by less than 512 KiB)."""
    fm = FailMalloc() if hasattr(_libc, "failmalloc_arm") else None
    calls = [c for name in ("swig", "ctypes")
             for c in failing_calls(conftest.FRONT_ENDS[name], fm)]
    if fm is not None:
        fm.arm(SIZE, 2 ** 31 - 1)           # every block of SIZE bytes fails

    def run(n):
        """n calls; returns how many of them were failed by failmalloc."""
        count = len(calls)
        injected = 0
        for i in range(n):
            call, exc, by_failmalloc = calls[i % count]
            try:
                call()
            except exc:
                injected += by_failmalloc
            else:
                raise AssertionError(f"no {exc.__name__} from call {i % count}")
        return injected

    run(10_000)
    gc.collect()
    heap, rss = malloc_in_use(), resident()
    failures = fm.failures if fm else 0
    injected = run(100_000)
    gc.collect()
    heap_growth, rss_growth = malloc_in_use() - heap, resident() - rss
    if fm is not None:
        fm.disarm()
        assert injected == fm.failures - failures > 10_000, (injected, fm.failures - failures)
    assert rss_growth < 2 * MIB, f"resident size grew by {rss_growth} bytes"
    assert heap_growth < 512 << 10, f"malloc'd bytes in use grew by {heap_growth}"
    print(f"ok {len(calls)} kinds, heap {heap_growth:+d} B, rss {rss_growth:+d} B")


SCENARIOS = {f.__name__: f for f in (failmalloc_alloc, failmalloc_crop, failmalloc_count,
                                     failmalloc_no_leak, failmalloc_threads, failmalloc_wrap, rlimit,
                                     parallel_crop_aux_malloc, growth)}

if __name__ == "__main__":
    front, scenario = sys.argv[1:3]
    SCENARIOS[scenario](conftest.FRONT_ENDS.get(front))
