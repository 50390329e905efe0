"""ezalloc.crop(a, key) against numpy's a[key].copy(): random arrays (every
dtype without object references, up to 6 dimensions, C, Fortran,
transposed, reversed, strided, unaligned, read-only) and random keys
(slices of every form, integers, an Ellipsis anywhere), by hypothesis and
by a seeded sweep; the errors; what the result is and owns."""

import gc
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ezalloc

DTYPES = [np.dtype(d) for d in (
    "?", "i1", "u1", "<i2", ">i2", "<u2", ">u4", "<i4", ">i8", "<u8", "<f2", ">f2",
    "<f4", ">f4", "<f8", ">f8", "g", "<c8", ">c16", "M8[ns]", ">M8[D]", "<m8[s]", ">m8[us]",
    "S1", "S5", "<U3", ">U2", "V1", "V7",
    # Wider than a cache line (64 bytes): the copy's cost counts such an
    # element as itself.
    "S100", ">U17", "V65",
)] + [
    np.dtype([("a", "<i4"), ("b", ">f8"), ("c", "S3")]),                       # packed
    np.dtype([("a", "u1"), ("b", "<f8")], align=True),                         # padded
    np.dtype([("x", "<f4", (2,)), ("t", "M8[ms]")]),                           # subarray field
    np.dtype({"names": ["lo", "hi"], "formats": ["<u2", ">u2"], "offsets": [0, 6],
              "itemsize": 9}),                                                 # gaps
]


def random_array(rng, dtype, shape):
    """An array of `shape` and `dtype` with random bytes, in a random layout
    (which also decides the strides the crop reads)."""
    shape = tuple(shape)
    n = int(np.prod(shape)) * dtype.itemsize
    layout = rng.integers(0, 7)
    if layout == 0:                          # C order
        a = np.frombuffer(rng.bytes(n), dtype).reshape(shape).copy()
    elif layout == 1:                        # Fortran order
        a = np.frombuffer(rng.bytes(n), dtype).reshape(shape).copy(order="F")
    elif layout == 2:                        # a strided view of a larger array
        big = tuple(d * 2 + 1 for d in shape)
        whole = np.frombuffer(rng.bytes(int(np.prod(big)) * dtype.itemsize), dtype).reshape(big)
        a = whole[tuple(slice(1, None, 2) for _ in shape) + (Ellipsis,)]
    elif layout == 3:                        # transposed: the axes permuted
        perm = [int(p) for p in rng.permutation(len(shape))]
        b = np.frombuffer(rng.bytes(n), dtype).reshape(tuple(int(shape[p]) for p in perm)).copy()
        a = b.transpose(tuple(int(i) for i in np.argsort(perm))) if perm else b
    elif layout == 4:                        # negative strides on random axes
        a = np.frombuffer(rng.bytes(n), dtype).reshape(shape).copy()
        a = a[tuple(slice(None, None, -1) if rng.integers(2) else slice(None) for _ in shape)
              + (Ellipsis,)]
    elif layout == 5:                        # unaligned: one byte into a buffer
        raw = bytearray(n + 1)
        raw[1:] = rng.bytes(n)
        a = np.frombuffer(raw, dtype, offset=1).reshape(shape)
    else:                                    # read-only
        a = np.frombuffer(rng.bytes(n), dtype).reshape(shape)
    assert a.shape == shape
    return a


def random_key(rng, shape):
    """A tuple (or, sometimes, a bare item) of slices, integers and at most
    one Ellipsis that numpy accepts for `shape`."""
    items = []
    axes = list(shape)
    if rng.integers(3) == 0:
        # leave some trailing axes out
        axes = axes[:rng.integers(0, len(axes) + 1)]
    for d in axes:
        if d > 0 and rng.integers(4) == 0:
            items.append(int(rng.integers(-d, d)))
            continue
        def bound():
            return None if rng.integers(4) == 0 else int(rng.integers(-d - 3, d + 4))
        step = None if rng.integers(3) == 0 else int(rng.choice([-4, -3, -2, -1, 1, 2, 3, 5]))
        items.append(slice(bound(), bound(), step))
    if rng.integers(3) == 0:
        # an Ellipsis standing for the axes that some items no longer cover
        drop = int(rng.integers(0, len(items) + 1))
        at = int(rng.integers(0, len(items) - drop + 1))
        items[at:at + drop] = [Ellipsis]
    if len(items) == 1 and rng.integers(2):
        return items[0]
    return tuple(items)


