"""Bad (and unusual but valid) input swept through both front ends: every
case gives a documented exception with a clear message, or the right result,
never a crash; and the SWIG modules and the ctypes module give exactly the
same outcome (exception type and message, or result) for every case."""

import math
import re

import numpy as np
import pytest

from conftest import FRONT_ENDS

INTC = np.intc
INT_MAX = 2 ** 31 - 1


def matrix(*shape, dtype=INTC):
    return np.arange(math.prod(shape)).astype(dtype).reshape(shape)


def readonly(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


class Subclass(np.ndarray):
    pass


def ok(expected):
    """The call succeeds and returns `expected` (an array)."""
    return ("ok", expected)


def raises(exc, pattern):
    return (exc, pattern)


# ------------------------------------------------------------------ cases
# Each case: id -> (make the arguments, expected). Arguments are made afresh
# for every call.

ALLOC = {}      # ni -> alloc_managed(ni)
CROP_INPUT = {}  # arr_in -> crop(arr_in, 0, 1, 0, 1) unless a window is given
CROP_INDEX = {}  # an index value, tried at each position of crop's window


def not_an_integer(name):
    return raises(TypeError, rf"argument '{{arg}}' must be an integer, not '{name}'$")


def too_big(value):
    return raises(OverflowError, rf"argument '{{arg}}' = {value} does not fit in a C int$")


INDEX_VALUES = {
    # wrong types
    "None": (lambda: None, not_an_integer("NoneType")),
    "str": (lambda: "1", not_an_integer("str")),
    "bytes": (lambda: b"1", not_an_integer("bytes")),
    "float": (lambda: 1.0, not_an_integer("float")),
    "float-nan": (lambda: float("nan"), not_an_integer("float")),
    "np.float64": (lambda: np.float64(1), not_an_integer("float64")),
    "np.float32": (lambda: np.float32(1), not_an_integer("float32")),
    "np.bool_": (lambda: np.bool_(True), not_an_integer("bool")),
    "complex": (lambda: 1 + 0j, not_an_integer("complex")),
    "list": (lambda: [1], not_an_integer("list")),
    "nested-list": (lambda: [[1], [2, 3]], not_an_integer("list")),
    "tuple": (lambda: (1,), not_an_integer("tuple")),
    "dict": (lambda: {"ni": 1}, not_an_integer("dict")),
    "object": (lambda: object(), not_an_integer("object")),
    "1-d-array": (lambda: np.array([1]), not_an_integer("ndarray")),
    "0-d-float-array": (lambda: np.array(1.0), not_an_integer("ndarray")),
    "0-d-object-array": (lambda: np.array(1, dtype=object), not_an_integer("ndarray")),
    # integers beyond C int
    "2**31": (lambda: 2 ** 31, too_big(2 ** 31)),
    "-2**31-1": (lambda: -2 ** 31 - 1, too_big(-2 ** 31 - 1)),
    "2**63": (lambda: 2 ** 63, too_big(2 ** 63)),
    "2**64": (lambda: 2 ** 64, too_big(2 ** 64)),
    "-2**63": (lambda: -2 ** 63, too_big(-2 ** 63)),
    "10**30": (lambda: 10 ** 30, too_big(10 ** 30)),
    "-10**30": (lambda: -10 ** 30, too_big(-10 ** 30)),
    "np.int64(2**40)": (lambda: np.int64(2 ** 40), too_big(2 ** 40)),
    "np.uint64(2**63)": (lambda: np.uint64(2 ** 63), too_big(2 ** 63)),
    "np.int64(-2**63)": (lambda: np.int64(-2 ** 63), too_big(-2 ** 63)),
    "0-d-array(2**40)": (lambda: np.array(2 ** 40), too_big(2 ** 40)),
}

for name, (make, expected) in INDEX_VALUES.items():
    ALLOC[name] = (make, expected)
    CROP_INDEX[name] = (make, expected)

# Integers that are valid: anything with __index__ within C int.
ALLOC.update({
    "True": (lambda: True, ok(np.empty(1, INTC))),
    "False": (lambda: False, ok(np.empty(0, INTC))),
    "np.int64": (lambda: np.int64(5), ok(np.empty(5, INTC))),
    "np.uint8": (lambda: np.uint8(5), ok(np.empty(5, INTC))),
    "0-d-int-array": (lambda: np.array(5), ok(np.empty(5, INTC))),
    "zero": (lambda: 0, ok(np.empty(0, INTC))),
    "-1": (lambda: -1, raises(MemoryError, r"^alloc_managed\(-1\): malloc of 18446744073709551612 bytes failed \(ENOMEM\)$")),
    "-2**31": (lambda: -2 ** 31, raises(MemoryError, r"^alloc_managed\(-2147483648\): malloc of 18446744065119617024 bytes")),
})


def wrong_dtype(dtype):
    """The dtype error; for a dtype that ezalloc.crop copies, it names ezalloc.crop."""
    hint = "" if dtype == "object" else (r"; ezalloc\.crop\(a, np\.s_\[d1_0:d1_1, d2_0:d2_1\]\) "
                                         r"copies windows of any such dtype")
    return raises(TypeError,
                  rf"^crop: expected an array of dtype intc \(C int, int32\), got dtype {dtype}{hint}$")


def not_integers(dtype):
    return raises(TypeError, rf"^crop: expected integers for an intc \(C int, int32\) array, got values of dtype {dtype}$")


def not_2d(ndim):
    return raises(TypeError, rf"^crop: expected a 2-D array, got {ndim} dimension\(s\)$")


def window_refused(rows, cols):
    return raises(IndexError, rf"^crop: window \[0:0, 0:0\] does not fit an array of shape \({rows}, {cols}\)")


def sliced(a, d1_0=0, d1_1=1, d2_0=0, d2_1=1):
    return ok(np.asarray(a)[d1_0:d1_1, d2_0:d2_1])


BASE = matrix(4, 6) * 7 - 30     # negative values too

CROP_INPUT.update({
    # wrong types
    "None": (lambda: None, not_integers("object")),
    "str": (lambda: "abcd", not_integers("<U4")),
    "bytes": (lambda: b"abcd", not_integers("|S4")),
    "float": (lambda: 2.5, not_integers("float64")),
    "int": (lambda: 7, not_2d(0)),
    "bool": (lambda: True, not_integers("bool")),
    "dict": (lambda: {"a": 1}, not_integers("object")),
    "empty-dict": (lambda: {}, not_integers("object")),
    "list-of-floats": (lambda: [[1.5, 2.0], [3.0, 4.0]], not_integers("float64")),
    "list-of-bools": (lambda: [[True, False], [False, True]], not_integers("bool")),
    "list-of-str": (lambda: [["1", "2"], ["3", "4"]], not_integers("<U1")),
    "list-of-bytes": (lambda: [[b"1", b"2"], [b"3", b"4"]], not_integers("|S1")),
    "list-with-None": (lambda: [[1, None], [3, 4]], not_integers("object")),
    "list-of-complex": (lambda: [[1j, 2], [3, 4]], not_integers("complex128")),
    "list-beyond-2**64": (lambda: [[2 ** 64, 1], [1, 1]], not_integers("object")),
    "list-beyond-C-int": (lambda: [[2 ** 31, 1], [1, 1]], raises(OverflowError, r"^crop: array values do not fit in a C int$")),
    "list-below-C-int": (lambda: [[-2 ** 31 - 1, 1], [1, 1]], raises(OverflowError, r"^crop: array values do not fit in a C int$")),
    "object-array-of-ints": (lambda: np.array([[1, 2], [3, 4]], dtype=object), wrong_dtype("object")),
    "object-array-of-lists": (lambda: np.array([[[1], [2]], [[3], [4, 5]]], dtype=object), wrong_dtype("object")),
    # ragged nested lists: numpy refuses them (ValueError)
    "ragged": (lambda: [[1, 2], [3]], raises(ValueError, "inhomogeneous")),
    "ragged-deep": (lambda: [[[1], [2, 3]]], raises(ValueError, "inhomogeneous")),
    "ragged-mixed": (lambda: [[1, 2], [3, [4]]], raises(ValueError, "inhomogeneous")),
    # wrong number of dimensions
    "0-d": (lambda: np.array(5, INTC), not_2d(0)),
    "1-d": (lambda: np.arange(6, dtype=INTC), not_2d(1)),
    "3-d": (lambda: np.zeros((2, 3, 4), INTC), not_2d(3)),
    "3-d-empty": (lambda: np.zeros((2, 0, 4), INTC), not_2d(3)),
    "1-d-list": (lambda: [1, 2, 3], not_2d(1)),
    "empty-list": (lambda: [], not_2d(1)),
    "3-d-list": (lambda: [[[1, 2]], [[3, 4]]], not_2d(3)),
    # wrong dtypes, even when the values fit
    **{f"dtype-{np.dtype(t).name}": (lambda t=t: np.ones((3, 3), t), wrong_dtype(np.dtype(t)))
       for t in (np.int64, np.int16, np.int8, np.uint32, np.uint64, np.float32, np.float64,
                 np.bool_, np.complex64, np.complex128, np.longlong)},
    "dtype-U1": (lambda: np.full((3, 3), "1"), wrong_dtype("<U1")),
    "dtype-structured": (lambda: np.zeros((3, 3), [("a", "<i4")]), wrong_dtype(r"\[\('a', '<i4'\)\]")),
    # byte-swapped: same values, non-native order
    "byte-swapped": (lambda: BASE.astype(">i4"), wrong_dtype(">i4")),
    "byte-swapped-view": (lambda: BASE.byteswap().view(BASE.dtype.newbyteorder()), wrong_dtype(">i4")),
    # empty arrays: no window fits
    "empty-0x0": (lambda: np.zeros((0, 0), INTC), window_refused(0, 0)),
    "empty-0x5": (lambda: np.zeros((0, 5), INTC), window_refused(0, 5)),
    "empty-5x0": (lambda: np.zeros((5, 0), INTC), window_refused(5, 0)),
    "empty-list-rows": (lambda: [[]], window_refused(1, 0)),
    "empty-list-3-rows": (lambda: [[], [], []], window_refused(3, 0)),
    # valid: read-only (crop only reads), any layout, other array-likes
    "readonly": (lambda: readonly(BASE), sliced(BASE, 1, 3, 2, 5)),
    "readonly-noncontiguous": (lambda: readonly(BASE)[::-1, ::2], sliced(BASE[::-1, ::2], 0, 3, 1, 2)),
    "readonly-frombuffer": (lambda: np.frombuffer(BASE.tobytes(), INTC).reshape(4, 6), sliced(BASE, 1, 3, 0, 5)),
    "broadcast-zero-strides": (lambda: np.broadcast_to(np.arange(6, dtype=INTC), (4, 6)),
                               sliced(np.broadcast_to(np.arange(6, dtype=INTC), (4, 6)), 0, 3, 1, 5)),
    "fortran": (lambda: np.asfortranarray(BASE), sliced(BASE, 1, 3, 2, 5)),
    "transposed": (lambda: BASE.T, sliced(BASE.T, 1, 5, 0, 3)),
    "strided": (lambda: matrix(8, 12)[::2, ::3], sliced(matrix(8, 12)[::2, ::3], 0, 3, 1, 3)),
    "negative-strides": (lambda: BASE[::-1, ::-1], sliced(BASE[::-1, ::-1], 1, 3, 2, 5)),
    "misaligned": (lambda: np.frombuffer(b"\0" + BASE.tobytes(), INTC, offset=1).reshape(4, 6),
                   sliced(BASE, 0, 3, 1, 4)),
    "memoryview": (lambda: memoryview(BASE.copy()), sliced(BASE, 1, 3, 2, 5)),
    "nested-tuples": (lambda: tuple(map(tuple, BASE.tolist())), sliced(BASE, 1, 3, 2, 5)),
    "list-of-arrays": (lambda: list(BASE.astype(np.int64)), sliced(BASE, 1, 3, 2, 5)),
    "list-of-np-ints": (lambda: [[np.int64(1), np.uint8(2)], [np.int16(-3), 4]], ok(np.array([[1]], INTC))),
    "list-of-C-int-extremes": (lambda: [[INT_MAX, -INT_MAX - 1], [0, 0]], ok(np.array([[INT_MAX]], INTC))),
    "ndarray-subclass": (lambda: BASE.view(Subclass), sliced(BASE, 1, 3, 2, 5)),
    "masked-array": (lambda: np.ma.masked_array(BASE, mask=BASE > 0), sliced(BASE, 1, 3, 2, 5)),
    "empty-window": (lambda: BASE, sliced(BASE, 2, 2, 1, 4)),
})

# Windows for the valid inputs above (default: 0, 1, 0, 1).
CROP_WINDOWS = {"readonly": (1, 3, 2, 5), "readonly-noncontiguous": (0, 3, 1, 2),
                "readonly-frombuffer": (1, 3, 0, 5), "broadcast-zero-strides": (0, 3, 1, 5),
                "fortran": (1, 3, 2, 5), "transposed": (1, 5, 0, 3), "strided": (0, 3, 1, 3),
                "negative-strides": (1, 3, 2, 5), "misaligned": (0, 3, 1, 4),
                "memoryview": (1, 3, 2, 5), "nested-tuples": (1, 3, 2, 5),
                "list-of-arrays": (1, 3, 2, 5), "ndarray-subclass": (1, 3, 2, 5), "masked-array": (1, 3, 2, 5),
                "empty-window": (2, 2, 1, 4)}
for name in ("empty-0x0", "empty-0x5", "empty-5x0", "empty-list-rows", "empty-list-3-rows"):
    CROP_WINDOWS[name] = (0, 0, 0, 0)

POSITIONS = ["d1_0", "d1_1", "d2_0", "d2_1"]
CROP_INDEX_WINDOW = [0, 2, 1, 3]


def all_cases():
    """(id, call(front end), expected) for every case."""
    for name, (make, expected) in ALLOC.items():
        kind, pattern = expected
        if kind != "ok":
            pattern = pattern.replace("{arg}", "ni")
            if kind in (TypeError, OverflowError):
                pattern = "^alloc_managed: " + pattern
        yield f"alloc-{name}", (lambda fe, make=make: fe.alloc_managed(make())), (kind, pattern)
    for name, (make, expected) in CROP_INPUT.items():
        window = CROP_WINDOWS.get(name, (0, 1, 0, 1))
        yield (f"crop-input-{name}", (lambda fe, make=make, window=window: fe.crop(make(), *window)),
               expected)
    for name, (make, (kind, pattern)) in CROP_INDEX.items():
        for position, arg in enumerate(POSITIONS):
            def call(fe, make=make, position=position):
                window = list(CROP_INDEX_WINDOW)
                window[position] = make()
                return fe.crop(BASE, *window)
            yield (f"crop-{arg}-{name}", call,
                   (kind, "^crop: " + pattern.replace("{arg}", arg)))


CASES = {case_id: (call, expected) for case_id, call, expected in all_cases()}


def outcome(fe, call):
    """("ok", result) or (exception type, message)."""
    try:
        return "ok", call(fe)
    except Exception as e:  # noqa: BLE001 (any exception is an outcome to compare)
        return type(e), str(e)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(fe, case):
    call, (kind, expected) = CASES[case]
    got_kind, got = outcome(fe, call)
    if kind == "ok":
        assert got_kind == "ok", f"{got_kind.__name__}: {got}"
        assert got.dtype == INTC and got.flags.c_contiguous and got.flags.writeable
        assert got.shape == expected.shape
        if got.ndim == 2:           # alloc_managed's contents are uninitialised
            np.testing.assert_array_equal(got, expected)
    else:
        # errno values give subclasses that are OSErrors too (test_errno.py)
        assert got_kind is kind or issubclass(got_kind, kind) and issubclass(got_kind, OSError), \
            f"expected {kind.__name__}, got {got_kind}: {got}"
        assert re.search(expected, got), (expected, got)


@pytest.mark.parametrize("case", sorted(CASES))
def test_front_ends_agree(case):
    call, _ = CASES[case]
    swig_kind, swig = outcome(FRONT_ENDS["swig"], call)
    ctypes_kind, ctypes_ = outcome(FRONT_ENDS["ctypes"], call)
    assert swig_kind == ctypes_kind, (swig, ctypes_)
    if swig_kind == "ok":
        assert swig.shape == ctypes_.shape and swig.dtype == ctypes_.dtype
        if swig.ndim == 2:
            np.testing.assert_array_equal(swig, ctypes_)
        assert type(swig.base).__name__ == "PyCapsule"
        assert type(ctypes_.base).__name__ == "_Block"
    else:
        assert swig == ctypes_


def test_inputs_are_left_unchanged(fe):
    """crop only reads: a read-only input works, a writable one is untouched,
    including when the call fails."""
    a = BASE.copy()
    before = a.copy()
    fe.crop(a, 0, 3, 0, 5)[...] = 0
    with pytest.raises(IndexError):
        fe.crop(a, 0, 4, 0, 5)
    np.testing.assert_array_equal(a, before)
    assert a.flags.writeable
    frozen = readonly(BASE)
    np.testing.assert_array_equal(fe.crop(frozen, 0, 3, 0, 5), BASE[0:3, 0:5])
    assert not frozen.flags.writeable
