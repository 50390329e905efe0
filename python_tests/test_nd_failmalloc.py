"""ezalloc.crop under injected malloc failures (LD_PRELOAD=libfailmalloc.so),
in child processes (child_nd.py): the block's malloc failing, and, with
PYTHONMALLOC=malloc, numpy failing to wrap the block (which the front end
must then free)."""

from pathlib import Path

import pytest

import childproc
import ezalloc


def run(scenario, **kwargs):
    return childproc.check(childproc.run("child_nd.py", scenario, **kwargs))


def test_extension_links_the_bundled_library():
    import re
    import subprocess
    package = Path(ezalloc.__file__).resolve().parent
    [lib] = package.glob("libezalloc.so*")
    [ext] = package.glob("_ndcrop.*.so")
    dynamic = subprocess.run(["readelf", "-d", str(ext)], check=True, capture_output=True,
                             text=True).stdout
    assert f"Shared library: [{lib.name}]" in dynamic and "$ORIGIN" in dynamic
    symbols = subprocess.run(["readelf", "--dyn-syms", "-W", str(ext)], check=True,
                             capture_output=True, text=True).stdout
    assert "ezalloc_crop_nd" in set(re.findall(r" UND (\w+)", symbols))


@pytest.mark.parametrize("scenario", ["failmalloc_block", "failmalloc_no_leak"])
def test_block_malloc_fails(scenario):
    assert run(scenario, preload=True).startswith("ok")


def test_failed_wrap_frees_the_block():
    out = run("failmalloc_wrap", preload=True, env={"PYTHONMALLOC": "malloc"})
    assert out.startswith("ok"), out
