/* ndcrop.i: the module ezalloc.ndcrop, whose one function crop(a, key) is
 * exported as ezalloc.crop: numpy's a[key].copy() for a key of slices,
 * integers and at most one Ellipsis, copied by the library's
 * ezalloc_crop_nd() into a malloc'd block that the result owns.
 *
 * The key is parsed here, in C, as numpy parses a basic index
 * (PySlice_Unpack and PySlice_AdjustIndices for slices), so that a small
 * crop costs no more than numpy's own slicing copy. The copy is of bytes:
 * any fixed-size dtype without Python object references works, and the
 * result keeps the input's dtype (byte order, fields, units included).
 *
 * Ownership: ezalloc.i's ezalloc_own_block, as for every managed output of
 * a module built on ezalloc.i: the result's base is a capsule
 * "ezalloc.block" that free()s the block (for a 0-byte dtype, a 1-byte
 * block malloc'd here). Every failure after the library returned the block
 * frees it (numpy failing to make the array, the capsule failing, numpy
 * failing to set the base).
 *
 * Order: the key is parsed to plain integers first (its __index__ methods
 * and slice bounds are Python code, which may change the array), then the
 * array's type, dtype and layout are read once into locals, with references
 * to the array and its dtype held until the result exists. Nothing reads
 * the array object while the GIL is released.
 */
%define EZ_NDCROP_DOC
"ezalloc.crop(a, key): numpy's a[key].copy() for a key of slices, integers
and one Ellipsis, copied by the ezalloc library into a block the result owns."
%enddef
%module(package="ezalloc", docstring=EZ_NDCROP_DOC) ndcrop

%{
#define SWIG_FILE_WITH_INIT
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <numpy/arrayobject.h>
#include "ezalloc_nd.h"
%}

/* The package's own managed-block helpers (ezalloc_own_block). */
%include "ezalloc.i"
%fragment("ezalloc_managed");

%init %{
    import_array();
%}

%include "ezerrno.i"

