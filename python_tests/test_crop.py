"""crop() through both front ends: equals numpy slicing, refuses bad input."""

import errno

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

INTC = np.intc
INT_MAX = 2 ** 31 - 1


def recipe_array():
    """The recipe's 5x9 example: row i holds 10**i * (1..9), not contiguous."""
    a = np.zeros((5, 10), INTC)
    a[np.arange(5), :] = np.arange(10)
    a = (a * np.transpose([10 ** np.arange(5)]).astype(INTC))[:, 1:]
    return a


def layouts(base):
    """The same values (base, C-ordered) in many memory layouts."""
    rows, cols = base.shape
    yield "c", base.copy()
    yield "fortran", np.asfortranarray(base)
    yield "transposed", np.ascontiguousarray(base.T).T
    big = np.zeros((rows * 2, cols * 3), INTC)
    big[::2, ::3] = base
    yield "strided", big[::2, ::3]
    yield "reversed", np.ascontiguousarray(base[::-1, ::-1])[::-1, ::-1]
    raw = bytearray(base.nbytes + 1)
    misaligned = np.frombuffer(raw, INTC, count=base.size, offset=1).reshape(rows, cols)
    misaligned[...] = base
    yield "misaligned", misaligned
    yield "list", base.tolist()
    yield "tuple", tuple(map(tuple, base.tolist()))


@st.composite
def arrays_and_windows(draw):
    rows = draw(st.integers(1, 12))
    cols = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    base = np.random.default_rng(seed).integers(-2 ** 31, 2 ** 31, (rows, cols), dtype=INTC)
    d1_0 = draw(st.integers(0, rows - 1))
    d1_1 = draw(st.integers(d1_0, rows - 1))
    d2_0 = draw(st.integers(0, cols - 1))
    d2_1 = draw(st.integers(d2_0, cols - 1))
    return base, (d1_0, d1_1, d2_0, d2_1)


def test_recipe_example(fe):
    a = recipe_array()
    assert not a.flags.c_contiguous
    c = fe.crop(a, 2, 4, 1, 5)
    assert c.tolist() == [[200, 300, 400, 500], [2000, 3000, 4000, 5000]]
    np.testing.assert_array_equal(c, a[2:4, 1:5])
    assert c.dtype == INTC and c.flags.c_contiguous and c.flags.writeable


@given(arrays_and_windows())
def test_equals_numpy_slicing_in_every_layout(fe, case):
    base, (d1_0, d1_1, d2_0, d2_1) = case
    expected = base[d1_0:d1_1, d2_0:d2_1]
    for layout, a in layouts(base):
        c = fe.crop(a, d1_0, d1_1, d2_0, d2_1)
        assert c.dtype == INTC, layout
        assert c.shape == expected.shape, layout
        np.testing.assert_array_equal(c, expected, err_msg=layout)


@given(st.integers(1, 6), st.integers(1, 6),
       st.lists(st.integers(-3, 9), min_size=4, max_size=4))
def test_window_is_checked(fe, rows, cols, window):
    a = np.arange(rows * cols, dtype=INTC).reshape(rows, cols)
    d1_0, d1_1, d2_0, d2_1 = window
    valid = 0 <= d1_0 <= d1_1 < rows and 0 <= d2_0 <= d2_1 < cols
    if valid:
        np.testing.assert_array_equal(fe.crop(a, *window), a[d1_0:d1_1, d2_0:d2_1])
    else:
        with pytest.raises(IndexError) as info:
            fe.crop(a, *window)
        message = str(info.value)
        assert f"[{d1_0}:{d1_1}, {d2_0}:{d2_1}]" in message
        assert f"shape ({rows}, {cols})" in message


def test_window_ending_at_last_row_or_column_is_refused(fe):
    a = np.arange(12, dtype=INTC).reshape(3, 4)
    assert fe.crop(a, 0, 2, 0, 3).shape == (2, 3)
    for window in [(0, 3, 0, 3), (0, 2, 0, 4)]:
        with pytest.raises(IndexError, match=r"need 0 <= d1_0 <= d1_1 < 3 and 0 <= d2_0 <= d2_1 < 4"):
            fe.crop(a, *window)


def test_empty_windows(fe):
    a = np.arange(12, dtype=INTC).reshape(3, 4)
    assert fe.crop(a, 1, 1, 0, 3).shape == (0, 3)
    assert fe.crop(a, 0, 2, 2, 2).shape == (2, 0)
    assert fe.crop(a, 2, 2, 3, 3).shape == (0, 0)


def test_input_is_not_modified_and_result_is_a_copy(fe):
    a = np.arange(30, dtype=INTC).reshape(5, 6)
    before = a.copy()
    c = fe.crop(a, 1, 4, 1, 5)
    c[...] = -1
    np.testing.assert_array_equal(a, before)
    assert not np.shares_memory(a, c)


@pytest.mark.parametrize("dtype", [np.int64, np.int16, np.uint32, np.float64,
                                   np.float32, np.bool_, ">i4", np.complex64])
def test_other_dtypes_are_refused(fe, dtype):
    a = np.ones((3, 3), dtype)
    with pytest.raises(TypeError, match=r"expected an array of dtype intc \(C int, int32\), got dtype"):
        fe.crop(a, 0, 1, 0, 1)


@pytest.mark.parametrize("value", [[[1.5, 2], [3, 4]], [[True, False], [True, True]],
                                   [["a", "b"], ["c", "d"]], [[2 ** 70, 1], [1, 1]],
                                   # numpy reads int64 and uint64 values together as float64
                                   [[2 ** 63, 0], [0, 0]]])
