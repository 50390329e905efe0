/* A program that declares the recipe's prototypes itself, beside the
 * generated headers: they must agree, as C99 and as C++. */
#ifndef __cplusplus
/* C allows the declarations before the headers too. */
void alloc(int ni, int** veco, int *n);
#endif

#include "ezalloc.h"
#include "crop.h"

#include <stdlib.h>

void alloc(int ni, int** veco, int *n);
void crop(int *arr_in, int dim1, int dim2, int d1_0, int d1_1, int d2_0, int d2_1, int **arr_out, int *dim1_out, int *dim2_out);

int main(void)
{
    int in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    int *v = NULL, *out = NULL;
    int n = 0, r = 0, c = 0;
    int ok;

    alloc(3, &v, &n);
    crop(in, 3, 3, 1, 2, 0, 2, &out, &r, &c);
    ok = v != NULL && n == 3 && out != NULL && r == 1 && c == 2 &&
         out[0] == 4 && out[1] == 5;
    free(v);
    ezalloc_free(out);
    return ok ? 0 : 1;
}
