/* alloc() and crop() when malloc() fails: ENOMEM in errno, NULL block, the
 * dims the contract gives, nothing allocated (valgrind and LeakSanitizer check
 * that at exit), and the next calls succeed again with errno untouched.
 *
 * Failures are injected in one of two ways:
 * - default: linked with the static library and -Wl,--wrap=malloc; this file
 *   defines __wrap_malloc, which also counts calls, so the tests check that
 *   each call makes exactly one malloc() and can fail the Nth of a sequence;
 * - -DFAILMALLOC_PRELOAD: linked with the shared library and run with
 *   LD_PRELOAD=libfailmalloc.so (failmalloc_preload.c), whose controls are
 *   found with dlsym; only the size-armed tests run. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "check.h"
#include "crop.h"
#include "ezalloc.h"

#define PRESET 4343 /* errno before each call: success must leave it */

/* ---------------------------------------------------------------- injection */

#ifdef FAILMALLOC_PRELOAD
#include <dlfcn.h>

static void (*arm_fn)(size_t size, int count);
static int (*failures_fn)(void);

/* The controls of libfailmalloc.so, which must be preloaded. */
static int find_controls(void)
{
    void *arm = dlsym(RTLD_DEFAULT, "failmalloc_arm");
    void *failures = dlsym(RTLD_DEFAULT, "failmalloc_failures");

    if (arm == NULL || failures == NULL) {
        fprintf(stderr, "libfailmalloc.so is not preloaded (LD_PRELOAD)\n");
        return 0;
    }
    /* memcpy: ISO C has no conversion from void * to a function pointer. */
    memcpy(&arm_fn, &arm, sizeof arm_fn);
    memcpy(&failures_fn, &failures, sizeof failures_fn);
    return 1;
}

static void arm(size_t size, int count) { arm_fn(size, count); }
static int failures(void) { return failures_fn(); }

#else /* -Wl,--wrap=malloc */

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

/* Counters and settings, atomic although this test is single-threaded. */
static long calls;        /* malloc calls seen */
static long failed;       /* malloc calls failed */
static size_t arm_size;   /* fail requests of exactly this size ... */
static int arm_count;     /* ... this many times */
static long seq_skip;     /* let this many calls through, then ... */
static long seq_fail;     /* ... fail this many calls, whatever their size */

