"""ctypes front end of the ezalloc C library: the functions of ezalloc.recipe
(the SWIG front end), with the same arguments, results and exceptions.

    from ezalloc import recipe_ctypes as ez
    a = ez.alloc_managed(10)                      # 10 C ints, uninitialised
    c = ez.crop(matrix, d1_0, d1_1, d2_0, d2_1)   # == matrix[d1_0:d1_1, d2_0:d2_1]

Arrays from alloc_managed() and crop() are zero-copy views of the block the
library allocated; their base is a small owner object that releases the block
through ezalloc_free() exactly once, when the last array or view that refers
to it is gone. alloc_leaking() returns a view that nothing frees (it exists
to demonstrate the leak). Errors: MemoryError (ENOMEM), IndexError (EPERM),
ValueError (EINVAL), OSError (any other errno), each also an OSError whose
.errno is the library's value (the classes of ezalloc.recipe); TypeError /
OverflowError for bad arguments.

The shared library loaded is, in this order: the one shipped inside the
package (libezalloc.so.0 beside this module), else $EZALLOC_LIB, else an
installed libezalloc found by the system loader (ctypes.util.find_library).
LIBRARY_PATH says which.
"""

import ctypes
import ctypes.util
import errno as _errno
import operator
import os
from pathlib import Path

import numpy as np

# (absolute: the module also works as a standalone copy beside a library)
from ezalloc._errors import errno_class as _errno_class, errno_error as _errno_error

__all__ = ["alloc_managed", "alloc_leaking", "crop", "LIBRARY_PATH"]

_LIB_NAME = "libezalloc.so"
_INT_MIN = -(2 ** 31)
_INT_MAX = 2 ** 31 - 1
_INTC = np.dtype(np.intc)
_TYPESTR = _INTC.str
_INT_SIZE = _INTC.itemsize
# numpy's legacy type numbers (NPY_NTYPES_LEGACY): new-style dtypes such as
# StringDType come after them
_NTYPES_LEGACY = 24


def _find_library():
    # Only the package's own directory: the library the wheel ships.
    package_dir = Path(__file__).resolve().parent
    bundled = sorted(package_dir.glob(_LIB_NAME + "*"))
    if bundled:
        return str(bundled[0])
    env = os.environ.get("EZALLOC_LIB")
    if env:
        if not os.path.isfile(env):
            raise ImportError(f"EZALLOC_LIB={env} is not a file")
        return env
    # Last, an installed library (`make install`), by its soname.
    installed = ctypes.util.find_library("ezalloc")
    if installed:
        return installed
    raise ImportError(
        f"{_LIB_NAME} not found: not in the package ({package_dir}), EZALLOC_LIB is "
        "not set, and the system loader knows no libezalloc (install the package "
        "with pip, or set EZALLOC_LIB to the library's path)")


LIBRARY_PATH = _find_library()
_lib = ctypes.CDLL(LIBRARY_PATH, use_errno=True)

_c_int = ctypes.c_int
_c_void_p = ctypes.c_void_p
_addressof = ctypes.addressof
_set_errno = ctypes.set_errno
_get_errno = ctypes.get_errno

_alloc = _lib.alloc
_alloc.argtypes = [_c_int, ctypes.POINTER(_c_void_p), ctypes.POINTER(_c_int)]
_alloc.restype = None

_crop = _lib.crop
_crop.argtypes = [_c_void_p, _c_int, _c_int, _c_int, _c_int, _c_int, _c_int,
                  ctypes.POINTER(_c_void_p), ctypes.POINTER(_c_int),
                  ctypes.POINTER(_c_int)]
_crop.restype = None

_free = _lib.ezalloc_free
_free.argtypes = [_c_void_p]
_free.restype = None


class _Block:
    """Owns one block from the library; numpy keeps it as the arrays' base."""

    __slots__ = ("__array_interface__", "address")
    _free = _free   # looked up at deletion, also during interpreter shutdown

    def __init__(self, address, shape):
        self.__array_interface__ = {"data": (address, False), "shape": shape,
                                    "typestr": _TYPESTR, "version": 3}
        # Last: once set, nothing here can fail, and __del__ frees the block.
        self.address = address

    def __del__(self):
        address = getattr(self, "address", None)
        self.address = None
        if address is not None:
            self._free(address)

    def __repr__(self):
        address = getattr(self, "address", None)
        return f"<ezalloc block at {address:#x}>" if address else "<ezalloc block (freed)>"


