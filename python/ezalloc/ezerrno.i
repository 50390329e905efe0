/* ezerrno.i: the exception for an error number (errno) the library reported.
 *
 * ez_raise_errno_format(err, format, ...) raises, with the message that
 * PyUnicode_FromFormat makes of `format`, an instance of the class of
 * ezalloc._errors for `err`: a subclass of the built-in exception (MemoryError
 * for ENOMEM, IndexError for EPERM, ValueError for EINVAL, OSError for any
 * other) that is also an OSError with .errno = err. The classes are looked
 * up when the module is initialised; a module built outside the ezalloc
 * package (no ezalloc._errors) raises the built-in classes, without .errno.
 */

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
