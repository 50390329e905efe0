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
 * "ezalloc.block" that free()s the block. Every failure after the library
 * returned the block frees it (numpy failing to make the array, the capsule
 * failing, numpy failing to set the base).
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

%{
/* numpy's limit on dimensions, which is also the library's. */
#define EZ_MAXDIMS 64

/* Outputs of at least this many bytes are copied with the GIL released:
 * below it, releasing and taking it back costs more than it frees. */
#define EZ_NOGIL_BYTES ((size_t)1 << 20)

/* What an item of the key is. */
enum ez_item { EZ_SLICE, EZ_INTEGER, EZ_ELLIPSIS };

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

/* The library's error number as a Python exception. */
static void ez_nd_raise(int err, size_t itemsize, int ndim, const size_t *out_shape)
{
    if (err == ENOMEM) {
        /* out_shape is the window's shape here; its size fitted (checked). */
        size_t bytes = itemsize;
        int k;
        for (k = 0; k < ndim; k++)
            bytes *= out_shape[k];
        PyErr_Format(PyExc_MemoryError, "crop: malloc of %zu bytes failed (ENOMEM)", bytes);
    } else if (err == EINVAL) {
        PyErr_SetString(PyExc_ValueError,
                        "crop: invalid argument (EINVAL): the array's size or the span "
                        "of the window in bytes does not fit in ptrdiff_t");
    } else if (err == EPERM) {
        PyErr_SetString(PyExc_IndexError, "crop: the window does not fit the array (EPERM)");
    } else {
        PyErr_Format(PyExc_Exception, "crop: failed with errno %d (%s)", err, strerror(err));
    }
}

static PyObject *ez_crop(PyObject *obj, PyObject *key)
{
    PyArrayObject *a;
    PyArray_Descr *descr;
    PyObject *const *items;
    PyObject *single[1];
    enum ez_item kinds[EZ_MAXDIMS + 1];
    size_t shape[EZ_MAXDIMS], out_shape[EZ_MAXDIMS];
    ptrdiff_t strides[EZ_MAXDIMS], start[EZ_MAXDIMS], stop[EZ_MAXDIMS], step[EZ_MAXDIMS];
    npy_intp dims[EZ_MAXDIMS];
    char drop[EZ_MAXDIMS];
    Py_ssize_t nitems, i;
    int ndim, axis, consumed = 0, ellipsis = 0, out_ndim = 0, err, big;
    size_t itemsize, out_items = 1;
    void *block = NULL;

    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "crop: expected a numpy.ndarray, got '%s'",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    a = (PyArrayObject *)obj;
    descr = PyArray_DESCR(a);
    if (PyDataType_REFCHK(descr) || descr->type_num >= NPY_NTYPES_LEGACY) {
        PyErr_Format(PyExc_TypeError,
                     "crop: dtype %S is refused: only numpy's fixed-size dtypes without "
                     "Python object references are copied", (PyObject *)descr);
        return NULL;
    }
    ndim = PyArray_NDIM(a);
    itemsize = (size_t)PyArray_ITEMSIZE(a);

    if (PyTuple_Check(key)) {
        items = &PyTuple_GET_ITEM(key, 0);
        nitems = PyTuple_GET_SIZE(key);
    } else {
        single[0] = key;
        items = single;
        nitems = 1;
    }
    if (nitems > EZ_MAXDIMS + 1) {
        PyErr_Format(PyExc_IndexError,
                     "too many indices for array: array is %d-dimensional, but %zd were indexed",
                     ndim, nitems);
        return NULL;
    }
    for (i = 0; i < nitems; i++) {
        if (ez_classify(items[i], &kinds[i]) < 0)
            return NULL;
        if (kinds[i] == EZ_ELLIPSIS) {
            if (ellipsis) {
                PyErr_SetString(PyExc_IndexError,
                                "an index can only have a single ellipsis ('...')");
                return NULL;
            }
            ellipsis = 1;
        } else {
            consumed++;
        }
    }
    if (consumed > ndim) {
        PyErr_Format(PyExc_IndexError,
                     "too many indices for array: array is %d-dimensional, but %d were indexed",
                     ndim, consumed);
        return NULL;
    }

    /* Axis by axis: the Ellipsis (or the end of the key) stands for whole
     * axes, as many as the key leaves over. */
    axis = 0;
    for (i = 0; i <= nitems; i++) {
        Py_ssize_t dim, lo, hi, by;
        int whole = i == nitems ? ndim - axis
                    : kinds[i] == EZ_ELLIPSIS ? ndim - consumed : 0;
        for (; whole > 0; whole--, axis++) {
            start[axis] = 0;
            stop[axis] = (ptrdiff_t)PyArray_DIM(a, axis);
            step[axis] = 1;
            drop[axis] = 0;
        }
        if (i == nitems || kinds[i] == EZ_ELLIPSIS)
            continue;
        dim = (Py_ssize_t)PyArray_DIM(a, axis);
        if (kinds[i] == EZ_SLICE) {
            if (PySlice_Unpack(items[i], &lo, &hi, &by) < 0)
                return NULL;                   /* ValueError for step 0 */
            PySlice_AdjustIndices(dim, &lo, &hi, by);
            drop[axis] = 0;
        } else {
            lo = PyNumber_AsSsize_t(items[i], PyExc_IndexError);
            if (lo == -1 && PyErr_Occurred())
                return NULL;
            if (lo < -dim || lo >= dim) {
                PyErr_Format(PyExc_IndexError,
                             "index %zd is out of bounds for axis %d with size %zd",
                             lo, axis, dim);
                return NULL;
            }
            if (lo < 0)
                lo += dim;
            hi = lo + 1;
            by = 1;
            drop[axis] = 1;
        }
        start[axis] = lo;
        stop[axis] = hi;
        step[axis] = by;
        axis++;
    }

    for (axis = 0; axis < ndim; axis++) {
        shape[axis] = (size_t)PyArray_DIM(a, axis);
        strides[axis] = (ptrdiff_t)PyArray_STRIDE(a, axis);
    }

    if (itemsize == 0) {
        /* Nothing to copy (a zero-size dtype): numpy makes the array. */
        for (axis = 0; axis < ndim; axis++) {
            Py_ssize_t lo = start[axis], hi = stop[axis];
            Py_ssize_t n = PySlice_AdjustIndices((Py_ssize_t)shape[axis], &lo, &hi, step[axis]);
            if (!drop[axis])
                dims[out_ndim++] = n;
        }
        Py_INCREF(descr);
        return PyArray_NewFromDescr(&PyArray_Type, descr, out_ndim, dims, NULL, NULL, 0, NULL);
    }

    /* Release the GIL for large outputs only. The array object (hence its
     * data) stays alive: the caller's reference to it is held throughout. */
    for (axis = 0; axis < ndim; axis++) {
        ptrdiff_t n = step[axis] > 0
            ? (stop[axis] > start[axis] ? (stop[axis] - start[axis] - 1) / step[axis] + 1 : 0)
            : (start[axis] > stop[axis] ? (start[axis] - stop[axis] - 1) / -step[axis] + 1 : 0);
        if (n == 0) {
            out_items = 0;
            break;
        }
        out_items = (size_t)n > SIZE_MAX / out_items ? SIZE_MAX : out_items * (size_t)n;
    }
    big = out_items >= EZ_NOGIL_BYTES / itemsize;
    if (big) {
        Py_BEGIN_ALLOW_THREADS
        err = ezalloc_crop_nd(PyArray_DATA(a), itemsize, (size_t)ndim, shape, strides,
                              start, stop, step, &block, out_shape);
        Py_END_ALLOW_THREADS
    } else {
        err = ezalloc_crop_nd(PyArray_DATA(a), itemsize, (size_t)ndim, shape, strides,
                              start, stop, step, &block, out_shape);
    }
    if (err != 0) {
        free(block);                           /* NULL after a failure */
        ez_nd_raise(err, itemsize, ndim, out_shape);
        return NULL;
    }

    for (axis = 0; axis < ndim; axis++)
        if (!drop[axis])
            dims[out_ndim++] = (npy_intp)out_shape[axis];
    /* The result owns the block from here on, or the block is freed
     * (ezalloc.i's ezalloc_own_block; it steals the descr). */
    Py_INCREF(descr);
    return ezalloc_own_block(descr, out_ndim, dims, 0, block, &ezalloc_free_deallocator, "crop");
}
%}

