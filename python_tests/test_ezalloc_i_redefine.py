"""Typemaps redefined after `%include "ezalloc.i"`: whatever an interface
does there, no path releases a block that an array in the result uses, and
none drops an array in the result.

One interface holds every kind of redefinition, each on a type of its own
(a redefinition acts on the declarations after it, for its own types):

- numpy.i's %numpy_typemaps run again (double), and %ezalloc_typemaps run
  again (int; %numpy_typemaps over stock numpy.i);
- the interface's own argout for ARGOUT_ARRAY1 and for ARGOUTVIEWM_ARRAY1
  (float), its own in (short), its own freearg (long), an argout that
  copies the block out and frees it itself (long long);
- %clear of the applied signatures, then the interface's own typemaps for
  them (unsigned char);
- %apply of another numpy.i form onto the same signature (ARGOUTVIEW over
  ARGOUTVIEWM: unsigned short).

It is built over ezalloc.i and over stock numpy.i (the same text, its
include line changed), with every SWIG found, plain and -builtin; the same
calls give the same printout through both, and the ezalloc.i build runs
under valgrind's memcheck with PYTHONMALLOC=malloc (MALLOC_CHECK_=3 where
valgrind is missing) with no invalid read, write or free.
"""

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import childproc
from test_ezalloc_i import INCLUDE, SWIGS

# (suffix, C type, numpy type code, the interface text for it). $T, $C are
# replaced by the C type and the type code; each scenario's functions are
# make_<suffix>, fill_<suffix>, both_<suffix> and boom_<suffix>.
APPLY = """%apply ($T **ARGOUTVIEWM_ARRAY1, int *DIM1) {($T **out, int *len)}
%apply ($T *ARGOUT_ARRAY1, int DIM1) {($T *arr, int n)}
"""

SCENARIOS = [
    ("numpy_again", "double", "NPY_DOUBLE",
     "%numpy_typemaps(double, NPY_DOUBLE, int)\n" + APPLY),
    ("ezalloc_again", "int", "NPY_INT",
     "%AGAIN(int, NPY_INT, int)\n" + APPLY),
    ("own_argout", "float", "NPY_FLOAT", """
%typemap(argout) (float *ARGOUT_ARRAY1, int DIM1)
{
  $result = SWIG_AppendOutput($result, (PyObject *)array$argnum);
}
%typemap(argout) (float **ARGOUTVIEWM_ARRAY1, int *DIM1)
{
  npy_intp own_dims[1];
  PyObject *own_array, *own_capsule;
  own_dims[0] = *$2;
  own_array = PyArray_SimpleNewFromData(1, own_dims, NPY_FLOAT, (void *)*$1);
  own_capsule = PyCapsule_New((void *)*$1, NULL, own_release);
  if (own_array == NULL || own_capsule == NULL) SWIG_fail;
  if (PyArray_SetBaseObject((PyArrayObject *)own_array, own_capsule) < 0) SWIG_fail;
  $result = SWIG_AppendOutput($result, own_array);
}
""" + APPLY),
    ("own_in", "short", "NPY_SHORT", """
%typemap(in, numinputs=0) (short **ARGOUTVIEWM_ARRAY1, int *DIM1)
  (short *own_block = NULL, int own_len = 0)
{
  $1 = &own_block;
  $2 = &own_len;
}
""" + APPLY),
    ("own_freearg", "long", "NPY_LONG", """
%typemap(freearg) (long **ARGOUTVIEWM_ARRAY1, int *DIM1) { freeargs_seen++; }
%typemap(freearg) (long *ARGOUT_ARRAY1, int DIM1) { freeargs_seen++; }
""" + APPLY),
    ("copy_and_free", "long long", "NPY_LONGLONG", """
%typemap(argout) (long long **ARGOUTVIEWM_ARRAY1, int *DIM1)
{
  int own_i;
  PyObject *own_list = PyList_New(*$2);
  if (own_list == NULL) SWIG_fail;
  for (own_i = 0; own_i < *$2; own_i++)
    PyList_SET_ITEM(own_list, own_i, PyLong_FromLongLong((*$1)[own_i]));
  free(*$1);
  $result = SWIG_AppendOutput($result, own_list);
}
""" + APPLY),
    ("cleared", "unsigned char", "NPY_UBYTE", APPLY + """
%clear (unsigned char **out, int *len);
%clear (unsigned char *arr, int n);
%typemap(in, numinputs=0) (unsigned char **out, int *len) (unsigned char *own_p = NULL, int own_k = 0)
{
  $1 = &own_p;
  $2 = &own_k;
}
%typemap(argout) (unsigned char **out, int *len)
{
  PyObject *own_bytes = PyBytes_FromStringAndSize((const char *)*$1, *$2);
  free(*$1);
  if (own_bytes == NULL) SWIG_fail;
  $result = SWIG_AppendOutput($result, own_bytes);
}
%apply (unsigned char *INPLACE_ARRAY1, int DIM1) {(unsigned char *arr, int n)}
"""),
    # (Not INPLACE_ARRAY1 over ARGOUT_ARRAY1: that leaves ARGOUT_ARRAY1's
    # argout in place, which hands the borrowed input array to the result,
    # and crashes over stock numpy.i too. %clear first, as above.)
    ("applied_over", "unsigned short", "NPY_USHORT", APPLY + """
%apply (unsigned short **ARGOUTVIEW_ARRAY1, int *DIM1) {(unsigned short **out, int *len)}
"""),
]

