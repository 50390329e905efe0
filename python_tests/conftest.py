"""Shared fixtures: both front ends (SWIG and ctypes) behind one interface."""

import sys
import types
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

settings.register_profile("default", deadline=None, max_examples=150)
settings.load_profile("default")

import crop as swig_crop  # noqa: E402  (after the path is set)
import ezalloc as swig_ezalloc  # noqa: E402
import ezalloc_ctypes  # noqa: E402

FRONT_ENDS = {
    "swig": types.SimpleNamespace(
        name="swig", alloc_managed=swig_ezalloc.alloc_managed,
        alloc_leaking=swig_ezalloc.alloc_leaking, crop=swig_crop.crop),
    "ctypes": types.SimpleNamespace(
        name="ctypes", alloc_managed=ezalloc_ctypes.alloc_managed,
        alloc_leaking=ezalloc_ctypes.alloc_leaking, crop=ezalloc_ctypes.crop),
}


@pytest.fixture(scope="session", params=sorted(FRONT_ENDS))
def fe(request):
    """One front end: alloc_managed, alloc_leaking and crop."""
    return FRONT_ENDS[request.param]
