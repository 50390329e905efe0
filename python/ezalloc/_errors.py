"""The exceptions raised for an error number (errno) that the ezalloc library
reported: each is the built-in exception it always was (MemoryError for
ENOMEM, IndexError for EPERM, ValueError for EINVAL, Exception for any
other) and also an OSError whose .errno is the library's value. The SWIG
modules and ezalloc.recipe_ctypes raise these same classes.

    try:
        recipe.crop(a, 0, 9, 0, 9)
    except OSError as e:           # any errno from the library
        e.errno                    # errno.EPERM: the window does not fit

str() is the message alone (.strerror is None), as before.
"""

import errno as _errno


def _rebuild(cls, message, err):
    return errno_error(cls, message, err)


class _ErrnoMixin:
    __slots__ = ()

    def __reduce__(self):
        return _rebuild, (type(self), str(self), self.errno)


class ErrnoMemoryError(_ErrnoMixin, MemoryError, OSError):
    """MemoryError for ENOMEM from the library: malloc() failed."""


class ErrnoIndexError(_ErrnoMixin, IndexError, OSError):
    """IndexError for EPERM from the library: the window does not fit."""


class ErrnoValueError(_ErrnoMixin, ValueError, OSError):
    """ValueError for EINVAL from the library: an argument it refuses."""


class ErrnoError(_ErrnoMixin, OSError):
    """Any other errno value from the library (none is documented)."""


CLASSES = {_errno.ENOMEM: ErrnoMemoryError, _errno.EPERM: ErrnoIndexError,
           _errno.EINVAL: ErrnoValueError}


def errno_class(err):
    """The exception class for the library's errno value `err`."""
    return CLASSES.get(err, ErrnoError)


def errno_error(cls, message, err):
    """An instance of `cls` with the message `message` and .errno `err`."""
    exc = cls(message)
    exc.errno = err
    return exc