# Scenarios whose fill_ and both_ take an array in place.
INPLACE = {"cleared"}

FUNCTIONS = """
void make_$S(int count, $T **out, int *len);
void fill_$S($T *arr, int n);
void both_$S(int count, $T **out, int *len, $T *arr, int n);
void boom_$S(int count, $T **out, int *len);
"""

C_FUNCTIONS = """
static $T *block_$S(int count)
{
  int i;
  $T *p = malloc(sizeof *p * (count > 0 ? count : 1));
  for (i = 0; p != NULL && i < count; i++) p[i] = ($T)(i + 1);
  return p;
}
void make_$S(int count, $T **out, int *len) { *out = block_$S(count); *len = count; }
void fill_$S($T *arr, int n) { int i; for (i = 0; i < n; i++) arr[i] = ($T)(10 + i); }
void both_$S(int count, $T **out, int *len, $T *arr, int n)
{
  make_$S(count, out, len);
  fill_$S(arr, n);
}
/* Returns a block, then reports an error (the %exception below raises). */
void boom_$S(int count, $T **out, int *len) { make_$S(count, out, len); errno = EIO; }
"""


def interface(include):
    """The interface over `include` ("ezalloc.i" or "numpy.i")."""
    again = "ezalloc_typemaps" if include == "ezalloc.i" else "numpy_typemaps"
    c_code = "".join(C_FUNCTIONS.replace("$S", s).replace("$T", t) for s, t, _, _ in SCENARIOS)
    parts = [f"""%module redef
%{{
#define SWIG_FILE_WITH_INIT
#include <errno.h>
#include <stdlib.h>
static int freeargs_seen;
int freeargs(void) {{ return freeargs_seen; }}
static void own_release(PyObject *capsule) {{ free(PyCapsule_GetPointer(capsule, NULL)); }}
{c_code}
%}}
%include "{include}"
%init %{{
  import_array();
%}}
%exception {{
  errno = 0;
  $action
  if (errno != 0) {{
    PyErr_SetString(PyExc_RuntimeError, "$symname reported an error");
    SWIG_fail;
  }}
}}
int freeargs(void);
"""]
    for suffix, ctype, code, text in SCENARIOS:
        parts.append(f"/* ---- {suffix} */\n")
        parts.append(text.replace("%AGAIN", "%" + again).replace("$T", ctype)
                     .replace("$C", code))
        parts.append(FUNCTIONS.replace("$S", suffix).replace("$T", ctype))
    return "".join(parts)


DRIVER = r"""
import gc
import sys
import numpy as np
import redef

INPLACE = set(sys.argv[1].split(","))

def shown(value):
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(shown(v) for v in value) + ")"
    if isinstance(value, np.ndarray):
        return "array%s%s" % (value.dtype.str[1:], value.tolist())
    return repr(value)

for name in sys.argv[2].split(","):
    f = lambda what: getattr(redef, what + "_" + name)
    kept = f("make")(4)
    churn = [f("make")(4) for _ in range(200)]
    del churn
    gc.collect()
    print(name, "make", shown(kept))
    if name in INPLACE:
        a = np.zeros(6, dtype=kept.dtype if isinstance(kept, np.ndarray) else np.uint8)
        print(name, "fill", shown(f("fill")(a)), shown(a))
        print(name, "both", shown(f("both")(3, a)), shown(a))
    else:
        print(name, "fill", shown(f("fill")(8)))
        kept_fill = f("fill")(5)
        for _ in range(200):
            f("fill")(5)
            f("both")(2, 3)
        gc.collect()
        print(name, "fill again", shown(kept_fill))
        print(name, "both", shown(f("both")(3, 5)))
    for _ in range(3):
        try:
            f("boom")(2)
            print(name, "boom returned")
        except RuntimeError as e:
            print(name, "boom", e)
    del kept
    gc.collect()
print("freeargs", redef.freeargs())
print("ok")
"""

