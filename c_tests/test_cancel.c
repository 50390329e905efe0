/* pthread_cancel of a thread that runs large (threaded) crops: a worker
 * loops over crops of a 4095 x 4095 window (64 MiB out), free() and
 * pthread_testcancel(); the main thread cancels it at a random moment and
 * joins it. The cancel must act at the worker's own cancellation point,
 * after crop() has returned: never inside the library (whose helper
 * threads would still be copying), never a crash. Several rounds, since the
 * moment of the cancel matters. Also: crop() restores the caller's
 * cancellation state, enabled or disabled.
 * Under valgrind (EZALLOC_TEST_UNDER_VALGRIND) the window is smaller (still
 * above the threaded-copy threshold) and fewer rounds run. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "crop.h"

#define ROUNDS 12
#define ROUNDS_VALGRIND 3

static int dim;          /* input is dim x dim, the window (dim - 1)^2 */
static int *input;
static volatile int in_call;     /* the worker is inside crop() */
static volatile int cancelled_in_call = -1; /* in_call when the cancel acted */
static volatile long crops_done; /* complete, checked crops */
static volatile long bad_crops;

static void on_cancel(void *arg)
{
    (void)arg;
    cancelled_in_call = in_call;
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_cleanup_push(on_cancel, NULL);
    for (;;) {
        int *out = NULL, r = 0, c = 0;

        in_call = 1;
        errno = 0;
        crop(input, dim, dim, 0, dim - 1, 0, dim - 1, &out, &r, &c);
        in_call = 0;
        if (out == NULL || errno != 0 || r != dim - 1 || c != dim - 1 ||
            out[0] != input[0] || out[(size_t)r * c - 1] != input[(size_t)(dim - 2) * dim + dim - 2])
            bad_crops++;
        free(out);
        crops_done++;
        pthread_testcancel();
    }
    pthread_cleanup_pop(0);
    return NULL;
}

static void sleep_us(long us)
{
    struct timespec t;
    t.tv_sec = us / 1000000;
    t.tv_nsec = (us % 1000000) * 1000;
    nanosleep(&t, NULL);
}

/* crop() leaves the caller's cancellation state as it found it. */
static void state_restored(void)
{
    int states[2] = {PTHREAD_CANCEL_ENABLE, PTHREAD_CANCEL_DISABLE};
    int k, old, now;

    for (k = 0; k < 2; k++) {
        int *out = NULL, r, c;
        CHECK_INT(pthread_setcancelstate(states[k], &old), 0);
        crop(input, dim, dim, 0, dim - 1, 0, dim - 1, &out, &r, &c);
        CHECK(out != NULL);
        free(out);
        CHECK_INT(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &now), 0);
        CHECK_INT(now, states[k]);
    }
}

int main(void)
{
    int valgrind = getenv("EZALLOC_TEST_UNDER_VALGRIND") != NULL;
    int rounds = valgrind ? ROUNDS_VALGRIND : ROUNDS;
    int round;
    size_t k;
    unsigned seed = 12345;

    dim = valgrind ? 1600 : 4096;
    input = malloc(sizeof(int) * (size_t)dim * dim);
    CHECK(input != NULL);
    if (input == NULL)
        return check_report("test_cancel");
    for (k = 0; k < (size_t)dim * dim; k++)
        input[k] = (int)(k * 2654435761u);
    state_restored();

    for (round = 0; round < rounds; round++) {
        pthread_t t;
        void *result = NULL;
        long before = crops_done;

        cancelled_in_call = -1;
        CHECK_INT(pthread_create(&t, NULL, worker, NULL), 0);
        /* Cancel at a random moment, usually during a crop. */
        seed = seed * 1103515245u + 12345u;
        sleep_us((valgrind ? 200000 : 2000) + (long)((seed >> 8) % 30000));
        CHECK_INT(pthread_cancel(t), 0);
        CHECK_INT(pthread_join(t, &result), 0);
        CHECK(result == PTHREAD_CANCELED);
        CHECK_INT(cancelled_in_call, 0);
        printf("round %d: cancelled after %ld crop(s)\n", round, crops_done - before);
    }
    CHECK_INT(bad_crops, 0);
    free(input);
    return check_report("test_cancel");
}
