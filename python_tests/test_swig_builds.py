"""SWIG builds made during the tests, in a temporary directory:

- the recipe's own way of writing the interface files (%include of the
  library's header and %apply of numpy.i's rules), against our headers and
  libezalloc.a;
- the package's recipe.i linked against stand-ins that fail with a chosen
  errno, and the package's ctypes module loaded over the same stand-ins, so that every
  errno-to-exception mapping is exercised, including those the real library
  never produces from Python (EINVAL, unexpected values).
"""

import errno
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import swigbuild
from ezalloc import recipe, recipe_ctypes

HERE = Path(__file__).resolve().parent
SWIG_DIR = HERE / "swig"
CTYPES_MODULE = Path(recipe_ctypes.__file__)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("swig")
    lib = swigbuild.LIB_DIR / "libezalloc.a"
    stub = SWIG_DIR / "errno_stub.c"
    swigbuild.build(work, [
        ("recipe_ezalloc", SWIG_DIR / "recipe_ezalloc.i", [], [lib]),
        ("recipe_crop", SWIG_DIR / "recipe_crop.i", [], [lib]),
        ("stub_recipe", swigbuild.PACKAGE_SOURCE / "recipe.i", [stub], []),
    ])
    stub_so = swigbuild.build_shared(work, "ezstub", [stub])
    sys.path.insert(0, str(work))
    try:
        yield work, stub_so
    finally:
        sys.path.remove(str(work))


def load_ctypes_module(name, directory, lib, bundled=None):
    """A fresh copy of the package's ctypes module in `directory`, with
    `bundled` copied beside it as the package's library if given, loading
    `lib` through EZALLOC_LIB (None: no EZALLOC_LIB)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "recipe_ctypes.py"
    shutil.copy(CTYPES_MODULE, path)
    if bundled is not None:
        shutil.copy(bundled, directory / "libezalloc.so.0")
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
    import recipe_crop
    floats = [[1.5, 2.5], [3.5, 4.5]]
    assert recipe_crop.crop(floats, 0, 1, 0, 1).tolist() == [[1]]
    with pytest.raises(TypeError):
        recipe.crop(floats, 0, 1, 0, 1)
    a = np.arange(9, dtype=np.intc).reshape(3, 3)
    with pytest.raises(TypeError):
        recipe_crop.crop(a, np.int64(0), 1, 0, 1)
    assert recipe.crop(a, np.int64(0), 1, 0, 1).tolist() == [[0]]


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
        import stub_recipe
        return stub_recipe, stub_recipe
    module = load_ctypes_module("ezalloc_ctypes_stub", work / "ctypes_stub", stub_so)
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
        # the built-in type, and an OSError with the library's errno
        assert isinstance(info.value, OSError) and info.value.errno == err, func
        assert str(info.value).startswith(func), str(info.value)
        if message:
            assert info.match(message)
    if err == errno.EPERM:
        with pytest.raises(IndexError, match=rf"crop: window \[{err}:3, 1:2\] does not fit an array of shape \(4, 4\)"):
            crop_module.crop(a, err, 3, 1, 2)


# --- the ctypes module's library lookup ------------------------------------

def test_ctypes_missing_library_is_a_clear_error(tmp_path):
    with pytest.raises(ImportError, match="EZALLOC_LIB=.* is not a file"):
        load_ctypes_module("ezalloc_ctypes_missing", tmp_path / "a", tmp_path / "nowhere.so")
    # No library in the package, no EZALLOC_LIB (nor an installed libezalloc).
    with pytest.raises(ImportError, match="libezalloc.so not found: not in the package"):
        load_ctypes_module("ezalloc_ctypes_lone", tmp_path / "b", None)


def test_ctypes_loads_the_bundled_library_first(tmp_path, built):
    work, stub_so = built
    module = load_ctypes_module("ezalloc_ctypes_bundled", tmp_path, tmp_path / "nowhere.so",
                                bundled=stub_so)
    assert module.LIBRARY_PATH == str(tmp_path / "libezalloc.so.0")


def test_ctypes_never_looks_outside_its_package(tmp_path, built):
    """A library in ../target/release of the module's directory (where a
    source checkout builds it) is not used."""
    work, stub_so = built
    (tmp_path / "target" / "release").mkdir(parents=True)
    shutil.copy(stub_so, tmp_path / "target" / "release" / "libezalloc.so")
    with pytest.raises(ImportError, match="libezalloc.so not found"):
        load_ctypes_module("ezalloc_ctypes_outside", tmp_path / "pkg", None)


LIBRARY_ONCE = """
from ezalloc import recipe, recipe_ctypes
recipe.alloc_managed(1)
recipe_ctypes.alloc_managed(1)
with open("/proc/self/maps") as f:
    print(recipe_ctypes.LIBRARY_PATH, *sorted({l.split()[-1] for l in f if "libezalloc" in l}))
"""


def test_installed_package_holds_the_library_once(tmp_path):
    """Both front ends use the one libezalloc.so.0 inside the package (the
    SWIG extension through its $ORIGIN run path, ctypes by path), in a fresh
    process started outside the source tree."""
    out = subprocess.run([sys.executable, "-c", LIBRARY_ONCE], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout.split()
    library, mapped = out[0], out[1:]
    package_dir = Path(recipe_ctypes.__file__).resolve().parent
    assert Path(library).parent == package_dir
    assert mapped == [str(Path(library).resolve())]
