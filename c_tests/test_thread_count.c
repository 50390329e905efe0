/* The thread setting and the helper threads of large crops, counted
 * through -Wl,--wrap=pthread_create (static library) and /proc/self/task,
 * and the state those threads start in.
 *
 * Run without arguments, the program re-executes itself once per case, with
 * the environment (EZALLOC_THREADS) or CPU affinity of that case, since the
 * library reads both when it is loaded. Each child checks:
 * - ezalloc_get_threads() is the default the case implies: EZALLOC_THREADS
 *   when a positive integer (at most 64), else the CPUs available (affinity
 *   mask and cgroup CPU quota; at most 8);
 * - the helpers are a pool: a process that made no large crop has no thread
 *   of the library; small crops never start one; the first large crop
 *   (16 MiB out) starts get_threads() - 1 helpers, which stay: the next
 *   large crop starts none; a higher setting starts the missing ones only;
 * - ezalloc_set_threads(1) joins every helper before it returns, and large
 *   crops then start none; idle helpers leave by themselves within a
 *   second (the library's idle time is 200 ms);
 * - setenv() after start-up changes nothing (the variable is read at load
 *   time, never during a call);
 * - ezalloc_set_threads(): returns the previous value, n >= 1 sets it
 *   (capped at 64), 0 restores the default, n < 0 is EINVAL and returns -1;
 *   errno is untouched on success;
 * - at every pthread_create the library makes, the creating thread has
 *   every blockable signal blocked (so the helper starts with a full mask)
 *   and cancellation disabled; after the call the caller's mask and
 *   cancellation state are its own again. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tasks.h"
#include "crop.h"
#include "ezalloc.h"

#define DIM 2100
#define SIDE 2000 /* 16 MB out: a large crop */

static int created, full_masks, cancel_disabled;

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg);

/* Every signal a thread can block: all but SIGKILL, SIGSTOP and glibc's two
 * internal ones (32 and 33, which pthread_sigmask never blocks). */
static int mask_is_full(const sigset_t *set)
{
    int sig;
    for (sig = 1; sig < SIGRTMAX; sig++)
        if (sig != SIGKILL && sig != SIGSTOP && sig != 32 && sig != 33 &&
            !sigismember(set, sig))
            return 0;
    return 1;
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg)
{
    sigset_t now;
    int state;

    pthread_sigmask(SIG_BLOCK, NULL, &now);
    if (mask_is_full(&now))
        __atomic_add_fetch(&full_masks, 1, __ATOMIC_SEQ_CST);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
    pthread_setcancelstate(state, &state);
    if (state == PTHREAD_CANCEL_DISABLE)
        __atomic_add_fetch(&cancel_disabled, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&created, 1, __ATOMIC_SEQ_CST);
    return __real_pthread_create(t, a, f, arg);
}

static int in[DIM * DIM];

/* Helpers started by one crop of side x side; checks the copy, the state
 * the helpers started in and the caller's state afterwards. */
static int crop_threads(int side)
{
    int *out = NULL, r, c, before = created, full_before = full_masks;
    int disabled_before = cancel_disabled, state, started;
    sigset_t mine, after;

    sigemptyset(&mine);
    sigaddset(&mine, SIGUSR2);
    pthread_sigmask(SIG_SETMASK, &mine, NULL);
    errno = 4242;
    crop(in, DIM, DIM, 1, 1 + side, 2, 2 + side, &out, &r, &c);
    CHECK_INT(errno, 4242);
    CHECK(out != NULL);
    if (out != NULL) {
        CHECK_INT(out[0], in[DIM + 2]);
        CHECK_INT(out[(size_t)side * side - 1], in[(size_t)side * DIM + 1 + side]);
    }
    free(out);
    started = created - before;
    CHECK_INT(full_masks - full_before, started);
    CHECK_INT(cancel_disabled - disabled_before, started);
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    CHECK(sigismember(&after, SIGUSR2) && !sigismember(&after, SIGUSR1));
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &state);
    CHECK_INT(state, PTHREAD_CANCEL_ENABLE);
    return started;
}

