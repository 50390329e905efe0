"""alloc_managed() and alloc_leaking() through both front ends."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st


@given(st.integers(0, 5000))
def test_managed_array_of_ni_c_ints(fe, ni):
    a = fe.alloc_managed(ni)
    assert a.shape == (ni,) and a.ndim == 1
    assert a.dtype == np.intc
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.aligned
    a[:] = np.arange(ni, dtype=np.intc)
    assert a.sum(dtype=np.int64) == ni * (ni - 1) // 2


def test_zero_gives_an_empty_array(fe):
    a = fe.alloc_managed(0)
    assert a.shape == (0,) and a.dtype == np.intc


def test_blocks_are_distinct(fe):
    a, b = fe.alloc_managed(100), fe.alloc_managed(100)
    a[:] = 1
    b[:] = 2
    assert not np.shares_memory(a, b)
    assert (a == 1).all() and (b == 2).all()


def test_leaking_array_views_a_block_it_does_not_own(fe):
    a = fe.alloc_leaking(10)
    assert a.shape == (10,) and a.dtype == np.intc
    assert not a.flags.owndata
    a[:] = 7
    assert (a == 7).all()
    if fe.name == "swig":
        assert a.base is None           # numpy.i's ARGOUTVIEW: nothing holds the block


@pytest.mark.parametrize("ni", [-1, -2 ** 31])
@pytest.mark.parametrize("variant", ["alloc_managed", "alloc_leaking"])
def test_negative_sizes_fail_like_c(fe, variant, ni):
    # malloc(ni * sizeof(int)) in C: a negative ni becomes a huge size.
    size = (ni * np.dtype(np.intc).itemsize) % 2 ** 64
    with pytest.raises(MemoryError, match=rf"{variant}\({ni}\): malloc of {size} bytes failed \(ENOMEM\)"):
        getattr(fe, variant)(ni)


def test_huge_request_fails_with_memory_error(fe):
    # 8 GiB less 4 bytes: more than RLIMIT_AS allows in the child process.
    code = f"""
import resource, sys
sys.path[:0] = {sys.path!r}
import conftest
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
try:
    conftest.FRONT_ENDS[{fe.name!r}].alloc_managed(2 ** 31 - 1)
except MemoryError as e:
    print("MemoryError", e)
"""
    out = subprocess.run([sys.executable, "-c", code], text=True, capture_output=True,
                         timeout=60, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert out.stdout.startswith("MemoryError alloc_managed(2147483647): malloc of 8589934588 bytes"), out


@pytest.mark.parametrize("ni", [np.int64(7), np.int32(7), np.uint16(7), np.argmax([0, 0, 0, 0, 0, 0, 0, 1])])
def test_numpy_integer_scalars_are_accepted(fe, ni):
    assert fe.alloc_managed(ni).shape == (7,)
    assert fe.alloc_leaking(ni).shape == (7,)


@pytest.mark.parametrize("bad", [3.0, np.float64(3), "3", None, [3]])
def test_non_integers_are_refused(fe, bad):
    with pytest.raises(TypeError, match="argument 'ni' must be an integer"):
        fe.alloc_managed(bad)


@pytest.mark.parametrize("big", [2 ** 31, -2 ** 31 - 1, np.int64(2 ** 40), np.uint64(2 ** 63)])
def test_beyond_c_int_overflows(fe, big):
    with pytest.raises(OverflowError, match="argument 'ni' = .* does not fit in a C int"):
        fe.alloc_managed(big)