def expected(a, key):
    """numpy's a[key].copy(), always an array: with an Ellipsis added when
    the key has none, so that a key of integers only gives a 0-d array
    (which keeps a byte-swapped dtype, unlike a scalar)."""
    items = key if isinstance(key, tuple) else (key,)
    if not any(item is Ellipsis for item in items):
        items = items + (Ellipsis,)
    return a[items].copy()


def crop_and_numpy(a, key):
    """(ezalloc.crop(a, key), numpy's copy), or None when numpy raises
    IndexError (an integer out of range, also once an Ellipsis has moved
    it), which ezalloc.crop must raise too."""
    try:
        want = expected(a, key)
    except IndexError:
        with pytest.raises(IndexError):
            ezalloc.crop(a, key)
        return None
    return ezalloc.crop(a, key), want


def check(a, key):
    raw = np.dtype((np.void, a.dtype.itemsize))
    before = a.view(raw).tobytes()
    both = crop_and_numpy(a, key)
    if both is None:
        return
    got, want = both
    assert type(got) is np.ndarray
    assert got.dtype == want.dtype and got.dtype.str == want.dtype.str, (got.dtype, want.dtype)
    assert got.dtype.descr == want.dtype.descr
    assert got.shape == want.shape, (a.shape, a.strides, key)
    # The copy is of bytes, padding included: compare with numpy's copy of
    # the same elements seen as raw bytes (numpy copies a structured
    # dtype field by field, leaving its padding out).
    want_raw = expected(a.view(raw), key)
    assert got.view(raw).tobytes() == want_raw.tobytes(), (a.shape, a.strides, a.dtype, key)
    if a.dtype.fields is None:
        assert got.tobytes() == want.tobytes()
    else:
        for name in a.dtype.names:
            assert got[name].tobytes() == want[name].tobytes()
    assert got.flags.c_contiguous and got.flags.writeable and not got.flags.owndata
    assert type(got.base).__name__ == "PyCapsule" or got.dtype.itemsize == 0
    assert a.view(raw).tobytes() == before


def test_random_sweep():
    """20,000 seeded cases over every dtype above, 0 to 6 dimensions."""
    rng = np.random.default_rng(20240610)
    for i in range(20_000):
        dtype = DTYPES[i % len(DTYPES)]
        ndim = int(rng.integers(0, 7))
        shape = rng.integers(0, 6 if ndim <= 3 else 4, ndim)
        a = random_array(rng, dtype, shape)
        check(a, random_key(rng, a.shape))


@st.composite
def cases(draw):
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.lists(st.integers(0, 7), max_size=5))
    a = random_array(rng, dtype, shape)
    return a, draw_key(draw, a.shape)


def draw_key(draw, shape):
    """A key for `shape` of every kind numpy accepts, drawn item by item so
    that hypothesis shrinks it."""
    items = []
    for d in shape[:draw(st.integers(0, len(shape)))] if draw(st.booleans()) else shape:
        if d > 0 and draw(st.booleans()):
            items.append(draw(st.integers(-d, d - 1)))
        else:
            bound = st.none() | st.integers(-d - 3, d + 3)
            step = st.none() | st.integers(-5, 5).filter(bool)
            items.append(slice(draw(bound), draw(bound), draw(step)))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(items)))
        drop = draw(st.integers(0, len(items) - at))
        items[at:at + drop] = [Ellipsis]
    return items[0] if len(items) == 1 and draw(st.booleans()) else tuple(items)


@settings(max_examples=3000)
@given(cases())
def test_property_equals_numpy(case):
    a, key = case
    check(a, key)


ZERO_ITEMSIZE = [np.dtype("V0"), np.dtype([])]


@st.composite
def zero_itemsize_cases(draw):
    """An array of a 0-byte dtype (nothing to copy: only the shape is
    computed) and a key of any kind, negative steps included."""
    dtype = draw(st.sampled_from(ZERO_ITEMSIZE))
    shape = tuple(draw(st.lists(st.integers(0, 6), max_size=4)))
    a = np.zeros(shape, dtype)
    if draw(st.booleans()) and a.ndim:
        a = a[tuple(slice(None, None, -1) for _ in shape)]
    return a, draw_key(draw, a.shape)


@settings(max_examples=2000)
@given(zero_itemsize_cases())
def test_zero_itemsize_shapes_equal_numpys(case):
    a, key = case
    both = crop_and_numpy(a, key)
    if both is None:
        return
    got, want = both
    assert got.shape == want.shape, (a.shape, key)
    assert got.dtype == want.dtype and got.dtype.itemsize == 0


