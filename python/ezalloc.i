/* ezalloc.i: Python module `ezalloc` over the library's alloc().
 *
 * alloc_managed(ni) returns a numpy array of ni C ints that owns its
 * malloc'd block (numpy.i's ARGOUTVIEWM_ARRAY1): the block is freed when the
 * last array or view that refers to it is gone.
 *
 * alloc_leaking(ni) returns the same kind of array through ARGOUTVIEW_ARRAY1,
 * which only views the block: nothing ever frees it. It is kept on purpose,
 * to show the leak that the managed variant avoids.
 */
%module ezalloc

%{
#include "ezalloc.h"
%}

%include "eztypemaps.i"

%{
/* alloc() failed: MemoryError for ENOMEM, naming the size malloc was asked
 * for (computed as C computes it, so a negative ni shows as a huge size). */
static void ez_raise_alloc(int err, const char *func, int ni)
{
    if (err == ENOMEM)
        PyErr_Format(PyExc_MemoryError,
                     "%s(%d): malloc of %zu bytes failed (ENOMEM)",
                     func, ni, (size_t)ni * sizeof(int));
    else
        ez_raise_errno(err, func);
}
%}

%apply (int **ARGOUTVIEWM_ARRAY1, int *DIM1) {(int **managed, int *n_managed)}
%apply (int **ARGOUTVIEW_ARRAY1, int *DIM1) {(int **leaking, int *n_leaking)}

%exception alloc_managed EZ_CALL(ez_raise_alloc(ez_err, "alloc_managed", arg1))
%exception alloc_leaking EZ_CALL(ez_raise_alloc(ez_err, "alloc_leaking", arg1))

%feature("docstring") alloc_managed
"alloc_managed(ni) -> numpy array of ni C ints (uninitialised) that owns its
block; the block is freed when the last array or view using it is gone.
MemoryError when malloc fails (a negative ni always fails).";

%feature("docstring") alloc_leaking
"alloc_leaking(ni) -> numpy array of ni C ints that only views its block:
the block is never freed (kept to demonstrate the leak).";

%inline %{
static void alloc_managed(int ni, int **managed, int *n_managed)
{
    alloc(ni, managed, n_managed);
}

static void alloc_leaking(int ni, int **leaking, int *n_leaking)
{
    alloc(ni, leaking, n_leaking);
}
%}