%{
/* numpy's limit on dimensions, which is also the library's. */
#define EZ_MAXDIMS 64

/* What an item of the key is. */
enum ez_item { EZ_SLICE, EZ_INTEGER, EZ_ELLIPSIS };

/* One item of the key, parsed to plain integers: a slice as PySlice_Unpack
 * gives it (start, stop, step), an integer in `start`. */
struct ez_key_item {
    enum ez_item kind;
    Py_ssize_t start, stop, step;
};

/* A slice whose start, stop and step are each None or an exact int in the
 * range of Py_ssize_t, read directly: the values PySlice_Unpack gives, with
 * no Python code run (no __index__ to call). Returns 0 for any other slice
 * (a step of 0 included), which is left to PySlice_Unpack. */
static int ez_plain_slice(PyObject *item, struct ez_key_item *p)
{
    PySliceObject *slice = (PySliceObject *)item;
    PyObject *bounds[2] = {slice->start, slice->stop};
    Py_ssize_t values[2], step = 1;
    int k;

    if (slice->step != Py_None) {
        if (!PyLong_CheckExact(slice->step))
            return 0;
        step = PyLong_AsSsize_t(slice->step);
        if (step == -1 && PyErr_Occurred()) {
            PyErr_Clear();                     /* out of range: PySlice_Unpack clips */
            return 0;
        }
        if (step == 0 || step < -PY_SSIZE_T_MAX)
            return 0;
    }
    for (k = 0; k < 2; k++) {
        if (bounds[k] == Py_None) {
            values[k] = k == 0 ? (step < 0 ? PY_SSIZE_T_MAX : 0)
                               : (step < 0 ? PY_SSIZE_T_MIN : PY_SSIZE_T_MAX);
            continue;
        }
        if (!PyLong_CheckExact(bounds[k]))
            return 0;
        values[k] = PyLong_AsSsize_t(bounds[k]);
        if (values[k] == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
    }
    p->kind = EZ_SLICE;
    p->start = values[0];
    p->stop = values[1];
    p->step = step;
    return 1;
}

/* Classifies one item of the key; -1 with TypeError for what is refused. */
static int ez_classify(PyObject *item, enum ez_item *kind)
{
    if (PySlice_Check(item)) {
        *kind = EZ_SLICE;
        return 0;
    }
    if (item == Py_Ellipsis) {
        *kind = EZ_ELLIPSIS;
        return 0;
    }
    if (item == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "crop: None (numpy.newaxis) in the key is refused: "
                        "crop does not add axes");
        return -1;
    }
    if (PyBool_Check(item) || PyArray_IsScalar(item, Bool)) {
        PyErr_Format(PyExc_TypeError,
                     "crop: a boolean (%R) in the key is refused: "
                     "only slices, integers and one Ellipsis are accepted", item);
        return -1;
    }
    if (PyArray_Check(item)) {
        PyErr_SetString(PyExc_TypeError,
                        "crop: an array in the key is refused (no advanced indexing): "
                        "only slices, integers and one Ellipsis are accepted");
        return -1;
    }
    if (PyList_Check(item) || PyTuple_Check(item)) {
        PyErr_Format(PyExc_TypeError,
                     "crop: a %s in the key is refused (no advanced indexing): "
                     "only slices, integers and one Ellipsis are accepted",
                     PyList_Check(item) ? "list" : "nested tuple");
        return -1;
    }
    if (PyIndex_Check(item)) {
        *kind = EZ_INTEGER;
        return 0;
    }
    PyErr_Format(PyExc_TypeError,
                 "crop: an object of type '%s' in the key is refused: "
                 "only slices, integers and one Ellipsis are accepted",
                 Py_TYPE(item)->tp_name);
    return -1;
}

/* An integer item's __index__ raised: numpy turns any Exception into
 * IndexError (here with the original as __cause__); MemoryError and the
 * BaseExceptions that are not Exceptions (KeyboardInterrupt, SystemExit)
 * go through unchanged. Returns -1. */
static int ez_index_raised(PyObject *item, Py_ssize_t pos)
{
    PyObject *type, *value, *tb, *type2, *value2, *tb2;

    if (!PyErr_ExceptionMatches(PyExc_Exception) || PyErr_ExceptionMatches(PyExc_MemoryError))
        return -1;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value == NULL) {
        PyErr_Restore(type, value, tb);
        return -1;
    }
    if (tb != NULL)
        PyException_SetTraceback(value, tb);
    PyErr_Format(PyExc_IndexError,
                 "crop: the index at position %zd (an object of type '%.200s') is not an "
                 "integer: its __index__ raised %.200s",
                 pos, Py_TYPE(item)->tp_name, ((PyTypeObject *)type)->tp_name);
    PyErr_Fetch(&type2, &value2, &tb2);
    PyErr_NormalizeException(&type2, &value2, &tb2);
    if (value2 != NULL)
        PyException_SetCause(value2, value);   /* steals value */
    else
        Py_DECREF(value);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    PyErr_Restore(type2, value2, tb2);
    return -1;
}

/* The integer `index` (item's __index__) does not fit in Py_ssize_t: as
 * numpy, OverflowError for a Python int or numpy integer of 2**63 to
 * 2**64 - 1 (numpy reads those as uint64), IndexError otherwise. Returns -1. */
static int ez_index_overflow(PyObject *item, PyObject *index)
{
    int as_uint64 = 0;

    if (PyLong_Check(item) || PyArray_IsScalar(item, Integer)) {
        PyErr_Clear();
        (void)PyLong_AsUnsignedLongLong(index);
        as_uint64 = !PyErr_Occurred();
    }
    if (as_uint64) {
        PyErr_SetString(PyExc_OverflowError,
                        "Python int too large to convert to C ssize_t");
        return -1;
    }
    if (!PyErr_ExceptionMatches(PyExc_OverflowError))
        return -1;                             /* MemoryError */
    PyErr_Clear();
    PyErr_Format(PyExc_IndexError, "cannot fit '%.200s' into an index-sized integer",
                 Py_TYPE(item)->tp_name);
    return -1;
}

/* The value of an integer item (anything with __index__), as numpy reads
 * an integer index: 0, or -1 with an exception set. */