@pytest.mark.parametrize("dtype", ZERO_ITEMSIZE, ids=str)
@pytest.mark.parametrize("key", [np.s_[::-1], np.s_[:, ::-2], np.s_[::-1, 1], np.s_[2:0:-1],
                                 np.s_[-1::-3, ::-1], np.s_[..., :-5:-1]], ids=repr)
def test_zero_itemsize_negative_steps(dtype, key):
    a = np.zeros((3, 4), dtype)
    assert ezalloc.crop(a, key).shape == a[key].shape


@pytest.mark.parametrize("key", [
    np.s_[:], np.s_[...], np.s_[()], np.s_[::-1], np.s_[-1], np.s_[1, ..., 2], np.s_[..., ::7],
    np.s_[-100:100], np.s_[100:-100:-1], np.s_[3:1], np.s_[2, 1:0], np.s_[np.int8(-2), np.uint64(1)],
])
def test_fixed_keys(key):
    a = np.arange(4 * 5 * 6, dtype=">u2").reshape(4, 5, 6).transpose(2, 0, 1)[::-1]
    check(a, key)


def test_zero_dimensional_input_and_full_integer_keys():
    a = np.array(3.5, ">f8")
    for key in ((), Ellipsis):
        r = ezalloc.crop(a, key)
        assert r.shape == () and r.dtype == a.dtype and r[()] == 3.5
    b = np.arange(12, dtype="<i8").reshape(3, 4)
    r = ezalloc.crop(b, (2, -1))
    assert r.shape == () and r == 11 and type(r.base).__name__ == "PyCapsule"


def test_large_crops_match():
    """Outputs large enough for the GIL to be released and for the library's
    large-copy paths (streaming stores, tiles)."""
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (1500, 2100, 3), dtype=np.uint8)
    check(img, np.s_[100:1400, 50:2000])
    f = np.asfortranarray(rng.standard_normal((1300, 1200)))
    check(f, np.s_[10:1290, 3:1100])
    check(f.T, np.s_[::-2, 5:])
    vol = rng.integers(0, 2 ** 16, (40, 300, 400), dtype=np.uint16)
    check(vol, np.s_[2:38, ::2, 1::3])


def test_threads_share_an_input():
    """Four threads crop the same array at once (the large ones with the GIL
    released) and each gets numpy's result."""
    rng = np.random.default_rng(9)
    a = rng.standard_normal((1024, 1024)).astype(np.float32)
    keys = [np.s_[i:, ::i + 1] for i in range(1, 5)]
    want = [a[k].copy() for k in keys]
    errors = []

    def work(i):
        try:
            for _ in range(20):
                assert np.array_equal(ezalloc.crop(a, keys[i]), want[i])
        except BaseException as e:       # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# ------------------------------------------------------------------- errors

A = np.arange(24, dtype=np.int32).reshape(2, 3, 4)


@pytest.mark.parametrize("array, what", [
    (np.array([1, None], dtype=object), "dtype object"),
    (np.zeros(3, dtype=[("a", "i4"), ("o", "O")]), "dtype"),
    (np.array(["x"], dtype=np.dtypes.StringDType()), "dtype StringDType"),
])
def test_refused_dtypes(array, what):
    with pytest.raises(TypeError, match=f"crop: {what}.*refused"):
        ezalloc.crop(array, np.s_[:])


@pytest.mark.parametrize("key, what", [
    ([0, 1], "a list"), (np.s_[:, [0, 1]], "a list"), (np.array([0]), "an array"),
    (np.array(1), "an array"), ((0, np.array([True, False, True])), "an array"),
    (None, r"None \(numpy.newaxis\)"), (np.s_[np.newaxis, 0], r"None \(numpy.newaxis\)"),
    (True, "a boolean"), (np.s_[0, np.False_], "a boolean"), (1.0, "an object of type 'float'"),
    ("a", "an object of type 'str'"), (((0, 1),), "a nested tuple"),
])
def test_refused_keys(key, what):
    with pytest.raises(TypeError, match=f"crop: {what}"):
        ezalloc.crop(A, key)


