"""Type stubs of the SWIG module ezalloc.ndcrop (generated from ndcrop.i)."""

from typing import Any

import numpy as np

from . import _DType, _Key

def crop(a: np.ndarray[Any, _DType], key: _Key, /) -> np.ndarray[tuple[int, ...], _DType]: ...
