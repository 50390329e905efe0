from types import EllipsisType
from typing import Any, SupportsIndex, TypeAlias, TypeVar

import numpy as np

from . import recipe as recipe
from . import recipe_ctypes as recipe_ctypes
from .threads import get_threads as get_threads, set_threads as set_threads

__version__: str
__all__ = ["__version__", "crop", "get_include", "recipe", "recipe_ctypes", "get_threads",
           "set_threads"]

_KeyItem: TypeAlias = slice | SupportsIndex | EllipsisType
_Key: TypeAlias = _KeyItem | tuple[_KeyItem, ...]
_DType = TypeVar("_DType", bound=np.dtype[Any])

def get_include() -> str:
    """The directory of ezalloc.i, numpy.i and numpy's license text: the -I
    directory for SWIG."""
    ...

def crop(a: np.ndarray[Any, _DType], key: _Key, /) -> np.ndarray[tuple[int, ...], _DType]:
    """numpy's a[key].copy() for a key of slices, integers and at most one
    Ellipsis: C-contiguous, writeable, a's dtype, in a malloc'd block that
    the result owns. See help(ezalloc.crop)."""
    ...

def __dir__() -> list[str]: ...
