"""The typed crops, ezalloc_crop{1,2,3}_<t> and ezalloc_fcrop{2,3}_<t> for
numpy.i's twelve default C types: a SWIG module over all 60, written with
stock numpy.i typemaps only (swig/typed_stock.i), checked against numpy
slicing for every function: windows anywhere (the last row and column
included, empty ones too), C-order inputs for crop<n> and Fortran-order
ones for fcrop<n>, in the layouts numpy.i converts (strided views,
non-native layouts), and windows that do not fit (IndexError from EPERM)."""

import re
import sys
import zlib

import numpy as np
import pytest

import swigbuild

HEADER = swigbuild.INCLUDE_DIR / "ezalloc_typed.h"
SWIG_DIR = swigbuild.ROOT / "python_tests" / "swig"

# numpy.i's default C types: the suffix <t>, the C type, the numpy dtype.
TYPES = [
    ("schar", "signed char", np.byte), ("uchar", "unsigned char", np.ubyte),
    ("short", "short", np.short), ("ushort", "unsigned short", np.ushort),
    ("int", "int", np.intc), ("uint", "unsigned int", np.uintc),
    ("long", "long", np.long), ("ulong", "unsigned long", np.ulong),
    ("longlong", "long long", np.longlong), ("ulonglong", "unsigned long long", np.ulonglong),
    ("float", "float", np.single), ("double", "double", np.double),
]
FUNCS = [("crop", 1), ("crop", 2), ("crop", 3), ("fcrop", 2), ("fcrop", 3)]


def prototypes():
    """{function name: its prototype} from the generated header."""
    text = HEADER.read_text()
    found = dict((m.group(1), " ".join(m.group(0).split()))
                 for m in re.finditer(r"^void (ezalloc_f?crop\d_\w+)\([^;]*\);", text, re.M))
    return found


def test_header_declares_all_60():
    names = {f"ezalloc_{kind}{n}_{t}" for t, _, _ in TYPES for kind, n in FUNCS}
    assert set(prototypes()) == names


@pytest.fixture(scope="module")
def typed(tmp_path_factory):
    work = tmp_path_factory.mktemp("swig_typed")
    protos = prototypes()
    lines = [(SWIG_DIR / "typed_stock.i").read_text(), ""]
    for _, ctype, _ in TYPES:
        lines.append(f"EZ_STOCK({ctype})")
    lines += [p for name, p in protos.items() if name.startswith("ezalloc_crop")]
    for _, ctype, _ in TYPES:
        lines.append(f"EZ_STOCK_F({ctype})")
    lines += [p for name, p in protos.items() if name.startswith("ezalloc_fcrop")]
    interface = work / "typed_stock.i"
    interface.write_text("\n".join(lines) + "\n")
    swigbuild.build(work, [("typed_stock", interface, [], [swigbuild.LIB_DIR / "libezalloc.a"])])
    sys.path.insert(0, str(work))
    try:
        import typed_stock
        yield typed_stock
    finally:
        sys.path.remove(str(work))


def windows(rng, shape, count):
    """Random windows 0 <= lo <= hi <= dim per axis; the first ones take
    whole axes, end at the last index, and are empty."""
    out = [[(0, d) for d in shape], [(d - 1, d) for d in shape], [(d // 2, d // 2) for d in shape]]
    for _ in range(count):
        win = []
        for d in shape:
            lo, hi = sorted(rng.integers(0, d + 1, 2))
            win.append((int(lo), int(hi)))
        out.append(win)
    return out


def sample(dtype, shape, rng):
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("suffix, ctype, dtype", TYPES, ids=[t[0] for t in TYPES])
@pytest.mark.parametrize("kind, ndim", FUNCS, ids=[f"{k}{n}" for k, n in FUNCS])
def test_typed_function_matches_numpy_slicing(typed, suffix, ctype, dtype, kind, ndim):
    func = getattr(typed, f"ezalloc_{kind}{ndim}_{suffix}")
    rng = np.random.default_rng(zlib.crc32(f"{suffix} {kind}{ndim}".encode()))
    fortran = kind == "fcrop"
    for shape in [(7, 5, 4)[:ndim], (1, 9, 2)[:ndim], (16, 3, 6)[:ndim]]:
        base = sample(dtype, shape, rng)
        inputs = {"own": np.asfortranarray(base) if fortran else np.ascontiguousarray(base),
                  "strided view": np.repeat(base, 2, axis=0)[::2],
                  "other order": np.ascontiguousarray(base) if fortran else np.asfortranarray(base)}
        for label, a in inputs.items():
            for win in windows(rng, shape, 6):
                args = [v for lo_hi in win for v in lo_hi]
                out = func(a, *args)
                want = base[tuple(slice(lo, hi) for lo, hi in win)]
                assert out.dtype == dtype and out.shape == want.shape, (label, win)
                np.testing.assert_array_equal(out, want, err_msg=f"{label} {win}")
                # ARGOUTVIEWM: the array owns the malloc'd block via a capsule.
                assert type(out.base).__name__ == "PyCapsule"
                if out.size > 1 and min(out.shape) > 1:
                    assert out.flags.f_contiguous if fortran else out.flags.c_contiguous
        # Windows that do not fit: errno EPERM.
        a = inputs["own"]
        for axis in range(ndim):
            for lo, hi in ((0, shape[axis] + 1), (2, 1), (-1, 1)):
                win = [(0, d) for d in shape]
                win[axis] = (lo, hi)
                with pytest.raises(IndexError, match="bad crop window"):
                    func(a, *[v for lo_hi in win for v in lo_hi])


def test_const_input_is_not_written(typed):
    a = np.arange(60, dtype=np.double).reshape(3, 4, 5)
    a.flags.writeable = False
    np.testing.assert_array_equal(typed.ezalloc_crop3_double(a, 0, 3, 1, 4, 2, 5), a[:, 1:4, 2:5])
    f = np.asfortranarray(np.arange(60, dtype=np.ubyte).reshape(3, 4, 5))
    f.flags.writeable = False
    out = typed.ezalloc_fcrop3_uchar(f, 1, 3, 0, 4, 4, 5)
    np.testing.assert_array_equal(out, f[1:3, :, 4:5])
    assert out.flags.f_contiguous
