/* How many helper threads a large crop starts, counted through
 * -Wl,--wrap=pthread_create (static library): none for a small crop, none
 * with EZALLOC_THREADS=1, and min(cores, 8, EZALLOC_THREADS) - 1 otherwise.
 * Usage: test_thread_count [EZALLOC_THREADS value]; the variable is set (or
 * removed) here, before the first crop, since the library reads it once. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "check.h"
#include "crop.h"

#define DIM 2100
#define SIDE 2000 /* 16 MB out: a large crop */

static int created;

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg);

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg)
{
    __atomic_add_fetch(&created, 1, __ATOMIC_SEQ_CST);
    return __real_pthread_create(t, a, f, arg);
}

static int crop_threads(int *in, int side)
{
    int *out = NULL, r, c, before = created;
    crop(in, DIM, DIM, 1, 1 + side, 2, 2 + side, &out, &r, &c);
    CHECK(out != NULL);
    if (out != NULL)
        CHECK_INT(out[0], in[DIM + 2]);
    free(out);
    return created - before;
}

int main(int argc, char **argv)
{
    static int in[DIM * DIM];
    cpu_set_t set;
    int k, cores, want;

    if (argc > 1)
        setenv("EZALLOC_THREADS", argv[1], 1);
    else
        unsetenv("EZALLOC_THREADS");
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    cores = CPU_COUNT(&set);
    want = cores < 8 ? cores : 8;
    if (argc > 1 && atoi(argv[1]) > 0 && atoi(argv[1]) < want)
        want = atoi(argv[1]);
    for (k = 0; k < DIM * DIM; k++)
        in[k] = k;

    CHECK_INT(crop_threads(in, 10), 0); /* small: never threads */
    CHECK_INT(crop_threads(in, SIDE), want - 1);
    CHECK_INT(crop_threads(in, SIDE), want - 1);
    printf("cores %d, EZALLOC_THREADS=%s: %d helper thread(s) per large crop\n", cores,
           argc > 1 ? argv[1] : "(unset)", want - 1);
    return check_report("test_thread_count");
}