static int ez_index_value(PyObject *item, Py_ssize_t pos, Py_ssize_t *out)
{
    PyObject *index;
    Py_ssize_t value;
    int failed;

    if (PyLong_CheckExact(item)) {
        value = PyLong_AsSsize_t(item);
        if (value == -1 && PyErr_Occurred())
            return ez_index_overflow(item, item);
        *out = value;
        return 0;
    }
    index = PyNumber_Index(item);
    if (index == NULL)
        return ez_index_raised(item, pos);
    value = PyLong_AsSsize_t(index);
    failed = value == -1 && PyErr_Occurred();
    if (failed)
        ez_index_overflow(item, index);
    Py_DECREF(index);
    if (failed)
        return -1;
    *out = value;
    return 0;
}

/* numpy.memmap.__getitem__ (which only changes the type of what numpy's
 * indexing returns), looked up at initialisation; NULL if it could not be. */
static PyObject *ez_memmap_getitem;

static void ez_crop_init(void)
{
    PyObject *numpy = PyImport_ImportModule("numpy");
    PyObject *memmap = numpy == NULL ? NULL : PyObject_GetAttrString(numpy, "memmap");
    ez_memmap_getitem = memmap == NULL ? NULL : PyObject_GetAttrString(memmap, "__getitem__");
    Py_XDECREF(memmap);
    Py_XDECREF(numpy);
    if (ez_memmap_getitem == NULL)
        PyErr_Clear();
}

/* 0 when crop copies arrays of obj's type (an ndarray subclass): its
 * indexing is ndarray's own (it does not override __getitem__), or it is
 * numpy.memmap's; -1 with TypeError otherwise (masked arrays, matrix,
 * recarray, any subclass with its own __getitem__). May run Python code
 * (the attribute lookup on the type). */
static int ez_check_subclass(PyObject *obj)
{
    PyTypeObject *type = Py_TYPE(obj);
    PyObject *getitem, *module, *name;
    int accepted;

    if (type->tp_as_mapping != NULL &&
        type->tp_as_mapping->mp_subscript == PyArray_Type.tp_as_mapping->mp_subscript)
        return 0;
    getitem = PyObject_GetAttrString((PyObject *)type, "__getitem__");
    if (getitem == NULL)
        return -1;
    accepted = ez_memmap_getitem != NULL && getitem == ez_memmap_getitem;
    Py_DECREF(getitem);
    if (accepted)
        return 0;
    module = PyObject_GetAttrString((PyObject *)type, "__module__");
    name = module == NULL ? NULL : PyType_GetQualName(type);
    if (name != NULL)
        PyErr_Format(PyExc_TypeError,
                     "crop: an array of type '%S.%S' is refused: the type overrides ndarray's "
                     "indexing (__getitem__), which crop would bypass; to copy the plain "
                     "ndarray's items, crop np.asarray(a)", module, name);
    Py_XDECREF(module);
    Py_XDECREF(name);
    return -1;
}

/* The library's error number as a Python exception (ezerrno.i). */
static void ez_nd_raise(int err, size_t itemsize, int ndim, const size_t *out_shape)
{
    if (err == ENOMEM) {
        /* out_shape is the window's shape here; its size fitted (checked). */
        size_t bytes = itemsize;
        int k;
        for (k = 0; k < ndim; k++)
            bytes *= out_shape[k];
        ez_raise_errno_format(err, "crop: malloc of %zu bytes failed (ENOMEM)", bytes);
    } else if (err == EINVAL) {
        ez_raise_errno_format(err,
                              "crop: invalid argument (EINVAL): the array's size or the span "
                              "of the window in bytes does not fit in ptrdiff_t");
    } else if (err == EPERM) {
        ez_raise_errno_format(err, "crop: the window does not fit the array (EPERM)");
    } else {
        ez_raise_errno_format(err, "crop: failed with errno %d (%s)", err, strerror(err));
    }
}

/* x * y, or SIZE_MAX when that does not fit. */
static size_t ez_mul_saturated(size_t x, size_t y)
{
    return x != 0 && y > SIZE_MAX / x ? SIZE_MAX : x * y;
}