PY_INCLUDES = ["-I" + sysconfig.get_paths()["include"], "-I" + np.get_include()]
EXT = sysconfig.get_config_var("EXT_SUFFIX")


def build(workdir, swig, include, builtin):
    workdir.mkdir(parents=True)
    (workdir / "redef.i").write_text(interface(include))
    subprocess.run([swig, "-python", *(["-builtin"] if builtin else []), "-I" + str(INCLUDE),
                    "-o", str(workdir / "redef_wrap.c"), str(workdir / "redef.i")],
                   check=True, cwd=workdir)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-g", *PY_INCLUDES,
                    str(workdir / "redef_wrap.c"), "-o", str(workdir / f"_redef{EXT}")],
                   check=True, cwd=workdir)
    return workdir


def run(workdir, wrapper=(), env=None):
    return subprocess.run([*wrapper, sys.executable, "-c", DRIVER, ",".join(INPLACE),
                           ",".join(s for s, _, _, _ in SCENARIOS)],
                          cwd=workdir, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, **(env or {})))


def memory_errors(log):
    """valgrind's reports of invalid accesses and frees that involve the
    module (ld.so's and the interpreter's own reports left out)."""
    blocks = re.split(r"\n==\d+== \n", log)
    return [b for b in blocks if re.search(r"Invalid (read|write|free)|Mismatched", b)
            and re.search(r"_wrap_|_redef|ezalloc", b)]


@pytest.mark.parametrize("builtin", [False, True], ids=["plain", "builtin"])
@pytest.mark.parametrize("version", sorted(SWIGS), ids=lambda v: f"swig{v}")
def test_redefinitions_after_ezalloc_i_behave_as_over_numpy_i(tmp_path, version, builtin):
    swig = SWIGS[version]
    stock = run(build(tmp_path / "stock", swig, "numpy.i", builtin))
    assert stock.returncode == 0 and stock.stdout.endswith("ok\n"), stock.stdout + stock.stderr
    ours_dir = build(tmp_path / "ours", swig, "ezalloc.i", builtin)
    ours = run(ours_dir)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert ours.stdout == stock.stdout
    # The printout can fail: these are the values the C functions wrote.
    assert "numpy_again make arrayf8[1.0, 2.0, 3.0, 4.0]" in ours.stdout
    assert "copy_and_free make (1, 2, 3, 4)" in ours.stdout
    valgrind = childproc.valgrind()
    if valgrind is None:
        checked = run(ours_dir, env={"MALLOC_CHECK_": "3", "MALLOC_PERTURB_": "165"})
        assert checked.returncode == 0 and checked.stdout == stock.stdout, checked.stderr
        pytest.skip(childproc.why_no_valgrind() + ": checked with MALLOC_CHECK_=3 only")
    checked = run(ours_dir, wrapper=[valgrind, "--num-callers=30", "--error-limit=no"],
                  env={"PYTHONMALLOC": "malloc"})
    assert checked.returncode == 0 and checked.stdout == stock.stdout, checked.stderr[-5000:]
    assert re.search(r"ERROR SUMMARY: \d+ errors", checked.stderr), checked.stderr[-2000:]
    errors = memory_errors(checked.stderr)
    assert not errors, "\n\n".join(errors[:5])


def test_ezalloc_typemaps_again_are_ezallocs(tmp_path):
    """%ezalloc_typemaps run again gives back ezalloc.i's managed typemaps
    (the array's base is the "ezalloc.block" capsule); %numpy_typemaps run
    again gives numpy.i's."""
    work = build(tmp_path / "ours", SWIGS[max(SWIGS)], "ezalloc.i", False)
    out = subprocess.run([sys.executable, "-c", """
import ctypes, redef
name = ctypes.pythonapi.PyCapsule_GetName
name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
for f in (redef.make_ezalloc_again, redef.make_numpy_again):
    a = f(3)
    print(a.tolist(), name(a.base))
"""], cwd=work, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    ours, numpys = out.stdout.splitlines()
    assert ours == "[1, 2, 3] b'ezalloc.block'"
    assert numpys.startswith("[1.0, 2.0, 3.0] ") and "ezalloc.block" not in numpys