def _own(block, dim1, dim2=None):
    """An array over the block in `block` (a c_void_p filled by the library)
    that owns it. If anything fails before the owner holds the block (even
    reading its address can need memory), the block is freed here; after
    that, the owner frees it when it goes."""
    owner = None
    try:
        shape = (dim1.value,) if dim2 is None else (dim1.value, dim2.value)
        owner = _Block(block.value, shape)
        return np.asarray(owner)
    except BaseException:
        if owner is None:
            _free(block)
        raise


class _View:
    """Describes a block without owning it (alloc_leaking)."""

    __slots__ = ("__array_interface__",)

    def __init__(self, address, shape):
        self.__array_interface__ = {"data": (address, False), "shape": shape,
                                    "typestr": _TYPESTR, "version": 3}


def _as_int(value, func, name):
    """Any integer (anything with __index__) as a C int; like the SWIG typemap."""
    if type(value) is not int:
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"{func}: argument '{name}' must be an integer, "
                            f"not '{type(value).__name__}'") from None
    if not _INT_MIN <= value <= _INT_MAX:
        raise OverflowError(f"{func}: argument '{name}' = {value} does not fit in a C int")
    return value


def _reraise_memory_error(error, func):
    """ctypes reports a MemoryError met while it converts the arguments (before
    the library is called) as ArgumentError: raise it as the MemoryError it is."""
    if "MemoryError" in str(error):
        raise MemoryError(f"{func}: out of memory before the call") from None
    raise error


def _errno_exception(err, message):
    """The exception for the library's errno value `err` (ezalloc._errors)."""
    return _errno_error(_errno_class(err), message, err)


def _raise_errno(err, func):
    if err == _errno.EINVAL:
        raise _errno_exception(err, f"{func}: invalid argument (EINVAL: a NULL or misaligned "
                                    "pointer reached the library)")
    raise _errno_exception(err, f"{func}: failed with errno {err} ({os.strerror(err)})")


def _alloc_block(ni, func):
    if type(ni) is not int or not _INT_MIN <= ni <= _INT_MAX:
        ni = _as_int(ni, func, "ni")
    block = _c_void_p()
    n = _c_int()
    _set_errno(0)
    try:
        _alloc(ni, block, n)    # ctypes passes the out-parameters by reference
    except ctypes.ArgumentError as e:
        _reraise_memory_error(e, func)
    err = _get_errno()
    if err:
        if err == _errno.ENOMEM:
            raise _errno_exception(err, f"{func}({ni}): malloc of {(ni * _INT_SIZE) % 2 ** 64} "
                                        "bytes failed (ENOMEM)")
        _raise_errno(err, func)
    return block, n


def alloc_managed(ni):
    """alloc_managed(ni) -> numpy array of ni C ints (uninitialised) that owns
    its block; the block is freed when the last array or view using it is
    gone. MemoryError when malloc fails (a negative ni always fails)."""
    block, n = _alloc_block(ni, "alloc_managed")
    return _own(block, n)


def alloc_leaking(ni):
    """alloc_leaking(ni) -> numpy array of ni C ints that only views its
    block: the block is never freed (kept to demonstrate the leak)."""
    block, n = _alloc_block(ni, "alloc_leaking")
    return np.asarray(_View(block.value, (n.value,)))


def _address(a):
    """Address of a C-contiguous array's data. A ctypes view of a writable
    buffer is about three times cheaper to get than `a.ctypes.data`; read-only
    arrays take the general path."""
    if a.flags.writeable and a.size:
        return _addressof(_c_int.from_buffer(a))
    return a.ctypes.data