/* The whole key is parsed first (every __index__ and slice bound, which may
 * run Python code that changes the array), then the array's type, dtype and
 * layout are read, once, into locals, with references to the array and its
 * dtype held until the result exists: the copy (with the GIL released for
 * large outputs) reads only those locals and the array's data, which the
 * array keeps alive. */
static PyObject *ez_crop(PyObject *obj, PyObject *key)
{
    PyArrayObject *a;
    PyArray_Descr *descr;
    PyObject *const *items;
    PyObject *single[1];
    size_t shape[EZ_MAXDIMS], out_shape[EZ_MAXDIMS];
    ptrdiff_t strides[EZ_MAXDIMS], start[EZ_MAXDIMS], stop[EZ_MAXDIMS], step[EZ_MAXDIMS];
    npy_intp dims[EZ_MAXDIMS];
    char drop[EZ_MAXDIMS];
    Py_ssize_t nitems, i;
    int ndim, axis, consumed = 0, ellipsis = 0, out_ndim = 0, err, big;
    size_t itemsize, out_items = 1;
    const void *data;
    void *block = NULL;
    PyObject *result = NULL;

    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "crop: expected a numpy.ndarray, got '%s'",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (Py_TYPE(obj) != &PyArray_Type && ez_check_subclass(obj) < 0)
        return NULL;

    if (PyTuple_Check(key)) {
        items = &PyTuple_GET_ITEM(key, 0);
        nitems = PyTuple_GET_SIZE(key);
    } else {
        single[0] = key;
        items = single;
        nitems = 1;
    }
    if (nitems > EZ_MAXDIMS + 1) {
        /* No array has this many axes (numpy's limit is the library's). */
        PyErr_Format(PyExc_IndexError,
                     "too many indices for array: array is %d-dimensional, but %zd were indexed",
                     PyArray_NDIM((PyArrayObject *)obj), nitems);
        return NULL;
    }
    /* Sized by the key (a C99 variable-length array of at most 66 items,
     * declared once nitems is known; no goto jumps into its scope): a fixed
     * 65-item array made this function's frame large enough to slow small
     * crops down measurably. */
    struct ez_key_item parsed[nitems + 1];

    /* 1. The key, item by item, to plain integers; nothing of the array is
     * read here (Python code may run: __index__, slice bounds). */
    for (i = 0; i < nitems; i++) {
        PyObject *item = items[i];
        struct ez_key_item *p = &parsed[i];
        if (PyLong_CheckExact(item)) {
            p->kind = EZ_INTEGER;
            p->start = PyLong_AsSsize_t(item);
            if (p->start == -1 && PyErr_Occurred()) {
                ez_index_overflow(item, item);
                return NULL;
            }
            consumed++;
            continue;
        }
        if (PySlice_Check(item) && ez_plain_slice(item, p)) {
            consumed++;
            continue;
        }
        if (ez_classify(item, &p->kind) < 0)
            return NULL;
        if (p->kind == EZ_SLICE) {
            if (PySlice_Unpack(item, &p->start, &p->stop, &p->step) < 0)
                return NULL;                   /* ValueError for step 0 */
            consumed++;
        } else if (p->kind == EZ_INTEGER) {
            if (ez_index_value(item, i, &p->start) < 0)
                return NULL;
            consumed++;
        } else {
            if (ellipsis) {
                PyErr_SetString(PyExc_IndexError,
                                "an index can only have a single ellipsis ('...')");
                return NULL;
            }
            ellipsis = 1;
        }
    }

    /* 2. No Python code runs from here until the result exists. The type
     * again (an __index__ may have assigned __class__: only a subclass can
     * change type), then the dtype and layout, once. */
    if (Py_TYPE(obj) != &PyArray_Type && ez_check_subclass(obj) < 0)
        return NULL;
    a = (PyArrayObject *)obj;
    descr = PyArray_DESCR(a);
    if (PyDataType_REFCHK(descr) || descr->type_num >= NPY_NTYPES_LEGACY) {
        PyErr_Format(PyExc_TypeError,
                     "crop: dtype %S is refused: only numpy's fixed-size dtypes without "
                     "Python object references are copied", (PyObject *)descr);
        return NULL;
    }
    ndim = PyArray_NDIM(a);
    itemsize = (size_t)PyDataType_ELSIZE(descr);
    data = PyArray_DATA(a);
    for (axis = 0; axis < ndim; axis++) {
        shape[axis] = (size_t)PyArray_DIM(a, axis);
        strides[axis] = (ptrdiff_t)PyArray_STRIDE(a, axis);
    }
    Py_INCREF(obj);
    Py_INCREF(descr);

    /* 3. The key against that layout, as numpy applies it. */
    if (consumed > ndim) {
        PyErr_Format(PyExc_IndexError,
                     "too many indices for array: array is %d-dimensional, but %d were indexed",
                     ndim, consumed);
        goto done;
    }
    /* Axis by axis: the Ellipsis (or the end of the key) stands for whole
     * axes, as many as the key leaves over. */
    axis = 0;
    for (i = 0; i <= nitems; i++) {
        Py_ssize_t dim, lo, hi, by, n;
        int whole = i == nitems ? ndim - axis
                    : parsed[i].kind == EZ_ELLIPSIS ? ndim - consumed : 0;
        for (; whole > 0; whole--, axis++) {
            start[axis] = 0;
            stop[axis] = (ptrdiff_t)shape[axis];
            step[axis] = 1;
            drop[axis] = 0;
            n = (Py_ssize_t)shape[axis];
            out_shape[axis] = (size_t)n;
            out_items = ez_mul_saturated(out_items, (size_t)n);
        }
        if (i == nitems || parsed[i].kind == EZ_ELLIPSIS)
            continue;
        dim = (Py_ssize_t)shape[axis];
        lo = parsed[i].start;
        if (parsed[i].kind == EZ_SLICE) {
            hi = parsed[i].stop;
            by = parsed[i].step;
            n = PySlice_AdjustIndices(dim, &lo, &hi, by);
            drop[axis] = 0;
        } else {
            if (lo < -dim || lo >= dim) {
                PyErr_Format(PyExc_IndexError,
                             "index %zd is out of bounds for axis %d with size %zd",
                             lo, axis, dim);
                goto done;
            }
            if (lo < 0)
                lo += dim;
            hi = lo + 1;
            by = 1;
            n = 1;
            drop[axis] = 1;
        }
        start[axis] = lo;
        stop[axis] = hi;
        step[axis] = by;
        out_shape[axis] = (size_t)n;
        out_items = ez_mul_saturated(out_items, (size_t)n);
        axis++;
    }

    if (itemsize == 0) {
        /* A 0-byte dtype: nothing to copy, but the result owns a malloc'd
         * block like any other (the library refuses itemsize 0). The shape
         * is the one the key gave above (the bounds are adjusted already:
         * adjusting them again is wrong for negative steps). */
        block = malloc(1);
        if (block == NULL) {
            ez_raise_errno_format(ENOMEM, "crop: malloc of 1 byte failed (ENOMEM)");
            goto done;
        }
    } else {
        /* The GIL is released for large outputs only (EZ_NOGIL_BYTES,
         * ezerrno.i): the copy reads the locals above and the data, which
         * `a` (held) keeps alive. */
        big = out_items >= EZ_NOGIL_BYTES / itemsize;
        if (big) {
            Py_BEGIN_ALLOW_THREADS
            err = ezalloc_crop_nd(data, itemsize, (size_t)ndim, shape, strides,
                                  start, stop, step, &block, out_shape);
            Py_END_ALLOW_THREADS
        } else {
            err = ezalloc_crop_nd(data, itemsize, (size_t)ndim, shape, strides,
                                  start, stop, step, &block, out_shape);
        }
        if (err != 0) {
            free(block);                       /* NULL after a failure */
            ez_nd_raise(err, itemsize, ndim, out_shape);
            goto done;
        }
    }

    for (axis = 0; axis < ndim; axis++)
        if (!drop[axis])
            dims[out_ndim++] = (npy_intp)out_shape[axis];
    /* The result owns the block from here on, or the block is freed
     * (ezalloc.i's ezalloc_own_block; it steals a reference to descr). */
    Py_INCREF(descr);
    result = ezalloc_own_block(descr, out_ndim, dims, 0, block, &ezalloc_free_deallocator, "crop");
done:
    Py_DECREF(descr);
    Py_DECREF(obj);
    return result;
}
%}

