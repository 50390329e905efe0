/* The allocation example written the way the SWIG memory-deallocation
 * recipe writes it: the stock numpy.i rules applied to two thin wrappers of
 * alloc(), and the library's own header included as is. Built by the tests
 * against include/ezalloc.h and libezalloc.a. */
%module recipe_ezalloc
%{
#define SWIG_FILE_WITH_INIT
#include <errno.h>
#include "ezalloc.h"
%}

%include "numpy.i"

%init %{
    import_array();
%}

%apply (int **ARGOUTVIEWM_ARRAY1, int *DIM1) {(int **owned, int *owned_len)}
%apply (int **ARGOUTVIEW_ARRAY1, int *DIM1) {(int **viewed, int *viewed_len)}

%include "ezalloc.h"

%exception {
    errno = 0;
    $action
    if (errno != 0) {
        if (errno == ENOMEM)
            PyErr_SetString(PyExc_MemoryError, "malloc() failed");
        else
            PyErr_SetString(PyExc_Exception, "unexpected errno");
        SWIG_fail;
    }
}

%rename (alloc_managed) recipe_alloc_owned;
%rename (alloc_leaking) recipe_alloc_viewed;

%inline %{
void recipe_alloc_owned(int ni, int **owned, int *owned_len)
{
    alloc(ni, owned, owned_len);
}

void recipe_alloc_viewed(int ni, int **viewed, int *viewed_len)
{
    alloc(ni, viewed, viewed_len);
}
%}
