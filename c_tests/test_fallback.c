/* A large crop whose helper threads cannot start: under an address-space
 * cap that leaves room for the output block but not for a thread's stack,
 * pthread_create fails and crop() must still finish the copy on the calling
 * thread, with correct contents and errno untouched.
 * Run plainly only: valgrind and ASan reserve address space of their own. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "check.h"
#include "crop.h"

#define DIM 3000
#define SIDE 2000 /* 16 MB out: above the parallel threshold */

static void *idle(void *arg)
{
    return arg;
}

/* Current address-space size in bytes, from /proc/self/status (VmSize). */
static long vm_size(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kib * 1024;
}

int main(void)
{
    static int in[DIM * DIM];
    struct rlimit cap;
    pthread_t t;
    int *out = NULL;
    int r = 0, c = 0, k, i, j, same = 1, started;
    size_t out_bytes = (size_t)SIDE * SIDE * sizeof(int);

    for (k = 0; k < DIM * DIM; k++)
        in[k] = k * 3 + 1;
    /* Room for the output block and a little more, not for an 8 MiB stack. */
    cap.rlim_cur = cap.rlim_max = (rlim_t)vm_size() + out_bytes + (4 << 20);
    CHECK(setrlimit(RLIMIT_AS, &cap) == 0);

    errno = 4321;
    crop(in, DIM, DIM, 10, 10 + SIDE, 20, 20 + SIDE, &out, &r, &c);
    CHECK_INT(errno, 4321);
    CHECK(out != NULL);
    CHECK_INT(r, SIDE);
    CHECK_INT(c, SIDE);
    for (j = 0; j < r && out != NULL; j++)
        for (i = 0; i < c; i++)
            same &= out[(size_t)j * c + i] == in[(j + 10) * DIM + i + 20];
    CHECK(same);
    /* With the output block still mapped, a thread indeed cannot start. */
    started = pthread_create(&t, NULL, idle, NULL);
    if (started == 0)
        pthread_join(t, NULL);
    CHECK(started != 0);
    free(out);
    return check_report("test_fallback");
}
