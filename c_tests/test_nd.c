/* The typed crops (ezalloc_typed.h) and the N-dimensional crop
 * (ezalloc_nd.h) as C callers see them: every one of the 60 typed functions
 * against an element-by-element model over windows that include the last
 * row, EPERM/EINVAL cases and their outputs, errno untouched on success;
 * ezalloc_crop_nd over strides (negative, padded, transposed), steps,
 * defaults, and sizes that overflow. Run plainly, under valgrind and under
 * ASan+UBSan, so every block is also checked for leaks and overruns. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ezalloc_nd.h"
#include "ezalloc_typed.h"

#define PRESET 5151 /* errno before each call: success must leave it */

#define D1 5
#define D2 4
#define D3 3

/* The windows tried on an axis of length d: every (start, stop) with
 * 0 <= start <= stop <= d, and a few that do not fit. */
static int window_ok(int lo, int hi, int d) { return 0 <= lo && lo <= hi && hi <= d; }

/* For each type: crop1/2/3 and fcrop2/3 against the model, over windows on
 * every axis (all windows for 1-D and 2-D; a sweep for 3-D). */
#define TYPED_TESTS(t, T)                                                              \
    static void test_##t(void)                                                         \
    {                                                                                  \
        T in[D1 * D2 * D3];                                                            \
        T *out;                                                                        \
        int k, a0, a1, b0, b1, c0, c1, r, c, p, i, j, l, same;                         \
        for (k = 0; k < D1 * D2 * D3; k++)                                             \
            in[k] = (T)(3 * k + 1);                                                    \
        /* crop1: every window of a length-D1 vector, and bad ones. */                 \
        for (a0 = -1; a0 <= D1 + 1; a0++)                                              \
            for (a1 = -1; a1 <= D1 + 1; a1++) {                                        \
                out = (T *)&out;                                                       \
                r = -7;                                                                \
                errno = PRESET;                                                        \
                ezalloc_crop1_##t(in, D1, a0, a1, &out, &r);                           \
                if (!window_ok(a0, a1, D1)) {                                          \
                    CHECK_INT(errno, EPERM);                                           \
                    CHECK(out == NULL);                                                \
                    CHECK_INT(r, 0);                                                   \
                    continue;                                                          \
                }                                                                      \
                CHECK_INT(errno, PRESET);                                              \
                CHECK(out != NULL);                                                    \
                CHECK_INT(r, a1 - a0);                                                 \
                for (same = 1, i = 0; i < r; i++)                                      \
                    same &= out[i] == in[a0 + i];                                      \
                CHECK(same);                                                           \
                free(out);                                                             \
            }                                                                          \
        /* crop2 and fcrop2: every window of a D1 x D2 array. */                       \
        for (a0 = 0; a0 <= D1 + 1; a0++)                                               \
            for (a1 = a0 - 1; a1 <= D1 + 1; a1++)                                      \
                for (b0 = 0; b0 <= D2; b0++)                                           \
                    for (b1 = b0; b1 <= D2 + 1; b1++) {                                \
                        int fits = window_ok(a0, a1, D1) && window_ok(b0, b1, D2);     \
                        for (p = 0; p < 2; p++) {                                      \
                            out = (T *)&out;                                           \
                            r = c = -7;                                                \
                            errno = PRESET;                                            \
                            (p ? ezalloc_fcrop2_##t : ezalloc_crop2_##t)(              \
                                in, D1, D2, a0, a1, b0, b1, &out, &r, &c);             \
                            if (!fits) {                                               \
                                CHECK_INT(errno, EPERM);                               \
                                CHECK(out == NULL);                                    \
                                CHECK_INT(r + c, 0);                                   \
                                continue;                                              \
                            }                                                          \
                            CHECK_INT(errno, PRESET);                                  \
                            CHECK(out != NULL);                                        \
                            CHECK_INT(r, a1 - a0);                                     \
                            CHECK_INT(c, b1 - b0);                                     \
                            same = 1;                                                  \
                            for (i = 0; i < r; i++)                                    \
                                for (j = 0; j < c; j++)                                \
                                    same &= p ? out[i + j * r] ==                      \
                                                    in[(a0 + i) + (b0 + j) * D1]       \
                                              : out[i * c + j] ==                      \
                                                    in[(a0 + i) * D2 + (b0 + j)];      \
                            CHECK(same);                                               \
                            free(out);                                                 \
                        }                                                              \
                    }                                                                  \
        /* crop3 and fcrop3: windows of a D1 x D2 x D3 array. */                       \
        for (a0 = 0; a0 <= D1; a0 += 2)                                                \
            for (a1 = a0; a1 <= D1 + 1; a1 += 2)                                       \
                for (b0 = 0; b0 <= D2; b0++)                                           \
                    for (b1 = b0; b1 <= D2; b1++)                                      \
                        for (c0 = 0; c0 <= D3; c0++)                                   \
                            for (c1 = c0 - 1; c1 <= D3; c1++) {                        \
                                int fits = window_ok(a0, a1, D1) &&                    \
                                           window_ok(b0, b1, D2) &&                    \
                                           window_ok(c0, c1, D3);                      \
                                int n3 = -7;                                           \
                                for (p = 0; p < 2; p++) {                              \
                                    out = (T *)&out;                                   \
                                    r = c = n3 = -7;                                   \
                                    errno = PRESET;                                    \
                                    (p ? ezalloc_fcrop3_##t : ezalloc_crop3_##t)(      \
                                        in, D1, D2, D3, a0, a1, b0, b1, c0, c1, &out,  \
                                        &r, &c, &n3);                                  \
                                    if (!fits) {                                       \
                                        CHECK_INT(errno, EPERM);                       \
                                        CHECK(out == NULL);                            \
                                        CHECK_INT(r + c + n3, 0);                      \
                                        continue;                                      \
                                    }                                                  \
                                    CHECK_INT(errno, PRESET);                          \
                                    CHECK(out != NULL);                                \
                                    CHECK_INT(r, a1 - a0);                             \
                                    CHECK_INT(c, b1 - b0);                             \
                                    CHECK_INT(n3, c1 - c0);                            \
                                    same = 1;                                          \
                                    for (i = 0; i < r; i++)                            \
                                        for (j = 0; j < c; j++)                        \
                                            for (l = 0; l < n3; l++)                   \
                                                same &=                                \
                                                    p ? out[i + r * (j + c * l)] ==    \
                                                            in[(a0 + i) +              \
                                                               D1 * ((b0 + j) +        \
                                                                     D2 * (c0 + l))]   \
                                                      : out[(i * c + j) * n3 + l] ==   \
                                                            in[((a0 + i) * D2 +        \
                                                                (b0 + j)) * D3 +       \
                                                               (c0 + l)];              \
                                    CHECK(same);                                       \
                                    free(out);                                         \
                                }                                                      \
                            }                                                          \
        /* EINVAL: NULL out-pointers; NULL input with a non-empty window.             \
         * An empty window reads nothing: NULL input is fine. */                       \
        errno = PRESET;                                                                \
        r = c = -7;                                                                    \
        ezalloc_crop2_##t(in, D1, D2, 0, 1, 0, 1, NULL, &r, &c);                       \
        CHECK_INT(errno, EINVAL);                                                      \
        CHECK_INT(r + c, 0);                                                           \
        out = (T *)&out;                                                               \
        errno = PRESET;                                                                \
        ezalloc_crop2_##t(in, D1, D2, 0, 1, 0, 1, &out, NULL, &c);                     \
        CHECK_INT(errno, EINVAL);                                                      \
        CHECK(out == NULL);                                                            \
        out = (T *)&out;                                                               \
        errno = PRESET;                                                                \
        ezalloc_fcrop3_##t(NULL, D1, D2, D3, 0, 1, 0, 1, 0, 1, &out, &r, &c, &k);      \
        CHECK_INT(errno, EINVAL);                                                      \
        CHECK(out == NULL);                                                            \
        errno = PRESET;                                                                \
        ezalloc_crop2_##t(NULL, D1, D2, 2, 2, 0, 3, &out, &r, &c);                     \
        CHECK_INT(errno, PRESET);                                                      \
        CHECK(out != NULL);                                                            \
        CHECK_INT(r, 0);                                                               \
        CHECK_INT(c, 3);                                                               \
        free(out);                                                                     \
        /* Misaligned input, for types that need alignment. */                         \
        if (sizeof(T) > 1) {                                                            \
            out = (T *)&out;                                                           \
            errno = PRESET;                                                            \
            ezalloc_crop1_##t((const T *)((const char *)in + 1), D1 - 1, 0, 1, &out,   \
                              &r);                                                     \
            CHECK_INT(errno, EINVAL);                                                  \
            CHECK(out == NULL);                                                        \
        }                                                                              \
        /* Dims whose size overflows: EINVAL, nothing read nor allocated. */          \
        out = (T *)&out;                                                               \
        errno = PRESET;                                                                \
        ezalloc_crop3_##t(in, INT_MAX, INT_MAX, INT_MAX, 0, 1, 0, 1, 0, 1, &out, &r,   \
                          &c, &k);                                                     \
        CHECK_INT(errno, EINVAL);                                                      \
        CHECK(out == NULL);                                                            \
        /* Negative dims: no window fits. */                                          \
        errno = PRESET;                                                                \
        ezalloc_crop2_##t(in, -1, D2, 0, 0, 0, 0, &out, &r, &c);                       \
        CHECK_INT(errno, EPERM);                                                       \
    }

