/* After fork(), the child crops like the parent: large (threaded) and small
 * crops give the right contents, and the thread setting is inherited. The
 * parent's helper threads (a pool kept between large crops) do not exist in
 * the child: it starts with one thread and starts its own helpers (the
 * library's fork handler resets the pool there). This also holds when the
 * fork happens while another thread of the parent is in the middle of a
 * threaded crop, holding the pool: several rounds of that (not under
 * valgrind, see main). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tasks.h"
#include "crop.h"
#include "ezalloc.h"

#define DIM 2100
#define SIDE 2048 /* 16 MiB out: threaded */
#define MEDIUM 400 /* 625 KiB out: threaded, but wakes no sleeping helper */
#define ROUNDS 8
#define MEDIUM_FORKS 40

static int *input;
static int stop;           /* atomic builtins: shared between threads */
static long cropping_done; /* written by the busy thread only */
static int tasks_after_crop; /* threads right after the last crop_ok's crop */

/* One crop, checked in full; 1 if right. */
static int crop_ok(int d1_0, int side)
{
    int *out = NULL, r = 0, c = 0, i, j, same = 1;

    errno = 0;
    crop(input, DIM, DIM, d1_0, d1_0 + side, 7, 7 + side, &out, &r, &c);
    tasks_after_crop = tasks();
    if (out == NULL || errno != 0 || r != side || c != side) {
        free(out);
        return 0;
    }
    for (j = 0; j < r; j++)
        for (i = 0; i < c; i++)
            same &= out[(size_t)j * c + i] == input[(size_t)(j + d1_0) * DIM + i + 7];
    free(out);
    return same;
}

/* In the child: one thread at first, large and small crops, the inherited
 * setting, and its own helpers afterwards. Exit status 0 when all is
 * right. */
static void child(int want_threads)
{
    int ok = tasks() == 1;
    ok = ok && crop_ok(1, SIDE) && crop_ok(2, 10) && crop_ok(0, SIDE);
    /* Counted right after the crop: idle helpers leave after 200 ms, and
     * checking a crop takes longer than that under valgrind. */
    ok = ok && ezalloc_get_threads() == want_threads && tasks_after_crop == want_threads;
    /* _exit runs no destructor: join the child's helpers first (valgrind
     * checks the child's leaks too), which also checks set_threads(1) in a
     * child. */
    ezalloc_set_threads(1);
    ok = ok && tasks_settled(1) == 1;
    free(input); /* valgrind checks the child's leaks too */
    _exit(ok ? 0 : 1);
}

