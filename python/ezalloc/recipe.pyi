"""Type stubs of the SWIG module ezalloc.recipe (generated from recipe.i)."""

from typing import SupportsIndex

import numpy as np
import numpy.typing as npt

def alloc_managed(ni: SupportsIndex) -> np.ndarray[tuple[int], np.dtype[np.intc]]: ...
def alloc_leaking(ni: SupportsIndex) -> np.ndarray[tuple[int], np.dtype[np.intc]]: ...
def crop(
    arr_in: npt.ArrayLike,
    d1_0: SupportsIndex,
    d1_1: SupportsIndex,
    d2_0: SupportsIndex,
    d2_1: SupportsIndex,
) -> np.ndarray[tuple[int, int], np.dtype[np.intc]]: ...