def test_lists_that_are_not_c_ints_are_refused_not_truncated(fe, value):
    with pytest.raises(TypeError, match="expected integers"):
        fe.crop(value, 0, 1, 0, 1)


@pytest.mark.parametrize("value", [[[2 ** 31, 0], [0, 0]], [[-2 ** 31 - 1, 0], [0, 0]],
                                   [[2 ** 63, 2 ** 64 - 1], [2 ** 63, 2 ** 63]]])
def test_lists_out_of_c_int_range_overflow(fe, value):
    with pytest.raises(OverflowError, match="do not fit in a C int"):
        fe.crop(value, 0, 1, 0, 1)


def test_lists_of_c_ints_are_converted(fe):
    rows = [[2 ** 31 - 1, -2 ** 31, 0], [1, 2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(fe.crop(rows, 0, 2, 0, 2),
                                  np.array(rows, INTC)[0:2, 0:2])
    wide = np.array(rows, np.int64)     # an int64 array is refused, its list is not
    with pytest.raises(TypeError):
        fe.crop(wide, 0, 1, 0, 1)
    assert fe.crop(wide.tolist(), 0, 1, 0, 1).tolist() == [[2 ** 31 - 1]]


def test_empty_list_rows_reach_the_window_check(fe):
    with pytest.raises(IndexError, match=r"shape \(2, 0\)"):
        fe.crop([[], []], 0, 0, 0, 0)


@pytest.mark.parametrize("shape", [(6,), (2, 3, 4), ()])
def test_wrong_number_of_dimensions(fe, shape):
    a = np.zeros(shape, INTC)
    with pytest.raises(TypeError, match=f"expected a 2-D array, got {len(shape)} dimension"):
        fe.crop(a, 0, 0, 0, 0)


def test_ragged_lists_are_refused(fe):
    with pytest.raises(ValueError):
        fe.crop([[1, 2], [3]], 0, 0, 0, 0)


def test_shape_beyond_c_int(fe):
    a = np.empty((INT_MAX + 1, 0), INTC)    # no memory: zero columns
    with pytest.raises(OverflowError, match="does not fit in C ints"):
        fe.crop(a, 0, 0, 0, 0)


@pytest.mark.parametrize("shape, exc, message", [
    ((INT_MAX + 1, 2), OverflowError, r"array shape \(2147483648, 2\) does not fit in C ints"),
    ((2, INT_MAX + 1), OverflowError, r"array shape \(2, 2147483648\) does not fit in C ints"),
    ((1 << 20, 1 << 20, 2), TypeError, r"expected a 2-D array, got 3 dimension\(s\)"),
])
def test_broadcast_views_are_refused_before_any_copy(fe, shape, exc, message):
    """A zero-stride view that is not C-contiguous would be copied to C
    layout (8 GiB and more here): its number of axes and shape are checked
    first."""
    a = np.broadcast_to(np.zeros(1, INTC), shape)
    assert not a.flags.c_contiguous
    with pytest.raises(exc, match=f"^crop: {message}$"):
        fe.crop(a, 0, 0, 0, 0)


def test_numpy_integer_scalars_as_indices(fe):
    a = recipe_array()
    row = np.argmax(a[:, 0] >= 100)          # numpy.int64
    assert isinstance(row, np.integer)
    c = fe.crop(a, row, np.int64(4), np.int32(1), np.uint8(5))
    np.testing.assert_array_equal(c, a[2:4, 1:5])


@pytest.mark.parametrize("bad", [1.0, np.float64(1), "1", None, 1 + 0j])
def test_non_integer_indices_are_refused(fe, bad):
    a = recipe_array()
    with pytest.raises(TypeError, match="argument 'd2_0' must be an integer"):
        fe.crop(a, 0, 1, bad, 2)


@pytest.mark.parametrize("big", [2 ** 31, -2 ** 31 - 1, np.int64(2 ** 40), 2 ** 100])
def test_indices_beyond_c_int_overflow(fe, big):
    a = recipe_array()
    with pytest.raises(OverflowError, match="argument 'd1_1' = .* does not fit in a C int"):
        fe.crop(a, 0, big, 0, 1)


def test_wrong_argument_count(fe):
    with pytest.raises(TypeError):
        fe.crop(recipe_array(), 0, 1, 0)


def test_ctypes_crop_input_cannot_be_resized_during_the_call(monkeypatch):
    """recipe_ctypes.crop holds references to its input while the C function
    runs (ctypes releases the GIL then), so numpy refuses to resize it, from
    another thread or a GC finalizer. (numpy's resize with refcheck=False
    skips that check, and ignores buffer exports too: by numpy's contract
    that is for memory nothing else shares.)"""
    from ezalloc import recipe_ctypes
    a = np.zeros((4, 5), dtype=np.intc)             # owns its data: resizable
    a[...] = np.arange(20).reshape(4, 5)
    real = recipe_ctypes._crop
    refused = []

    def during_the_call(*args):
        try:
            a.resize((100, 100))
        except ValueError as e:
            refused.append(str(e))
        return real(*args)

    monkeypatch.setattr(recipe_ctypes, "_crop", during_the_call)
    got = recipe_ctypes.crop(a, 1, 3, 0, 4)
    assert refused and "referenced" in refused[0], refused
    assert a.shape == (4, 5)
    assert np.array_equal(got, a[1:3, 0:4])