/* A large crop: the helpers it starts are those missing from the pool of
 * `threads` - 1 that the process had before; afterwards it has at least
 * that many. */
static void large_crop(int threads)
{
    int helpers_before = tasks() - 1, need = threads - 1 - helpers_before;
    CHECK_INT(crop_threads(SIDE), need > 0 ? need : 0);
    CHECK(tasks() >= threads);
}

/* Waits up to 3 s for the helpers to leave by themselves; 1 if they did. */
static int helpers_leave(void)
{
    int k;
    for (k = 0; k < 300 && tasks() != 1; k++) {
        struct timespec pause = {0, 10000000};
        nanosleep(&pause, NULL);
    }
    return tasks() == 1;
}

/* The checks of one case, in a child whose default is `want`. */
static int child(int want)
{
    int k;

    for (k = 0; k < DIM * DIM; k++)
        in[k] = k;
    CHECK_INT(ezalloc_get_threads(), want);
    CHECK_INT(crop_threads(10), 0); /* small: never threads */
    CHECK_INT(tasks(), 1);          /* no large copy yet: no thread */
    CHECK_INT(crop_threads(SIDE), want - 1);
    CHECK_INT(tasks(), want);
    large_crop(want); /* the pool is reused */
    /* Read at load time only. */
    setenv("EZALLOC_THREADS", want == 5 ? "6" : "5", 1);
    large_crop(want);
    CHECK_INT(ezalloc_get_threads(), want);

    errno = 77;
    CHECK_INT(ezalloc_set_threads(3), want);
    CHECK_INT(ezalloc_get_threads(), 3);
    CHECK_INT(errno, 77);
    large_crop(3);
    CHECK_INT(crop_threads(10), 0);
    CHECK_INT(ezalloc_set_threads(1), 3);
    CHECK_INT(tasks_settled(1), 1); /* joined before set_threads returned */
    CHECK_INT(crop_threads(SIDE), 0);
    CHECK_INT(tasks(), 1);
    CHECK_INT(ezalloc_set_threads(1000), 1);
    CHECK_INT(ezalloc_get_threads(), 64);
    CHECK_INT(crop_threads(SIDE), 63);
    CHECK_INT(tasks(), 64);
    errno = 78;
    CHECK_INT(ezalloc_set_threads(0), 64);
    CHECK_INT(ezalloc_get_threads(), want);
    CHECK_INT(errno, 78);
    CHECK_INT(ezalloc_set_threads(-1), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(ezalloc_set_threads(-1000), -1);
    CHECK_INT(ezalloc_get_threads(), want);
    large_crop(want);
    /* Idle helpers leave by themselves, and a later large crop starts
     * them again. */
    CHECK(helpers_leave());
    CHECK_INT(crop_threads(SIDE), want - 1);
    CHECK(helpers_leave());
    printf("  default %d thread(s): %d helper(s), started once and reused\n", want, want - 1);
    return check_report("test_thread_count (child)");
}

/* quota / period of a cgroup CPU limit file pair, or 0 if unlimited. */
static long quota_cpus(const char *dir, int v2)
{
    char path[8192];
    char text[128];
    long quota = -1, period = 0, n = 0;
    FILE *f;

    if (v2) {
        snprintf(path, sizeof path, "%s/cpu.max", dir);
        if ((f = fopen(path, "r")) == NULL)
            return 0;
        if (fgets(text, sizeof text, f) != NULL && strncmp(text, "max", 3) != 0)
            sscanf(text, "%ld %ld", &quota, &period);
        fclose(f);
    } else {
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
        if ((f = fopen(path, "r")) == NULL)
            return 0;
        n = fscanf(f, "%ld", &quota);
        fclose(f);
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
        if (n != 1 || (f = fopen(path, "r")) == NULL)
            return 0;
        n = fscanf(f, "%ld", &period);
        fclose(f);
        if (n != 1)
            return 0;
    }
    if (quota <= 0 || period <= 0)
        return 0;
    return quota / period > 0 ? quota / period : 1;
}

/* The CPUs the library should count: the affinity mask, lowered by a
 * cgroup CPU quota of this process's cgroup or one above it (v2 at
 * /sys/fs/cgroup, v1 at /sys/fs/cgroup/cpu). */
static int expected_cpus(void)
{
    cpu_set_t set;
    int cpus = 1;
    char line[4096];
    FILE *f = fopen("/proc/self/cgroup", "r");

    if (sched_getaffinity(0, sizeof set, &set) == 0)
        cpus = CPU_COUNT(&set);
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        char dir[4096];
        char *path = strchr(line, ':'), *v1;
        int v2;
        if (path == NULL || (path = strchr(path + 1, ':')) == NULL)
            continue;
        path++;
        path[strcspn(path, "\n")] = '\0';
        v2 = strncmp(line, "0::", 3) == 0;
        v1 = strstr(line, ":cpu:") != NULL || strstr(line, ",cpu,") != NULL ||
                     strstr(line, ":cpu,") != NULL || strstr(line, ",cpu:") != NULL
                 ? line
                 : NULL;
        if (!v2 && v1 == NULL)
            continue;
        for (;;) {
            long q;
            snprintf(dir, sizeof dir, "%s%s", v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu",
                     strcmp(path, "/") == 0 ? "" : path);
            q = quota_cpus(dir, v2);
            if (q > 0 && q < cpus)
                cpus = (int)q;
            if (strcmp(path, "/") == 0 || strrchr(path, '/') == NULL)
                break;
            *strrchr(path, '/') = '\0';
            if (*path == '\0')
                path = "/";
        }
    }
    if (f != NULL)
        fclose(f);
    return cpus;
}

