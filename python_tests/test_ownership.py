"""Who owns the blocks: arrays keep them, views keep them alive, the last
reference frees them (exactly once)."""

import gc
import os
import threading

import numpy as np
import pytest

from ezalloc import recipe_ctypes as ezalloc_ctypes

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1 << 20


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def test_base_holds_the_block(fe):
    a = fe.alloc_managed(1000)
    assert not a.flags.owndata
    assert a.base is not None
    if fe.name == "swig":
        assert type(a.base).__name__ == "PyCapsule"   # numpy.i's ARGOUTVIEWM
    else:
        assert isinstance(a.base, ezalloc_ctypes._Block)
        assert a.base.address == a.ctypes.data
    c = fe.crop(np.ones((4, 4), np.intc), 0, 2, 0, 2)
    assert c.base is not None and type(c.base) is type(a.base)


def test_views_share_the_owner(fe):
    a = fe.alloc_managed(100)
    v = a[10:20]
    w = v[::2]
    # Views refer to the managed array (numpy collapses chains of views onto
    # it), which refers to the owner of the block.
    assert v.base is a and w.base is a
    owner = a.base
    del a, v
    assert w.base.base is owner


def test_one_gib_is_returned_when_the_last_reference_dies(fe):
    quarter = (256 * MIB) // 4             # ints in 256 MiB
    gc.collect()
    before = resident_bytes()
    arrays = [fe.alloc_managed(quarter) for _ in range(4)]
    for array in arrays:
        array.fill(1)                        # make every page resident
    del array
    touched = resident_bytes()
    assert touched - before >= 1000 * MIB
    views = [a[::1024] for a in arrays]      # views keep their blocks alive
    del arrays
    gc.collect()
    assert resident_bytes() - before >= 1000 * MIB
    assert all((v == 1).all() for v in views)
    del views
    gc.collect()
    assert resident_bytes() - before < 64 * MIB


def test_cropped_block_is_returned_when_dropped(fe):
    a = np.ones((8192, 4097), np.intc)       # 128 MiB input
    gc.collect()
    before = resident_bytes()
    c = fe.crop(a, 0, 8191, 0, 4096)         # ~128 MiB output, touched by the copy
    assert resident_bytes() - before >= 120 * MIB
    v = c[100]
    del c
    assert resident_bytes() - before >= 120 * MIB
    assert (v == 1).all()
    del v
    assert resident_bytes() - before < 16 * MIB


class CountingFree:
    """Wraps ezalloc_free, recording each address it releases."""

    def __init__(self, real):
        self.real = real
        self.freed = []

    def __call__(self, address):
        self.freed.append(address)
        self.real(address)


@pytest.fixture
def counting_free(monkeypatch):
    counter = CountingFree(ezalloc_ctypes._Block._free)
    monkeypatch.setattr(ezalloc_ctypes._Block, "_free", counter)
    return counter


def test_ctypes_frees_each_block_exactly_once(counting_free):
    a = ezalloc_ctypes.alloc_managed(50)
    address = a.ctypes.data
    v1, v2 = a[5:], a[::3]
    del a
    assert counting_free.freed == []
    del v1
    assert counting_free.freed == []
    del v2
    assert counting_free.freed == [address]

    c = ezalloc_ctypes.crop(np.ones((5, 5), np.intc), 1, 3, 1, 3)
    address = c.ctypes.data
    del c
    assert counting_free.freed[1:] == [address]

    for _ in range(1000):
        ezalloc_ctypes.alloc_managed(3)
        ezalloc_ctypes.crop([[1, 2], [3, 4]], 0, 1, 0, 1)
    assert len(counting_free.freed) == 2002


def test_ctypes_failures_allocate_nothing(counting_free):
    with pytest.raises(MemoryError):
        ezalloc_ctypes.alloc_managed(-1)
    with pytest.raises(IndexError):
        ezalloc_ctypes.crop(np.ones((2, 2), np.intc), 0, 2, 0, 1)
    gc.collect()
    assert counting_free.freed == []


def test_ctypes_leaking_array_is_never_freed(counting_free):
    a = ezalloc_ctypes.alloc_leaking(10)
    del a
    gc.collect()
    assert counting_free.freed == []


def test_errno_is_per_thread(fe):
    """Calls run without the GIL; a failing call on one thread never makes a
    concurrent successful call on another fail, and the reverse."""
    a = np.arange(64 * 64, dtype=np.intc).reshape(64, 64)
    errors = []

    def good():
        for _ in range(3000):
            c = fe.crop(a, 1, 60, 2, 50)
            if c.shape != (59, 48) or c[0, 0] != a[1, 2]:
                errors.append("wrong result")

    def bad():
        for _ in range(3000):
            try:
                fe.crop(a, 1, 64, 0, 1)
                errors.append("no IndexError")
            except IndexError:
                pass

    threads = [threading.Thread(target=f) for f in (good, bad, good, bad)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
