/* libfailmalloc.so: an LD_PRELOAD interposer of malloc() that fails on demand,
 * so that tests of programs that load libezalloc.so (Python with ctypes or
 * SWIG, C linked against the shared library) can reach the ENOMEM branches.
 *
 *   failmalloc_arm(size, count): the next `count` malloc() calls that ask for
 *       exactly `size` bytes return NULL with errno = ENOMEM, as glibc's
 *       malloc() does when it fails. count <= 0 disarms. Other sizes, and
 *       calloc/realloc/free, are untouched.
 *   failmalloc_failures(): how many calls this library failed so far.
 *
 * Every other call goes to glibc's allocator through __libc_malloc, exported
 * by glibc for this purpose (no dlsym bootstrap problem). The state is
 * updated with atomics: malloc() may be called from any thread. */
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);

void failmalloc_arm(size_t size, int count);
int failmalloc_failures(void);
void *malloc(size_t size);

static size_t armed_size;
static int armed_count;
static int failures;

void failmalloc_arm(size_t size, int count)
{
    /* Disarm first so that no call sees the new size with the old count. */
    __atomic_store_n(&armed_count, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&armed_size, size, __ATOMIC_SEQ_CST);
    __atomic_store_n(&armed_count, count > 0 ? count : 0, __ATOMIC_SEQ_CST);
}

int failmalloc_failures(void)
{
    return __atomic_load_n(&failures, __ATOMIC_SEQ_CST);
}

/* Takes one of the armed failures for a request of `size` bytes, if any. */
static int take_failure(size_t size)
{
    int left = __atomic_load_n(&armed_count, __ATOMIC_SEQ_CST);

    while (left > 0 && size == __atomic_load_n(&armed_size, __ATOMIC_SEQ_CST)) {
        if (__atomic_compare_exchange_n(&armed_count, &left, left - 1, 0,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return 1;
    }
    return 0;
}

void *malloc(size_t size)
{
    if (take_failure(size)) {
        __atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(size);
}
