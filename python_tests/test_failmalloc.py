"""Allocation failures through both front ends, in child processes:

- on demand, with LD_PRELOAD=libfailmalloc.so (c_tests/failmalloc_preload.c,
  built by `make failmalloc-preload`): both front ends use the package's one
  libezalloc.so.0, whose malloc() calls go through the dynamic linker, so the
  interposer reaches them (test_one_library_calls_malloc_through_the_dynamic_linker);
- sizes the system refuses, under RLIMIT_AS.

The scenarios themselves are in child_reliability.py."""

import re
import subprocess
from pathlib import Path

import pytest

import childproc
import ezalloc

FRONTS = ["swig", "ctypes"]
PACKAGE_DIR = Path(ezalloc.__file__).resolve().parent


def run(front, scenario, **kwargs):
    return childproc.check(childproc.run("child_reliability.py", front, scenario, **kwargs))


def readelf(*args):
    return subprocess.run(["readelf", *args], check=True, capture_output=True,
                          text=True).stdout


def test_one_library_calls_malloc_through_the_dynamic_linker():
    [lib] = PACKAGE_DIR.glob("libezalloc.so*")
    undefined = set(re.findall(r" UND (\w+)", readelf("--dyn-syms", "-W", str(lib))))
    assert "malloc" in undefined, f"{lib.name} does not import malloc"
    [ext] = PACKAGE_DIR.glob("_recipe.*.so")
    dynamic = readelf("-d", str(ext))
    assert f"Shared library: [{lib.name}]" in dynamic
    assert "$ORIGIN" in dynamic
    # The extension has no copy of the library: it imports alloc and crop.
    imported = set(re.findall(r" UND (\w+)", readelf("--dyn-syms", "-W", str(ext))))
    assert {"alloc", "crop"} <= imported, imported


def test_failmalloc_is_not_active_without_preload():
    out = childproc.run("child_reliability.py", "swig", "failmalloc_alloc")
    assert out.returncode != 0
    assert "libfailmalloc.so is not preloaded" in out.stderr


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("scenario", ["failmalloc_alloc", "failmalloc_crop", "failmalloc_count",
                                      "failmalloc_no_leak", "failmalloc_threads"])
def test_injected_malloc_failure(front, scenario):
    """MemoryError naming the size, one malloc per call, nothing leaked, the
    next call works with the right contents; see each scenario's docstring."""
    assert run(front, scenario, preload=True).startswith("ok")


@pytest.mark.parametrize("front", FRONTS)
def test_failed_wrap_frees_the_block(front):
    """No leak and a clean MemoryError when numpy cannot wrap the block
    (PYTHONMALLOC=malloc: Python's objects come from the failing malloc)."""
    out = run(front, "failmalloc_wrap", preload=True, env={"PYTHONMALLOC": "malloc"})
    assert out.startswith("ok"), out


@pytest.mark.parametrize("front", FRONTS)
def test_address_space_cap(front):
    assert run(front, "rlimit").startswith("ok")


@pytest.mark.parametrize("front", FRONTS)
def test_parallel_crop_survives_small_malloc_failures(front):
    """A crop of 8 MiB or more is copied by helper threads. Failing, one at a
    time, every malloc() of 8 to 256 bytes during such a crop must give
    MemoryError or the right result, never abort the process. (Before the
    copy moved to plain pthreads, src/parallel.rs, this aborted: Rust's Vec
    of bands and std::thread's state, `memory allocation of 56 bytes failed`,
    and glibc's thread-local storage for the new threads, `cannot allocate
    memory for thread-local data: ABORT`.)"""
    run(front, "parallel_crop_aux_malloc", preload=True, env={"EZALLOC_THREADS": "8"})
