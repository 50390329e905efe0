/* alloc() and ezalloc_free() against the original's contract. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "check.h"
#include "ezalloc.h"

#define PRESET 4242 /* errno before each call: success must leave it */

/* One call of alloc() that checks the outcome of the original: *n == ni,
 * the block NULL exactly when malloc(ni * sizeof(int)) fails, ENOMEM then. */
static void check_alloc(int ni, int expect_block)
{
    int *veco = (int *)&veco; /* garbage that must be overwritten */
    int n = -7;
    int i;

    errno = PRESET;
    alloc(ni, &veco, &n);
    CHECK_INT(n, ni);
    if (expect_block) {
        CHECK(veco != NULL);
        CHECK_INT(errno, PRESET);
        for (i = 0; i < ni && veco != NULL; i++)
            veco[i] = i; /* the whole block is writable (valgrind checks) */
        ezalloc_free(veco);
    } else {
        CHECK(veco == NULL);
        CHECK_INT(errno, ENOMEM);
    }
}

int main(void)
{
    int ni;
    void *zero;
    int *veco;
    int n;

    for (ni = 1; ni <= 4096; ni *= 2)
        check_alloc(ni, 1);
    check_alloc(1000003, 1);

    /* ni == 0 behaves as malloc(0) does on this system. */
    zero = malloc(0);
    check_alloc(0, zero != NULL);
    free(zero);

    /* A negative ni converts to a huge size_t: malloc fails. */
    if (huge_sizes_allowed()) {
        check_alloc(-1, 0);
        check_alloc(-4096, 0);
        check_alloc(INT_MIN, 0);
    }

    /* Blocks are plain malloc memory: free() releases them too. */
    errno = PRESET;
    alloc(16, &veco, &n);
    CHECK(veco != NULL);
    CHECK_INT(errno, PRESET);
    free(veco);

    /* NULL out-pointers: EINVAL, nothing allocated, the other output empty. */
    n = 99;
    errno = 0;
    alloc(8, NULL, &n);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(n, 0);
    veco = (int *)&veco;
    errno = 0;
    alloc(8, &veco, NULL);
    CHECK_INT(errno, EINVAL);
    CHECK(veco == NULL);
    errno = 0;
    alloc(8, NULL, NULL);
    CHECK_INT(errno, EINVAL);

    /* ezalloc_free(NULL) is a no-op, as free(NULL). */
    errno = PRESET;
    ezalloc_free(NULL);

    return check_report("test_alloc");
}
