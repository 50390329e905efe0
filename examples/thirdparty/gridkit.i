/* gridkit.i: the gridkit C library (gridkit.h) for Python, through
 * ezalloc.i. Every result array owns its block: numpy releases it when the
 * last array or view using it is gone. gk_make_buf's blocks come from the
 * library's own allocator and are released with gk_buf_release().
 *
 *     swig -python -I"$(python -m ezalloc.swig)" gridkit.i
 */
%module gridkit

%{
#define SWIG_FILE_WITH_INIT
#include <errno.h>
#include "gridkit.h"
%}

%include <stdint.i>
%include "ezalloc.i"

%init %{
    import_array();
%}

/* The library's status, 0 or -1 with errno set, is an exception or
 * nothing: the output arrays alone are the result (a NULL result is
 * replaced by the first output, whatever the SWIG version), and a
 * function without outputs returns None (the ret typemap runs after the
 * outputs are appended). */
%typemap(out) int {
    if ($1 != 0) {
        PyErr_SetFromErrno(errno == ENOMEM ? PyExc_MemoryError : PyExc_ValueError);
        SWIG_fail;
    }
    $result = NULL;
}
%typemap(ret) int {
    if ($result == NULL)
        $result = SWIG_Py_Void();
}

%apply (double **ARGOUTVIEWM_ARRAY2, int *DIM1, int *DIM2) {(double **out, int *rows, int *cols)}
%apply (uint8_t *IN_ARRAY1, int DIM1) {(const uint8_t *data, int n)}
%apply (uint32_t **ARGOUTVIEWM_ARRAY1, int *DIM1) {(uint32_t **counts, int *nbins)}
%apply (float **ARGOUTVIEWM_FARRAY2, int *DIM1, int *DIM2) {(float **out, int *d1, int *d2)}
%apply (int *DIM1, int *DIM2, int *DIM3, int16_t **ARGOUTVIEWM_ARRAY3)
    {(int *n1, int *n2, int *n3, int16_t **out)}
%apply (int64_t **ARGOUTVIEWM_ARRAY4, int *DIM1, int *DIM2, int *DIM3, int *DIM4)
    {(int64_t **out, int *n1, int *n2, int *n3, int *n4)}
%apply (int *DIM1, int *DIM2, int *DIM3, int *DIM4, uint16_t **ARGOUTVIEWM_FARRAY4)
    {(int *n1, int *n2, int *n3, int *n4, uint16_t **out)}
%apply (double *IN_ARRAY1, int DIM1) {(const double *x, int n)}
%apply (double **ARGOUTVIEWM_ARRAY1, int *DIM1) {(double **neg, int *nneg), (double **pos, int *npos)}
%apply (unsigned char **ARGOUTVIEWM_ARRAY1, int *DIM1) {(unsigned char **buf, int *len)}

/* gk_make_buf's blocks are released by the library, not by free(). */
%ezalloc_deallocator(gk_make_buf, gk_buf_release);

%include "gridkit.h"
