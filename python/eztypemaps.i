/* eztypemaps.i: what ezalloc.i and crop.i share.
 *
 * - EZ_PRELUDE: numpy.i, import_array() and the C helpers below.
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
#include <string.h>
%}

%include "numpy.i"

%init %{
    import_array();
%}

%{
/* The exception type for an errno value set by the library. */
static PyObject *ez_exception_for(int err)
{
    switch (err) {
    case ENOMEM: return PyExc_MemoryError;
    case EPERM:  return PyExc_IndexError;
    case EINVAL: return PyExc_ValueError;
    default:     return PyExc_Exception;
    }
}

/* Raises the exception for an errno value that has no more specific
 * message: EINVAL and anything unexpected. */
static void ez_raise_errno(int err, const char *func)
{
    if (err == EINVAL)
        PyErr_Format(PyExc_ValueError,
                     "%s: invalid argument (EINVAL: a NULL or misaligned pointer reached the library)",
                     func);
    else
        PyErr_Format(ez_exception_for(err), "%s: failed with errno %d (%s)",
                     func, err, strerror(err));
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
