/* alloc() and crop() called from 8 threads at once: successes (contents
 * checked against a naive reference), EPERM, EINVAL and ENOMEM mixed at
 * random. Each thread presets errno to its own value and must see exactly
 * that value after a success and the right code after a failure: errno is
 * per thread, and no call disturbs another thread's outputs.
 *
 * ENOMEM comes from negative ni (sizes near 2^64, not asked under valgrind)
 * and, built with -Wl,--wrap=malloc (the static library) and -DWRAP_MALLOC,
 * from every malloc of exactly FAIL_BYTES, which fails: ENOMEM is then
 * tested under valgrind too. Each thread ends with large crops of a shared input, which the
 * library copies with its own helper threads. Under valgrind
 * (EZALLOC_TEST_UNDER_VALGRIND) fewer iterations and large crops run.
 * check.h's counters are not thread-safe: each thread counts its
 * checks locally and the main thread adds them up. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>

#include "check.h"
#include "crop.h"
#include "ezalloc.h"

#define NTHREADS 8
#define ITERS 20000          /* per thread */
#define ITERS_VALGRIND 5000  /* per thread, under valgrind */
#define DIM 9                /* each thread's small input: DIM x DIM */
#define BIG 1600             /* the shared large input: BIG x BIG */
#define BIG_WIN 1500         /* a BIG_WIN^2 window is >= 8 MiB: parallel copy */
#define BIG_CROPS 2          /* per thread (1 under valgrind) */
#define FAIL_NI 42           /* with WRAP_MALLOC, malloc(FAIL_BYTES) fails */
#define FAIL_BYTES (FAIL_NI * sizeof(int))
/* ENOMEM from a negative ni, per thread: a few where injection also gives
 * ENOMEM (ASan prints a warning for each), else all of case 1's calls. */
#ifdef WRAP_MALLOC
#define HUGE_CALLS 2
#else
#define HUGE_CALLS ITERS
#endif

#ifdef WRAP_MALLOC
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

/* Stateless, hence thread-safe: one size always fails. */
void *__wrap_malloc(size_t size)
{
    if (size == FAIL_BYTES) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(size);
}
#endif

struct worker {
    pthread_t thread;
    int id;
    long iters;
    int big_crops;
    long huge_left; /* calls with a negative ni left to make */
    unsigned rng;
    long checks, failures; /* this thread's share of check.h's counters */
};

