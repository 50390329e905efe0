/* Stand-ins for the library's functions that fail with a chosen errno, so
 * that the tests can reach every errno-to-exception mapping of the front
 * ends, including those the real library never produces from Python.
 *
 * alloc(ni, ...) fails with errno = ni; crop(..., d1_0, ...) fails with
 * errno = d1_0. Both write NULL blocks and zero dimensions. */
#include <errno.h>
#include <stdlib.h>

#include "crop.h"
#include "ezalloc.h"

void alloc(int ni, int **veco, int *n)
{
    *veco = NULL;
    *n = 0;
    errno = ni;
}

void ezalloc_free(void *ptr)
{
    free(ptr);
}

void crop(int *arr_in, int dim1, int dim2, int d1_0, int d1_1, int d2_0,
          int d2_1, int **arr_out, int *dim1_out, int *dim2_out)
{
    (void)arr_in; (void)dim1; (void)dim2; (void)d1_1; (void)d2_0; (void)d2_1;
    *arr_out = NULL;
    *dim1_out = 0;
    *dim2_out = 0;
    errno = d1_0;
}
