"""Child process of test_crop_mutation.py: inputs that Python code run by
the call itself (an index's __index__, another thread, a subclass's
__array_finalize__) changes while the call is under way, for ezalloc.crop and for recipe.crop through both front
ends. Each scenario asserts numpy's result on the changed array, or a clean
exception; a crash or a read outside the array (under valgrind: an invalid
read) fails it.

    python child_mutation.py <scenario>... | all
"""

import functools
import sys
import threading
import warnings

import numpy as np

import ezalloc
from ezalloc import recipe, recipe_ctypes

FRONT_ENDS = {"swig": recipe.crop, "ctypes": recipe_ctypes.crop}


class Mutates:
    """An index whose __index__ first runs `action` (once), then gives `value`."""

    def __init__(self, value, action):
        self.value, self.action = value, action

    def __index__(self):
        action, self.action = self.action, None
        if action is not None:
            action()
        return self.value


def plain(key):
    """The key with every Mutates item replaced by its value (no action)."""
    def one(item):
        if isinstance(item, Mutates):
            return item.value
        if isinstance(item, slice):
            return slice(*(one(x) for x in (item.start, item.stop, item.step)))
        return item
    return tuple(one(i) for i in key) if isinstance(key, tuple) else one(key)


def numpy_after(make, mutate, key):
    """numpy's a[key].copy() on a fresh array from make() changed as
    `mutate` changes it: an array (0-d for a key of integers only), or the
    exception type numpy raises."""
    b = make()
    mutate(b)
    items = plain(key)
    items = items if isinstance(items, tuple) else (items,)
    if Ellipsis not in items:
        items = items + (Ellipsis,)
    try:
        return b[items].copy()
    except (IndexError, ValueError, TypeError) as e:
        return type(e)


def same_as_numpy(make, mutate, key):
    """ezalloc.crop(a, key) where the key's __index__ changes `a` as
    `mutate` does, against numpy on the changed array."""
    want = numpy_after(make, mutate, key)
    a = make()
    key = bind(key, a, mutate)
    if isinstance(want, type):
        try:
            ezalloc.crop(a, key)
        except want:
            return None
        raise AssertionError(f"no {want.__name__}")
    got = ezalloc.crop(a, key)
    assert type(got) is np.ndarray and type(got.base).__name__ == "PyCapsule"
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype,
                                                                 want.shape)
    raw = np.dtype((np.void, want.dtype.itemsize)) if want.dtype.itemsize else want.dtype
    assert got.view(raw).tobytes() == want.view(raw).tobytes()
    return got


def bind(key, a, mutate):
    """The key with each Mutates item's action (None) set to mutate(a)."""
    def one(item):
        if isinstance(item, Mutates):
            return Mutates(item.value, lambda: mutate(a))
        if isinstance(item, slice):
            return slice(*(one(x) for x in (item.start, item.stop, item.step)))
        return item
    return tuple(one(i) for i in key) if isinstance(key, tuple) else one(key)


def I(value):  # noqa: E743 (an index placeholder in keys)
    return Mutates(value, None)


def set_attr(name, value):
    def mutate(a):
        setattr(a, name, value)
    return mutate


def reshape_in_place(shape):
    """a's shape set in place, on the same array object and buffer: a
    resize to the same number of items, numpy's in-place way that is not
    deprecated (a.shape = ... is from numpy 2.5); on a C-contiguous array it
    gives the strides that the setter gives."""
    def mutate(a):
        a.resize(shape)
    return mutate


def deprecated_setters(*names):
    """For a scenario that sets a.dtype or a.strides in place: numpy has no
    other way to change them on the same array object over the same buffer
    (a.view, np.lib.stride_tricks.as_strided and np.reshape make new arrays;
    a.__setstate__ replaces the buffer), and that is the point of the
    scenario. numpy deprecates the setters (strides from 2.4, dtype from
    2.5); their DeprecationWarning, and only theirs, is ignored while the
    scenario runs (its threads included)."""
    pattern = r"Setting the (%s) on a NumPy array has been deprecated" % "|".join(names)

    def decorate(scenario):
        @functools.wraps(scenario)
        def run():
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", pattern, DeprecationWarning)
                scenario()
        return run
    return decorate