#define TCHECK(w, cond)                                                      \
    do {                                                                     \
        (w)->checks++;                                                       \
        if (!(cond)) {                                                       \
            (w)->failures++;                                                 \
            fprintf(stderr, "%s:%d: thread %d: check failed: %s\n",          \
                    __FILE__, __LINE__, (w)->id, #cond);                     \
        }                                                                    \
    } while (0)

#define TCHECK_INT(w, got, want)                                             \
    do {                                                                     \
        long got_ = (long)(got), want_ = (long)(want);                       \
        (w)->checks++;                                                       \
        if (got_ != want_) {                                                 \
            (w)->failures++;                                                 \
            fprintf(stderr, "%s:%d: thread %d: %s is %ld, expected %ld\n",   \
                    __FILE__, __LINE__, (w)->id, #got, got_, want_);         \
        }                                                                    \
    } while (0)

static pthread_barrier_t start_line;
static int *big_input; /* read by all threads at once, written by none */
static int huge_ok;    /* negative ni allowed (not under valgrind) */

static unsigned next_rand(struct worker *w, unsigned bound)
{
    w->rng = w->rng * 1103515245u + 12345u;
    return (w->rng >> 8) % bound;
}

/* errno this thread presets before every call. */
static int my_errno(const struct worker *w) { return 5000 + w->id; }

/* Whether malloc(bytes) is made to fail in this build. */
static int injected(size_t bytes)
{
#ifdef WRAP_MALLOC
    return bytes == FAIL_BYTES;
#else
    (void)bytes;
    return 0;
#endif
}

/* alloc(ni): the expected outcome worked out from ni, a written and re-read
 * block on success. */
static void one_alloc(struct worker *w, int ni)
{
    int *v = (int *)&v; /* garbage that must be overwritten */
    int n = -1, i, same = 1;
    int fails = ni < 0 || injected((size_t)ni * sizeof(int));

    errno = my_errno(w);
    alloc(ni, &v, &n);
    TCHECK_INT(w, n, ni);
    if (fails) {
        TCHECK_INT(w, errno, ENOMEM);
        TCHECK(w, v == NULL);
        return;
    }
    TCHECK_INT(w, errno, my_errno(w));
    TCHECK(w, v != NULL);
    for (i = 0; i < ni && v != NULL; i++)
        v[i] = w->id * 1000003 + i;
    for (i = 0; i < ni && v != NULL; i++)
        same &= v[i] == w->id * 1000003 + i;
    TCHECK(w, same);
    free(v);
}

/* crop of a dim1 x dim2 input against the original's rule and a naive copy. */
static void one_crop(struct worker *w, const int *in, int dim1, int dim2,
                     int d1_0, int d1_1, int d2_0, int d2_1)
{
    int *out = (int *)&out;
    int r = -1, c = -1, i, j, same = 1;
    int ok = d1_0 >= 0 && d1_0 <= d1_1 && d1_1 < dim1 && d2_0 >= 0 &&
             d2_0 <= d2_1 && d2_1 < dim2;

    errno = my_errno(w);
    crop((int *)in, dim1, dim2, d1_0, d1_1, d2_0, d2_1, &out, &r, &c);
    if (!ok) {
        TCHECK_INT(w, errno, EPERM);
        TCHECK(w, out == NULL);
        TCHECK_INT(w, r, 0);
        TCHECK_INT(w, c, 0);
        return;
    }
    TCHECK_INT(w, r, d1_1 - d1_0);
    TCHECK_INT(w, c, d2_1 - d2_0);
    if (injected((size_t)r * (size_t)c * sizeof(int))) {
        TCHECK_INT(w, errno, ENOMEM);
        TCHECK(w, out == NULL);
        return;
    }
    TCHECK_INT(w, errno, my_errno(w));
    TCHECK(w, out != NULL);
    for (j = 0; j < r && out != NULL; j++)
        for (i = 0; i < c; i++)
            same &= out[j * c + i] == in[(j + d1_0) * dim2 + (i + d2_0)];
    TCHECK(w, same);
    free(out);
}

/* NULL pointers: EINVAL, the writable outputs emptied. */
static void one_einval(struct worker *w, const int *in)
{
    int *out = (int *)&out;
    int r = 7, c = 7, n = 7;

    switch (next_rand(w, 3)) {
    case 0:
        errno = my_errno(w);
        alloc(5, NULL, &n);
        TCHECK_INT(w, errno, EINVAL);
        TCHECK_INT(w, n, 0);
        break;
    case 1:
        errno = my_errno(w);
        crop(NULL, DIM, DIM, 0, 2, 0, 3, &out, &r, &c);
        TCHECK_INT(w, errno, EINVAL);
        TCHECK(w, out == NULL);
        TCHECK_INT(w, r, 0);
        TCHECK_INT(w, c, 0);
        break;
    default:
        errno = my_errno(w);
        crop((int *)in, DIM, DIM, 0, 2, 0, 3, &out, NULL, &c);
        TCHECK_INT(w, errno, EINVAL);
        TCHECK(w, out == NULL);
        TCHECK_INT(w, c, 0);
        break;
    }
}

static void *work(void *arg)
{
    struct worker *w = arg;
    int in[DIM * DIM];
    long it;
    int k;

    for (k = 0; k < DIM * DIM; k++)
        in[k] = w->id * 100000 + k;
    pthread_barrier_wait(&start_line);
    for (it = 0; it < w->iters; it++) {
        switch (next_rand(w, 6)) {
        case 0: /* success, or ENOMEM for ni == FAIL_NI */
            one_alloc(w, (int)next_rand(w, 64));
            break;
        case 1: /* ENOMEM */
            if (huge_ok && w->huge_left > 0) {
                w->huge_left--;
                one_alloc(w, -1 - (int)next_rand(w, 1000));
            } else {
                one_alloc(w, FAIL_NI);
            }
            break;
        case 2:
        case 3: /* any window, valid or not, -1 .. DIM + 1 */
            one_crop(w, in, DIM, DIM, (int)next_rand(w, DIM + 3) - 1,
                     (int)next_rand(w, DIM + 3) - 1,
                     (int)next_rand(w, DIM + 3) - 1,
                     (int)next_rand(w, DIM + 3) - 1);
            break;
        case 4: /* a valid window: success, or ENOMEM if 6 x 7 or 7 x 6 */
            k = (int)next_rand(w, DIM - 1);
            one_crop(w, in, DIM, DIM, k, k + (int)next_rand(w, DIM - k),
                     1, 1 + (int)next_rand(w, DIM - 1));
            break;
        default:
            one_einval(w, in);
            break;
        }
    }
    /* Large crops, copied by the library's helper threads, all at once. */
    for (k = 0; k < w->big_crops; k++)
        one_crop(w, big_input, BIG, BIG, k + w->id, k + w->id + BIG_WIN,
                 w->id, w->id + BIG_WIN);
    return NULL;
}

int main(void)
{
    struct worker workers[NTHREADS];
    int under_valgrind = getenv("EZALLOC_TEST_UNDER_VALGRIND") != NULL;
    int i, k;

    huge_ok = huge_sizes_allowed();
#ifndef WRAP_MALLOC
    if (!huge_ok)
        printf("note: no ENOMEM case in this build under valgrind\n");
#endif
    big_input = malloc(sizeof(int) * BIG * BIG);
    CHECK(big_input != NULL);
    if (big_input == NULL)
        return check_report("test_threads");
    for (k = 0; k < BIG * BIG; k++)
        big_input[k] = k;
    CHECK_INT(pthread_barrier_init(&start_line, NULL, NTHREADS), 0);
    for (i = 0; i < NTHREADS; i++) {
        workers[i].id = i;
        workers[i].iters = under_valgrind ? ITERS_VALGRIND : ITERS;
        workers[i].big_crops = under_valgrind ? 1 : BIG_CROPS;
        workers[i].huge_left = HUGE_CALLS;
        workers[i].rng = 2463534242u + 977u * (unsigned)i;
        workers[i].checks = workers[i].failures = 0;
        CHECK_INT(pthread_create(&workers[i].thread, NULL, work, &workers[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++) {
        CHECK_INT(pthread_join(workers[i].thread, NULL), 0);
        check_count += workers[i].checks;
        check_failures += workers[i].failures;
    }
    pthread_barrier_destroy(&start_line);
    free(big_input);
    return check_report("test_threads");
}
