/* The recipe's two demonstrations, from C, through libezalloc:
 *   1. 2048 allocations of 1024*1024 ints: released each time ("Done!"),
 *      then leaked each time under an address-space cap ("Step N failed").
 *   2. crop() of a 5 x 9 window, compared with the same slice taken by hand.
 * Build: cc demo.c $(pkg-config --cflags --libs ezalloc) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "crop.h"
#include "ezalloc.h"

#define STEPS 2048
#define INTS (1024 * 1024)
#define CAP_MIB 1024L

static int allocation_demo(void)
{
    struct rlimit cap;
    int i, n;
    int *v;
    int **kept;

    printf("managed (freed each time) - %d allocations (%lu bytes each)\n", STEPS,
           (unsigned long)(INTS * sizeof(int)));
    for (i = 0; i < STEPS; i++) {
        alloc(INTS, &v, &n);
        if (v == NULL) {
            printf("Step %d failed: %s\n", i, strerror(errno));
            return 1;
        }
        ezalloc_free(v);
    }
    printf("Done!\n\n");

    /* The leaking variant keeps every block; under a cap on the address
     * space, malloc soon fails. */
    cap.rlim_cur = cap.rlim_max = (rlim_t)CAP_MIB << 20;
    if (setrlimit(RLIMIT_AS, &cap) != 0) {
        perror("setrlimit");
        return 1;
    }
    printf("leaking (never freed) - %d allocations, address space capped at %ld MiB\n",
           STEPS, CAP_MIB);
    kept = calloc(STEPS, sizeof *kept);
    for (i = 0; i < STEPS && kept != NULL; i++) {
        errno = 0;
        alloc(INTS, &kept[i], &n);
        if (kept[i] == NULL) {
            printf("Step %d failed (errno %s)\n\n", i, errno == ENOMEM ? "ENOMEM" : "?");
            break;
        }
    }
    if (i == STEPS)
        printf("Done? Increase the number of steps!\n\n");
    while (kept != NULL && i-- > 0)
        ezalloc_free(kept[i]);
    free(kept);
    return 0;
}

static void print_matrix(const int *a, int rows, int cols, int stride)
{
    int r, c;
    for (r = 0; r < rows; r++) {
        for (c = 0; c < cols; c++)
            printf("%6d", a[r * stride + c]);
        printf("\n");
    }
}

static int crop_demo(void)
{
    int a[5 * 9];
    int r, c, p = 1, same = 1;
    int *out = NULL;
    int rows = 0, cols = 0;
    const int d1_0 = 2, d1_1 = 4, d2_0 = 1, d2_1 = 5;

    for (r = 0; r < 5; r++, p *= 10)
        for (c = 0; c < 9; c++)
            a[r * 9 + c] = (c + 1) * p;
    print_matrix(a, 5, 9, 9);
    printf("dim1=5 dim2=9\n");

    crop(a, 5, 9, d1_0, d1_1, d2_0, d2_1, &out, &rows, &cols);
    if (out == NULL) {
        printf("crop failed: %s\n", strerror(errno));
        return 1;
    }
    printf("returned array (%d x %d):\n", rows, cols);
    print_matrix(out, rows, cols, cols);
    printf("slice taken by hand:\n");
    print_matrix(a + d1_0 * 9 + d2_0, d1_1 - d1_0, d2_1 - d2_0, 9);
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++)
            same &= out[r * cols + c] == a[(r + d1_0) * 9 + c + d2_0];
    printf("equal: %s\n", same ? "yes" : "NO");
    free(out);
    return same ? 0 : 1;
}

int main(void)
{
    int status = crop_demo();
    printf("\n");
    return allocation_demo() || status;
}
