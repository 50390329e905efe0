"""How many threads the library's large copies use, from Python.

Outputs of 96 KiB or more are copied by up to get_threads() threads (the
calling thread included: the others are the library's helpers, started by
the first copy of 1 MiB or more, or by copies of 96 KiB or more that follow
each other within 50 us, and gone after 200 ms idle); smaller ones by the
calling thread alone, except strided copies that read many times their
output (a gather counts the input lines it reads, see docs/threading.md).
The default is EZALLOC_THREADS when the library was loaded, else the CPUs
available to the process (affinity and cgroup quota, at most 8).

    ezalloc.get_threads()        # the current setting
    ezalloc.set_threads(1)       # returns the previous setting
    ezalloc.set_threads(0)       # back to the default

The setting is capped at MAX_THREADS (64): set_threads(n) with a larger n
sets 64, whatever the number of CPUs (it is not limited to them).

threadpoolctl sees the library too (user_api "ezalloc"), when threadpoolctl
is installed: `with threadpool_limits(1): ...` holds ezalloc's copies on the
calling thread as well as BLAS's.
"""

import ctypes
import functools
import operator


@functools.cache
def _functions():
    # The library the ctypes front end loads: the one bundled in the package.
    from . import recipe_ctypes

    lib = recipe_ctypes._lib
    set_, get = lib.ezalloc_set_threads, lib.ezalloc_get_threads
    set_.argtypes, set_.restype = [ctypes.c_int], ctypes.c_int
    get.argtypes, get.restype = [], ctypes.c_int
    return set_, get


# The library caps the setting there; larger values are taken as this.
MAX_THREADS = 64


def get_threads():
    """The number of threads (the calling thread included) that a copy of
    96 KiB or more uses, 1 to 64: the value given to set_threads(), else the
    default."""
    return _functions()[1]()


def set_threads(n):
    """Sets the number of threads (the calling thread included) that copies
    of 96 KiB or more use, for every thread of the process from the next call
    on, and returns the previous setting.

    n >= 1 sets n, capped at MAX_THREADS (64): any larger n, however large,
    sets 64, even on a machine with fewer CPUs (the setting is not limited to
    the CPUs; get_threads() then returns 64). n == 0 returns to the default
    (EZALLOC_THREADS at load time, else the available CPUs, at most 8).

    ValueError for n < 0; TypeError for a bool or anything that is not an
    integer (an int, a numpy integer or any object with __index__). Nothing
    changes when an error is raised."""
    if isinstance(n, bool):
        raise TypeError("set_threads: n must be an integer, not bool")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"set_threads: n must be >= 0, got {n}")
    return _functions()[0](min(n, MAX_THREADS))


def _register_with_threadpoolctl():
    """Lets threadpoolctl (>= 3.5, if installed) list and limit the library."""
    try:
        import threadpoolctl
    except ImportError:
        return
    register = getattr(threadpoolctl, "register", None)
    if register is None:
        return

    class EzallocController(threadpoolctl.LibController):
        user_api = "ezalloc"
        internal_api = "ezalloc"
        filename_prefixes = ("libezalloc",)
        check_symbols = ("ezalloc_set_threads", "ezalloc_get_threads")

        def get_num_threads(self):
            return self.dynlib.ezalloc_get_threads()

        def set_num_threads(self, num_threads):
            return self.dynlib.ezalloc_set_threads(
                max(0, min(int(num_threads), MAX_THREADS)))

        def get_version(self):
            from ._version import __version__
            return __version__

    register(EzallocController)


_register_with_threadpoolctl()
