/* The host's signal handlers never run on the library's threads. The
 * program blocks SIGUSR1 in every thread but its worker; the worker runs
 * threaded crops (16 MiB out) while the main thread sends SIGUSR1 to the
 * process again and again. The kernel may deliver a process-directed
 * signal to any thread that does not block it: the handler must always run
 * on the worker, never on a helper thread the library started (helpers
 * start with every signal blocked). The worker's own mask is the same after
 * each crop. Several rounds, since the timing matters. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "crop.h"

#define ROUNDS 6
#define CROPS 40 /* per round */
#define ROUNDS_VALGRIND 2
#define CROPS_VALGRIND 4
#define DIM 2100
#define SIDE 2048 /* 16 MiB out: threaded */

static int *input;
/* Shared between threads and the handler: accessed with atomic builtins
 * (lock-free for int, hence async-signal-safe). */
static int worker_tid;
static int handled, handled_elsewhere;
static int worker_done;
static long bad_crops, mask_changed; /* read after the join only */
static int crops = CROPS;

static void on_usr1(int sig)
{
    (void)sig;
    __atomic_add_fetch(&handled, 1, __ATOMIC_SEQ_CST);
    if ((int)syscall(SYS_gettid) != __atomic_load_n(&worker_tid, __ATOMIC_SEQ_CST))
        __atomic_add_fetch(&handled_elsewhere, 1, __ATOMIC_SEQ_CST);
}

static void *worker(void *arg)
{
    sigset_t usr1, before, after;
    int k;

    (void)arg;
    __atomic_store_n(&worker_tid, (int)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    /* Under valgrind, which runs one thread at a time, the sender may not
     * get a turn during a few crops: then more crops, until one signal has
     * been handled here (at most 50 times as many). */
    for (k = 0; k < crops || (k < 50 * crops && __atomic_load_n(&handled, __ATOMIC_SEQ_CST) == 0);
         k++) {
        int *out = NULL, r = 0, c = 0;
        errno = 0;
        crop(input, DIM, DIM, 3, 3 + SIDE, 5, 5 + SIDE, &out, &r, &c);
        /* A handler may set errno only if it is not async-signal-safe; ours
         * does not touch it. */
        if (out == NULL || errno != 0 || out[0] != input[3 * DIM + 5] ||
            out[(size_t)SIDE * SIDE - 1] != input[(size_t)(2 + SIDE) * DIM + 4 + SIDE])
            bad_crops++;
        free(out);
        sched_yield(); /* a turn for the sender (valgrind runs one thread at a time) */
        pthread_sigmask(SIG_BLOCK, NULL, &after);
        if (sigismember(&after, SIGUSR1) != sigismember(&before, SIGUSR1) ||
            sigismember(&after, SIGUSR2) != sigismember(&before, SIGUSR2))
            mask_changed++;
    }
    __atomic_store_n(&worker_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    sigset_t usr1;
    int round, rounds = ROUNDS;
    size_t k;

    if (getenv("EZALLOC_TEST_UNDER_VALGRIND") != NULL) {
        rounds = ROUNDS_VALGRIND;
        crops = CROPS_VALGRIND;
    }
    input = malloc(sizeof(int) * (size_t)DIM * DIM);
    CHECK(input != NULL);
    if (input == NULL)
        return check_report("test_signals");
    for (k = 0; k < (size_t)DIM * DIM; k++)
        input[k] = (int)k;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    CHECK_INT(sigaction(SIGUSR1, &sa, NULL), 0);
    /* Blocked here, hence in every thread this one starts. */
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    CHECK_INT(pthread_sigmask(SIG_BLOCK, &usr1, NULL), 0);

    for (round = 0; round < rounds; round++) {
        pthread_t t;
        long sent = 0;
        int before = __atomic_load_n(&handled, __ATOMIC_SEQ_CST);
        struct timespec pause = {0, 20000}; /* 20 us */

        __atomic_store_n(&worker_done, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&worker_tid, 0, __ATOMIC_SEQ_CST);
        CHECK_INT(pthread_create(&t, NULL, worker, NULL), 0);
        while (!__atomic_load_n(&worker_done, __ATOMIC_SEQ_CST)) {
            if (__atomic_load_n(&worker_tid, __ATOMIC_SEQ_CST) != 0) {
                kill(getpid(), SIGUSR1);
                sent++;
            }
            nanosleep(&pause, NULL);
        }
        CHECK_INT(pthread_join(t, NULL), 0);
        printf("round %d: %ld signals sent, %d handled, %d on another thread\n", round,
               sent, __atomic_load_n(&handled, __ATOMIC_SEQ_CST) - before,
               __atomic_load_n(&handled_elsewhere, __ATOMIC_SEQ_CST));
    }
    CHECK(__atomic_load_n(&handled, __ATOMIC_SEQ_CST) > 0);
    CHECK_INT(__atomic_load_n(&handled_elsewhere, __ATOMIC_SEQ_CST), 0);
    CHECK_INT(bad_crops, 0);
    CHECK_INT(mask_changed, 0);
    free(input);
    return check_report("test_signals");
}