/* Runs this program as a child with EZALLOC_THREADS = value (NULL: unset)
 * and, if one_cpu, an affinity mask of one CPU; it expects default `want`. */
static void run_case(const char *self, const char *value, int one_cpu, int want)
{
    char want_text[16];
    int status = -1;
    pid_t pid;

    printf("EZALLOC_THREADS=%s%s: expecting %d\n", value ? value : "(unset)",
           one_cpu ? ", one CPU" : "", want);
    fflush(stdout);
    snprintf(want_text, sizeof want_text, "%d", want);
    pid = fork();
    if (pid == 0) {
        char *args[] = {(char *)self, "child", want_text, NULL};
        if (value != NULL)
            setenv("EZALLOC_THREADS", value, 1);
        else
            unsetenv("EZALLOC_THREADS");
        if (one_cpu) {
            cpu_set_t set, one;
            int cpu;
            sched_getaffinity(0, sizeof set, &set);
            CPU_ZERO(&one);
            for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
                if (CPU_ISSET(cpu, &set)) {
                    CPU_SET(cpu, &one);
                    break;
                }
            sched_setaffinity(0, sizeof one, &one);
        }
        execv("/proc/self/exe", args);
        _exit(127);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
    int cpus, dflt;

    if (argc == 3 && strcmp(argv[1], "child") == 0)
        return child(atoi(argv[2]));
    cpus = expected_cpus();
    dflt = cpus < 8 ? cpus : 8;
    printf("CPUs available (affinity, cgroup quota): %d\n", cpus);
    run_case(argv[0], NULL, 0, dflt);
    run_case(argv[0], "", 0, dflt);
    run_case(argv[0], "x", 0, dflt);
    run_case(argv[0], "0", 0, dflt);
    run_case(argv[0], "-2", 0, dflt);
    run_case(argv[0], "1", 0, 1);
    run_case(argv[0], "2", 0, 2);
    run_case(argv[0], "3", 0, 3);
    run_case(argv[0], "16", 0, 16);
    run_case(argv[0], "100", 0, 64);
    /* Above 64, however large, is 64 (not the CPU default). */
    run_case(argv[0], "18446744073709551615", 0, 64);
    run_case(argv[0], "18446744073709551616", 0, 64);
    run_case(argv[0], "99999999999999999999", 0, 64);
    run_case(argv[0], NULL, 1, 1);
    run_case(argv[0], "4", 1, 4);
    return check_report("test_thread_count");
}
