/* crop() against a naive reference of the original, over every window of
 * small arrays, plus its boundaries, NULL inputs and the ENOMEM branch. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "crop.h"

#define PRESET 777 /* errno before each call: success must leave it */
#define MAXD 7

/* The original's rule, written out: 0 <= start <= end < dim on both axes. */
static int window_ok(int dim1, int dim2, int d1_0, int d1_1, int d2_0, int d2_1)
{
    return d1_0 >= 0 && d1_0 <= d1_1 && d1_1 < dim1 && d2_0 >= 0 &&
           d2_0 <= d2_1 && d2_1 < dim2;
}

static void fill(int *a, int dim1, int dim2)
{
    int k;
    for (k = 0; k < dim1 * dim2; k++)
        a[k] = k * 31 - 1000;
}

/* One call, compared element by element with a naive copy. */
static void check_crop(const int *in, int dim1, int dim2, int d1_0, int d1_1,
                       int d2_0, int d2_1)
{
    int *out = (int *)&out; /* garbage that must be overwritten */
    int r = -1, c = -1;
    int i, j, same = 1;

    errno = PRESET;
    crop((int *)in, dim1, dim2, d1_0, d1_1, d2_0, d2_1, &out, &r, &c);
    if (!window_ok(dim1, dim2, d1_0, d1_1, d2_0, d2_1)) {
        CHECK_INT(errno, EPERM);
        CHECK(out == NULL);
        CHECK_INT(r, 0);
        CHECK_INT(c, 0);
        return;
    }
    CHECK_INT(errno, PRESET);
    CHECK(out != NULL); /* glibc's malloc(0) is not NULL either */
    CHECK_INT(r, d1_1 - d1_0);
    CHECK_INT(c, d2_1 - d2_0);
    for (j = 0; j < r && out != NULL; j++)
        for (i = 0; i < c; i++)
            same &= out[j * c + i] == in[(j + d1_0) * dim2 + (i + d2_0)];
    CHECK(same);
    free(out);
}

static void every_window(void)
{
    int in[MAXD * MAXD];
    int dim1, dim2, d1_0, d1_1, d2_0, d2_1;

    for (dim1 = 0; dim1 <= 5; dim1++)
        for (dim2 = 0; dim2 <= 5; dim2 += (dim2 < 2 ? 1 : 3)) {
            fill(in, dim1, dim2);
            for (d1_0 = -1; d1_0 <= dim1 + 1; d1_0++)
                for (d1_1 = -1; d1_1 <= dim1 + 1; d1_1++)
                    for (d2_0 = -1; d2_0 <= dim2 + 1; d2_0++)
                        for (d2_1 = -1; d2_1 <= dim2 + 1; d2_1++)
                            check_crop(in, dim1, dim2, d1_0, d1_1, d2_0, d2_1);
        }
}

/* The recipe's demonstration: a 5 x 9 array, rows 2..4, columns 1..5. */
static void recipe_example(void)
{
    int a[5 * 9];
    int want[8] = {200, 300, 400, 500, 2000, 3000, 4000, 5000};
    int row, col, p = 1, k;
    int *out = NULL;
    int r = 0, c = 0;

    for (row = 0; row < 5; row++, p *= 10)
        for (col = 0; col < 9; col++)
            a[row * 9 + col] = (col + 1) * p;
    errno = PRESET;
    crop(a, 5, 9, 2, 4, 1, 5, &out, &r, &c);
    CHECK_INT(errno, PRESET);
    CHECK_INT(r, 2);
    CHECK_INT(c, 4);
    for (k = 0; k < 8 && out != NULL; k++)
        CHECK_INT(out[k], want[k]);
    free(out);
}

static void boundaries(void)
{
    int in[4 * 6];
    int *out;
    int r, c;

    fill(in, 4, 6);
    /* The last row and column can never be part of a window. */
    check_crop(in, 4, 6, 0, 3, 0, 5);  /* largest accepted window */
    check_crop(in, 4, 6, 0, 4, 0, 5);  /* d1_1 == dim1: EPERM */
    check_crop(in, 4, 6, 0, 3, 0, 6);  /* d2_1 == dim2: EPERM */
    check_crop(in, 4, 6, 3, 3, 5, 5);  /* empty window at the last cell */
    check_crop(in, 4, 6, 2, 1, 0, 1);  /* reversed rows: EPERM */
    check_crop(in, 4, 6, 0, 1, 3, 2);  /* reversed columns: EPERM */
    check_crop(in, 4, 6, -1, 1, 0, 1); /* negative start: EPERM */
    check_crop(in, 4, 6, INT_MIN, INT_MAX, INT_MIN, INT_MAX);
    check_crop(in, 0, 0, 0, 0, 0, 0);  /* no rows at all: EPERM */

    /* Empty windows: a malloc(0) block, errno untouched. */
    out = NULL;
    errno = PRESET;
    crop(in, 4, 6, 1, 1, 2, 4, &out, &r, &c);
    CHECK_INT(errno, PRESET);
    CHECK(out != NULL);
    CHECK_INT(r, 0);
    CHECK_INT(c, 2);
    free(out);
}