%{
#define EZ_CROP_DOC \
    "crop(a, key, /)\n--\n\n" \
    "A copy of a[key], equal to numpy's a[key].copy(), made by the ezalloc\n" \
    "library: C-contiguous, writeable, with a's dtype, in a\n" \
    "malloc'd block that it owns (its base is a capsule that frees the block\n" \
    "when the last array or view using it is gone).\n" \
    "\n" \
    "a: a numpy.ndarray of any shape and layout (C, Fortran, transposed,\n" \
    "negative strides, views, read-only) and any fixed-size dtype without\n" \
    "Python object references: bool, integers (either byte order), float16/32/64,\n" \
    "complex, datetime64, timedelta64, bytes (S), str (U), void and structured.\n" \
    "Subclasses whose indexing is ndarray's own (no __getitem__ of their own)\n" \
    "and numpy.memmap are accepted; others (masked arrays, matrix, recarray)\n" \
    "are refused with TypeError: crop np.asarray(a) for their plain items.\n" \
    "The result is a base-class ndarray; when every axis is indexed by an\n" \
    "integer it is a 0-d array (numpy would give a scalar).\n" \
    "\n" \
    "key: a slice, an integer, an Ellipsis, or a tuple of these with at most\n" \
    "one Ellipsis. Slices take every form numpy takes (negative, clipped, None,\n" \
    "any nonzero step); an integer drops its axis. The whole key is read first\n" \
    "(every __index__), then the array: a key that changes the array gets\n" \
    "numpy's result on the changed array.\n" \
    "\n" \
    "Raises TypeError for a non-array `a`, a refused subclass, a dtype with\n" \
    "object references, and for None/numpy.newaxis, booleans, lists, arrays or\n" \
    "other objects in the key; IndexError for too many indices, a second\n" \
    "Ellipsis, an integer out of range, or one whose __index__ raised an\n" \
    "Exception (as numpy); OverflowError for an integer of 2**63 to 2**64 - 1\n" \
    "(as numpy); ValueError for a step of 0; MemoryError when malloc fails (an\n" \
    "OSError too, with .errno ENOMEM).\n" \
    "\n" \
    "Outputs of 1 MiB or more are copied with the GIL released (other Python\n" \
    "threads run meanwhile); from 96 KiB of output on, the copy may use up to\n" \
    "get_threads() threads.\n" \
    "\n" \
    "Example:\n" \
    "\n" \
    "    >>> import numpy as np, ezalloc\n" \
    "    >>> a = np.arange(12).reshape(3, 4)\n" \
    "    >>> ezalloc.crop(a, np.s_[1:, ::-2])\n" \
    "    array([[ 7,  5],\n" \
    "           [11,  9]])\n"

/* METH_FASTCALL: the arguments arrive as an array, no tuple is made (a
 * SWIG wrapper takes a tuple: a measurable part of a small crop). */
static PyObject *ez_crop_fast(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "crop() takes exactly 2 arguments (a, key), %zd given",
                     nargs);
        return NULL;
    }
    return ez_crop(args[0], args[1]);
}

static PyMethodDef ez_crop_def = {
    "crop", (PyCFunction)(void (*)(void))ez_crop_fast, METH_FASTCALL, EZ_CROP_DOC
};

/* SWIG's module initialisation returns NULL on failure before SWIG 4.4,
 * -1 from its PEP 489 exec function since. */
#if SWIG_VERSION < 0x040400
#define EZ_INIT_FAILED NULL
#else
#define EZ_INIT_FAILED -1
#endif
%}

%init %{
    ez_crop_init();
    {
        PyObject *ez_crop_function = PyCFunction_NewEx(&ez_crop_def, NULL, NULL);
        int ez_added = ez_crop_function == NULL ? -1
            : PyDict_SetItemString(d, "crop", ez_crop_function);
        Py_XDECREF(ez_crop_function);
        if (ez_added < 0)
            return EZ_INIT_FAILED;
    }
%}

%pythoncode %{
from ._ndcrop import crop
%}