# ------------------------------------------------------------ ezalloc.crop

@deprecated_setters("dtype")
def dtype_freed():
    """__index__ replaces a's structured dtype, freeing it (its only
    reference was a's): numpy gives complex128(0j)."""
    a = np.zeros(4, dtype=[("x", "<i8"), ("y", "<i8")])
    got = ezalloc.crop(a, Mutates(1, lambda: setattr(a, "dtype", "c16")))
    assert got.dtype == np.complex128 and got.shape == () and got[()] == 0j
    same_as_numpy(lambda: np.zeros(4, dtype=[("x", "<i8"), ("y", "<i8")]),
                  set_attr("dtype", "c16"), I(1))
    same_as_numpy(lambda: np.zeros((3, 4), dtype=[("x", "<i8"), ("y", "<f8")]),
                  set_attr("dtype", "V8"), (I(2), slice(None, None, -1)))


@deprecated_setters("dtype")
def dtype_narrower():
    """A (2, 4) V16 view of the first 128 bytes of a buffer; __index__ makes
    it V8, hence (2, 8): the copy reads 8 items of 8 bytes, all in the
    array, never the bytes after it."""
    for tail in (b"SECRET!!" * 16, b""):     # b"": nothing after the array
        buf = bytearray(b"A" * 128 + tail)

        def make():
            return np.frombuffer(buf, "V16", count=8).reshape(2, 4)
        for key in [(I(1), Ellipsis), (I(1),), I(1), (Ellipsis, slice(I(1), None)),
                    (slice(None), slice(None, I(7), 2))]:
            got = same_as_numpy(make, set_attr("dtype", "V8"), key)
            assert b"SECRET" not in got.tobytes() and got.dtype.itemsize == 8


@deprecated_setters("dtype")
def dtype_wider():
    """V8 -> V32: fewer, larger items on the last axis."""
    buf = bytearray(range(256)) * 2

    def make():
        return np.frombuffer(buf, "V8", count=64).reshape(4, 16)
    for key in [(slice(None), I(1)), (I(3), Ellipsis), (slice(None), slice(I(1), None)),
                (slice(None), slice(None, I(9))), (slice(None), I(5))]:
        same_as_numpy(make, set_attr("dtype", "V32"), key)


def reshape_fewer_axes():
    """(4, 4, 4, 4) -> (256,) during the key: keys for 4 axes now index 1."""
    def make():
        return np.arange(256, dtype=np.int64).reshape(4, 4, 4, 4)
    for key in [(I(1), Ellipsis), (I(1), 0, 0, 0), (0, 0, 0, I(1)),
                (slice(None), slice(None), slice(None), slice(I(1), None)),
                (slice(I(1), None),), (Ellipsis, I(-3)), (slice(None, None, I(-7)),)]:
        same_as_numpy(make, reshape_in_place((256,)), key)


def reshape_more_axes():
    """(16,) -> (4, 4) during the key: the axes the key leaves out are whole."""
    def make():
        return np.arange(16, dtype=np.int32)
    got = same_as_numpy(make, reshape_in_place((4, 4)), slice(I(0), None))
    assert got.shape == (4, 4)
    for key in [(I(1),), (Ellipsis, I(1)), (Ellipsis, slice(I(1), None)), I(-1),
                (slice(None, None, I(-1)),), (I(15),)]:
        same_as_numpy(make, reshape_in_place((4, 4)), key)


@deprecated_setters("strides")
def strides_change():
    """a.strides set in __index__ (within the buffer, as numpy allows)."""
    def make():
        return np.arange(16, dtype=np.int64).reshape(4, 4)
    for strides in [(8, 32), (0, 8), (32, 0), (-8 * 0 + 16, 8)]:
        for key in [(I(1), Ellipsis), (slice(I(1), None), 0), (0, slice(None, None, I(-1))),
                    (Ellipsis, I(3))]:
            same_as_numpy(make, set_attr("strides", strides), key)


