/* ezerrno.i: the errno-to-exception helpers of the package's own modules
 * (internal; not installed).
 *
 * - ez_exception_for(err) and ez_raise_errno(err, func): the Python
 *   exception for an errno value set by the library.
 * - EZ_CALL(report): the body of an %exception that releases the GIL around
 *   the call, reads errno on the same thread right after it, and on a
 *   non-zero errno runs `report` (which raises) and fails.
 */

%{
#include <errno.h>
#include <string.h>
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
%}

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
