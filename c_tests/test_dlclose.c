/* The helper pool and dlclose(): a host that loads the library with
 * dlopen(), makes large crops (which start helper threads, kept for the
 * next crop) and unloads it must be left with no thread of the library:
 * its unload destructor joins the helpers before dlclose() returns. The
 * library is loaded and unloaded several times, with several thread
 * counts; each time it is really unloaded (dlopen with RTLD_NOLOAD then
 * fails), and a fresh load crops correctly again. Also: loading the
 * library and making only small crops starts no thread.
 *
 * The library's path is the first argument, else EZALLOC_SO, set when the
 * test is built (the Makefile's: target/dist/libezalloc.so). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <time.h>
#include <dlfcn.h>
#include <stdlib.h>

#include "check.h"
#include "tasks.h"

#ifndef EZALLOC_SO
#define EZALLOC_SO "libezalloc.so"
#endif

#define DIM 2100
#define SIDE 2048 /* 16 MiB out: threaded */

typedef void crop_fn(int *, int, int, int, int, int, int, int **, int *, int *);
typedef int set_threads_fn(int);

static int *input;
static int tasks_after_crop; /* threads right after the last crop_ok's crop */

/* One crop through `crop`, checked in full; 1 if right. */
static int crop_ok(crop_fn *crop, int side)
{
    int *out = NULL, r = 0, c = 0, i, j, same = 1;

    crop(input, DIM, DIM, 1, 1 + side, 3, 3 + side, &out, &r, &c);
    tasks_after_crop = tasks();
    if (out == NULL || r != side || c != side) {
        free(out);
        return 0;
    }
    for (j = 0; j < r; j++)
        for (i = 0; i < c; i++)
            same &= out[(size_t)j * c + i] == input[(size_t)(j + 1) * DIM + i + 3];
    free(out);
    return same;
}

/* Load, crop with `threads` threads (large crops if `large`), unload. */
static void load_crop_unload(const char *path, int threads, int large)
{
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    crop_fn *crop;
    set_threads_fn *set_threads;

    CHECK(lib != NULL);
    if (lib == NULL)
        return;
    *(void **)&crop = dlsym(lib, "crop");
    *(void **)&set_threads = dlsym(lib, "ezalloc_set_threads");
    CHECK(crop != NULL && set_threads != NULL);
    if (crop == NULL || set_threads == NULL)
        return;
    set_threads(threads);
    CHECK_INT(tasks(), 1);
    CHECK(crop_ok(crop, 10));
    CHECK_INT(tasks(), 1); /* small crops: no thread */
    if (large) {
        CHECK(crop_ok(crop, SIDE));
        CHECK(crop_ok(crop, SIDE));
        /* The pool stays between crops (counted right after the crop:
         * idle helpers leave after 200 ms, and checking a crop takes longer
         * than that under valgrind). */
        CHECK_INT(tasks_after_crop, threads);
    }
    CHECK_INT(dlclose(lib), 0);
    CHECK_INT(tasks_settled(1), 1); /* joined by the unload destructor */
    CHECK(dlopen(path, RTLD_NOW | RTLD_NOLOAD) == NULL); /* really unloaded */
}

int main(int argc, char **argv)
{
    size_t k;
    const char *path = argc > 1 ? argv[1] : EZALLOC_SO;

    input = malloc(sizeof(int) * (size_t)DIM * DIM);
    CHECK(input != NULL);
    if (input == NULL)
        return check_report("test_dlclose");
    for (k = 0; k < (size_t)DIM * DIM; k++)
        input[k] = (int)(k * 3 + 1);
    CHECK_INT(tasks(), 1);
    load_crop_unload(path, 2, 0);
    load_crop_unload(path, 2, 1);
    load_crop_unload(path, 4, 1);
    load_crop_unload(path, 2, 1);
    free(input);
    return check_report("test_dlclose");
}