@deprecated_setters("dtype")
def dtype_and_shape():
    """Several changes in one __index__: a byte view, then a new shape."""
    def make():
        return np.arange(24, dtype="<u4").reshape(2, 3, 4)

    def mutate(a):
        a.dtype = "u1"
        a.resize((8, 3, 2, 2))
    for key in [(I(7), Ellipsis), (slice(None, None, I(3)), 1), (Ellipsis, I(1), slice(None))]:
        same_as_numpy(make, mutate, key)


def resize_in_index():
    """__index__ reallocates a's buffer (resize with refcheck=False, to a
    smaller and to a larger size, both past glibc's mmap threshold, so that
    the old block is unmapped): the copy reads the new buffer only."""
    def make():
        return np.arange(300_000, dtype=np.int64).reshape(600, 500).copy()

    def shrink(b):
        b.resize((20, 30), refcheck=False)

    def grow(b):
        b.resize((700, 500), refcheck=False)
    for mutate in (shrink, grow):
        for key in [(slice(I(1), None), slice(None, None, 2)), (I(5), Ellipsis),
                    (slice(None, I(650)), 3), (I(599),)]:
            same_as_numpy(make, mutate, key)


def dtype_to_refused():
    """__index__ makes a (a plain subclass, accepted) a masked array: the
    type is checked again after the key, TypeError, nothing read."""
    class Plain(np.ndarray):
        pass
    a = np.arange(8.0).view(Plain)

    def to_masked():
        a.__class__ = np.ma.MaskedArray
    try:
        ezalloc.crop(a, Mutates(1, to_masked))
    except TypeError as e:
        assert "MaskedArray" in str(e), e
    else:
        raise AssertionError("no TypeError")


def zero_itemsize():
    """A 0-byte dtype: the result owns a malloc'd block like any other."""
    a = np.zeros((3, 4), dtype=[])
    r = ezalloc.crop(a, np.s_[1:, ::2])
    assert r.shape == (2, 2) and r.dtype == a.dtype and not r.flags.owndata
    assert type(r.base).__name__ == "PyCapsule"
    r = ezalloc.crop(a, Mutates(1, lambda: a.resize((6, 2))))
    assert r.shape == (2,) and type(r.base).__name__ == "PyCapsule"


@deprecated_setters("dtype")
def thread_dtype_swap():
    """Another thread swaps a.dtype between a structured dtype (made anew
    each time, so that the old one is freed) and c16 while 300 crops of
    4 MiB copy with the GIL released: each result has one of the two dtypes
    and the array's bytes (which never change)."""
    n = 1 << 18
    a = np.frombuffer(np.random.default_rng(3).bytes(16 * n), "c16").copy()
    want = a[::-1].view("V16").tobytes()
    stop = threading.Event()

    def swap():
        while not stop.is_set():
            a.dtype = [("x", "<i8"), ("y", "<i8")]
            a.dtype = "c16"
    t = threading.Thread(target=swap)
    t.start()
    try:
        for _ in range(300):
            r = ezalloc.crop(a, np.s_[::-1])
            assert r.dtype in (np.dtype("c16"), np.dtype([("x", "<i8"), ("y", "<i8")]))
            assert r.shape == (n,) and r.view("V16").tobytes() == want
    finally:
        stop.set()
        t.join()


@deprecated_setters("strides")
def thread_reshape():
    """Another thread flips a.shape and a.strides while large crops copy:
    each result is made of the array's own items (a permutation-free check:
    every item is one of the array's values)."""
    a = np.arange(1 << 20, dtype=np.int64)
    stop = threading.Event()

    def flip():
        while not stop.is_set():
            a.resize((1024, 1024))
            a.resize((1 << 20,))
            a.resize((2048, 512))
            a.strides = (8, 16384)
            a.strides = (4096, 8)
            a.resize((1 << 20,))
    t = threading.Thread(target=flip)
    t.start()
    try:
        for _ in range(200):
            try:
                r = ezalloc.crop(a, np.s_[::-1, ...])
            except IndexError:
                continue
            flat = r.reshape(-1)
            assert flat.size in (1 << 20, 1024 * 1024) and flat.min() >= 0
            assert flat.max() < 1 << 20
    finally:
        stop.set()
        t.join()


# ------------------------------------------------------------ recipe.crop

