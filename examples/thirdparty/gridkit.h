/* gridkit: a small C library that returns its results in blocks it
 * allocates, the kind of library ezalloc.i wraps (see gridkit.i).
 *
 * Every function returns 0, or -1 with errno set (EINVAL for a bad
 * argument, ENOMEM when an allocation fails) and its outputs NULL and 0.
 * Blocks are malloc'd, except gk_make_buf's, which come from the library's
 * own allocator and must be released with gk_buf_release(). */
#ifndef GRIDKIT_H
#define GRIDKIT_H

#include <stdint.h>

/* An n x (n + 1) grid of doubles, C order: g[i][j] = i + j / 8.0. */
int gk_make_grid(int n, double **out, int *rows, int *cols);

/* 0 when gk_make_grid accepts n, else -1 with errno EINVAL: a status and
 * no output. */
int gk_check_grid(int n);

/* The counts of each byte value (256 bins) of data[0..n). */
int gk_histogram(const uint8_t *data, int n, uint32_t **counts, int *nbins);

/* A rows x cols ramp of floats in Fortran order: r[i][j] = 100 i + j. */
int gk_fortran_ramp(int rows, int cols, float **out, int *d1, int *d2);

/* A d x (d + 1) x (d + 2) volume of int16_t, C order, the dimensions
 * before the data: v[i][j][k] = 100 i + 10 j + k. */
int gk_volume(int d, int *n1, int *n2, int *n3, int16_t **out);

/* An a x b x c x e tensor of int64_t, C order: t = its C index, negated. */
int gk_tensor(int a, int b, int c, int e, int64_t **out, int *n1, int *n2, int *n3, int *n4);

/* A 2 x 3 x 4 x n tensor of uint16_t in Fortran order, the dimensions
 * before the data: its Fortran index. */
int gk_ftensor(int n, int *n1, int *n2, int *n3, int *n4, uint16_t **out);

/* The negative and the non-negative values of x[0..n), in order: two
 * blocks. */
int gk_split(const double *x, int n, double **neg, int *nneg, double **pos, int *npos);

/* n bytes (0, 1, 2, ... modulo 251) from the library's own allocator: a
 * 64-byte aligned block behind a header. free() must not be called on it:
 * release it with gk_buf_release(). */
int gk_make_buf(int n, unsigned char **buf, int *len);
void gk_buf_release(void *buf);

/* How many blocks of gk_make_buf are not released yet. */
long gk_buf_live(void);

#endif
