/* Minimal checking helpers for the C tests: each failed check prints where it
 * failed; check_report() prints a summary and gives the exit status. */
#ifndef EZALLOC_CHECK_H
#define EZALLOC_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static long check_count;
static long check_failures;

#define CHECK(cond)                                                          \
    do {                                                                     \
        check_count++;                                                       \
        if (!(cond)) {                                                       \
            check_failures++;                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

#define CHECK_INT(got, want)                                                  \
    do {                                                                      \
        long got_ = (long)(got), want_ = (long)(want);                        \
        check_count++;                                                        \
        if (got_ != want_) {                                                  \
            check_failures++;                                                 \
            fprintf(stderr, "%s:%d: %s is %ld, expected %s = %ld\n", __FILE__, \
                    __LINE__, #got, got_, #want, want_);                      \
        }                                                                     \
    } while (0)

/* Under valgrind, calls that ask malloc for sizes near 2^64 are skipped:
 * valgrind reports such an argument as an error. The plain and sanitizer runs
 * make them. */
static inline int huge_sizes_allowed(void)
{
    return getenv("EZALLOC_TEST_UNDER_VALGRIND") == NULL;
}

static int check_report(const char *name)
{
    printf("%s: %ld checks, %ld failures\n", name, check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}

#endif
