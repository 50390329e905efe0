"""Inputs changed by Python code that the call runs: an index's __index__
(dtype views, reshapes, strides, resize, __class__), another thread (with
the GIL released) or a subclass's __array_finalize__. ezalloc.crop parses
the whole key first and reads the array after that; recipe.crop converts
its integers before the array. Each result is numpy's on the changed array,
or a clean exception.

The scenarios run in child processes (child_mutation.py), plainly and, the
single-shot ones, under valgrind's memcheck, which reports any read of freed
memory or outside the buffer. Then the index exceptions against numpy's,
and a hypothesis property: random keys whose __index__ changes the array."""

import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import childproc
import ezalloc

from child_mutation import SINGLE_SHOT, THREADS, Mutates, bind, numpy_after


@pytest.mark.parametrize("scenario", [f.__name__ for f in SINGLE_SHOT + THREADS])
def test_scenario(scenario):
    out = childproc.check(childproc.run("child_mutation.py", scenario, timeout=300))
    assert out.endswith("ok\n"), out


# Frames of the package's own code: an error there is ours.
OURS = re.compile(r"_ndcrop|_recipe|libezalloc|ez_crop|ez_intc_matrix")


def valgrind_errors(log):
    """The error reports of a valgrind log that involve our code (the
    interpreter's and ld.so's own reports, which a Python built without
    valgrind support makes, are left out)."""
    blocks = re.split(r"\n==\d+== \n", log)
    return [b for b in blocks
            if re.search(r"Invalid (read|write|free)|uninitialised|Mismatched|overlap", b)
            and OURS.search(b)]


def test_single_shot_scenarios_under_valgrind():
    valgrind = childproc.valgrind()
    if valgrind is None:
        pytest.skip(childproc.why_no_valgrind() + ": the scenarios ran without it only")
    out = childproc.run("child_mutation.py", "all", timeout=1200, env={"PYTHONMALLOC": "malloc"},
                        wrapper=[valgrind, "--num-callers=40", "--error-limit=no"])
    assert out.returncode == 0, out.stdout + out.stderr[-5000:]
    assert out.stdout.endswith("ok\n"), out.stdout
    errors = valgrind_errors(out.stderr)
    assert not errors, "\n\n".join(errors[:5])
    # The check can fail: valgrind's reports are parsed (it ran, it saw the heap).
    assert re.search(r"ERROR SUMMARY: \d+ errors", out.stderr), out.stderr[-2000:]


# ------------------------------------------------- index exceptions vs numpy

A = np.arange(24, dtype=np.int16).reshape(2, 3, 4)


def raising(exc):
    class Raises:
        def __index__(self):
            raise exc("from __index__")
    return Raises()


def numpy_exception(key):
    try:
        A[key]
    except BaseException as e:      # noqa: BLE001 (the type is the outcome)
        return type(e)
    raise AssertionError(f"numpy accepts {key!r}")


@pytest.mark.parametrize("exc", [ValueError, TypeError, OverflowError, IndexError,
                                 ZeroDivisionError, LookupError, RuntimeError])
@pytest.mark.parametrize("where", ["bare", "tuple", "after-ellipsis"])
def test_index_raising_exception_is_index_error(exc, where):
    """numpy turns any Exception from an integer's __index__ into
    IndexError; so does crop (the original is the __cause__)."""
    key = {"bare": raising(exc), "tuple": (0, raising(exc)),
           "after-ellipsis": (Ellipsis, raising(exc))}[where]
    assert numpy_exception(key) is IndexError
    with pytest.raises(IndexError, match="crop: the index at position") as info:
        ezalloc.crop(A, key)
    assert type(info.value.__cause__) is exc


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError])
def test_index_raising_base_exception_propagates(exc):
    """KeyboardInterrupt and other BaseExceptions (and MemoryError) from
    __index__ come out unchanged (numpy would turn them into IndexError)."""
    with pytest.raises(exc, match="from __index__"):
        ezalloc.crop(A, (0, raising(exc)))


@pytest.mark.parametrize("exc", [ValueError, KeyboardInterrupt, OverflowError])
def test_slice_bound_exceptions_propagate(exc):
    """A slice bound's __index__ error is Python's own, for numpy and crop."""
    key = np.s_[raising(exc):]
    assert numpy_exception(key) is exc
    with pytest.raises(exc, match="from __index__"):
        ezalloc.crop(A, key)


class BigIndex:
    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


@pytest.mark.parametrize("index", [
    np.uint64(2 ** 64 - 1), np.uint64(2 ** 63), 2 ** 63, 2 ** 64 - 1,      # numpy: OverflowError
    2 ** 64, 2 ** 70, -2 ** 63 - 1, -2 ** 70, BigIndex(2 ** 63), BigIndex(-2 ** 70),  # IndexError
    np.int64(-2 ** 63), 2 ** 63 - 1,                                       # out of bounds
], ids=repr)
@pytest.mark.parametrize("wrap", [lambda i: i, lambda i: (i, ...), lambda i: (0, 0, i)],
                         ids=["bare", "first", "last"])
