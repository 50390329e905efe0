/* recipe.i: the module ezalloc.recipe, the SWIG memory-deallocation
 * recipe's functions over the library's alloc() and crop().
 *
 * alloc_managed(ni) returns a numpy array of ni C ints that owns its
 * malloc'd block: the block is freed when the last array or view that
 * refers to it is gone.
 *
 * alloc_leaking(ni) returns the same kind of array through numpy.i's
 * ARGOUTVIEW_ARRAY1, which only views the block: nothing ever frees it. It is
 * kept on purpose, to show the leak that the managed variant avoids.
 *
 * crop(a, d1_0, d1_1, d2_0, d2_1) returns a new numpy array equal to
 * a[d1_0:d1_1, d2_0:d2_1] that owns its malloc'd block. The window must
 * satisfy 0 <= d1_0 <= d1_1 < rows and 0 <= d2_0 <= d2_1 < columns
 * (IndexError otherwise), the recipe's strict rule.
 *
 * Managed outputs use ARGOUTVIEWM_ARRAY1/2 as redefined by ezalloc.i (the
 * file the package installs for everyone's modules), which do what numpy.i's
 * do and also free the block on every failure.
 *
 * The input of crop plays the part of numpy.i's IN_ARRAY2, with a stricter
 * conversion: numpy arrays must already have dtype numpy.intc (in any
 * layout: they are made C-contiguous, copying only when needed); other
 * array-likes such as nested lists are converted to intc only when numpy
 * reads them as integers and every value fits in a C int.
 */
%define EZ_DOC
"The SWIG memory-deallocation recipe's functions over the ezalloc library:
alloc_managed, alloc_leaking (a deliberate leak, for demonstration) and crop.
Arrays they return own their malloc'd block (except alloc_leaking's)."
%enddef
%module(package="ezalloc", docstring=EZ_DOC) recipe

%{
#include "ezalloc.h"
#include "crop.h"
%}

%{
#define SWIG_FILE_WITH_INIT
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
%}

/* numpy.i with the managed ARGOUTVIEWM_* typemaps, as any user's module
 * gets it; the errno helpers of the package's modules. */
%include "ezalloc.i"
%include "ezerrno.i"

%init %{
    import_array();
%}

/* Every plain int argument accepts any integer (Python int, numpy integer
 * scalar, anything with __index__), refuses floats with TypeError and
 * values outside C int with OverflowError. */
%ezalloc_int_arguments

%{
/* alloc() failed: MemoryError for ENOMEM, naming the size malloc was asked
 * for (computed as C computes it, so a negative ni shows as a huge size). */
static void ez_raise_alloc(int err, const char *func, int ni)
{
    if (err == ENOMEM)
        ez_raise_errno_format(err, "%s(%d): malloc of %zu bytes failed (ENOMEM)",
                              func, ni, (size_t)ni * sizeof(int));
    else
        ez_raise_errno(err, func);
}
%}

%apply (int **ARGOUTVIEWM_ARRAY1, int *DIM1) {(int **managed, int *n_managed)}
%apply (int **ARGOUTVIEW_ARRAY1, int *DIM1) {(int **leaking, int *n_leaking)}

/* alloc only calls malloc, which touches none of the block: the GIL is kept. */
%exception alloc_managed EZ_CALL(0, ez_raise_alloc(ez_err, "alloc_managed", arg1))
%exception alloc_leaking EZ_CALL(0, ez_raise_alloc(ez_err, "alloc_leaking", arg1))

%feature("docstring") alloc_managed
"alloc_managed(ni) -> numpy array of ni C ints (uninitialised) that owns its
block; the block is freed when the last array or view using it is gone.
MemoryError when malloc fails (a negative ni always fails).";

%feature("docstring") alloc_leaking
"alloc_leaking(ni) -> numpy array of ni C ints that only views its block:
the block is never freed (kept to demonstrate the leak).";

%inline %{
static void alloc_managed(int ni, int **managed, int *n_managed)
{
    alloc(ni, managed, n_managed);
}

static void alloc_leaking(int ni, int **leaking, int *n_leaking)
{
    alloc(ni, leaking, n_leaking);
}
%}

