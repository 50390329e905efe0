"""ezalloc.get_threads / set_threads and the threadpoolctl controller."""

import numpy as np
import pytest

import ezalloc


@pytest.fixture
def restore_threads():
    before = ezalloc.get_threads()
    yield before
    ezalloc.set_threads(0)
    ezalloc.set_threads(before)


def test_set_returns_the_previous_setting(restore_threads):
    assert 1 <= restore_threads <= 64
    assert ezalloc.set_threads(3) == restore_threads
    assert ezalloc.get_threads() == 3
    assert ezalloc.set_threads(np.int64(1)) == 3
    assert ezalloc.get_threads() == 1
    assert ezalloc.set_threads(1000) == 1
    assert ezalloc.get_threads() == 64


def test_zero_restores_the_default(restore_threads):
    ezalloc.set_threads(0)
    default = ezalloc.get_threads()
    ezalloc.set_threads(default + 1)
    assert ezalloc.set_threads(0) == default + 1
    assert ezalloc.get_threads() == default


def test_bad_values_change_nothing(restore_threads):
    ezalloc.set_threads(2)
    with pytest.raises(ValueError, match="n must be >= 0"):
        ezalloc.set_threads(-1)
    with pytest.raises(TypeError):
        ezalloc.set_threads(1.5)
    for flag in (True, False, np.True_):
        with pytest.raises(TypeError, match="bool"):
            ezalloc.set_threads(flag)
    assert ezalloc.get_threads() == 2


def test_values_above_the_cap_set_the_cap(restore_threads):
    # Whatever the CPUs: the setting is capped at MAX_THREADS, not at them.
    assert ezalloc.threads.MAX_THREADS == 64
    ezalloc.set_threads(3)
    for n in (65, 10**3, 2**31, 10**20, np.uint64(2**64 - 1)):
        ezalloc.set_threads(n)
        assert ezalloc.get_threads() == 64
        ezalloc.set_threads(3)
    assert ezalloc.set_threads(64) == 3
    assert ezalloc.get_threads() == 64


def test_the_setting_reaches_both_front_ends(restore_threads):
    # Same library, loaded once: the setting is shared.
    from ezalloc import recipe_ctypes

    a = np.arange(2100 * 2100, dtype=np.intc).reshape(2100, 2100)
    for n in (1, 2, 5):
        ezalloc.set_threads(n)
        assert recipe_ctypes._lib.ezalloc_get_threads() == n
        for crop in (ezalloc.recipe.crop, recipe_ctypes.crop):
            np.testing.assert_array_equal(crop(a, 10, 2060, 3, 2099), a[10:2060, 3:2099])


def test_threadpoolctl_lists_and_limits_the_library(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    ezalloc.set_threads(3)
    found = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "ezalloc"]
    assert len(found) == 1
    assert found[0]["num_threads"] == 3
    assert found[0]["version"] == ezalloc.__version__
    assert "libezalloc" in found[0]["filepath"]
    with threadpoolctl.threadpool_limits(limits=1):
        assert ezalloc.get_threads() == 1
    assert ezalloc.get_threads() == 3
    with threadpoolctl.threadpool_limits(limits={"ezalloc": 2}):
        assert ezalloc.get_threads() == 2
    assert ezalloc.get_threads() == 3
