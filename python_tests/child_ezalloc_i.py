"""Child process of test_ezalloc_i.py: runs one scenario against SWIG modules
built in a directory (sys.argv[1]) through the installed package's
ezalloc.get_include(), and exits 0, or fails with a traceback.

    python child_ezalloc_i.py <build directory> <scenario>

Scenarios:
- check: examples/thirdparty's gridkit through ezalloc.i, against numpy;
- typemaps: every ARGOUTVIEWM_* typemap of numpy.i for every type it
  instantiates (the `allmaps` module and its spec, allmaps.json);
- renamed: a %rename'd function with a custom deallocator named by its new
  name;
- failmalloc: gridkit under injected failures (PYTHONMALLOC=malloc,
  LD_PRELOAD=libfailmalloc.so): nothing leaks, with free() or with
  gk_buf_release();
- stock_leak: the same failures through stock numpy.i (gridkit_stock):
  prints what leaked;
- argout_failmalloc: the same failures during calls with numpy.i's
  ARGOUT_ARRAY* outputs (the `outs` module): nothing leaks.
"""

import gc
import json
import os
import sys
from pathlib import Path

import numpy as np

BUILD = Path(sys.argv[1])
sys.path.insert(0, str(BUILD))

MIB = 1 << 20


def capsule_name(capsule):
    import ctypes
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    return get_name(capsule).decode()


def owned(a):
    """a owns its block through ezalloc.i's capsule."""
    assert type(a.base).__name__ == "PyCapsule", type(a.base)
    assert capsule_name(a.base) == "ezalloc.block"
    assert a.flags.writeable and a.flags.aligned
    return a


def expect(exc, call, match=None):
    try:
        call()
    except exc as e:
        assert match is None or match in str(e), (str(e), match)
        return e
    raise AssertionError(f"no {exc.__name__}")


def check():
    import gridkit as gk
    # C order, rank 2, double
    for n in (0, 1, 3, 17):
        g = gk.gk_make_grid(n)
        want = np.arange(n)[:, None] + np.arange(n + 1)[None, :] / 8.0
        assert g.dtype == np.float64 and g.shape == (n, n + 1)
        np.testing.assert_array_equal(g, want)
        assert g.flags.c_contiguous
        owned(g)
    # uint32_t, rank 1, from a uint8_t input
    data = np.random.default_rng(1).integers(0, 256, 10000, dtype=np.uint8)
    h = owned(gk.gk_histogram(data))
    assert h.dtype == np.uint32 and h.shape == (256,)
    np.testing.assert_array_equal(h, np.bincount(data, minlength=256))
    # float, Fortran order
    r = owned(gk.gk_fortran_ramp(4, 7))
    assert r.dtype == np.float32 and r.shape == (4, 7) and r.flags.f_contiguous
    assert not r.flags.c_contiguous
    np.testing.assert_array_equal(r, 100 * np.arange(4)[:, None] + np.arange(7)[None, :])
    # int16_t, rank 3, dimensions before the data
    v = owned(gk.gk_volume(5))
    i, j, k = np.indices((5, 6, 7))
    assert v.dtype == np.int16 and v.flags.c_contiguous
    np.testing.assert_array_equal(v, 100 * i + 10 * j + k)
    # int64_t, rank 4
    t = owned(gk.gk_tensor(2, 3, 4, 5))
    assert t.dtype == np.int64
    np.testing.assert_array_equal(t, -np.arange(120).reshape(2, 3, 4, 5))
    # uint16_t, rank 4, Fortran order, dimensions before the data
    f = owned(gk.gk_ftensor(6))
    assert f.dtype == np.uint16 and f.shape == (2, 3, 4, 6) and f.flags.f_contiguous
    np.testing.assert_array_equal(f, np.arange(144, dtype=np.uint16).reshape((2, 3, 4, 6), order="F"))
    # two managed outputs of one call
    x = np.random.default_rng(2).standard_normal(1001)
    neg, pos = gk.gk_split(x)
    owned(neg), owned(pos)
    np.testing.assert_array_equal(neg, x[x < 0])
    np.testing.assert_array_equal(pos, x[x >= 0])
    # a block from the library's own allocator, released by gk_buf_release
    # exactly once, when the last view of it is gone
    live = gk.gk_buf_live()
    b = owned(gk.gk_make_buf(1000))
    assert b.dtype == np.ubyte
    np.testing.assert_array_equal(b, np.arange(1000) % 251)
    view = b[10:20]
    del b
    gc.collect()
    assert gk.gk_buf_live() == live + 1
    assert view[0] == 10
    del view
    gc.collect()
    assert gk.gk_buf_live() == live
    many = [gk.gk_make_buf(n) for n in range(50)]
    assert gk.gk_buf_live() == live + 50
    del many
    gc.collect()
    assert gk.gk_buf_live() == live
    # the library's errors
    expect(ValueError, lambda: gk.gk_make_grid(-1), "Invalid argument")
    expect(ValueError, lambda: gk.gk_make_buf(-5))
    assert gk.gk_buf_live() == live
    # a status function without outputs: None, or the library's error
    assert gk.gk_check_grid(5) is None
    expect(ValueError, lambda: gk.gk_check_grid(-1), "Invalid argument")
    # including ezalloc.i does not change plain int arguments: SWIG's own
    # typemap still refuses a numpy integer (the opt-in
    # %ezalloc_int_arguments would accept it)
    expect(TypeError, lambda: gk.gk_make_grid(np.int64(3)))
    print("ok")


