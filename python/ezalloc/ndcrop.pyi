"""Type stubs of the SWIG module ezalloc.ndcrop (generated from ndcrop.i)."""

from typing import Any

import numpy as np

from . import _Key

def crop(a: np.ndarray[Any, np.dtype[Any]], key: _Key, /) -> np.ndarray[Any, np.dtype[Any]]: ...