TYPED_TESTS(schar, signed char)
TYPED_TESTS(uchar, unsigned char)
TYPED_TESTS(short, short)
TYPED_TESTS(ushort, unsigned short)
TYPED_TESTS(int, int)
TYPED_TESTS(uint, unsigned int)
TYPED_TESTS(long, long)
TYPED_TESTS(ulong, unsigned long)
TYPED_TESTS(longlong, long long)
TYPED_TESTS(ulonglong, unsigned long long)
TYPED_TESTS(float, float)
TYPED_TESTS(double, double)

/* ---------------------------------------------------------------- nd */

/* ezalloc_crop_nd on a 3-D array of 2-byte elements, read through a
 * reversed, padded and transposed view, against the model. */
static void nd_views(void)
{
    enum { A = 4, B = 5, C = 6 };
    uint16_t base[A * B * C * 2];
    size_t shape[3] = {C, B, A}; /* the view: axes reversed (a transpose) */
    ptrdiff_t strides[3];
    ptrdiff_t start[3] = {C - 1, 1, 0}, stop[3] = {-1, 5, 4}, step[3] = {-2, 2, 1};
    size_t out_shape[3];
    void *out = &out;
    const uint16_t *src;
    int k, i, j, l, same = 1;

    for (k = 0; k < A * B * C * 2; k++)
        base[k] = (uint16_t)(k * 7 + 3);
    /* Element (i, j, l) of the view is base[2 * (l * B * C + j * C + i)]:
     * stride 2 elements on the view's last axis... and so on. */
    strides[0] = 2 * (ptrdiff_t)sizeof(uint16_t);
    strides[1] = 2 * C * (ptrdiff_t)sizeof(uint16_t);
    strides[2] = 2 * B * C * (ptrdiff_t)sizeof(uint16_t);
    src = base;
    errno = PRESET;
    CHECK_INT(ezalloc_crop_nd(src, 2, 3, shape, strides, start, stop, step, &out, out_shape), 0);
    CHECK_INT(errno, PRESET);
    CHECK_INT(out_shape[0], 3); /* 5, 3, 1 */
    CHECK_INT(out_shape[1], 2); /* 1, 3 */
    CHECK_INT(out_shape[2], 4);
    for (i = 0; i < 3 && out; i++)
        for (j = 0; j < 2; j++)
            for (l = 0; l < 4; l++) {
                int vi = C - 1 - 2 * i, vj = 1 + 2 * j, vl = l;
                same &= ((uint16_t *)out)[(i * 2 + j) * 4 + l] ==
                        base[2 * (vl * B * C + vj * C + vi)];
            }
    CHECK(same);
    free(out);

    /* Negative strides: the same data read backwards, src at element 0,
     * which is the last element in memory. NULL start/stop/step: all. */
    {
        ptrdiff_t back[1] = {-(ptrdiff_t)sizeof(uint16_t)};
        size_t n[1] = {10}, got[1];
        errno = PRESET;
        CHECK_INT(ezalloc_crop_nd(base + 9, 2, 1, n, back, NULL, NULL, NULL, &out, got), 0);
        CHECK_INT(errno, PRESET);
        CHECK_INT(got[0], 10);
        for (same = 1, k = 0; k < 10 && out; k++)
            same &= ((uint16_t *)out)[k] == base[9 - k];
        CHECK(same);
        free(out);
    }
    /* Odd element sizes (3 bytes) and C-contiguous default strides. */
    {
        unsigned char bytes[4 * 5 * 3];
        size_t n[2] = {4, 5}, got[2];
        ptrdiff_t s0[2] = {1, 4}, s1[2] = {4, 0}, st[2] = {2, -3};
        for (k = 0; k < 60; k++)
            bytes[k] = (unsigned char)(k * 11);
        errno = PRESET;
        CHECK_INT(ezalloc_crop_nd(bytes, 3, 2, n, NULL, s0, s1, st, &out, got), 0);
        CHECK_INT(got[0], 2); /* rows 1, 3 */
        CHECK_INT(got[1], 2); /* cols 4, 1 */
        CHECK(out != NULL && memcmp(out, bytes + 3 * (1 * 5 + 4), 3) == 0);
        CHECK(out != NULL && memcmp((char *)out + 3, bytes + 3 * (1 * 5 + 1), 3) == 0);
        CHECK(out != NULL && memcmp((char *)out + 9, bytes + 3 * (3 * 5 + 1), 3) == 0);
        CHECK_INT(errno, PRESET);
        free(out);
    }
    /* 0 dimensions: one element. */
    {
        double x = 2.5;
        errno = PRESET;
        CHECK_INT(ezalloc_crop_nd(&x, sizeof x, 0, NULL, NULL, NULL, NULL, NULL, &out, NULL), 0);
        CHECK(out != NULL && *(double *)out == 2.5);
        CHECK_INT(errno, PRESET);
        free(out);
    }
}