%{
#ifndef NPY_RAVEL_AXIS
#define NPY_RAVEL_AXIS NPY_MAXDIMS
#endif

/* 1 when every value of the integer array `a` fits in a C int, 0 when not,
 * -1 with an exception set. */
static int ez_fits_in_int(PyArrayObject *a)
{
    PyObject *bound;
    long value;
    int overflow = 0;

    if (PyArray_SIZE(a) == 0)
        return 1;
    bound = PyArray_Min(a, NPY_RAVEL_AXIS, NULL);
    if (bound == NULL)
        return -1;
    value = PyLong_AsLongAndOverflow(bound, &overflow);
    Py_DECREF(bound);
    if (value == -1 && PyErr_Occurred())
        return -1;
    if (overflow != 0 || value < INT_MIN)
        return 0;
    bound = PyArray_Max(a, NPY_RAVEL_AXIS, NULL);
    if (bound == NULL)
        return -1;
    value = PyLong_AsLongAndOverflow(bound, &overflow);
    Py_DECREF(bound);
    if (value == -1 && PyErr_Occurred())
        return -1;
    return overflow == 0 && value <= INT_MAX;
}

/* A new reference to an aligned, C-contiguous 2-D intc array with the values
 * of `obj`, or NULL with an exception set.
 *
 * First the array to check: `obj` itself when it is a numpy array of native
 * C ints, aligned and C-contiguous (the common case, for a few flag tests,
 * used as it is); else `obj` once its dtype is checked, or numpy's reading of
 * an array-like once its values are. Then its number of axes and its shape,
 * once for all three, before any copy: a copy of an array that they refuse
 * (a broadcast view beyond C int, say) would allocate and fill all of it
 * first. The copy runs no Python code (NPY_ARRAY_ENSUREARRAY: a base-class
 * ndarray, so no subclass's __array_finalize__ is called), so that it has
 * exactly the layout checked. */
static PyArrayObject *ez_intc_matrix(PyObject *obj, const char *func)
{
    PyArray_Descr *intc = NULL;
    PyArrayObject *arr = NULL;
    PyArrayObject *out = NULL;
    int ready = 0;

    if (PyArray_Check(obj)) {
        PyArrayObject *a = (PyArrayObject *)obj;
        ready = PyArray_TYPE(a) == NPY_INT && PyArray_ISNOTSWAPPED(a) &&
                PyArray_IS_C_CONTIGUOUS(a) && PyArray_ISALIGNED(a);
        if (!ready) {
            PyArray_Descr *descr = PyArray_DESCR(a);
            intc = PyArray_DescrFromType(NPY_INT);
            if (!PyArray_EquivTypes(descr, intc)) {
                /* ezalloc.crop copies windows of the dtypes it accepts. */
                int copyable = !PyDataType_REFCHK(descr) && descr->type_num < NPY_NTYPES_LEGACY;
                PyErr_Format(PyExc_TypeError,
                             "%s: expected an array of dtype intc (C int, %S), got dtype %S%s",
                             func, (PyObject *)intc, (PyObject *)descr,
                             copyable ? "; ezalloc.crop(a, np.s_[d1_0:d1_1, d2_0:d2_1]) copies "
                                        "windows of any such dtype" : "");
                goto done;
            }
        }
        Py_INCREF(obj);
        arr = a;
    } else {
        intc = PyArray_DescrFromType(NPY_INT);
        /* Let numpy read the values as they are first, so that floats,
         * booleans or out-of-range integers are refused, not truncated. */
        arr = (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
        if (arr == NULL)
            goto done;
        if (!PyArray_EquivTypes(PyArray_DESCR(arr), intc) && PyArray_SIZE(arr) > 0) {
            int fits;
            if (!PyArray_ISINTEGER(arr)) {
                PyErr_Format(PyExc_TypeError,
                             "%s: expected integers for an intc (C int, %S) array, got values of dtype %S",
                             func, (PyObject *)intc, (PyObject *)PyArray_DESCR(arr));
                goto done;
            }
            fits = ez_fits_in_int(arr);
            if (fits <= 0) {
                if (fits == 0)
                    PyErr_Format(PyExc_OverflowError,
                                 "%s: array values do not fit in a C int", func);
                goto done;
            }
        }
    }
    if (PyArray_NDIM(arr) != 2) {
        PyErr_Format(PyExc_TypeError, "%s: expected a 2-D array, got %d dimension(s)",
                     func, PyArray_NDIM(arr));
        goto done;
    }
    if (PyArray_DIM(arr, 0) > INT_MAX || PyArray_DIM(arr, 1) > INT_MAX) {
        PyErr_Format(PyExc_OverflowError,
                     "%s: array shape (%zd, %zd) does not fit in C ints", func,
                     (Py_ssize_t)PyArray_DIM(arr, 0), (Py_ssize_t)PyArray_DIM(arr, 1));
        goto done;
    }
    if (ready) {
        out = arr;          /* the reference passes to the caller */
        arr = NULL;
    } else {
        /* Casts (array-likes only, checked above) and makes it aligned and
         * C-contiguous: a copy, or `arr` itself when it already is (a
         * base-class view of it, for a subclass). */
        Py_INCREF(intc);
        out = (PyArrayObject *)PyArray_FromArray(arr, intc, NPY_ARRAY_IN_ARRAY |
                                                 NPY_ARRAY_FORCECAST | NPY_ARRAY_ENSUREARRAY);
    }
done:
    Py_XDECREF(arr);
    Py_XDECREF(intc);
    return out;
}

/* crop() failed: IndexError naming the window and the shape for EPERM,
 * MemoryError naming the size for ENOMEM. */
static void ez_raise_crop(int err, int dim1, int dim2,
                          int d1_0, int d1_1, int d2_0, int d2_1)
{
    if (err == EPERM)
        ez_raise_errno_format(err,
                              "crop: window [%d:%d, %d:%d] does not fit an array of shape "
                              "(%d, %d): need 0 <= d1_0 <= d1_1 < %d and 0 <= d2_0 <= d2_1 < %d",
                              d1_0, d1_1, d2_0, d2_1, dim1, dim2, dim1, dim2);
    else if (err == ENOMEM)
        ez_raise_errno_format(err, "crop: malloc of a %d x %d int block failed (ENOMEM)",
                              d1_1 - d1_0, d2_1 - d2_0);
    else
        ez_raise_errno(err, "crop");
}
%}

/* The array is converted, and its data and shape read, in the check
 * typemap, which SWIG runs after the `in` typemaps of every argument: the
 * integer arguments' __index__ (Python code, which may change the array)
 * has run by then. `in_array` holds the array until the call returned. */
%typemap(in) (int *arr_in, int dim1, int dim2) (PyObject *in_object = NULL, PyArrayObject *in_array = NULL)
{
    in_object = $input;    /* borrowed: the argument tuple holds it */
}
%typemap(check) (int *arr_in, int dim1, int dim2)
{
    in_array$argnum = ez_intc_matrix(in_object$argnum, "$symname");
    if (in_array$argnum == NULL) SWIG_fail;
    $1 = (int *)PyArray_DATA(in_array$argnum);
    $2 = (int)PyArray_DIM(in_array$argnum, 0);
    $3 = (int)PyArray_DIM(in_array$argnum, 1);
}
%typemap(freearg) (int *arr_in, int dim1, int dim2)
{
    Py_XDECREF(in_array$argnum);
}

%apply (int **ARGOUTVIEWM_ARRAY2, int *DIM1, int *DIM2) {(int **arr_out, int *dim1_out, int *dim2_out)}

/* The GIL is released for windows of EZ_NOGIL_BYTES (ezerrno.i) or more,
 * as ezalloc.crop does; `in_array` (held) keeps the input alive meanwhile. */
%{
#define EZ_CROP_NOGIL(d1_0, d1_1, d2_0, d2_1) \
    (((double)(d1_1) - (d1_0)) * ((double)(d2_1) - (d2_0)) * sizeof(int) >= \
     (double)EZ_NOGIL_BYTES)
%}
%exception crop EZ_CALL(EZ_CROP_NOGIL(arg4, arg5, arg6, arg7),
                        ez_raise_crop(ez_err, arg2, arg3, arg4, arg5, arg6, arg7))

%feature("docstring") crop
"crop(a, d1_0, d1_1, d2_0, d2_1) -> a new array equal to a[d1_0:d1_1, d2_0:d2_1]
that owns its block. `a` is a 2-D array of dtype numpy.intc (any layout) or a
nested list of integers that fit in a C int. IndexError unless
0 <= d1_0 <= d1_1 < a.shape[0] and 0 <= d2_0 <= d2_1 < a.shape[1].";

%include "crop.h"