@pytest.mark.parametrize("key, message", [
    ((0, 0, 0, 0), "too many indices for array: array is 3-dimensional, but 4 were indexed"),
    ((..., 0, 0, 0, 0), "too many indices"),
    ((..., 0, ...), "an index can only have a single ellipsis"),
    ((2,), "index 2 is out of bounds for axis 0 with size 2"),
    ((0, -4), "index -4 is out of bounds for axis 1 with size 3"),
    ((..., 4), "index 4 is out of bounds for axis 2 with size 4"),
    ((2 ** 70,), "cannot fit 'int' into an index-sized integer"),
])
def test_index_errors(key, message):
    with pytest.raises(IndexError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ezalloc.crop(A, key)
    # numpy refuses the same keys with IndexError too
    with pytest.raises(IndexError):
        A[key]


# Slice bounds at and beyond Py_ssize_t's range, as exact ints (read
# directly) and as other integer types (through __index__), clip as numpy's do.
EXTREME_BOUNDS = [None, 0, 1, -1, 2, -3, 7, sys.maxsize, -sys.maxsize - 1, 2 ** 63,
                  -2 ** 63 - 1, 2 ** 70, -2 ** 70, np.int64(-2), np.intp(5), True]
EXTREME_STEPS = [None, 1, -1, 2, -3, sys.maxsize, -sys.maxsize, -sys.maxsize - 1, 2 ** 70,
                 -2 ** 70, np.int16(-2), True]


@pytest.mark.parametrize("step", EXTREME_STEPS, ids=repr)
def test_slice_bounds_clip_as_numpys(step):
    a = np.arange(7 * 5, dtype=np.int16).reshape(7, 5)
    for start in EXTREME_BOUNDS:
        for stop in EXTREME_BOUNDS:
            key = (slice(start, stop, step), slice(stop, start, step))
            got = ezalloc.crop(a, key)
            assert got.shape == a[key].shape, key
            assert np.array_equal(got, a[key]), key


def test_step_zero():
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        ezalloc.crop(A, np.s_[:, ::0])


@pytest.mark.parametrize("a", [[[1, 2], [3, 4]], (1, 2), 3, None, memoryview(b"ab")])
def test_not_an_array(a):
    with pytest.raises(TypeError, match="crop: expected a numpy.ndarray"):
        ezalloc.crop(a, np.s_[:])


def test_bad_slice_bounds():
    with pytest.raises(TypeError):
        ezalloc.crop(A, np.s_[1.5:])


def test_subclass_gives_an_ndarray():
    """A subclass with ndarray's own indexing (test_subclasses.py has the
    others, which are refused)."""
    class Plain(np.ndarray):
        pass
    m = np.arange(6.0).reshape(2, 3).view(Plain)
    r = ezalloc.crop(m, np.s_[:, 1:])
    assert type(r) is np.ndarray and r.tolist() == [[1, 2], [4, 5]]


# ------------------------------------------------------------------- ownership

def test_result_owns_a_malloc_block_numpy_does_not_trace():
    """numpy reports its own data allocations to tracemalloc; the crop's block
    comes from malloc() in the library, so tracemalloc does not see it, and
    glibc's count of bytes in use does, until the last view is gone."""
    import tracemalloc
    import child_reliability as cr
    a = np.ones((2048, 4096), np.uint8)                   # 8 MiB
    key = np.s_[:, :4000]
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        c = ezalloc.crop(a, key)
        crop_peak = tracemalloc.get_traced_memory()[1]
        del c
        tracemalloc.reset_peak()
        n = a[key].copy()
        numpy_peak = tracemalloc.get_traced_memory()[1]
        del n
    finally:
        tracemalloc.stop()
    size = 2048 * 4000
    assert numpy_peak >= size
    assert crop_peak < 64 << 10
    gc.collect()
    heap = cr.malloc_in_use()
    c = ezalloc.crop(a, key)
    view = c[::2]
    del c
    assert cr.malloc_in_use() - heap >= size
    assert view.sum() == view.size
    del view
    gc.collect()
    assert abs(cr.malloc_in_use() - heap) < 64 << 10


def test_result_is_independent_and_writeable():
    a = np.arange(20, dtype=np.int16).reshape(4, 5)
    a.flags.writeable = False
    r = ezalloc.crop(a, np.s_[1:3, ::2])
    r[...] = -1
    assert (a == np.arange(20).reshape(4, 5)).all()
    base = r.base
    assert sys.getrefcount(base) == 3       # the array, `base`, the call: nobody else


def test_no_growth_over_many_calls():
    """200,000 crops and failing calls: resident size flat."""
    import child_reliability as cr
    a = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)

    def rounds(n):
        for _ in range(n):
            ezalloc.crop(a, np.s_[3:40, ::-3])
            ezalloc.crop(a, (5, ...))
            for bad in ([0], None, np.s_[::0], (0, 0, 0)):
                try:
                    ezalloc.crop(a, bad)
                except (TypeError, ValueError, IndexError):
                    pass
                else:
                    raise AssertionError(bad)

    rounds(5_000)
    gc.collect()
    rss, heap = cr.resident(), cr.malloc_in_use()
    rounds(40_000)
    gc.collect()
    assert cr.resident() - rss < 2 << 20
    assert cr.malloc_in_use() - heap < 256 << 10