static int take(int *left)
{
    int n = __atomic_load_n(left, __ATOMIC_SEQ_CST);

    while (n > 0)
        if (__atomic_compare_exchange_n(left, &n, n - 1, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return 1;
    return 0;
}

void *__wrap_malloc(size_t size)
{
    int fail = 0;

    __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&seq_skip, __ATOMIC_SEQ_CST) > 0)
        __atomic_sub_fetch(&seq_skip, 1, __ATOMIC_SEQ_CST);
    else if (__atomic_load_n(&seq_fail, __ATOMIC_SEQ_CST) > 0) {
        __atomic_sub_fetch(&seq_fail, 1, __ATOMIC_SEQ_CST);
        fail = 1;
    }
    if (!fail && size == __atomic_load_n(&arm_size, __ATOMIC_SEQ_CST))
        fail = take(&arm_count);
    if (fail) {
        __atomic_add_fetch(&failed, 1, __ATOMIC_SEQ_CST);
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(size);
}

static int find_controls(void) { return 1; }

static void arm(size_t size, int count)
{
    __atomic_store_n(&arm_count, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&arm_size, size, __ATOMIC_SEQ_CST);
    __atomic_store_n(&arm_count, count, __ATOMIC_SEQ_CST);
}

static int failures(void) { return (int)__atomic_load_n(&failed, __ATOMIC_SEQ_CST); }

static long malloc_calls(void) { return __atomic_load_n(&calls, __ATOMIC_SEQ_CST); }

/* Lets `skip` malloc calls through, then fails the next `k`. */
static void fail_sequence(long skip, long k)
{
    __atomic_store_n(&seq_fail, k, __ATOMIC_SEQ_CST);
    __atomic_store_n(&seq_skip, skip, __ATOMIC_SEQ_CST);
}
#endif

/* ---------------------------------------------------------------- helpers */

#define DIM1 6
#define DIM2 9
static int input[DIM1 * DIM2];

static void fill_input(void)
{
    int k;
    for (k = 0; k < DIM1 * DIM2; k++)
        input[k] = 7 * k - 100;
}

/* alloc(ni) must succeed: errno untouched, *n == ni, the whole block
 * writable; the block is freed. */
static void alloc_ok(int ni)
{
    int *v = (int *)&v; /* garbage that must be overwritten */
    int n = -1, i, same = 1;

    errno = PRESET;
    alloc(ni, &v, &n);
    CHECK_INT(errno, PRESET);
    CHECK_INT(n, ni);
    CHECK(v != NULL);
    for (i = 0; i < ni && v != NULL; i++)
        v[i] = i ^ 0x5a5a;
    for (i = 0; i < ni && v != NULL; i++)
        same &= v[i] == (i ^ 0x5a5a);
    CHECK(same);
    free(v);
}

/* alloc(ni) must fail with ENOMEM: NULL block, *n == ni. */
static void alloc_enomem(int ni)
{
    int *v = (int *)&v;
    int n = -1;

    errno = PRESET;
    alloc(ni, &v, &n);
    CHECK_INT(errno, ENOMEM);
    CHECK(v == NULL);
    CHECK_INT(n, ni);
}

/* crop of input[d1_0:d1_1, d2_0:d2_1]: a correct copy with errno untouched
 * (expect_ok) or ENOMEM, NULL and the window's dims. */
static void crop_expect(int d1_0, int d1_1, int d2_0, int d2_1, int expect_ok)
{
    int *out = (int *)&out;
    int r = -1, c = -1, i, j, same = 1;

    errno = PRESET;
    crop(input, DIM1, DIM2, d1_0, d1_1, d2_0, d2_1, &out, &r, &c);
    CHECK_INT(r, d1_1 - d1_0);
    CHECK_INT(c, d2_1 - d2_0);
    if (!expect_ok) {
        CHECK_INT(errno, ENOMEM);
        CHECK(out == NULL);
        return;
    }
    CHECK_INT(errno, PRESET);
    CHECK(out != NULL);
    for (j = 0; j < r && out != NULL; j++)
        for (i = 0; i < c; i++)
            same &= out[j * c + i] == input[(j + d1_0) * DIM2 + (i + d2_0)];
    CHECK(same);
    free(out);
}

/* ---------------------------------------------------------------- tests */

/* Armed by size: the matching calls fail, then calls work again. */
static void armed_by_size(void)
{
    int before = failures();

    arm(4 * 1234, 1);
    alloc_enomem(1234);
    CHECK_INT(failures(), before + 1);
    alloc_ok(1234); /* the failure was used up */
    CHECK_INT(failures(), before + 1);

    arm(4 * 321, 3);
    alloc_ok(320);  /* another size: untouched */
    alloc_enomem(321);
    alloc_enomem(321);
    alloc_enomem(321);
    alloc_ok(321);
    CHECK_INT(failures(), before + 4);

    /* malloc(0) failing (glibc's never does) is ENOMEM too, *n == 0. */
    arm(0, 1);
    alloc_enomem(0);
    alloc_ok(0);

    /* crop: 3 x 5 window of ints. */
    arm(4 * 3 * 5, 2);
    crop_expect(1, 4, 2, 7, 0);
    crop_expect(1, 4, 2, 7, 0);
    crop_expect(1, 4, 2, 7, 1);
    CHECK_INT(failures(), before + 7);
    /* An empty window still asks malloc(0): ENOMEM, dims 0 x 4. */
    arm(0, 1);
    crop_expect(2, 2, 1, 5, 0);
    crop_expect(2, 2, 1, 5, 1);
    CHECK_INT(failures(), before + 8);

    /* A negative ni (a size no malloc can give) is the same ENOMEM, without
     * injection. */
    if (huge_sizes_allowed()) {
        alloc_enomem(-1);
        alloc_enomem(-1000);
        CHECK_INT(failures(), before + 8);
        alloc_ok(1000);
    }
}

/* EPERM and EINVAL allocate nothing: an armed failure stays armed. */
static void errors_do_not_allocate(void)
{
    int before = failures();
    int *out = (int *)&out;
    int r = 5, c = 5, n = 5;

    arm(4 * 2 * 2, 1);
    errno = 0;
    crop(input, DIM1, DIM2, 0, 2, 0, DIM2, &out, &r, &c); /* d2_1 == dim2 */
    CHECK_INT(errno, EPERM);
    CHECK(out == NULL);
    CHECK_INT(r, 0);
    CHECK_INT(c, 0);
    errno = 0;
    crop(NULL, DIM1, DIM2, 0, 2, 0, 2, &out, &r, &c);
    CHECK_INT(errno, EINVAL);
    errno = 0;
    crop(input, INT_MAX, INT_MAX, INT_MAX - 2, INT_MAX - 1, 0, 2, &out, &r, &c);
    CHECK_INT(errno, EINVAL);
    CHECK(out == NULL);
    errno = 0;
    crop(input, DIM1, DIM2, 0, 2, 0, 2, NULL, &r, &c);
    CHECK_INT(errno, EINVAL);
    errno = 0;
    alloc(4, NULL, &n);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(n, 0);
    CHECK_INT(failures(), before);
    /* Still armed: the next valid 2 x 2 crop takes the failure. */
    crop_expect(0, 2, 0, 2, 0);
    CHECK_INT(failures(), before + 1);
    crop_expect(0, 2, 0, 2, 1);
}

#ifndef FAILMALLOC_PRELOAD
/* Each call makes exactly one malloc() call; failing calls and errors too
 * (errors none). */
static void one_malloc_per_call(void)
{
    long c0;
    int *out, r, c, n;

    crop_expect(0, 1, 0, 1, 1); /* warm-up: the first crop reads settings */
    c0 = malloc_calls();
    alloc_ok(10);
    CHECK_INT(malloc_calls() - c0, 1);
    crop_expect(1, 3, 1, 3, 1);
    CHECK_INT(malloc_calls() - c0, 2);
    arm(4 * 10, 1);
    alloc_enomem(10);
    CHECK_INT(malloc_calls() - c0, 3);
    arm(4 * 2 * 2, 1);
    crop_expect(1, 3, 1, 3, 0);
    CHECK_INT(malloc_calls() - c0, 4);
    crop(input, DIM1, DIM2, 3, 1, 0, 1, &out, &r, &c); /* EPERM */
    alloc(3, NULL, &n);                                   /* EINVAL */
    CHECK_INT(malloc_calls() - c0, 4);
    /* Dimensions no array can have: EINVAL before any malloc. */
    errno = 0;
    crop(input, INT_MAX, INT_MAX, INT_MAX - 2, INT_MAX - 1, 0, 1, &out, &r, &c);
    CHECK_INT(errno, EINVAL);
    CHECK(out == NULL);
    CHECK_INT(malloc_calls() - c0, 4);
    /* A negative ni never reaches malloc: ENOMEM at once. */
    alloc(-5, &out, &n);
    CHECK_INT(errno, ENOMEM);
    CHECK_INT(malloc_calls() - c0, 4);
}

/* A sequence of 6 calls, alternately alloc and crop, each one malloc. */
#define SEQ 6

/* Runs the sequence expecting exactly the calls whose bit is set in
 * `failing` to fail with ENOMEM, the others to succeed. */
static void run_sequence(unsigned failing)
{
    int k;

    for (k = 0; k < SEQ; k++) {
        int ok = !(failing & (1u << k));
        if (k % 2 == 0) {
            if (ok)
                alloc_ok(100 + k);
            else
                alloc_enomem(100 + k);
        } else {
            crop_expect(k / 2, k / 2 + 2, 1, 1 + k, ok);
        }
    }
}

static void nth_call_fails(void)
{
    int nth;
    long f0;

    /* The Nth malloc of the sequence fails, only that call reports it. */
    for (nth = 0; nth < SEQ; nth++) {
        f0 = failures();
        fail_sequence(nth, 1);
        run_sequence(1u << nth);
        CHECK_INT(failures() - f0, 1);
    }
    /* Calls 2, 3 and 4 fail, then everything works again. */
    f0 = failures();
    fail_sequence(2, 3);
    run_sequence(0x1cu);
    CHECK_INT(failures() - f0, 3);
    run_sequence(0);
    CHECK_INT(failures() - f0, 3);
}
#endif

int main(void)
{
    if (!find_controls())
        return 1;
    fill_input();
    armed_by_size();
    errors_do_not_allocate();
#ifdef FAILMALLOC_PRELOAD
    return check_report("test_failmalloc (LD_PRELOAD)");
#else
    one_malloc_per_call();
    nth_call_fails();
    return check_report("test_failmalloc (--wrap=malloc)");
#endif
}
