"""Allocation failures through both front ends, in child processes:

- on demand, with LD_PRELOAD=libfailmalloc.so (c_tests/failmalloc_preload.c,
  built by `make failmalloc-preload`): the SWIG modules hold a static copy of
  the library but still call malloc() through their dynamic symbol table, so
  the interposer reaches them as it reaches libezalloc.so under ctypes
  (test_swig_modules_call_malloc_through_the_dynamic_linker checks it);
- sizes the system refuses, under RLIMIT_AS.

The scenarios themselves are in child_reliability.py."""

import re
import subprocess

import pytest

import childproc

FRONTS = ["swig", "ctypes"]
PYTHON_DIR = childproc.ROOT / "python"


def run(front, scenario, **kwargs):
    return childproc.check(childproc.run("child_reliability.py", front, scenario, **kwargs))


def test_swig_modules_call_malloc_through_the_dynamic_linker():
    for module in ("_ezalloc", "_crop"):
        so = next(PYTHON_DIR.glob(f"{module}.*.so"))
        symbols = subprocess.run(["readelf", "--dyn-syms", "-W", str(so)], check=True,
                                 capture_output=True, text=True).stdout
        undefined = set(re.findall(r" UND (\w+)", symbols))
        assert "malloc" in undefined, f"{so.name} does not import malloc"


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