static int fork_and_check(int want_threads)
{
    int status = -1;
    pid_t pid;

    /* Under valgrind, no helper of the parent may be alive at the fork: the
     * child cannot free the thread structures of threads it does not have,
     * and valgrind checks its leaks. (Plain runs fork with the pool alive.) */
    if (getenv("EZALLOC_TEST_UNDER_VALGRIND") != NULL) {
        ezalloc_set_threads(1);
        ezalloc_set_threads(want_threads);
    }
    pid = fork();

    if (pid == 0)
        child(want_threads);
    if (pid < 0)
        return 0;
    if (waitpid(pid, &status, 0) != pid)
        return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void *busy(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST)) {
        if (!crop_ok(3, SIDE))
            return (void *)1;
        __atomic_add_fetch(&cropping_done, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

/* Medium crops, one every 100 us (apart enough not to count as a loop of
 * copies, so no helper is started): each one holds the pool while it
 * copies. */
static void *busy_medium(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST)) {
        struct timespec pause = {0, 100000};
        if (!crop_ok(5, MEDIUM))
            return (void *)1;
        __atomic_add_fetch(&cropping_done, 1, __ATOMIC_SEQ_CST);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* The child of a fork made while another thread makes medium crops, before
 * the process made any large one: set_threads returns (within the alarm),
 * and a large crop runs with the child's own helpers. */
static void medium_child(void)
{
    int ok;
    alarm(20); /* a hang is a failure (SIGALRM), not a stuck test */
    ezalloc_set_threads(1);
    ok = tasks() == 1;
    ezalloc_set_threads(3);
    ok = ok && crop_ok(1, SIDE) && tasks_after_crop == 3;
    ezalloc_set_threads(1);
    ok = ok && tasks_settled(1) == 1;
    _exit(ok ? 0 : 1);
}

/* MEDIUM_FORKS forks during another thread's medium crops, in a process
 * that has made no large crop yet (so no helper was ever started). */
static void forks_during_medium_crops(void)
{
    pthread_t t;
    void *result = (void *)1;
    int round, bad = 0;

    ezalloc_set_threads(3);
    cropping_done = 0;
    CHECK_INT(pthread_create(&t, NULL, busy_medium, NULL), 0);
    for (round = 0; round < MEDIUM_FORKS; round++) {
        struct timespec pause = {0, 200000 + 37000 * round};
        int status = -1;
        pid_t pid;
        nanosleep(&pause, NULL);
        pid = fork();
        if (pid == 0)
            medium_child();
        if (pid < 0 || waitpid(pid, &status, 0) != pid ||
            !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("fork %d during a medium crop: the child %s\n", round + 1,
                   pid > 0 && WIFSIGNALED(status) ? "hung (killed by its alarm)" : "failed");
            bad++;
        }
    }
    __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
    CHECK_INT(pthread_join(t, &result), 0);
    CHECK(result == NULL);
    CHECK_INT(bad, 0);
    printf("%d forks during %ld medium crops of another thread\n", MEDIUM_FORKS, cropping_done);
    __atomic_store_n(&stop, 0, __ATOMIC_SEQ_CST);
    cropping_done = 0;
    ezalloc_set_threads(0);
}

int main(void)
{
    pthread_t t;
    void *busy_result = (void *)1;
    size_t k;
    /* Under valgrind, only the plain forks: a child forked during another
     * thread's crop inherits that crop's output block, which nothing in the
     * child can free (the thread does not exist there), and valgrind checks
     * the child's leaks too. */
    int round, rounds = getenv("EZALLOC_TEST_UNDER_VALGRIND") != NULL ? 0 : ROUNDS;
#if defined(__SANITIZE_ADDRESS__)
    /* Nor under AddressSanitizer: this toolchain's ASan takes no lock
     * around fork(), so a child forked while another thread is inside
     * ASan's allocator (a helper thread exiting, say) can spin forever on
     * the allocator's lock, which nobody in the child will release. */
    rounds = 0;
#endif

    input = malloc(sizeof(int) * (size_t)DIM * DIM);
    CHECK(input != NULL);
    if (input == NULL)
        return check_report("test_fork");
    for (k = 0; k < (size_t)DIM * DIM; k++)
        input[k] = (int)(k * 7 + 1);

    /* First, before any large crop of this process. */
    if (rounds > 0)
        forks_during_medium_crops();

    /* Plain fork, with the default setting and with a set one. */
    CHECK(crop_ok(0, SIDE));
    CHECK(fork_and_check(ezalloc_get_threads()));
    ezalloc_set_threads(3);
    CHECK(fork_and_check(3));

    /* Forks while another thread is in the middle of threaded crops. */
    CHECK_INT(pthread_create(&t, NULL, busy, NULL), 0);
    for (round = 0; round < rounds; round++) {
        struct timespec pause = {0, 1000000 + 700000 * round};
        nanosleep(&pause, NULL);
        CHECK(fork_and_check(3));
    }
    __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
    CHECK_INT(pthread_join(t, &busy_result), 0);
    CHECK(busy_result == NULL);
    printf("%d forks during %ld threaded crops of another thread\n", rounds, cropping_done);
    ezalloc_set_threads(0);
    free(input);
    return check_report("test_fork");
}
