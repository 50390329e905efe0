/* The machine's limit for `make bench`'s crop table: a contiguous copy of
 * n bytes into memory freshly obtained from malloc(), split over `threads`
 * threads (the caller and threads - 1 pthreads), each with memcpy (which
 * uses streaming stores for large sizes). The block is advised to use
 * transparent huge pages as the library advises its large blocks, and the
 * time counts malloc, the first touch of every page (the kernel zeroing
 * it), the copy and free: what any crop into a new block must pay.
 * Returns the best of `reps` runs in seconds, or -1 on failure. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define MAX_THREADS 64

struct part {
    const char *src;
    char *dst;
    size_t n;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *copy_part(void *arg)
{
    struct part *p = arg;
    memcpy(p->dst, p->src, p->n);
    return NULL;
}

static void advise_huge(char *block, size_t n)
{
    uintptr_t start = ((uintptr_t)block + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    uintptr_t end = ((uintptr_t)block + n) / HUGE_PAGE * HUGE_PAGE;
    if (n >= HUGE_PAGE && end > start)
        madvise((void *)start, end - start, MADV_HUGEPAGE);
}

double bench_stream_copy(const void *src, size_t n, int threads, int reps)
{
    double best = 1e30;
    int rep, t;

    if (threads < 1)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    for (rep = 0; rep < reps; rep++) {
        struct part parts[MAX_THREADS];
        pthread_t ids[MAX_THREADS];
        int started = 0;
        size_t chunk = (n / (size_t)threads + 4095) / 4096 * 4096;
        double t0 = now();
        char *dst = malloc(n ? n : 1);

        if (dst == NULL)
            return -1.0;
        advise_huge(dst, n);
        for (t = 0; t < threads; t++) {
            size_t lo = (size_t)t * chunk < n ? (size_t)t * chunk : n;
            size_t hi = lo + chunk < n ? lo + chunk : n;
            parts[t].src = (const char *)src + lo;
            parts[t].dst = dst + lo;
            parts[t].n = hi - lo;
        }
        for (t = 1; t < threads; t++) {
            if (pthread_create(&ids[t], NULL, copy_part, &parts[t]) != 0)
                break;
            started = t;
        }
        for (t = started + 1; t < threads; t++)      /* threads that did not start */
            copy_part(&parts[t]);
        copy_part(&parts[0]);
        for (t = 1; t <= started; t++)
            pthread_join(ids[t], NULL);
        free(dst);
        t0 = now() - t0;
        if (t0 < best)
            best = t0;
    }
    return best;
}