NUMPY_TYPES = {"NPY_BYTE": np.byte, "NPY_UBYTE": np.ubyte, "NPY_SHORT": np.short,
               "NPY_USHORT": np.ushort, "NPY_INT": np.intc, "NPY_UINT": np.uintc,
               "NPY_LONG": np.long, "NPY_ULONG": np.ulong, "NPY_LONGLONG": np.longlong,
               "NPY_ULONGLONG": np.ulonglong, "NPY_FLOAT": np.single, "NPY_DOUBLE": np.double,
               "NPY_INT8": np.int8, "NPY_INT16": np.int16, "NPY_INT32": np.int32,
               "NPY_INT64": np.int64, "NPY_UINT8": np.uint8, "NPY_UINT16": np.uint16,
               "NPY_UINT32": np.uint32, "NPY_UINT64": np.uint64}


def typemaps():
    import allmaps
    spec = json.loads((BUILD / "allmaps.json").read_text())
    for func in spec:
        shape = tuple(func["shape"])
        order = "F" if func["fortran"] else "C"
        dtype = np.dtype(NUMPY_TYPES[func["typecode"]])
        a = owned(getattr(allmaps, func["name"])())
        assert a.dtype == dtype and a.shape == shape, (func, a.dtype, a.shape)
        if order == "F":
            assert a.flags.f_contiguous and (a.ndim == 1 or not a.flags.c_contiguous), func
        else:
            assert a.flags.c_contiguous and (a.ndim == 1 or not a.flags.f_contiguous), func
        want = (np.arange(a.size) % 100).astype(dtype).reshape(shape, order=order)
        np.testing.assert_array_equal(a, want, err_msg=func["name"])
        # NULL data: an empty array for an empty shape, MemoryError otherwise
        empty = getattr(allmaps, func["name"] + "_null")(1)
        assert empty.dtype == dtype and empty.size == 0
        expect(MemoryError, lambda: getattr(allmaps, func["name"] + "_null")(0),
               "returned no block")
        # a dimension that does not fit
        expect(ValueError, lambda: getattr(allmaps, func["name"] + "_negative")(),
               "negative or does not fit")
        del a, empty
    # every block of the counting allocator released exactly once
    gc.collect()
    assert allmaps.ez_live() == 0, allmaps.ez_live()
    print(f"ok, {len(spec)} functions")


def renamed():
    import gridkit_renamed as gk
    live = gk.gk_buf_live()
    b = owned(gk.make_buf(64))
    assert gk.gk_buf_live() == live + 1
    del b
    gc.collect()
    assert gk.gk_buf_live() == live          # gk_buf_release ran (free() would crash)
    assert not hasattr(gk, "gk_make_buf")
    print("ok")


