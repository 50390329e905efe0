/* pthread_cancel of a thread that runs crops: a worker loops over crops,
 * free() and pthread_testcancel(); the main thread cancels it at a random
 * moment and joins it. The cancel must act at the worker's own cancellation
 * point, after crop() has returned: never inside the library (whose helper
 * threads would still be copying), never a crash. Rounds alternate large
 * (threaded) crops of a 4095 x 4095 window (64 MiB out) and small ones of
 * 64 x 64 on the calling thread alone, where the library changes no
 * cancellation state; several of each, since the moment of the cancel
 * matters. Also: crop() restores the caller's cancellation state, enabled
 * or disabled, for both sizes.
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
#define ROUNDS_VALGRIND 4

static int dim;          /* input is dim x dim */
static int side;         /* the window is [0:side, 0:side] */
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
        crop(input, dim, dim, 0, side, 0, side, &out, &r, &c);
        in_call = 0;
        if (out == NULL || errno != 0 || r != side || c != side ||
            out[0] != input[0] || out[(size_t)r * c - 1] != input[(size_t)(side - 1) * dim + side - 1])
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

    for (k = 0; k < 4; k++) {
        int *out = NULL, r, c, n = k < 2 ? dim - 1 : 64;
        CHECK_INT(pthread_setcancelstate(states[k % 2], &old), 0);
        crop(input, dim, dim, 0, n, 0, n, &out, &r, &c);
        CHECK(out != NULL);
        free(out);
        CHECK_INT(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &now), 0);
        CHECK_INT(now, states[k % 2]);
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
        side = round % 2 == 0 ? dim - 1 : 64;
        CHECK_INT(pthread_create(&t, NULL, worker, NULL), 0);
        /* Cancel at a random moment, usually during a crop. */
        seed = seed * 1103515245u + 12345u;
        sleep_us((valgrind ? 200000 : 2000) + (long)((seed >> 8) % 30000));
        CHECK_INT(pthread_cancel(t), 0);
        CHECK_INT(pthread_join(t, &result), 0);
        CHECK(result == PTHREAD_CANCELED);
        CHECK_INT(cancelled_in_call, 0);
        printf("round %d: %dx%d window, cancelled after %ld crop(s)\n", round, side, side,
               crops_done - before);
    }
    CHECK_INT(bad_crops, 0);
    free(input);
    return check_report("test_cancel");
}
