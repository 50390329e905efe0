/* eztypemaps.i: the typemaps and helpers of the ezalloc.recipe module.
 *
 * - numpy.i, import_array() and the C helpers below.
 * - EZ_MANAGED1 / EZ_MANAGED2: the project's own argout typemaps for a
 *   malloc'd block handed to numpy (what numpy.i's ARGOUTVIEWM_ARRAY1/2 do),
 *   except that every CPython and numpy call is checked and the block is
 *   freed on every failure: stock ARGOUTVIEWM leaks the block when
 *   PyArray_SimpleNewFromData fails, and leaves PyCapsule_New and
 *   PyArray_SetBaseObject unchecked (a SystemError, or a leak).
 * - A typemap for every plain `int` argument that accepts any integer
 *   (Python int, numpy integer scalar, anything with __index__), refuses
 *   floats with TypeError and values outside C int with OverflowError.
 * - EZ_CALL(report): the body of an %exception that releases the GIL around
 *   the call, reads errno on the same thread right after it, and on a
 *   non-zero errno runs `report` (which raises) and fails.
 */

%{
#define SWIG_FILE_WITH_INIT
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
%}

%include "numpy.i"

%init %{
    import_array();
%}

%include "ezerrno.i"

%{
/* Raises the exception for an errno value that has no more specific
 * message: EINVAL and anything unexpected (ezerrno.i: an OSError too, with
 * .errno). */
static void ez_raise_errno(int err, const char *func)
{
    if (err == EINVAL)
        ez_raise_errno_format(err,
                              "%s: invalid argument (EINVAL: a NULL or misaligned pointer "
                              "reached the library)", func);
    else
        ez_raise_errno_format(err, "%s: failed with errno %d (%s)", func, err, strerror(err));
}

/* Converts any integer (anything with __index__) to a C int. */
static int ez_as_int(PyObject *obj, int *out, const char *func, const char *arg)
{
    PyObject *index = PyNumber_Index(obj);
    long value;
    int overflow = 0;

    if (index == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            /* The type's __name__ ('float64', not tp_name's
             * 'numpy.float64'), as the ctypes module reports it. */
            PyObject *name;
            PyErr_Clear();
            name = PyObject_GetAttrString((PyObject *)Py_TYPE(obj), "__name__");
            if (name == NULL)
                return -1;
            PyErr_Format(PyExc_TypeError,
                         "%s: argument '%s' must be an integer, not '%S'",
                         func, arg, name);
            Py_DECREF(name);
        }
        return -1;
    }
    value = PyLong_AsLongAndOverflow(index, &overflow);
    if (value == -1 && PyErr_Occurred()) {
        Py_DECREF(index);
        return -1;
    }
    if (overflow != 0 || value < INT_MIN || value > INT_MAX) {
        PyErr_Format(PyExc_OverflowError,
                     "%s: argument '%s' = %S does not fit in a C int",
                     func, arg, index);
        Py_DECREF(index);
        return -1;
    }
    Py_DECREF(index);
    *out = (int)value;
    return 0;
}
%}

%{
#define EZ_BLOCK_CAPSULE "ezalloc.block"

/* The capsule owns the block: free() it when numpy drops its base. */
static void ez_free_block(PyObject *capsule)
{
    free(PyCapsule_GetPointer(capsule, EZ_BLOCK_CAPSULE));
}

/* A new C-int ndarray of shape dims[0..nd) over the malloc'd block `data`,
 * which it owns from then on (its base is a capsule that frees the block).
 * On failure: NULL with an exception set, and the block freed. */
static PyObject *ez_own_block(int *data, int nd, npy_intp *dims)
{
    PyObject *array;
    PyObject *capsule;

    if (data == NULL)    /* nothing to own (no element): numpy allocates */
        return PyArray_SimpleNew(nd, dims, NPY_INT);
    array = PyArray_SimpleNewFromData(nd, dims, NPY_INT, (void *)data);
    if (array == NULL) {
        free(data);
        return NULL;
    }
    capsule = PyCapsule_New((void *)data, EZ_BLOCK_CAPSULE, ez_free_block);
    if (capsule == NULL) {
        Py_DECREF(array);    /* a view: it does not free the block */
        free(data);
        return NULL;
    }
    /* Steals the capsule, also when it fails: numpy then releases it, and
     * the capsule's destructor frees the block. */
    if (PyArray_SetBaseObject((PyArrayObject *)array, capsule) < 0) {
        Py_DECREF(array);
        return NULL;
    }
    return array;
}
%}

%typemap(in, numinputs=0) (int **EZ_MANAGED1, int *EZ_DIM1)
    (int *ez_data = NULL, int ez_dim1 = 0)
{
    $1 = &ez_data;
    $2 = &ez_dim1;
}
/* A block the call returned but that never reached an array (a failure
 * reported after it was allocated): freed. NULL once an array owns it. */
%typemap(freearg) (int **EZ_MANAGED1, int *EZ_DIM1)
{
    free(ez_data$argnum);
}
%typemap(argout) (int **EZ_MANAGED1, int *EZ_DIM1)
{
    npy_intp ez_dims[1];
    PyObject *ez_array;
    ez_dims[0] = *$2;
    ez_array = ez_own_block(*$1, 1, ez_dims);
    *$1 = NULL;    /* owned by ez_array now, or freed */
    if (ez_array == NULL) SWIG_fail;
    $result = SWIG_AppendOutput($result, ez_array);
}

%typemap(in, numinputs=0) (int **EZ_MANAGED2, int *EZ_DIM1, int *EZ_DIM2)
    (int *ez_data = NULL, int ez_dim1 = 0, int ez_dim2 = 0)
{
    $1 = &ez_data;
    $2 = &ez_dim1;
    $3 = &ez_dim2;
}
%typemap(freearg) (int **EZ_MANAGED2, int *EZ_DIM1, int *EZ_DIM2)
{
    free(ez_data$argnum);
}
%typemap(argout) (int **EZ_MANAGED2, int *EZ_DIM1, int *EZ_DIM2)
{
    npy_intp ez_dims[2];
    PyObject *ez_array;
    ez_dims[0] = *$2;
    ez_dims[1] = *$3;
    ez_array = ez_own_block(*$1, 2, ez_dims);
    *$1 = NULL;
    if (ez_array == NULL) SWIG_fail;
    $result = SWIG_AppendOutput($result, ez_array);
}

%typemap(in) int {
    if (ez_as_int($input, &$1, "$symname", "$1_name") < 0) SWIG_fail;
}

%define EZ_CALL(report)
{
    int ez_err;
    Py_BEGIN_ALLOW_THREADS
    errno = 0;
    $action
    ez_err = errno;
    Py_END_ALLOW_THREADS
    if (ez_err != 0) {
        report;
        SWIG_fail;
    }
}
%enddef
