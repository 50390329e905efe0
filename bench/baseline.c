/* Baselines for `make bench`, timed in C so that no interpreter cost is
 * counted: the element-by-element copy loop of a naive crop into a fresh
 * malloc block, the library's crop() called from C, and memcpy of each row
 * into memory that is already touched (the ceiling for any copy).
 * Each function runs `reps` times and returns the best time in seconds. */
#define _POSIX_C_SOURCE 199309L
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crop.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The classic loop: one element at a time, into a fresh block. */
double bench_naive_crop(const int *in, int dim2, int d1_0, int d1_1, int d2_0,
                        int d2_1, int reps)
{
    int rows = d1_1 - d1_0, cols = d2_1 - d2_0;
    double best = 1e30;
    int rep, i, j;

    for (rep = 0; rep < reps; rep++) {
        double t = now();
        int *out = malloc((size_t)rows * (size_t)cols * sizeof(int));
        if (out == NULL)
            return -1.0;
        for (j = 0; j < rows; j++)
            for (i = 0; i < cols; i++)
                out[(size_t)j * cols + i] = in[(size_t)(j + d1_0) * dim2 + (i + d2_0)];
        t = now() - t;
        /* Keep the copy observable so the loop is not optimised away. */
        if (rows > 0 && cols > 0 && out[0] != in[(size_t)d1_0 * dim2 + d2_0])
            t = -1.0;
        free(out);
        if (t >= 0 && t < best)
            best = t;
    }
    return best;
}

/* The library's crop(), called from C. */
double bench_lib_crop(const int *in, int dim1, int dim2, int d1_0, int d1_1,
                      int d2_0, int d2_1, int reps)
{
    double best = 1e30;
    int rep, r, c;

    for (rep = 0; rep < reps; rep++) {
        int *out;
        double t = now();
        crop((int *)in, dim1, dim2, d1_0, d1_1, d2_0, d2_1, &out, &r, &c);
        t = now() - t;
        if (out == NULL)
            return -1.0;
        free(out);
        if (t < best)
            best = t;
    }
    return best;
}

/* memcpy of each row into one block that was written beforehand: no page
 * fault, no allocation. */
double bench_memcpy_touched(const int *in, int dim2, int d1_0, int d1_1,
                            int d2_0, int d2_1, int reps)
{
    int rows = d1_1 - d1_0, cols = d2_1 - d2_0;
    size_t bytes = (size_t)rows * (size_t)cols * sizeof(int);
    int *out = malloc(bytes ? bytes : 1);
    double best = 1e30;
    int rep, j;

    if (out == NULL)
        return -1.0;
    memset(out, 1, bytes);
    for (rep = 0; rep < reps; rep++) {
        double t = now();
        for (j = 0; j < rows; j++)
            memcpy(out + (size_t)j * cols, in + (size_t)(j + d1_0) * dim2 + d2_0,
                   (size_t)cols * sizeof(int));
        t = now() - t;
        if (t < best)
            best = t;
    }
    free(out);
    return best;
}
