"""Typed use of every public name of ezalloc, for `mypy --strict` (make
py-typecheck), which must find no error; run as a script, every assertion
holds too.

assert_type() makes mypy check the exact types: a stub that returned an
ndarray of any dtype would fail here."""

from typing import Any, assert_type

import numpy as np
import numpy.typing as npt

import ezalloc
from ezalloc import *  # noqa: F403  (the names of __all__ must be known to mypy)
from ezalloc import recipe_ctypes as rc
from ezalloc.threads import MAX_THREADS


def main() -> None:
    version: str = __version__
    assert version == ezalloc.__version__

    # ezalloc.crop keeps the input's dtype in its type.
    img: npt.NDArray[np.uint8] = np.zeros((8, 10, 3), np.uint8)
    window: np.ndarray[tuple[int, ...], np.dtype[np.uint8]] = crop(img, np.s_[2:6, 1:9])
    one: np.ndarray[Any, np.dtype[np.uint8]] = ezalloc.crop(img, (3, ..., 1))
    assert window.shape == (4, 8, 3) and one.shape == (10,)
    assert_type(crop(img, np.s_[::2]), np.ndarray[tuple[int, ...], np.dtype[np.uint8]])
    half = np.ones(5, np.float16)
    assert_type(ezalloc.crop(half, np.s_[1:]), np.ndarray[tuple[int, ...], np.dtype[np.float16]])
    values: npt.NDArray[np.float64] = np.linspace(0.0, 1.0, 12).reshape(3, 4)
    flipped: npt.NDArray[np.float64] = crop(values, np.s_[::-1, 1:3])
    assert flipped.dtype == np.float64 and flipped[0, 0] == values[2, 1]
    first: float = float(flipped[0, 0])
    assert first == values[2, 1]

    # The recipe's functions, both front ends.
    m = np.arange(20, dtype=np.intc).reshape(4, 5)
    a: np.ndarray[tuple[int], np.dtype[np.intc]] = recipe.alloc_managed(4)
    b: np.ndarray[tuple[int], np.dtype[np.intc]] = rc.alloc_managed(np.int64(4))
    assert a.shape == b.shape == (4,)
    c: np.ndarray[tuple[int, int], np.dtype[np.intc]] = recipe.crop(m, 1, 3, 0, 2)
    d: np.ndarray[tuple[int, int], np.dtype[np.intc]] = recipe_ctypes.crop(m, 1, 3, 0, 2)
    assert (c == d).all()
    path: str = rc.LIBRARY_PATH
    assert path.endswith("libezalloc.so.0")

    # Threads.
    before: int = set_threads(2)
    now: int = get_threads()
    assert now == 2 and MAX_THREADS == 64
    set_threads(0)
    set_threads(before)

    names: list[str] = dir(ezalloc)
    assert "recipe_ctypes" in names and set(ezalloc.__all__) <= set(names)


if __name__ == "__main__":
    main()
