/* gridkit: see gridkit.h. */
#define _POSIX_C_SOURCE 200112L      /* posix_memalign */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gridkit.h"

#define GK_HEADER 64
#define GK_MAGIC 0x67726964u            /* "grid" */

static long live_buffers;

/* n elements of `size` bytes, or NULL with errno set. */
static void *gk_alloc(long n, size_t size)
{
    void *p;
    if (n < 0) {
        errno = EINVAL;
        return NULL;
    }
    p = malloc(n == 0 ? 1 : (size_t)n * size);
    if (p == NULL)
        errno = ENOMEM;
    return p;
}

int gk_check_grid(int n)
{
    if (n < 0 || n > 46340) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int gk_make_grid(int n, double **out, int *rows, int *cols)
{
    double *g;
    int i, j;
    *out = NULL;
    *rows = *cols = 0;
    if (gk_check_grid(n) != 0)
        return -1;
    g = gk_alloc((long)n * (n + 1), sizeof *g);
    if (g == NULL)
        return -1;
    for (i = 0; i < n; i++)
        for (j = 0; j <= n; j++)
            g[(long)i * (n + 1) + j] = i + j / 8.0;
    *out = g;
    *rows = n;
    *cols = n + 1;
    return 0;
}

int gk_histogram(const uint8_t *data, int n, uint32_t **counts, int *nbins)
{
    uint32_t *c;
    int i;
    *counts = NULL;
    *nbins = 0;
    c = gk_alloc(256, sizeof *c);
    if (c == NULL)
        return -1;
    memset(c, 0, 256 * sizeof *c);
    for (i = 0; i < n; i++)
        c[data[i]]++;
    *counts = c;
    *nbins = 256;
    return 0;
}

int gk_fortran_ramp(int rows, int cols, float **out, int *d1, int *d2)
{
    float *r;
    int i, j;
    *out = NULL;
    *d1 = *d2 = 0;
    if (rows < 0 || cols < 0) {
        errno = EINVAL;
        return -1;
    }
    r = gk_alloc((long)rows * cols, sizeof *r);
    if (r == NULL)
        return -1;
    for (j = 0; j < cols; j++)
        for (i = 0; i < rows; i++)
            r[(long)j * rows + i] = 100.0f * i + j;
    *out = r;
    *d1 = rows;
    *d2 = cols;
    return 0;
}

int gk_volume(int d, int *n1, int *n2, int *n3, int16_t **out)
{
    int16_t *v;
    int i, j, k;
    *out = NULL;
    *n1 = *n2 = *n3 = 0;
    if (d < 0 || d > 60) {
        errno = EINVAL;
        return -1;
    }
    v = gk_alloc((long)d * (d + 1) * (d + 2), sizeof *v);
    if (v == NULL)
        return -1;
    for (i = 0; i < d; i++)
        for (j = 0; j < d + 1; j++)
            for (k = 0; k < d + 2; k++)
                v[((long)i * (d + 1) + j) * (d + 2) + k] = (int16_t)(100 * i + 10 * j + k);
    *out = v;
    *n1 = d;
    *n2 = d + 1;
    *n3 = d + 2;
    return 0;
}

int gk_tensor(int a, int b, int c, int e, int64_t **out, int *n1, int *n2, int *n3, int *n4)
{
    int64_t *t;
    long i, n;
    *out = NULL;
    *n1 = *n2 = *n3 = *n4 = 0;
    if (a < 0 || b < 0 || c < 0 || e < 0) {
        errno = EINVAL;
        return -1;
    }
    n = (long)a * b * c * e;
    t = gk_alloc(n, sizeof *t);
    if (t == NULL)
        return -1;
    for (i = 0; i < n; i++)
        t[i] = -i;
    *out = t;
    *n1 = a;
    *n2 = b;
    *n3 = c;
    *n4 = e;
    return 0;
}

int gk_ftensor(int n, int *n1, int *n2, int *n3, int *n4, uint16_t **out)
{
    uint16_t *t;
    long i, count;
    *out = NULL;
    *n1 = *n2 = *n3 = *n4 = 0;
    if (n < 0 || n > 2000) {
        errno = EINVAL;
        return -1;
    }
    count = 24L * n;
    t = gk_alloc(count, sizeof *t);
    if (t == NULL)
        return -1;
    for (i = 0; i < count; i++)
        t[i] = (uint16_t)i;
    *out = t;
    *n1 = 2;
    *n2 = 3;
    *n3 = 4;
    *n4 = n;
    return 0;
}

int gk_split(const double *x, int n, double **neg, int *nneg, double **pos, int *npos)
{
    double *lo, *hi;
    int i, a = 0, b = 0;
    *neg = *pos = NULL;
    *nneg = *npos = 0;
    lo = gk_alloc(n, sizeof *lo);
    if (lo == NULL)
        return -1;
    hi = gk_alloc(n, sizeof *hi);
    if (hi == NULL) {
        free(lo);
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (x[i] < 0)
            lo[a++] = x[i];
        else
            hi[b++] = x[i];
    }
    *neg = lo;
    *nneg = a;
    *pos = hi;
    *npos = b;
    return 0;
}

int gk_make_buf(int n, unsigned char **buf, int *len)
{
    void *base;
    unsigned char *b;
    int i;
    *buf = NULL;
    *len = 0;
    if (n < 0) {
        errno = EINVAL;
        return -1;
    }
    if (posix_memalign(&base, GK_HEADER, GK_HEADER + (size_t)n) != 0) {
        errno = ENOMEM;
        return -1;
    }
    *(unsigned *)base = GK_MAGIC;
    b = (unsigned char *)base + GK_HEADER;
    for (i = 0; i < n; i++)
        b[i] = (unsigned char)(i % 251);
    __atomic_add_fetch(&live_buffers, 1, __ATOMIC_SEQ_CST);
    *buf = b;
    *len = n;
    return 0;
}

void gk_buf_release(void *buf)
{
    unsigned char *base;
    if (buf == NULL)
        return;
    base = (unsigned char *)buf - GK_HEADER;
    if (*(unsigned *)base != GK_MAGIC)
        abort();                        /* not one of ours, or released twice */
    *(unsigned *)base = 0;
    __atomic_sub_fetch(&live_buffers, 1, __ATOMIC_SEQ_CST);
    free(base);
}

long gk_buf_live(void)
{
    return __atomic_load_n(&live_buffers, __ATOMIC_SEQ_CST);
}