/* One failing ezalloc_crop_nd call: the errno, NULL out, zero shape out. */
static void nd_fails(int want, const void *src, size_t itemsize, size_t ndim, const size_t *shape,
                     const ptrdiff_t *strides, const ptrdiff_t *start, const ptrdiff_t *stop,
                     const ptrdiff_t *step)
{
    void *out = &out;
    size_t got[4] = {9, 9, 9, 9};
    size_t k;

    errno = PRESET;
    CHECK_INT(ezalloc_crop_nd(src, itemsize, ndim, shape, strides, start, stop, step, &out, got),
              want);
    CHECK_INT(errno, want);
    CHECK(out == NULL);
    for (k = 0; k < ndim && k < 4 && ndim <= 64; k++) /* untouched beyond 64 */
        CHECK_INT(got[k], 0);
}

static void nd_errors(void)
{
    static const char data[64];
    size_t shape[2] = {4, 4}, huge[2] = {SIZE_MAX / 2, 4}, big1[1] = {3};
    size_t shape65[65];
    ptrdiff_t s_huge[1] = {PTRDIFF_MAX / 2 + 1}, s_min[1] = {PTRDIFF_MIN};
    ptrdiff_t zero[2] = {0, 0}, one[2] = {1, 1}, two[2] = {2, 2}, five[2] = {5, 5};
    ptrdiff_t neg[2] = {-1, -1}, from2[1] = {2}, to3[1] = {3};
    void *out = &out;
    size_t got[2];
    int k;

    for (k = 0; k < 65; k++)
        shape65[k] = 1;
    /* EPERM: windows outside the array, either direction. */
    nd_fails(EPERM, data, 4, 2, shape, NULL, zero, five, one);
    nd_fails(EPERM, data, 4, 2, shape, NULL, neg, two, one);
    nd_fails(EPERM, data, 4, 2, shape, NULL, five, zero, neg);
    nd_fails(EPERM, data, 4, 2, shape, NULL, two, neg - 0 + 0, two);
    /* EINVAL: structure. */
    nd_fails(EINVAL, data, 0, 2, shape, NULL, NULL, NULL, NULL);       /* itemsize 0 */
    nd_fails(EINVAL, data, 0, 0, NULL, NULL, NULL, NULL, NULL);        /* 0-d, itemsize 0 */
    nd_fails(EINVAL, NULL, 4, 0, NULL, NULL, NULL, NULL, NULL);        /* 0-d, src NULL */
    nd_fails(EINVAL, data, 1, 2, shape, NULL, NULL, NULL, zero);       /* step 0 */
    nd_fails(EINVAL, data, 1, 2, NULL, NULL, NULL, NULL, NULL);        /* shape NULL */
    nd_fails(EINVAL, data, 1, 65, shape65, NULL, NULL, NULL, NULL);    /* 65 dims */
    nd_fails(EINVAL, NULL, 1, 2, shape, NULL, NULL, NULL, NULL);       /* src NULL */
    nd_fails(EINVAL, data, 1, 2, shape, (const ptrdiff_t *)(data + 1), NULL, NULL, NULL);
    /* EINVAL: sizes that overflow: shape x itemsize, huge strides. */
    nd_fails(EINVAL, data, 8, 2, huge, NULL, zero, one, NULL);
    nd_fails(EINVAL, data, SIZE_MAX, 1, big1, NULL, NULL, NULL, NULL);
    nd_fails(EINVAL, data, 1, 1, big1, s_huge, NULL, NULL, NULL);
    nd_fails(EINVAL, data, 1, 1, big1, s_min, from2, to3, NULL);
    /* A huge stride is fine when only element 0 is read. */
    errno = PRESET;
    CHECK_INT(ezalloc_crop_nd(data, 1, 1, big1, s_huge, zero, one, NULL, &out, got), 0);
    CHECK_INT(errno, PRESET);
    free(out);
    /* Empty windows read nothing: NULL src is fine. */
    errno = PRESET;
    CHECK_INT(ezalloc_crop_nd(NULL, 1, 2, shape, NULL, two, two, NULL, &out, got), 0);
    CHECK(out != NULL);
    CHECK_INT(got[0] + got[1], 0);
    CHECK_INT(errno, PRESET);
    free(out);
    /* out NULL, out_shape NULL. */
    errno = PRESET;
    CHECK_INT(ezalloc_crop_nd(data, 1, 2, shape, NULL, NULL, NULL, NULL, NULL, got), EINVAL);
    CHECK_INT(errno, EINVAL);
    out = &out;
    CHECK_INT(ezalloc_crop_nd(data, 1, 2, shape, NULL, NULL, NULL, NULL, &out, NULL), EINVAL);
    CHECK(out == NULL);
}

int main(void)
{
    test_schar();
    test_uchar();
    test_short();
    test_ushort();
    test_int();
    test_uint();
    test_long();
    test_ulong();
    test_longlong();
    test_ulonglong();
    test_float();
    test_double();
    nd_views();
    nd_errors();
    return check_report("test_nd");
}
