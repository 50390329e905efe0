"""Child processes for the reliability tests: Python scripts of this directory
run with the test's sys.path, optionally with LD_PRELOAD=libfailmalloc.so
(c_tests/failmalloc_preload.c), a malloc() that fails on demand."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FAILMALLOC_SOURCE = ROOT / "c_tests" / "failmalloc_preload.c"
FAILMALLOC_SO = ROOT / "target" / "c_tests" / "libfailmalloc.so"

# Exit status of a child script that cannot run its check here (pytest.skip).
SKIP = 77


def _makefiles():
    """`-f` options that define the failmalloc-preload target: the top
    Makefile alone once it includes c_tests/c_tests.mk, else both."""
    makefile = (ROOT / "Makefile").read_text()
    if re.search(r"^\s*-?include\s+.*c_tests/c_tests\.mk", makefile, re.M):
        return ["-f", "Makefile"]
    return ["-f", "Makefile", "-f", "c_tests/c_tests.mk"]


_built = []


def failmalloc_so():
    """The absolute path of libfailmalloc.so, built (when stale) by
    `make failmalloc-preload`."""
    if not _built:
        if not FAILMALLOC_SOURCE.is_file():
            pytest.skip(f"{FAILMALLOC_SOURCE} does not exist")
        out = subprocess.run(["make", "--no-print-directory", "-s", *_makefiles(),
                              "failmalloc-preload"], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0 and FAILMALLOC_SO.is_file(), out.stdout + out.stderr
        _built.append(str(FAILMALLOC_SO))
    return _built[0]


def valgrind():
    """valgrind's path, or None when this run goes without it: valgrind is
    not installed, or EZALLOC_TEST_VALGRIND=0 (`make test` runs the valgrind
    tests in one pytest pass only, the default Python's)."""
    import shutil
    if os.environ.get("EZALLOC_TEST_VALGRIND") == "0":
        return None
    return shutil.which("valgrind")


def why_no_valgrind():
    """The reason valgrind() gave None, for a skip message."""
    if os.environ.get("EZALLOC_TEST_VALGRIND") == "0":
        return "EZALLOC_TEST_VALGRIND=0: the valgrind runs are in another pass of make test"
    return "valgrind is not installed"


def run(script, *args, preload=False, env=None, timeout=120, wrapper=()):
    """Runs `python <this directory>/<script> args...` and returns the
    CompletedProcess (text output). preload: with LD_PRELOAD=libfailmalloc.so.
    wrapper: a command line the interpreter runs under (valgrind)."""
    child_env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                     PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]))
    if preload:
        child_env["LD_PRELOAD"] = failmalloc_so()
    child_env.update(env or {})
    return subprocess.run([*wrapper, sys.executable, str(HERE / script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=child_env)


def check(out):
    """Asserts that a child script ran to completion (or skips the test if it
    said so); returns its standard output."""
    if out.returncode == SKIP:
        pytest.skip(out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "skipped")
    assert out.returncode == 0, (
        f"child exited with {out.returncode}\n--- stdout\n{out.stdout}\n--- stderr\n{out.stderr}")
    return out.stdout