def _intc_matrix(a):
    """`a` as an aligned C-contiguous 2-D intc array; like the SWIG typemap.
    A subclass is seen as a base-class view (np.asarray), so that what is
    read is ndarray's own dtype, shape and flags, not a subclass's
    properties."""
    if isinstance(a, np.ndarray):
        if type(a) is not np.ndarray:
            a = np.asarray(a)
        if a.dtype != _INTC:
            # ezalloc.crop copies windows of the dtypes it accepts
            hint = ("; ezalloc.crop(a, np.s_[d1_0:d1_1, d2_0:d2_1]) copies windows of any "
                    "such dtype" if not a.dtype.hasobject and a.dtype.num < _NTYPES_LEGACY
                    else "")
            raise TypeError(f"crop: expected an array of dtype intc (C int, {_INTC}), "
                            f"got dtype {a.dtype}{hint}")
    else:
        a = np.asarray(a)
        if a.dtype != _INTC and a.size:
            if a.dtype.kind not in "iu":
                raise TypeError(f"crop: expected integers for an intc (C int, {_INTC}) "
                                f"array, got values of dtype {a.dtype}")
            if int(a.min()) < _INT_MIN or int(a.max()) > _INT_MAX:
                raise OverflowError("crop: array values do not fit in a C int")
        a = a.astype(_INTC, copy=False)
    if a.ndim != 2:
        raise TypeError(f"crop: expected a 2-D array, got {a.ndim} dimension(s)")
    dim1, dim2 = a.shape
    if dim1 > _INT_MAX or dim2 > _INT_MAX:
        raise OverflowError(f"crop: array shape ({dim1}, {dim2}) does not fit in C ints")
    flags = a.flags
    if not (flags.c_contiguous and flags.aligned):
        a = np.array(a, order="C")
    return a, dim1, dim2


def crop(arr_in, d1_0, d1_1, d2_0, d2_1):
    """crop(a, d1_0, d1_1, d2_0, d2_1) -> a new array equal to
    a[d1_0:d1_1, d2_0:d2_1] that owns its block. `a` is a 2-D array of dtype
    numpy.intc (any layout) or a nested list of integers that fit in a C int.
    IndexError unless 0 <= d1_0 <= d1_1 < a.shape[0] and
    0 <= d2_0 <= d2_1 < a.shape[1]."""
    # The integers first: their __index__ (Python code) may change the
    # array, whose dtype, shape and address are read after it, just before
    # the call. Plain ints in range skip the conversion call (it is per-call
    # overhead).
    if type(d1_0) is not int or not _INT_MIN <= d1_0 <= _INT_MAX:
        d1_0 = _as_int(d1_0, "crop", "d1_0")
    if type(d1_1) is not int or not _INT_MIN <= d1_1 <= _INT_MAX:
        d1_1 = _as_int(d1_1, "crop", "d1_1")
    if type(d2_0) is not int or not _INT_MIN <= d2_0 <= _INT_MAX:
        d2_0 = _as_int(d2_0, "crop", "d2_0")
    if type(d2_1) is not int or not _INT_MIN <= d2_1 <= _INT_MAX:
        d2_1 = _as_int(d2_1, "crop", "d2_1")
    a, dim1, dim2 = _intc_matrix(arr_in)
    block = _c_void_p()
    rows = _c_int()
    cols = _c_int()
    _set_errno(0)
    try:
        _crop(_address(a), dim1, dim2, d1_0, d1_1, d2_0, d2_1, block, rows, cols)
    except ctypes.ArgumentError as e:
        _reraise_memory_error(e, "crop")
    err = _get_errno()
    if err:
        if err == _errno.EPERM:
            raise _errno_exception(err, (
                f"crop: window [{d1_0}:{d1_1}, {d2_0}:{d2_1}] does not fit an array of "
                f"shape ({dim1}, {dim2}): need 0 <= d1_0 <= d1_1 < {dim1} and "
                f"0 <= d2_0 <= d2_1 < {dim2}"))
        if err == _errno.ENOMEM:
            raise _errno_exception(err, f"crop: malloc of a {d1_1 - d1_0} x {d2_1 - d2_0} int "
                                        "block failed (ENOMEM)")
        _raise_errno(err, "crop")
    return _own(block, rows, cols)
