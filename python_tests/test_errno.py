"""The exceptions for an error number the library reported: the built-in
type they always were (MemoryError for ENOMEM, IndexError for EPERM,
ValueError for EINVAL), and an OSError whose .errno is the value; the same
classes from ezalloc.crop, the SWIG front end and the ctypes front end.
And recipe.crop's dtype error, which names ezalloc.crop for the dtypes
ezalloc.crop copies."""

import errno
import pickle

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import ezalloc
from conftest import FRONT_ENDS


def caught(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001 (the exception is what is tested)
        return e
    raise AssertionError("no exception")


def check(exc, builtin, err, message_start):
    assert isinstance(exc, builtin) and isinstance(exc, OSError), type(exc).__mro__
    assert exc.errno == err and exc.strerror is None
    assert str(exc).startswith(message_start), str(exc)     # the message alone
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is type(exc) and again.errno == err and str(again) == str(exc)


CASES = {
    "alloc-ENOMEM": (lambda fe: fe.alloc_managed(-1), MemoryError, errno.ENOMEM,
                     "alloc_managed(-1): malloc of 18446744073709551612 bytes failed (ENOMEM)"),
    "crop-EPERM": (lambda fe: fe.crop(np.zeros((3, 4), np.intc), 0, 3, 0, 1), IndexError,
                   errno.EPERM, "crop: window [0:3, 0:1] does not fit an array of shape (3, 4)"),
    "leaking-ENOMEM": (lambda fe: fe.alloc_leaking(-5), MemoryError, errno.ENOMEM,
                       "alloc_leaking(-5): malloc of"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_front_ends_raise_the_same_errno_classes(case):
    call, builtin, err, message = CASES[case]
    swig = caught(lambda: call(FRONT_ENDS["swig"]))
    ctypes_ = caught(lambda: call(FRONT_ENDS["ctypes"]))
    for exc in (swig, ctypes_):
        check(exc, builtin, err, message)
    assert type(swig) is type(ctypes_) and str(swig) == str(ctypes_)


def test_nd_crop_enomem_and_einval():
    z = np.zeros(1, np.uint8)
    # 2**62 bytes: malloc fails
    huge = as_strided(z, shape=(2 ** 31, 2 ** 31), strides=(0, 0))
    e = caught(lambda: ezalloc.crop(huge, np.s_[:, :]))
    check(e, MemoryError, errno.ENOMEM, "crop: malloc of 4611686018427387904 bytes failed")
    # byte offsets beyond ptrdiff_t
    far = as_strided(z, shape=(2, 2), strides=(2 ** 62, 2 ** 62))
    e = caught(lambda: ezalloc.crop(far, np.s_[:, :]))
    check(e, ValueError, errno.EINVAL, "crop: invalid argument (EINVAL)")
    # the same classes as the front ends'
    enomem = caught(lambda: FRONT_ENDS["swig"].alloc_managed(-1))
    assert type(caught(lambda: ezalloc.crop(huge, np.s_[:, :]))) is type(enomem)


def test_except_oserror_catches_every_errno_exception():
    for fe in FRONT_ENDS.values():
        with pytest.raises(OSError) as info:
            fe.crop(np.zeros((2, 2), np.intc), 1, 0, 0, 0)
        assert info.value.errno == errno.EPERM


def test_argument_errors_are_not_oserrors():
    """Errors found before the library is called carry no errno."""
    for fe in FRONT_ENDS.values():
        for call in (lambda: fe.crop(np.zeros((2, 2), np.intc), 0, 1, 0, 2 ** 40),
                     lambda: fe.crop(np.zeros((2, 2), np.float64), 0, 1, 0, 1),
                     lambda: fe.alloc_managed("1")):
            assert not isinstance(caught(call), OSError)


HINT = "; ezalloc.crop(a, np.s_[d1_0:d1_1, d2_0:d2_1]) copies windows of any such dtype"


@pytest.mark.parametrize("dtype, hint", [
    (np.float64, True), (np.int64, True), (">i4", True), ("U3", True),
    ([("a", "<i4")], True), ("M8[s]", True),
    (object, False), (np.dtypes.StringDType(), False),
])
def test_dtype_error_names_ezalloc_crop(fe, dtype, hint):
    a = np.zeros((3, 3), dtype=dtype)
    e = caught(lambda: fe.crop(a, 0, 1, 0, 1))
    assert type(e) is TypeError
    message = str(e)
    assert message.startswith("crop: expected an array of dtype intc (C int, int32), got dtype ")
    assert message.endswith(HINT) == hint, message
    if hint:
        # what the message suggests works
        assert np.array_equal(ezalloc.crop(a, np.s_[0:1, 0:1]), a[0:1, 0:1])