%{
#define EZ_CROP_DOC \
    "crop(a, key, /)\n--\n\n" \
    "A copy of a[key], equal to numpy's a[key].copy(), made by the ezalloc\n" \
    "library (ezalloc_crop_nd): C-contiguous, writeable, with a's dtype, in a\n" \
    "malloc'd block that it owns (its base is a capsule that frees the block\n" \
    "when the last array or view using it is gone).\n" \
    "\n" \
    "a: a numpy.ndarray of any shape and layout (C, Fortran, transposed,\n" \
    "negative strides, views, read-only) and any fixed-size dtype without\n" \
    "Python object references: bool, integers (either byte order), float16/32/64,\n" \
    "complex, datetime64, timedelta64, bytes (S), str (U), void and structured.\n" \
    "The result is a base-class ndarray; when every axis is indexed by an\n" \
    "integer it is a 0-d array (numpy would give a scalar).\n" \
    "\n" \
    "key: a slice, an integer, an Ellipsis, or a tuple of these with at most\n" \
    "one Ellipsis. Slices take every form numpy takes (negative, clipped, None,\n" \
    "any nonzero step); an integer drops its axis.\n" \
    "\n" \
    "Raises TypeError for a non-array `a`, a dtype with object references, and\n" \
    "for None/numpy.newaxis, booleans, lists, arrays or other objects in the\n" \
    "key; IndexError for too many indices, a second Ellipsis or an integer out\n" \
    "of range; ValueError for a step of 0; MemoryError when malloc fails.\n" \
    "Large copies run with the GIL released.\n"

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
