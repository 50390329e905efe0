"""ezalloc: the SWIG memory-deallocation recipe's C functions, alloc() and
crop(), re-implemented in Rust, for Python.

Two front ends with the same functions, arguments and exceptions:

- ezalloc.recipe: through SWIG, as the recipe does it;
- ezalloc.recipe_ctypes: through ctypes, over the same shared library.

    from ezalloc import recipe
    a = recipe.alloc_managed(10)                      # 10 C ints that own their block
    c = recipe.crop(matrix, d1_0, d1_1, d2_0, d2_1)   # == matrix[d1_0:d1_1, d2_0:d2_1]

Functions: alloc_managed(ni), alloc_leaking(ni) (a deliberate leak, kept to
demonstrate what the managed variant avoids) and crop(a, d1_0, d1_1, d2_0,
d2_1) with the recipe's strict window rule 0 <= d1_0 <= d1_1 < rows,
0 <= d2_0 <= d2_1 < columns. See help(ezalloc.recipe).

Beyond the recipe, ezalloc.crop(a, key) is numpy's a[key].copy() for any
array whose dtype holds no Python objects and a key of slices, integers and
one Ellipsis, copied by the library into a block the result owns:

    ezalloc.crop(image, np.s_[100:612, 200:712])      # == image[100:612, 200:712].copy()

get_threads() and set_threads(n): the threads that large copies use (see
help(ezalloc.threads); threadpoolctl controls them too).

get_include(): the directory of ezalloc.i, the managed typemaps for wrapping
your own C library with SWIG (a drop-in for numpy.i, which is beside it):
swig -python -I"$(python -m ezalloc.swig)" ...
"""

import os as _os

from ._version import __version__
from . import recipe
# The C function itself (no Python-level wrapper between the caller and it).
from ._ndcrop import crop
from .threads import get_threads, set_threads

__all__ = ["__version__", "crop", "get_include", "recipe", "recipe_ctypes", "get_threads",
           "set_threads"]


def get_include():
    """The directory that holds ezalloc.i, numpy.i (that of the numpy release
    this package was built against, from its sdist) and numpy's license
    text (numpy-LICENSE.txt): the -I directory for SWIG."""
    return _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "include")


def __dir__():
    # recipe_ctypes is imported lazily, but is listed all the same.
    return sorted(set(globals()) | set(__all__))


def __getattr__(name):
    # The ctypes front end is imported on first use.
    if name == "recipe_ctypes":
        import importlib
        return importlib.import_module(".recipe_ctypes", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