def failmalloc():
    """Fails each malloc of 8 to 256 bytes in turn during calls whose blocks
    are 32 MiB (malloc'd: free()) and 16 MiB (gk_make_buf's allocator:
    gk_buf_release()), and during a call with two 8 MiB outputs: every call
    gives the right result or a clean MemoryError, glibc's bytes in use come
    back (a leaked block is megabytes), and gk_buf_live() too."""
    if os.environ.get("PYTHONMALLOC") != "malloc":
        sys.exit("failmalloc needs PYTHONMALLOC=malloc")
    from child_reliability import FailMalloc, fail_each_size, object_malloc_size
    import gridkit as gk
    fm = FailMalloc()
    n = 2048
    want_grid = np.arange(n)[:, None] + np.arange(n + 1)[None, :] / 8.0
    x = np.concatenate([-np.ones(1 << 20), np.ones(1 << 20)])
    live = gk.gk_buf_live()
    probe = gk.gk_make_grid(1)
    reached = {object_malloc_size(np.ndarray), object_malloc_size(type(probe.base))}
    del probe

    def grid(result, size):
        np.testing.assert_array_equal(result, want_grid, err_msg=f"grid {size}")

    def buf(result, size):
        assert result.shape == (16 * MIB,) and result[251] == 0 and result[252] == 1, size

    def split(result, size):
        neg, pos = result
        assert neg.shape == pos.shape == (1 << 20,) and (neg == -1).all() and (pos == 1).all()

    failed = {}
    for name, call, check in [("gk_make_grid", lambda: gk.gk_make_grid(n), grid),
                              ("gk_make_buf", lambda: gk.gk_make_buf(16 * MIB), buf),
                              ("gk_split", lambda: gk.gk_split(x), split)]:
        failed[name] = fail_each_size(fm, call, check, name)
        gc.collect()
        assert gk.gk_buf_live() == live, (name, gk.gk_buf_live(), live)
        missing = {s for s in reached if s <= 256} - failed[name]
        assert not missing, f"{name}: no MemoryError when mallocs of {missing} bytes failed"
    print("ok, MemoryError for sizes " +
          "; ".join(f"{name} {sorted(sizes)}" for name, sizes in failed.items()))


def stock_leak():
    """The same failures as failmalloc's gk_make_grid, through stock numpy.i:
    prints, for each failing size, the exception and the bytes that stayed
    in use."""
    if os.environ.get("PYTHONMALLOC") != "malloc":
        sys.exit("stock_leak needs PYTHONMALLOC=malloc")
    from child_reliability import FailMalloc, malloc_in_use
    import gridkit_stock as gk
    fm = FailMalloc()
    n = 2048
    block = n * (n + 1) * 8
    rows = []
    for size in range(8, 257, 8):
        gc.collect()
        heap = malloc_in_use()
        before = fm.failures
        fm.arm(size, 1)
        error = None
        try:
            result = gk.gk_make_grid(n)
        except Exception as e:            # stock numpy.i: SystemError too
            error = type(e).__name__
            result = None
        # The failure, if the call did not take it, may hit disarm or what
        # Python allocates before it (from 3.12, a for loop's iterator): a
        # loop that allocates nothing itself, which ends because the armed
        # failure happens at most once.
        while True:
            try:
                fm.disarm()
                break
            except Exception:
                pass
        del result
        gc.collect()
        if fm.failures > before:
            rows.append({"size": size, "error": error, "leaked": malloc_in_use() - heap})
    print(json.dumps({"block": block, "rows": rows}))


def argout_failmalloc():
    """Fails each malloc of 8 to 256 bytes in turn during calls with numpy.i's
    ARGOUT_ARRAY1 outputs of 8 MiB (the `outs` module of test_ezalloc_i):
    after a managed output, before one, and two of them (whose list of
    outputs then cannot grow). Every call gives the right result or a clean
    MemoryError, and glibc's bytes in use come back."""
    if os.environ.get("PYTHONMALLOC") != "malloc":
        sys.exit("argout_failmalloc needs PYTHONMALLOC=malloc")
    from child_reliability import FailMalloc, fail_each_size
    import outs
    fm = FailMalloc()
    n = 1 << 20
    ramp = np.arange(n, dtype=np.float64)

    def managed_and_ramp(result, size):
        first, second = result
        o, z = (first, second) if first.shape == (1,) else (second, first)
        assert o.tolist() == [7.0], size
        np.testing.assert_array_equal(z, ramp, err_msg=f"{size}")

    def two_ramps(result, size):
        z, w = result
        np.testing.assert_array_equal(z, ramp, err_msg=f"{size}")
        np.testing.assert_array_equal(w, ramp[:1000], err_msg=f"{size}")

    failed = {}
    for name, call, check in [("after", lambda: outs.after(0, n), managed_and_ramp),
                              ("before", lambda: outs.before(0, n), managed_and_ramp),
                              ("pair", lambda: outs.pair(n, 1000), two_ramps)]:
        failed[name] = fail_each_size(fm, call, check, name)
        assert failed[name], f"{name}: no injected failure reached the call"
    print("ok, MemoryError for sizes " +
          "; ".join(f"{name} {sorted(sizes)}" for name, sizes in failed.items()))


SCENARIOS = {f.__name__: f for f in (check, typemaps, renamed, failmalloc, stock_leak,
                                     argout_failmalloc)}

if __name__ == "__main__":
    SCENARIOS[sys.argv[2]]()
