"""Which ndarray subclasses ezalloc.crop accepts: those whose indexing is
ndarray's own (no __getitem__ of their own) and numpy.memmap, copied into a
base-class ndarray. The others would lose what their own indexing does (a
mask, a matrix's 2-D shape, a record view, stripped strings): TypeError,
naming the type and pointing to np.asarray(a)."""

import numpy as np
import pytest

import ezalloc


class Plain(np.ndarray):
    pass


class Deeper(Plain):
    def __array_finalize__(self, obj):
        self.info = getattr(obj, "info", "default")


class SameGetitem(np.ndarray):
    __getitem__ = np.ndarray.__getitem__


class OwnGetitem(np.ndarray):
    calls = 0

    def __getitem__(self, key):
        OwnGetitem.calls += 1
        return super().__getitem__(key)


class MemmapOwnGetitem(np.memmap):
    def __getitem__(self, key):
        return super().__getitem__(key)


def refused(a, key, name):
    with pytest.raises(TypeError) as info:
        ezalloc.crop(a, key)
    message = str(info.value)
    assert message.startswith(f"crop: an array of type '{name}' is refused"), message
    assert "np.asarray(a)" in message
    # what the message suggests works, and is numpy's copy of the plain items
    got = ezalloc.crop(np.asarray(a), key)
    want = np.asarray(a)[key].copy()
    assert np.array_equal(got, want) and got.dtype == want.dtype


def test_masked_array_is_refused_never_unmasked():
    m = np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=[1, 0, 1, 0])
    refused(m, np.s_[0:3], "numpy.ma.MaskedArray")
    refused(np.ma.masked_array(np.arange(6.0).reshape(2, 3)), np.s_[:, 1:],
            "numpy.ma.MaskedArray")


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_matrix_is_refused():
    m = np.matrix(np.arange(16).reshape(4, 4))
    assert m[1].shape == (1, 4)            # numpy's matrix keeps 2 axes
    refused(m, 1, "numpy.matrix")


def test_recarray_is_refused():
    r = np.rec.fromarrays([np.arange(4), np.arange(4.0)], names="x,y")
    assert r[1:].x.tolist() == [1, 2, 3]     # what a recarray's indexing gives
    refused(r, np.s_[1:], "numpy.rec.recarray")


@pytest.mark.filterwarnings("ignore:The chararray class is deprecated:DeprecationWarning")
def test_chararray_is_refused():
    refused(np.char.array(["a ", "b "]), np.s_[:1], "numpy.char.chararray")


def test_subclass_with_its_own_getitem_is_refused_unrun():
    a = np.arange(10).view(OwnGetitem)
    before = OwnGetitem.calls
    refused(a, np.s_[2:5], f"{__name__}.OwnGetitem")
    assert OwnGetitem.calls == before


@pytest.mark.parametrize("cls", [Plain, Deeper, SameGetitem])
def test_subclass_with_ndarrays_indexing_gives_a_base_ndarray(cls):
    a = np.arange(24.0).reshape(4, 6).view(cls)
    for key in (np.s_[1:3, ::-2], 2, (Ellipsis, 1), np.s_[()]):
        got = ezalloc.crop(a, key)
        want = np.asarray(a)[key].copy()
        assert type(got) is np.ndarray and got.shape == np.shape(want)
        assert np.array_equal(got, want)
        assert type(got.base).__name__ == "PyCapsule"


def test_memmap_is_accepted(tmp_path):
    path = tmp_path / "m.bin"
    np.arange(60, dtype="<u2").tofile(path)
    m = np.memmap(path, dtype="<u2", mode="r", shape=(6, 10))
    got = ezalloc.crop(m, np.s_[1:5, ::3])
    assert type(got) is np.ndarray
    assert np.array_equal(got, np.arange(60).reshape(6, 10)[1:5, ::3])
    del m
    m = MemmapOwnGetitem(path, dtype="<u2", mode="r", shape=(6, 10))
    refused(m, np.s_[1:5, ::3], f"{__name__}.MemmapOwnGetitem")


def test_class_assigned_during_the_key_is_checked_again():
    """An __index__ that makes a (a plain subclass) a masked array: the type
    is checked again after the key, so the call refuses it."""
    a = np.arange(8.0).view(Plain)

    class Switch:
        def __index__(self):
            a.__class__ = np.ma.MaskedArray
            return 1
    with pytest.raises(TypeError, match="numpy.ma.MaskedArray"):
        ezalloc.crop(a, Switch())