def test_index_out_of_ssize_t_like_numpy(index, wrap):
    key = wrap(index)
    want = numpy_exception(key)
    assert want in (OverflowError, IndexError)
    with pytest.raises(want) as info:
        ezalloc.crop(A, key)
    assert type(info.value) is want


# ------------------------------------------------ property: changing __index__

MUTATIONS = ["dtype", "reshape", "strides", "dtype+reshape"]


def mutations(draw, a):
    """A function changing `a` in place in a way numpy allows, drawn for a's
    layout. Shapes change by a resize to the same number of items (the
    in-place way that numpy does not deprecate); dtypes and strides only
    have their setters (see child_mutation.deprecated_setters)."""
    kind = draw(st.sampled_from(MUTATIONS))
    size = a.size
    itemsize = a.dtype.itemsize
    if kind == "dtype" and a.ndim:
        nbytes = a.shape[-1] * itemsize
        options = [n for n in (1, 2, 4, 8, 16, 3, 6, 12) if nbytes % n == 0]
        new = draw(st.sampled_from(options))
        return f"dtype V{new}", lambda b: setattr(b, "dtype", f"V{new}")
    if kind == "reshape" or kind == "dtype+reshape":
        shapes = [(size,), (1, size), (size, 1)]
        for d in (2, 3, 4):
            if size and size % d == 0:
                shapes += [(d, size // d), (size // d, d, 1), (1, d, size // d)]
        shape = draw(st.sampled_from(shapes))
        if kind == "reshape":
            return f"shape {shape}", lambda b: b.resize(shape)

        def both(b):
            b.dtype = "u1"
            b.resize((b.size,))
            b.resize(shape[:-1] + (shape[-1] * itemsize,))
        return f"u1, shape {shape}", both
    if kind == "strides" and a.ndim >= 1:
        # the C strides permuted (numpy refuses those that leave the
        # buffer: the case is skipped) or some of them 0 (always allowed)
        strides = list(a.strides)
        if draw(st.booleans()):
            order = draw(st.permutations(range(a.ndim)))
            new = tuple(strides[i] for i in order)
        else:
            new = tuple(0 if draw(st.booleans()) else s for s in strides)
        return f"strides {new}", lambda b: setattr(b, "strides", new)
    return "none", lambda b: None


@st.composite
def mutating_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    dtype = draw(st.sampled_from(["u1", "<i2", ">i4", "<f8", "V3", "c8"]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    raw = np.random.default_rng(seed).bytes(int(np.prod(shape)) * np.dtype(dtype).itemsize)

    def make():
        return np.frombuffer(bytearray(raw), dtype).reshape(shape)
    label, mutate = mutations(draw, make())
    # the key: items for some leading axes of the original shape, plus
    # extra ones sometimes (the new shape may have more axes); one is the
    # mutating index
    items = []
    for d in shape[:draw(st.integers(0, len(shape)))] + (3,) * draw(st.integers(0, 2)):
        if draw(st.booleans()):
            items.append(draw(st.integers(-d - 1, d)))
        else:
            bound = st.none() | st.integers(-d - 2, d + 2)
            items.append(slice(draw(bound), draw(bound), draw(st.none() | st.sampled_from(
                [-3, -2, -1, 1, 2, 4]))))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(items)))
        items.insert(at, Ellipsis)
    slots = [(i, None) for i, x in enumerate(items) if isinstance(x, int)]
    slots += [(i, f) for i, x in enumerate(items) if isinstance(x, slice)
              for f in ("start", "stop", "step") if getattr(x, f) is not None]
    if slots:
        i, field = draw(st.sampled_from(slots))
        if field is None:
            items[i] = Mutates(items[i], None)
        else:
            parts = {f: getattr(items[i], f) for f in ("start", "stop", "step")}
            parts[field] = Mutates(parts[field], None)
            items[i] = slice(parts["start"], parts["stop"], parts["step"])
    else:
        label, mutate = "none", lambda b: None      # no integer in the key to run it
    key = items[0] if len(items) == 1 and draw(st.booleans()) else tuple(items)
    return make, label, mutate, key


# The dtype and strides setters are deprecated (numpy 2.5 and 2.4), and
# numpy has no other way to change them in place: their warnings only are
# ignored here.
@pytest.mark.filterwarnings("ignore:Setting the strides:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Setting the dtype:DeprecationWarning")
@settings(max_examples=1500)
@given(mutating_cases())
def test_property_mutating_index_equals_numpy_on_the_changed_array(case):
    """The crop equals numpy's a[key].copy() on the array changed as the
    key's __index__ changed it (both read the integers' values first), or
    both refuse the key."""
    make, label, mutate, key = case
    try:
        mutate(make())
    except (ValueError, AttributeError):
        return                       # numpy refuses this change for this array
    want = numpy_after(make, mutate, key)
    a = make()
    bound = bind(key, a, mutate)
    if isinstance(want, type):
        with pytest.raises(want):
            ezalloc.crop(a, bound)
        return
    got = ezalloc.crop(a, bound)
    assert got.dtype == want.dtype and got.shape == want.shape, (label, key)
    assert got.tobytes() == want.tobytes(), (label, key)
