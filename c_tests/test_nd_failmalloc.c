/* The typed crops and ezalloc_crop_nd when malloc() fails, injected with
 * -Wl,--wrap=malloc against the static library: ENOMEM, a NULL block, the
 * window's dims out, nothing allocated (valgrind and LeakSanitizer check that
 * at exit), exactly one malloc() per call, and the next call succeeds with
 * errno untouched. Also a real allocation failure: a valid broadcast window
 * of 2^60 bytes. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ezalloc_nd.h"
#include "ezalloc_typed.h"

#define PRESET 6161

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

static long calls;    /* malloc calls seen */
static long fail_next; /* fail this many of the next calls */

void *__wrap_malloc(size_t size)
{
    __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&fail_next, __ATOMIC_SEQ_CST) > 0) {
        __atomic_sub_fetch(&fail_next, 1, __ATOMIC_SEQ_CST);
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(size);
}

static long malloc_calls(void) { return __atomic_load_n(&calls, __ATOMIC_SEQ_CST); }
static void fail(long n) { __atomic_store_n(&fail_next, n, __ATOMIC_SEQ_CST); }

static double grid[6 * 7 * 5];

/* crop2_double and fcrop3_uchar: the failing call, then a working one. */
static void typed(void)
{
    double *out;
    unsigned char *bytes, small[4 * 3 * 2];
    int r, c, n3, k, round;
    long before;

    for (k = 0; k < 6 * 7 * 5; k++)
        grid[k] = k * 0.5;
    for (k = 0; k < 24; k++)
        small[k] = (unsigned char)k;
    for (round = 0; round < 2; round++) {
        out = (double *)&out;
        r = c = -1;
        fail(round == 0);
        before = malloc_calls();
        errno = PRESET;
        ezalloc_crop2_double(grid, 6, 7, 1, 6, 2, 7, &out, &r, &c);
        CHECK_INT(malloc_calls() - before, 1);
        CHECK_INT(errno, round == 0 ? ENOMEM : PRESET);
        CHECK(round == 0 ? out == NULL : out != NULL && out[0] == grid[1 * 7 + 2]);
        CHECK_INT(r, 5);
        CHECK_INT(c, 5);
        free(round == 0 ? NULL : out);

        bytes = (unsigned char *)&bytes;
        r = c = n3 = -1;
        fail(round == 0);
        before = malloc_calls();
        errno = PRESET;
        ezalloc_fcrop3_uchar(small, 4, 3, 2, 1, 4, 0, 3, 1, 2, &bytes, &r, &c, &n3);
        CHECK_INT(malloc_calls() - before, 1);
        CHECK_INT(errno, round == 0 ? ENOMEM : PRESET);
        CHECK(round == 0 ? bytes == NULL : bytes != NULL && bytes[0] == small[1 + 4 * 3]);
        CHECK_INT(r, 3);
        CHECK_INT(c, 3);
        CHECK_INT(n3, 1);
        free(round == 0 ? NULL : bytes);
    }
    /* A window that does not fit, or EINVAL, allocates nothing. */
    before = malloc_calls();
    ezalloc_crop2_double(grid, 6, 7, 1, 7, 0, 1, &out, &r, &c);
    CHECK_INT(errno, EPERM);
    ezalloc_crop2_double(NULL, 6, 7, 1, 2, 0, 1, &out, &r, &c);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(malloc_calls() - before, 0);
}

static void nd(void)
{
    size_t shape[3] = {6, 7, 5}, got[3];
    ptrdiff_t step[3] = {2, -1, 3};
    void *out;
    long before;
    int round;

    for (round = 0; round < 2; round++) {
        out = &out;
        got[0] = got[1] = got[2] = 99;
        fail(round == 0);
        before = malloc_calls();
        errno = PRESET;
        CHECK_INT(ezalloc_crop_nd(grid, sizeof(double), 3, shape, NULL, NULL, NULL, step, &out, got),
                  round == 0 ? ENOMEM : 0);
        CHECK_INT(malloc_calls() - before, 1);
        CHECK_INT(errno, round == 0 ? ENOMEM : PRESET);
        CHECK_INT(got[0], 3);
        CHECK_INT(got[1], 7);
        CHECK_INT(got[2], 2);
        CHECK(round == 0 ? out == NULL : out != NULL && ((double *)out)[0] == grid[6 * 5]);
        free(round == 0 ? NULL : out);
    }
    /* A real failure: a broadcast (stride 0) window of 2^60 bytes. */
    if (huge_sizes_allowed()) {
        size_t huge[2] = {(size_t)1 << 40, (size_t)1 << 20};
        ptrdiff_t zero[2] = {0, 0};
        out = &out;
        errno = PRESET;
        CHECK_INT(ezalloc_crop_nd(grid, 1, 2, huge, zero, NULL, NULL, NULL, &out, got), ENOMEM);
        CHECK_INT(errno, ENOMEM);
        CHECK(out == NULL);
        CHECK(got[0] == huge[0] && got[1] == huge[1]);
    }
}

int main(void)
{
    typed();
    nd();
    return check_report("test_nd_failmalloc");
}
