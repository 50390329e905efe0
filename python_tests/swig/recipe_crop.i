/* The crop example written the way the SWIG memory-deallocation recipe
 * writes it: numpy.i's IN_ARRAY2 and ARGOUTVIEWM_ARRAY2 applied to the
 * parameter names of the library's own crop.h, which is included as is.
 * Built by the tests against include/crop.h and libezalloc.a. */
%module recipe_crop
%{
#define SWIG_FILE_WITH_INIT
#include <errno.h>
#include "crop.h"
%}

%include "numpy.i"

%init %{
    import_array();
%}

%exception crop {
    errno = 0;
    $action
    if (errno != 0) {
        switch (errno) {
        case EPERM:
            PyErr_SetString(PyExc_IndexError, "bad crop window");
            break;
        case ENOMEM:
            PyErr_SetString(PyExc_MemoryError, "malloc() failed");
            break;
        default:
            PyErr_SetString(PyExc_Exception, "unexpected errno");
        }
        SWIG_fail;
    }
}

%apply (int *IN_ARRAY2, int DIM1, int DIM2) {(int *arr_in, int dim1, int dim2)}
%apply (int **ARGOUTVIEWM_ARRAY2, int *DIM1, int *DIM2) {(int **arr_out, int *dim1_out, int *dim2_out)}

%include "crop.h"