static void null_pointers(void)
{
    int in[3 * 3];
    int *out;
    int r, c;

    fill(in, 3, 3);
    /* A bad window is EPERM whatever arr_in is. */
    out = (int *)&out;
    errno = 0;
    crop(NULL, 3, 3, 0, 3, 0, 1, &out, &r, &c);
    CHECK_INT(errno, EPERM);
    CHECK(out == NULL);
    /* An empty window reads nothing: NULL arr_in is fine. */
    errno = PRESET;
    crop(NULL, 3, 3, 1, 1, 0, 2, &out, &r, &c);
    CHECK_INT(errno, PRESET);
    CHECK(out != NULL);
    CHECK_INT(r, 0);
    CHECK_INT(c, 2);
    free(out);
    /* A non-empty window needs arr_in: EINVAL, empty outputs. */
    out = (int *)&out;
    r = c = 5;
    errno = 0;
    crop(NULL, 3, 3, 0, 1, 0, 1, &out, &r, &c);
    CHECK_INT(errno, EINVAL);
    CHECK(out == NULL);
    CHECK_INT(r, 0);
    CHECK_INT(c, 0);
    /* NULL out-pointers: EINVAL, the others receive NULL and 0. */
    r = c = 5;
    errno = 0;
    crop(in, 3, 3, 0, 1, 0, 1, NULL, &r, &c);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(r, 0);
    CHECK_INT(c, 0);
    out = (int *)&out;
    errno = 0;
    crop(in, 3, 3, 0, 1, 0, 1, &out, NULL, &c);
    CHECK_INT(errno, EINVAL);
    CHECK(out == NULL);
    errno = 0;
    crop(in, 3, 3, 0, 1, 0, 1, &out, &r, NULL);
    CHECK_INT(errno, EINVAL);
    errno = 0;
    crop(in, 3, 3, 5, 1, 0, 1, NULL, NULL, NULL); /* EINVAL before EPERM */
    CHECK_INT(errno, EINVAL);
}

/* A window of (2^30 - 1)^2 ints of a 2^30 x 2^30 input (an array of 2^62
 * bytes: possible in principle with 64-bit sizes) asks malloc for about
 * 2^62 bytes, which fails: ENOMEM with the dims still written. The
 * original's int product overflows here; ours does not. Nothing is read
 * from the input: the block is allocated before the copy. */
static void enomem(void)
{
#if SIZE_MAX > 0xffffffffu
    int one = 1;
    int *out = (int *)&out;
    int r = -1, c = -1;
    const int side = 1 << 30;

    errno = 0;
    crop(&one, side, side, 0, side - 1, 0, side - 1, &out, &r, &c);
    CHECK_INT(errno, ENOMEM);
    CHECK(out == NULL);
    CHECK_INT(r, side - 1);
    CHECK_INT(c, side - 1);
#endif
}

/* Dimensions no array can have (dim1 * dim2 * sizeof(int) above
 * PTRDIFF_MAX): EINVAL before anything is read or allocated, wherever the
 * window is, on a small buffer. The original checks the window first: a bad
 * window is still EPERM; an empty window reads nothing and succeeds. */
static void expect_crop(int dim1, int dim2, int d1_0, int d1_1, int d2_0, int d2_1,
                        int want_errno, int want_rows, int want_cols)
{
    int small[4] = {1, 2, 3, 4};
    int *out = (int *)&out;
    int r = -1, c = -1;

    errno = PRESET;
    crop(small, dim1, dim2, d1_0, d1_1, d2_0, d2_1, &out, &r, &c);
    CHECK_INT(errno, want_errno);
    CHECK(want_errno == PRESET ? out != NULL : out == NULL);
    CHECK_INT(r, want_rows);
    CHECK_INT(c, want_cols);
    free(want_errno == PRESET ? out : NULL);
}

static void impossible_dimensions(void)
{
    const int m = INT_MAX;

    expect_crop(m, m, m - 2, m - 1, 0, 1, EINVAL, 0, 0); /* offset ~2^62 */
    expect_crop(m, m, 0, 1, 0, 1, EINVAL, 0, 0);         /* at the start */
    expect_crop(m, m, 0, 1, m - 2, m - 1, EINVAL, 0, 0); /* end of row 0 */
    expect_crop(m, m, 0, m - 1, 0, m - 1, EINVAL, 0, 0); /* the largest */
#if SIZE_MAX <= 0xffffffffu
    /* 32-bit sizes: 65537^2 ints do not fit; no wrap to malloc(0). */
    expect_crop(65537, 65537, 0, 65536, 0, 65536, EINVAL, 0, 0);
    expect_crop(65537, 65537, 0, 1, 0, 1, EINVAL, 0, 0);
    expect_crop(m, 3, 0, 1, 0, 1, EINVAL, 0, 0);
#endif
    /* The window is checked first, as in the original. */
    expect_crop(m, m, m - 1, m, 0, 1, EPERM, 0, 0);
    expect_crop(m, m, 2, 1, 0, 1, EPERM, 0, 0);
    expect_crop(m, m, 0, 1, -1, 1, EPERM, 0, 0);
    /* Empty windows read nothing: malloc(0)'s block, as the original. */
    expect_crop(m, m, m - 2, m - 2, 0, 3, PRESET, 0, 3);
    expect_crop(m, m, 0, 5, 7, 7, PRESET, 5, 0);
}

int main(void)
{
    every_window();
    recipe_example();
    boundaries();
    null_pointers();
    impossible_dimensions();
    if (huge_sizes_allowed())
        enomem();
    return check_report("test_crop");
}
