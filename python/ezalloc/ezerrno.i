/* ezerrno.i: the errno-to-exception helpers of the package's own modules
 * (internal; not installed).
 *
 * - ez_raise_errno_format(err, format, ...) raises, with the message that
 *   PyUnicode_FromFormat makes of `format`, an instance of the class of
 *   ezalloc._errors for `err`: a subclass of the built-in exception
 *   (MemoryError for ENOMEM, IndexError for EPERM, ValueError for EINVAL,
 *   OSError for any other) that is also an OSError with .errno = err. The
 *   classes are looked up when the module is initialised; a module built
 *   outside the ezalloc package (no ezalloc._errors) raises the built-in
 *   classes, without .errno.
 * - ez_raise_errno(err, func): the same, with the message for an errno that
 *   has no more specific one (EINVAL and anything unexpected).
 * - EZ_CALL(release, report): the body of an %exception that makes the call
 *   (with the GIL released when the C expression `release` is true: for
 *   long calls only, since releasing and taking it back costs more than a
 *   small call itself), reads errno on the same thread right after it, and
 *   on a non-zero errno runs `report` (which raises) and fails.
 * - EZ_NOGIL_BYTES: what "long" means for both modules' crops: outputs of
 *   at least this many bytes are copied with the GIL released.
 */

%{
#include <errno.h>
#include <string.h>
%}

%{
/* Outputs of at least this many bytes (1 MiB) are copied with the GIL
 * released, by recipe.crop and ezalloc.crop alike: below it, releasing and
 * taking it back costs more than it frees. */
#define EZ_NOGIL_BYTES ((size_t)1 << 20)
%}

%{
#include <errno.h>
#include <stdarg.h>

/* ezalloc._errors's classes for ENOMEM, EPERM, EINVAL and any other errno;
 * NULL when they could not be looked up. */
static PyObject *ez_errno_classes[4];

static int ez_errno_slot(int err)
{
    return err == ENOMEM ? 0 : err == EPERM ? 1 : err == EINVAL ? 2 : 3;
}

static void ez_errno_init(void)
{
    static const char *const names[4] = {
        "ErrnoMemoryError", "ErrnoIndexError", "ErrnoValueError", "ErrnoError"
    };
    PyObject *module = PyImport_ImportModule("ezalloc._errors");
    int k;

    if (module == NULL) {
        PyErr_Clear();
        return;
    }
    for (k = 0; k < 4; k++) {
        ez_errno_classes[k] = PyObject_GetAttrString(module, names[k]);
        if (ez_errno_classes[k] == NULL)
            PyErr_Clear();
    }
    Py_DECREF(module);
}

static void ez_raise_errno_format(int err, const char *format, ...)
{
    static PyObject *const *const builtin[4] = {
        &PyExc_MemoryError, &PyExc_IndexError, &PyExc_ValueError, &PyExc_OSError
    };
    int slot = ez_errno_slot(err);
    PyObject *cls = ez_errno_classes[slot];
    PyObject *message, *exc, *value;
    va_list va;

    va_start(va, format);
    message = PyUnicode_FromFormatV(format, va);
    va_end(va);
    if (message == NULL)
        return;
    if (cls == NULL) {
        PyErr_SetObject(*builtin[slot], message);
        Py_DECREF(message);
        return;
    }
    exc = PyObject_CallOneArg(cls, message);
    Py_DECREF(message);
    if (exc == NULL)
        return;
    value = PyLong_FromLong(err);
    if (value == NULL || PyObject_SetAttrString(exc, "errno", value) < 0) {
        Py_XDECREF(value);
        Py_DECREF(exc);
        return;
    }
    Py_DECREF(value);
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
}
%}

%init %{
    ez_errno_init();
%}

%{
/* Raises the exception for an errno value that has no more specific
 * message: EINVAL and anything unexpected. */
static void ez_raise_errno(int err, const char *func)
{
    if (err == EINVAL)
        ez_raise_errno_format(err,
                              "%s: invalid argument (EINVAL: a NULL or misaligned pointer "
                              "reached the library)", func);
    else
        ez_raise_errno_format(err, "%s: failed with errno %d (%s)", func, err, strerror(err));
}
%}

%define EZ_CALL(release, report)
{
    int ez_err;
    if (release) {
        Py_BEGIN_ALLOW_THREADS
        errno = 0;
        $action
        ez_err = errno;
        Py_END_ALLOW_THREADS
    } else {
        errno = 0;
        $action
        ez_err = errno;
    }
    if (ez_err != 0) {
        report;
        SWIG_fail;
    }
}
%enddef
