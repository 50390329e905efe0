"""SWIG builds made during the tests, in a temporary directory:

- the recipe's own way of writing the interface files (%include of the
  library's header and %apply of numpy.i's rules), against our headers and
  libezalloc.a;
- our ezalloc.i and crop.i linked against stand-ins that fail with a chosen
  errno, and the ctypes module loaded over the same stand-ins, so that every
  errno-to-exception mapping is exercised, including those the real library
  never produces from Python (EINVAL, unexpected values).
"""

import errno
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import swigbuild

HERE = Path(__file__).resolve().parent
SWIG_DIR = HERE / "swig"
PYTHON_DIR = swigbuild.PYTHON_DIR


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("swig")
    lib = swigbuild.LIB_DIR / "libezalloc.a"
    stub = SWIG_DIR / "errno_stub.c"
    swigbuild.build(work, [
        ("recipe_ezalloc", SWIG_DIR / "recipe_ezalloc.i", [], [lib]),
        ("recipe_crop", SWIG_DIR / "recipe_crop.i", [], [lib]),
        ("stub_ezalloc", PYTHON_DIR / "ezalloc.i", [stub], []),
        ("stub_crop", PYTHON_DIR / "crop.i", [stub], []),
    ])
    stub_so = swigbuild.build_shared(work, "ezstub", [stub])
    sys.path.insert(0, str(work))
    try:
        yield work, stub_so
    finally:
        sys.path.remove(str(work))


def load_ctypes_module(name, path, lib):
    """A fresh copy of the ctypes module, loading `lib` (None: no EZALLOC_LIB)."""
    saved = os.environ.pop("EZALLOC_LIB", None)
    if lib is not None:
        os.environ["EZALLOC_LIB"] = str(lib)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        os.environ.pop("EZALLOC_LIB", None)
        if saved is not None:
            os.environ["EZALLOC_LIB"] = saved


# --- the recipe's interface files, against our header and library ---------

def test_recipe_style_alloc(built):
    import recipe_ezalloc
    a = recipe_ezalloc.alloc_managed(1000)
    assert a.shape == (1000,) and a.dtype == np.intc
    assert type(a.base).__name__ == "PyCapsule"
    a[:] = 3
    assert a.sum() == 3000
    leaking = recipe_ezalloc.alloc_leaking(10)
    assert leaking.shape == (10,) and leaking.base is None
    with pytest.raises(MemoryError, match="malloc"):
        recipe_ezalloc.alloc_managed(-1)


def test_recipe_style_crop(built):
    import recipe_crop
    a = np.zeros((5, 10), np.intc)
    a[np.arange(5), :] = np.arange(10)
    a = (a * np.transpose([10 ** np.arange(5)]).astype(np.intc))[:, 1:]
    c = recipe_crop.crop(a, 2, 4, 1, 5)
    np.testing.assert_array_equal(c, a[2:4, 1:5])
    assert type(c.base).__name__ == "PyCapsule"
    with pytest.raises(IndexError):
        recipe_crop.crop(a, 2, 5, 1, 5)


def test_recipe_style_in_array2_truncates_floats_where_ours_refuses(built):
    """Why crop.i has its own input typemap: IN_ARRAY2 converts a list of
    floats to C int silently, and SWIG's stock int typemap refuses numpy
    integer scalars."""
    import crop
    import recipe_crop
    floats = [[1.5, 2.5], [3.5, 4.5]]
    assert recipe_crop.crop(floats, 0, 1, 0, 1).tolist() == [[1]]
    with pytest.raises(TypeError):
        crop.crop(floats, 0, 1, 0, 1)
    a = np.arange(9, dtype=np.intc).reshape(3, 3)
    with pytest.raises(TypeError):
        recipe_crop.crop(a, np.int64(0), 1, 0, 1)
    assert crop.crop(a, np.int64(0), 1, 0, 1).tolist() == [[0]]


# --- every errno mapping, through stand-ins --------------------------------

MAPPING = [
    (errno.ENOMEM, MemoryError, "ENOMEM"),
    (errno.EPERM, IndexError, None),
    (errno.EINVAL, ValueError, "EINVAL"),
    (errno.EIO, Exception, rf"errno {errno.EIO} \({os.strerror(errno.EIO)}\)"),
    (errno.ERANGE, Exception, rf"errno {errno.ERANGE} \("),
]


@pytest.fixture(scope="module", params=["swig", "ctypes"])
def stub_fe(request, built):
    work, stub_so = built
    if request.param == "swig":
        import stub_crop
        import stub_ezalloc
        return stub_ezalloc, stub_crop
    module = load_ctypes_module("ezalloc_ctypes_stub", PYTHON_DIR / "ezalloc_ctypes.py", stub_so)
    return module, module


@pytest.mark.parametrize("err, exc, message", MAPPING)
def test_errno_mapping(stub_fe, err, exc, message):
    alloc_module, crop_module = stub_fe
    a = np.zeros((4, 4), np.intc)
    calls = {"alloc_managed": lambda: alloc_module.alloc_managed(err),
             "alloc_leaking": lambda: alloc_module.alloc_leaking(err),
             "crop": lambda: crop_module.crop(a, err, 3, 1, 2)}
    for func, call in calls.items():
        with pytest.raises(exc) as info:
            call()
        assert type(info.value) is exc, func
        assert str(info.value).startswith(func), str(info.value)
        if message:
            assert info.match(message)
    if err == errno.EPERM:
        with pytest.raises(IndexError, match=rf"crop: window \[{err}:3, 1:2\] does not fit an array of shape \(4, 4\)"):
            crop_module.crop(a, err, 3, 1, 2)


# --- the ctypes module's library lookup ------------------------------------

def test_ctypes_missing_library_is_a_clear_error(tmp_path):
    with pytest.raises(ImportError, match="EZALLOC_LIB=.* is not a file"):
        load_ctypes_module("ezalloc_ctypes_missing", PYTHON_DIR / "ezalloc_ctypes.py",
                           tmp_path / "nowhere.so")
    lone = tmp_path / "ezalloc_ctypes.py"       # no library beside it nor in ../target
    shutil.copy(PYTHON_DIR / "ezalloc_ctypes.py", lone)
    with pytest.raises(ImportError, match="libezalloc.so not found: set EZALLOC_LIB"):
        load_ctypes_module("ezalloc_ctypes_lone", lone, None)


def test_ctypes_finds_library_beside_itself(tmp_path, built):
    work, stub_so = built
    shutil.copy(PYTHON_DIR / "ezalloc_ctypes.py", tmp_path / "ezalloc_ctypes.py")
    shutil.copy(stub_so, tmp_path / "libezalloc.so")
    module = load_ctypes_module("ezalloc_ctypes_beside", tmp_path / "ezalloc_ctypes.py", None)
    assert module.LIBRARY_PATH == str(tmp_path / "libezalloc.so")
