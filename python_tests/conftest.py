"""Shared fixtures: both front ends (SWIG and ctypes) behind one interface.

The tests import the installed package `ezalloc` (`make py-build` builds the
wheel and installs it into the venv), never the sources in python/."""

import sys
import types
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
# examples/demo.py, whose child mode test_leak.py runs.
sys.path.insert(0, str(ROOT / "examples"))

settings.register_profile("default", deadline=None, max_examples=150)
settings.load_profile("default")

import ezalloc  # noqa: E402  (after the path is set)
from ezalloc import recipe, recipe_ctypes  # noqa: E402

if Path(ezalloc.__file__).resolve().is_relative_to(ROOT / "python"):
    raise ImportError(f"ezalloc imported from the source tree ({ezalloc.__file__}), "
                      "not from an installed package")

FRONT_ENDS = {
    "swig": types.SimpleNamespace(
        name="swig", alloc_managed=recipe.alloc_managed,
        alloc_leaking=recipe.alloc_leaking, crop=recipe.crop),
    "ctypes": types.SimpleNamespace(
        name="ctypes", alloc_managed=recipe_ctypes.alloc_managed,
        alloc_leaking=recipe_ctypes.alloc_leaking, crop=recipe_ctypes.crop),
}


@pytest.fixture(scope="session", params=sorted(FRONT_ENDS))
def fe(request):
    """One front end: alloc_managed, alloc_leaking and crop."""
    return FRONT_ENDS[request.param]