def recipe_resize_smaller():
    """An index's __index__ shrinks the input with resize(refcheck=False):
    the window is checked against the new shape (IndexError); nothing reads
    the freed block."""
    for name, crop in FRONT_ENDS.items():
        a = np.full((400, 600), 7, np.intc)            # its own block (mmap'd)
        try:
            crop(a, 0, 2, 0, Mutates(3, lambda: a.resize((2, 2), refcheck=False)))
        except IndexError as e:
            assert "shape (2, 2)" in str(e), (name, e)
        else:
            raise AssertionError(f"{name}: no IndexError")


def recipe_resize_larger():
    """resize to a larger shape: the crop reads the new block."""
    for name, crop in FRONT_ENDS.items():
        a = np.arange(24, dtype=np.intc).reshape(4, 6).copy()

        def grow():
            a.resize((400, 600), refcheck=False)
            a[...] = np.arange(400 * 600, dtype=np.intc).reshape(400, 600)
        got = crop(a, Mutates(1, grow), 3, 2, 5)
        assert np.array_equal(got, np.arange(400 * 600).reshape(400, 600)[1:3, 2:5]), name


@deprecated_setters("dtype")
def recipe_dtype_change():
    """__index__ views the intc input as int64 (shape (4, 3)): the dtype is
    read after the indices, so the call refuses it."""
    for name, crop in FRONT_ENDS.items():
        a = np.arange(24, dtype=np.intc).reshape(4, 6)
        try:
            crop(a, 0, 1, 0, Mutates(1, lambda: setattr(a, "dtype", np.int64)))
        except TypeError as e:
            assert "got dtype int64" in str(e), (name, e)
        else:
            raise AssertionError(f"{name}: no TypeError")


@deprecated_setters("strides")
def recipe_transpose_in_place():
    """__index__ swaps the strides of the C-contiguous input (a Fortran
    layout now): the crop sees the new layout and gives its values."""
    for name, crop in FRONT_ENDS.items():
        a = np.arange(36, dtype=np.intc).reshape(6, 6)

        def transpose():
            a.strides = (4, 24)
        got = crop(a, 1, 3, Mutates(0, transpose), 4)
        assert np.array_equal(got, np.arange(36).reshape(6, 6).T[1:3, 0:4]), name


def recipe_finalize_in_conversion():
    """A non-contiguous input of a subclass whose __array_finalize__
    empties each new array that owns its data (resize to 0 items,
    refcheck=False). Converted to C layout as a subclass array, numpy's copy
    would write past the emptied block; the copy is a base-class ndarray,
    so no __array_finalize__ runs during the call, and the crop gives the
    input's values."""
    m = 1 << 20

    class Empties(np.ndarray):
        armed = False
        calls = 0

        def __array_finalize__(self, obj):
            if Empties.armed and obj is not None:
                Empties.calls += 1
                if self.flags.owndata:
                    self.resize(self.shape + (0,), refcheck=False)
    base = np.arange(m * 4, dtype=np.intc).reshape(m, 4)
    want = base[:, ::2][1:m - 1, 0:1]
    for name, crop in FRONT_ENDS.items():
        a = base.view(Empties)[:, ::2]                  # (m, 2), not C-contiguous
        Empties.armed, Empties.calls = True, 0
        try:
            got = crop(a, 1, m - 1, 0, 1)
        finally:
            Empties.armed = False
        assert Empties.calls == 0, (name, Empties.calls)
        assert type(got) is np.ndarray and np.array_equal(got, want), name


SINGLE_SHOT = [dtype_freed, dtype_narrower, dtype_wider, reshape_fewer_axes, reshape_more_axes,
               strides_change, dtype_and_shape, resize_in_index, dtype_to_refused, zero_itemsize,
               recipe_resize_smaller, recipe_resize_larger, recipe_dtype_change,
               recipe_transpose_in_place, recipe_finalize_in_conversion]
THREADS = [thread_dtype_swap, thread_reshape]
SCENARIOS = {f.__name__: f for f in SINGLE_SHOT + THREADS}

if __name__ == "__main__":
    names = sys.argv[1:]
    if names == ["all"]:
        names = [f.__name__ for f in SINGLE_SHOT]
    for name in names:
        SCENARIOS[name]()
        print(name, "ok", flush=True)
    print("ok")
