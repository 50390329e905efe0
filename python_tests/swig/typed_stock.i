/* The library's typed crops, all 60 of them, wrapped the way the SWIG
 * memory-deallocation recipe wraps a function: stock numpy.i typemaps
 * (IN_ARRAY1/2/3 and IN_FARRAY2/3 for the const input, ARGOUTVIEWM_ARRAY1/2/3
 * and ARGOUTVIEWM_FARRAY2/3 for the output) applied by %apply to the
 * parameter names of include/ezalloc_typed.h. No typemap of the project's
 * own.
 *
 * crop<n> and fcrop<n> have the same parameter names, and SWIG applies a
 * typemap by type and name from its %apply on: test_swig_typed.py appends
 * the header's crop prototypes after EZ_STOCK, then EZ_STOCK_F and the
 * fcrop prototypes, all copied from the header (which the wrapper
 * #includes, so that a prototype that differs from it fails to compile).
 * Built against the header and libezalloc.a. */
%module typed_stock
%{
#define SWIG_FILE_WITH_INIT
#include <errno.h>
#include "ezalloc_typed.h"
%}

%include "numpy.i"

%init %{
    import_array();
%}

/* errno after each call, as the recipe's crop example does it. */
%exception {
    errno = 0;
    $action
    if (errno != 0) {
        switch (errno) {
        case EPERM:  PyErr_SetString(PyExc_IndexError, "bad crop window"); break;
        case ENOMEM: PyErr_SetString(PyExc_MemoryError, "malloc() failed"); break;
        case EINVAL: PyErr_SetString(PyExc_ValueError, "invalid argument"); break;
        default:     PyErr_SetString(PyExc_Exception, "unexpected errno");
        }
        SWIG_fail;
    }
}

%define EZ_STOCK(T)
%apply (T *IN_ARRAY1, int DIM1) {(const T *arr_in, int dim1)}
%apply (T *IN_ARRAY2, int DIM1, int DIM2) {(const T *arr_in, int dim1, int dim2)}
%apply (T *IN_ARRAY3, int DIM1, int DIM2, int DIM3) {(const T *arr_in, int dim1, int dim2, int dim3)}
%apply (T **ARGOUTVIEWM_ARRAY1, int *DIM1) {(T **arr_out, int *dim1_out)}
%apply (T **ARGOUTVIEWM_ARRAY2, int *DIM1, int *DIM2) {(T **arr_out, int *dim1_out, int *dim2_out)}
%apply (T **ARGOUTVIEWM_ARRAY3, int *DIM1, int *DIM2, int *DIM3)
    {(T **arr_out, int *dim1_out, int *dim2_out, int *dim3_out)}
%enddef

/* Fortran order: the same parameter names, so these apply to fcrop2/3
 * only, and the C-order ones above are cleared for them first. */
%define EZ_STOCK_F(T)
%apply (T *IN_FARRAY2, int DIM1, int DIM2) {(const T *arr_in, int dim1, int dim2)}
%apply (T *IN_FARRAY3, int DIM1, int DIM2, int DIM3) {(const T *arr_in, int dim1, int dim2, int dim3)}
%apply (T **ARGOUTVIEWM_FARRAY2, int *DIM1, int *DIM2) {(T **arr_out, int *dim1_out, int *dim2_out)}
%apply (T **ARGOUTVIEWM_FARRAY3, int *DIM1, int *DIM2, int *DIM3)
    {(T **arr_out, int *dim1_out, int *dim2_out, int *dim3_out)}
%enddef
