/* ezalloc.i: numpy.i with managed output arrays that never leak.
 *
 * A drop-in for `%include "numpy.i"`:
 *
 *     %include "ezalloc.i"
 *
 * It includes numpy.i under the name ezalloc_numpy.i (the copy beside this
 * file: the numpy.i of the numpy release the ezalloc package was built
 * against; a name no project's file has, so a numpy.i in the directory
 * SWIG runs in, which SWIG would search first, does not replace it), then
 * redefines every ARGOUTVIEWM_* typemap that numpy.i defines, under
 * the same names: ARRAY1-4 and FARRAY2-4, the dimensions after or before
 * the data pointer, for each type numpy.i instantiates (signed char ...
 * double, int8_t ... uint64_t, and std::complex<float/double> in C++).
 * An existing %apply of ARGOUTVIEWM_* keeps working; everything else of
 * numpy.i is unchanged, except that numpy.i's ARGOUT_ARRAY* arrays are
 * released when the call fails before they are in its result (numpy.i
 * leaks them).
 *
 * What differs from numpy.i's ARGOUTVIEWM_*:
 *
 * - The block is released exactly once: when the last array or view using
 *   it is gone, or on any failure path (the array, its capsule or its base
 *   cannot be made, a later output of the same call fails, or the call
 *   reports an error after returning the block). Failures raise
 *   MemoryError (ValueError for a dimension that is negative or does not
 *   fit in npy_intp), never SystemError.
 * - The release function is free() unless %ezalloc_deallocator names
 *   another one for the function.
 * - The array's base is a capsule named "ezalloc.block" whose context is
 *   the ezalloc_deallocator (below) that releases the block.
 * - A NULL data pointer gives an empty array when the shape has no
 *   element, and MemoryError otherwise.
 * - Dimensions the C function does not set are 0.
 *
 * Typemaps redefined after this file's %include (%numpy_typemaps again,
 * an interface's own in/argout/freearg, %clear, another %apply) work as
 * over stock numpy.i: the clean-up this file adds (freearg) acts only in a
 * wrapper that holds this file's own in and argout typemaps for the
 * argument ("ezalloc_marks" below).
 *
 * Macros:
 *
 *   %ezalloc_deallocator(NAME, FREE_FN);
 *       The managed outputs of the function that the module calls NAME
 *       (its %rename'd name if it is renamed) release their block with
 *       FREE_FN(block) instead of free(): a function void FREE_FN(void *)
 *       or a macro taking a void * (C converts it to a typed pointer
 *       implicitly, C++ does not). Anywhere in the interface file after
 *       this file's %include, in C or C++ modules. Importing the module
 *       fails with ImportError when it has no function NAME. (Module-level
 *       functions: a C++ method's wrapped name is not its module
 *       attribute.)
 *
 *   %ezalloc_typemaps(DATA_TYPE, DATA_TYPECODE, DIM_TYPE)
 *       numpy.i's %numpy_typemaps for another type (or DIM_TYPE), then the
 *       managed ARGOUTVIEWM_* typemaps for it.
 *
 *   %ezalloc_argoutviewm_typemaps(DATA_TYPE, DATA_TYPECODE, DIM_TYPE)
 *       The managed ARGOUTVIEWM_* typemaps alone, over numpy.i's (and
 *       the clean-up of numpy.i's ARGOUT_ARRAY* for the type).
 *
 *   %ezalloc_int_arguments
 *       Opt-in: from here on, every plain `int` argument accepts any Python
 *       integer (anything with __index__, numpy integer scalars included),
 *       refuses floats with TypeError and values outside C int with
 *       OverflowError (overloaded functions and C++ default arguments
 *       included: the int overload is chosen for what it accepts). Not
 *       applied by including this file.
 *
 * C helpers (in the wrapper, for hand-written code; the fragment
 * "ezalloc_managed" brings them in):
 *
 *   typedef struct ezalloc_deallocator { void (*release)(void *); const char *name; }
 *   ezalloc_free_deallocator: the one that calls free()
 *   PyObject *ezalloc_own_block(PyArray_Descr *descr, int nd, const npy_intp *dims,
 *                               int fortran, void *block,
 *                               const ezalloc_deallocator *how, const char *func)
 *       A new ndarray over `block`, which it owns; `descr` is stolen. NULL
 *       with an exception set on failure, the block then released.
 */

#ifndef EZALLOC_I
#define EZALLOC_I

%include "ezalloc_numpy.i"

/* Which typemaps a wrapper holds. ezalloc's in and argout typemaps declare
 * the locals ezalloc_in_typemap and ezalloc_argout_typemap (1), which SWIG
 * names ezalloc_in_typemapN and ezalloc_argout_typemapN for argument N;
 * in a wrapper whose in or argout typemap for that argument is someone
 * else's, the name is one of these file-scope zeros instead. So ezalloc's
 * freearg typemaps act only beside ezalloc's own in and argout: the C
 * compiler decides, whatever was redefined after ezalloc.i. (Arguments 1
 * to 199; beyond that, a wrapper that lacks the mark does not compile,
 * naming it.) */
%fragment("ezalloc_marks", "header") %{
#define EZALLOC_MARK_(n) \
    static SWIGUNUSED const char ezalloc_in_typemap##n = 0; \
    static SWIGUNUSED const char ezalloc_argout_typemap##n = 0;
#define EZALLOC_MARKS_(t) \
    EZALLOC_MARK_(t##0) EZALLOC_MARK_(t##1) EZALLOC_MARK_(t##2) EZALLOC_MARK_(t##3) \
    EZALLOC_MARK_(t##4) EZALLOC_MARK_(t##5) EZALLOC_MARK_(t##6) EZALLOC_MARK_(t##7) \
    EZALLOC_MARK_(t##8) EZALLOC_MARK_(t##9)
EZALLOC_MARK_(1) EZALLOC_MARK_(2) EZALLOC_MARK_(3) EZALLOC_MARK_(4) EZALLOC_MARK_(5)
EZALLOC_MARK_(6) EZALLOC_MARK_(7) EZALLOC_MARK_(8) EZALLOC_MARK_(9)
EZALLOC_MARKS_(1) EZALLOC_MARKS_(2) EZALLOC_MARKS_(3) EZALLOC_MARKS_(4) EZALLOC_MARKS_(5)
EZALLOC_MARKS_(6) EZALLOC_MARKS_(7) EZALLOC_MARKS_(8) EZALLOC_MARKS_(9)
EZALLOC_MARKS_(10) EZALLOC_MARKS_(11) EZALLOC_MARKS_(12) EZALLOC_MARKS_(13)
EZALLOC_MARKS_(14) EZALLOC_MARKS_(15) EZALLOC_MARKS_(16) EZALLOC_MARKS_(17)
EZALLOC_MARKS_(18) EZALLOC_MARKS_(19)
#undef EZALLOC_MARKS_
#undef EZALLOC_MARK_
%}

%fragment("ezalloc_managed", "header", fragment="ezalloc_marks") %{
#include <stdlib.h>

#define EZALLOC_CAPSULE_NAME "ezalloc.block"

/* How a block is released. */
typedef struct ezalloc_deallocator {
    void (*release)(void *block);
    const char *name;
} ezalloc_deallocator;

SWIGINTERN void ezalloc_release_with_free(void *block)
{
    free(block);
}

static SWIGUNUSED const ezalloc_deallocator ezalloc_free_deallocator = { ezalloc_release_with_free, "free" };

/* The destructor of the capsule that owns a block: the block is released
 * with the deallocator in the capsule's context. */
SWIGINTERN void ezalloc_capsule_destructor(PyObject *capsule)
{
    const ezalloc_deallocator *how = (const ezalloc_deallocator *)PyCapsule_GetContext(capsule);
    void *block = PyCapsule_GetPointer(capsule, EZALLOC_CAPSULE_NAME);
    if (how != NULL && block != NULL)
        how->release(block);
}

/* NULL, with MemoryError unless an exception is already set. */
SWIGINTERN PyObject *ezalloc_no_memory(void)
{
    if (!PyErr_Occurred())
        PyErr_NoMemory();
    return NULL;
}

/* A new ndarray of `descr` (stolen, also on failure) and shape dims[0..nd)
 * over `block`, C-contiguous or (fortran != 0) Fortran-contiguous,
 * writeable, that owns the block: its base is a capsule that releases the
 * block with `how` when the last array or view using it is gone. On
 * failure: NULL with an exception set, and the block released once.
 * A NULL block: an empty array (numpy's own memory) when the shape has no
 * element, else MemoryError naming `func`. */
SWIGINTERN PyObject *ezalloc_own_block(PyArray_Descr *descr, int nd, const npy_intp *dims,
                                       int fortran, void *block,
                                       const ezalloc_deallocator *how, const char *func)
{
    PyObject *array;
    PyObject *capsule;
    int k;

    if (descr == NULL) {
        if (block != NULL)
            how->release(block);
        return ezalloc_no_memory();
    }
    if (block == NULL) {
        for (k = 0; k < nd; k++)
            if (dims[k] == 0)
                return PyArray_NewFromDescr(&PyArray_Type, descr, nd, (npy_intp *)dims, NULL,
                                            NULL, fortran, NULL);
        Py_DECREF(descr);
        PyErr_Format(PyExc_MemoryError,
                     "%s returned no block (a NULL data pointer) for a non-empty array", func);
        return NULL;
    }
    array = PyArray_NewFromDescr(&PyArray_Type, descr, nd, (npy_intp *)dims, NULL, block,
                                 fortran ? NPY_ARRAY_FARRAY : NPY_ARRAY_CARRAY, NULL);
    if (array == NULL) {
        how->release(block);
        return ezalloc_no_memory();
    }
    capsule = PyCapsule_New(block, EZALLOC_CAPSULE_NAME, ezalloc_capsule_destructor);
    if (capsule == NULL) {
        Py_DECREF(array);              /* a view: it does not release the block */
        how->release(block);
        return ezalloc_no_memory();
    }
    if (PyCapsule_SetContext(capsule, (void *)how) != 0) {
        Py_DECREF(capsule);            /* no context yet: its destructor releases nothing */
        Py_DECREF(array);
        how->release(block);
        return ezalloc_no_memory();
    }
    /* Steals the capsule, also when it fails: numpy then releases it, and
     * the capsule's destructor releases the block. */
    if (PyArray_SetBaseObject((PyArrayObject *)array, capsule) < 0) {
        Py_DECREF(array);
        return ezalloc_no_memory();
    }
    return array;
}

/* ezalloc_own_block for a numpy type number, with dimensions that the
 * typemaps converted (dims_fit == 0: one was negative or did not fit in
 * npy_intp: ValueError, the block released). */
SWIGINTERN PyObject *ezalloc_typed_block(int typecode, int nd, const npy_intp *dims, int dims_fit,
                                         int fortran, void *block,
                                         const ezalloc_deallocator *how, const char *func)
{
    if (!dims_fit) {
        if (block != NULL)
            how->release(block);
        PyErr_Format(PyExc_ValueError,
                     "%s returned a dimension that is negative or does not fit in npy_intp",
                     func);
        return NULL;
    }
    return ezalloc_own_block(PyArray_DescrFromType(typecode), nd, dims, fortran, block, how,
                             func);
}

/* EZALLOC_PICK(EZALLOC_USER_DEALLOCATOR_name): the deallocator declared for
 * `name` (its macro expands to "~, &deallocator"), else the free() one. */
#define EZALLOC_PICK(...) EZALLOC_PICK_(__VA_ARGS__, &ezalloc_free_deallocator, ~)
#define EZALLOC_PICK_(declared, how, ...) how

/* dims[k] = value, clearing `fit` when the value is negative or does not
 * fit in npy_intp. */
#define EZALLOC_DIM(fit, dims, k, value, DIM_TYPE) \
    do { \
        (dims)[k] = (npy_intp)(value); \
        if ((dims)[k] < 0 || (DIM_TYPE)(dims)[k] != (value)) \
            (fit) = 0; \
    } while (0)
%}

/* The deallocator of the function being wrapped: the one that
 * %ezalloc_deallocator declared for its name, else free(). (A C macro, not
 * a preprocessor conditional: EZALLOC_USER_DEALLOCATOR_<name> expands to
 * "~, &deallocator" when declared, which EZALLOC_PICK picks over its
 * default.) */
%define %_ezalloc_how(VAR)
    const ezalloc_deallocator *VAR = EZALLOC_PICK(EZALLOC_USER_DEALLOCATOR_$symname);
%enddef

/* The argout body shared by every managed typemap: DATA is the block
 * pointer the C function wrote, ND its rank, FORTRAN 0 or 1; the locals
 * ez_dims and ez_fit are set before. */
%define %_ezalloc_argout(DATA, DATA_TYPECODE, ND, FORTRAN)
    {
        PyObject *ez_array;
        (void)ezalloc_argout_typemap;
        %_ezalloc_how(ez_how)
        ez_array = ezalloc_typed_block(DATA_TYPECODE, ND, ez_dims, ez_fit, FORTRAN,
                                       (void *)(DATA), ez_how, "$symname");
        DATA = NULL;                   /* owned by ez_array now, or released */
        if (ez_array == NULL) SWIG_fail;
        $result = SWIG_AppendOutput($result, ez_array);
        /* SWIG_AppendOutput drops the array when its list cannot grow. */
        if (PyErr_Occurred()) SWIG_fail;
    }
%enddef

/* The freearg body: a block the call returned that no array owns (the
 * call reported an error, or an earlier output failed) is released; on the
 * failure path, the outputs made so far are dropped (SWIG's own failure
 * path returns NULL without releasing them). DATA_PTR: the DATA_TYPE **
 * argument.
 *
 * Only where ezalloc's own in and argout typemaps are the ones in the
 * wrapper (the marks, "ezalloc_marks"): a freearg outlives a later
 * redefinition of in and argout for its pattern (numpy.i's
 * %numpy_typemaps run again, an interface's own typemaps), whose argout
 * hands the block to its array without clearing *DATA_PTR. Under
 * someone else's in or argout this does nothing, as numpy.i (which has
 * no freearg here) does. */
%define %_ezalloc_freearg(DATA_PTR)
    if (ezalloc_in_typemap$argnum && ezalloc_argout_typemap$argnum) {
        if (DATA_PTR != NULL && *DATA_PTR != NULL) {
            %_ezalloc_how(ez_how)
            ez_how->release((void *)*DATA_PTR);
            *DATA_PTR = NULL;
        }
        if (PyErr_Occurred()) {
            Py_CLEAR($result);
        }
    }
%enddef

%define %ezalloc_argoutviewm_typemaps(DATA_TYPE, DATA_TYPECODE, DIM_TYPE)

/* ---- rank 1 */
%typemap(in, numinputs=0)
  (DATA_TYPE **ARGOUTVIEWM_ARRAY1, DIM_TYPE *DIM1)
  (DATA_TYPE *ez_data = NULL, DIM_TYPE ez_dim1 = 0,
   char ezalloc_in_typemap = 1)
{
  (void)ezalloc_in_typemap;
  $1 = &ez_data;
  $2 = &ez_dim1;
}
%typemap(argout, fragment="ezalloc_managed") (DATA_TYPE **ARGOUTVIEWM_ARRAY1, DIM_TYPE *DIM1)
  (char ezalloc_argout_typemap = 1)
{
  npy_intp ez_dims[1];
  int ez_fit = 1;
  EZALLOC_DIM(ez_fit, ez_dims, 0, *$2, DIM_TYPE);
  %_ezalloc_argout(*$1, DATA_TYPECODE, 1, 0)
}
%typemap(freearg, fragment="ezalloc_managed") (DATA_TYPE **ARGOUTVIEWM_ARRAY1, DIM_TYPE *DIM1)
{
  %_ezalloc_freearg($1)
}

%typemap(in, numinputs=0)
  (DIM_TYPE *DIM1, DATA_TYPE **ARGOUTVIEWM_ARRAY1)
  (DIM_TYPE ez_dim1 = 0, DATA_TYPE *ez_data = NULL,
   char ezalloc_in_typemap = 1)
{
  (void)ezalloc_in_typemap;
  $1 = &ez_dim1;
  $2 = &ez_data;
}
%typemap(argout, fragment="ezalloc_managed") (DIM_TYPE *DIM1, DATA_TYPE **ARGOUTVIEWM_ARRAY1)
  (char ezalloc_argout_typemap = 1)
{
  npy_intp ez_dims[1];
  int ez_fit = 1;
  EZALLOC_DIM(ez_fit, ez_dims, 0, *$1, DIM_TYPE);
  %_ezalloc_argout(*$2, DATA_TYPECODE, 1, 0)
}
%typemap(freearg, fragment="ezalloc_managed") (DIM_TYPE *DIM1, DATA_TYPE **ARGOUTVIEWM_ARRAY1)
{
  %_ezalloc_freearg($2)
}

/* ---- numpy.i's ARGOUT_ARRAY*, released on failure paths */
%_ezalloc_argout_array(DATA_TYPE, DIM_TYPE)

/* ---- rank 2, C and Fortran order */
%_ezalloc_rank2(DATA_TYPE, DATA_TYPECODE, DIM_TYPE, ARGOUTVIEWM_ARRAY2, 0)
%_ezalloc_rank2(DATA_TYPE, DATA_TYPECODE, DIM_TYPE, ARGOUTVIEWM_FARRAY2, 1)
/* ---- rank 3 */
%_ezalloc_rank3(DATA_TYPE, DATA_TYPECODE, DIM_TYPE, ARGOUTVIEWM_ARRAY3, 0)
%_ezalloc_rank3(DATA_TYPE, DATA_TYPECODE, DIM_TYPE, ARGOUTVIEWM_FARRAY3, 1)
/* ---- rank 4 */
%_ezalloc_rank4(DATA_TYPE, DATA_TYPECODE, DIM_TYPE, ARGOUTVIEWM_ARRAY4, 0)
%_ezalloc_rank4(DATA_TYPE, DATA_TYPECODE, DIM_TYPE, ARGOUTVIEWM_FARRAY4, 1)

%enddef

/* numpy.i's ARGOUT_ARRAY* make their array in the in typemap (the local
 * `array` there) and hand it to the result in the argout typemap. Their
 * argout typemaps again, the array handed over (then owned by the result),
 * and a freearg that drops an array not handed over: the call failed
 * before its argout ran (a later argument, the call, or an earlier output
 * failed). ARRAY is the in typemap's local (array$argnum). */
%define %_ezalloc_argout_array_body(ARRAY)
{
  (void)ezalloc_argout_typemap;
  $result = SWIG_AppendOutput($result, (PyObject *)ARRAY);
  ARRAY = NULL;                  /* owned by $result now (or dropped by it) */
  /* SWIG_AppendOutput drops the array when its list cannot grow. */
  if (PyErr_Occurred()) SWIG_fail;
}
%enddef

/* (Only under ezalloc's own argout: see %_ezalloc_freearg.) */
%define %_ezalloc_argout_array_freearg(ARRAY)
{
  if (ezalloc_argout_typemap$argnum) {
    Py_XDECREF(ARRAY);
    ARRAY = NULL;
    if (PyErr_Occurred()) {
      Py_CLEAR($result);
    }
  }
}
%enddef

%define %_ezalloc_argout_array(DATA_TYPE, DIM_TYPE)
%typemap(argout) (DATA_TYPE ARGOUT_ARRAY1[ANY])
  (char ezalloc_argout_typemap = 1)
  %_ezalloc_argout_array_body(array$argnum)
%typemap(freearg, fragment="ezalloc_marks") (DATA_TYPE ARGOUT_ARRAY1[ANY])
  %_ezalloc_argout_array_freearg(array$argnum)
%typemap(argout) (DATA_TYPE *ARGOUT_ARRAY1, DIM_TYPE DIM1)
  (char ezalloc_argout_typemap = 1)
  %_ezalloc_argout_array_body(array$argnum)
%typemap(freearg, fragment="ezalloc_marks") (DATA_TYPE *ARGOUT_ARRAY1, DIM_TYPE DIM1)
  %_ezalloc_argout_array_freearg(array$argnum)
%typemap(argout) (DIM_TYPE DIM1, DATA_TYPE *ARGOUT_ARRAY1)
  (char ezalloc_argout_typemap = 1)
  %_ezalloc_argout_array_body(array$argnum)
%typemap(freearg, fragment="ezalloc_marks") (DIM_TYPE DIM1, DATA_TYPE *ARGOUT_ARRAY1)
  %_ezalloc_argout_array_freearg(array$argnum)
%typemap(argout) (DATA_TYPE ARGOUT_ARRAY2[ANY][ANY])
  (char ezalloc_argout_typemap = 1)
  %_ezalloc_argout_array_body(array$argnum)
%typemap(freearg, fragment="ezalloc_marks") (DATA_TYPE ARGOUT_ARRAY2[ANY][ANY])
  %_ezalloc_argout_array_freearg(array$argnum)
%typemap(argout) (DATA_TYPE ARGOUT_ARRAY3[ANY][ANY][ANY])
  (char ezalloc_argout_typemap = 1)
  %_ezalloc_argout_array_body(array$argnum)
%typemap(freearg, fragment="ezalloc_marks") (DATA_TYPE ARGOUT_ARRAY3[ANY][ANY][ANY])
  %_ezalloc_argout_array_freearg(array$argnum)
%typemap(argout) (DATA_TYPE ARGOUT_ARRAY4[ANY][ANY][ANY][ANY])
  (char ezalloc_argout_typemap = 1)
  %_ezalloc_argout_array_body(array$argnum)
%typemap(freearg, fragment="ezalloc_marks") (DATA_TYPE ARGOUT_ARRAY4[ANY][ANY][ANY][ANY])
  %_ezalloc_argout_array_freearg(array$argnum)
%enddef

/* Rank 2: (DATA_TYPE **NAME, DIM_TYPE *DIM1, DIM_TYPE *DIM2) and the
 * dimensions-first form. */
%define %_ezalloc_rank2(DATA_TYPE, DATA_TYPECODE, DIM_TYPE, NAME, FORTRAN)
%typemap(in, numinputs=0)
  (DATA_TYPE **NAME, DIM_TYPE *DIM1, DIM_TYPE *DIM2)
  (DATA_TYPE *ez_data = NULL, DIM_TYPE ez_dim1 = 0, DIM_TYPE ez_dim2 = 0,
   char ezalloc_in_typemap = 1)
{
  (void)ezalloc_in_typemap;
  $1 = &ez_data;
  $2 = &ez_dim1;
  $3 = &ez_dim2;
}
%typemap(argout, fragment="ezalloc_managed") (DATA_TYPE **NAME, DIM_TYPE *DIM1, DIM_TYPE *DIM2)
  (char ezalloc_argout_typemap = 1)
{
  npy_intp ez_dims[2];
  int ez_fit = 1;
  EZALLOC_DIM(ez_fit, ez_dims, 0, *$2, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 1, *$3, DIM_TYPE);
  %_ezalloc_argout(*$1, DATA_TYPECODE, 2, FORTRAN)
}
%typemap(freearg, fragment="ezalloc_managed") (DATA_TYPE **NAME, DIM_TYPE *DIM1, DIM_TYPE *DIM2)
{
  %_ezalloc_freearg($1)
}

%typemap(in, numinputs=0)
  (DIM_TYPE *DIM1, DIM_TYPE *DIM2, DATA_TYPE **NAME)
  (DIM_TYPE ez_dim1 = 0, DIM_TYPE ez_dim2 = 0, DATA_TYPE *ez_data = NULL,
   char ezalloc_in_typemap = 1)
{
  (void)ezalloc_in_typemap;
  $1 = &ez_dim1;
  $2 = &ez_dim2;
  $3 = &ez_data;
}
%typemap(argout, fragment="ezalloc_managed") (DIM_TYPE *DIM1, DIM_TYPE *DIM2, DATA_TYPE **NAME)
  (char ezalloc_argout_typemap = 1)
{
  npy_intp ez_dims[2];
  int ez_fit = 1;
  EZALLOC_DIM(ez_fit, ez_dims, 0, *$1, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 1, *$2, DIM_TYPE);
  %_ezalloc_argout(*$3, DATA_TYPECODE, 2, FORTRAN)
}
%typemap(freearg, fragment="ezalloc_managed") (DIM_TYPE *DIM1, DIM_TYPE *DIM2, DATA_TYPE **NAME)
{
  %_ezalloc_freearg($3)
}
%enddef

/* Rank 3. */
%define %_ezalloc_rank3(DATA_TYPE, DATA_TYPECODE, DIM_TYPE, NAME, FORTRAN)
%typemap(in, numinputs=0)
  (DATA_TYPE **NAME, DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3)
  (DATA_TYPE *ez_data = NULL, DIM_TYPE ez_dim1 = 0, DIM_TYPE ez_dim2 = 0, DIM_TYPE ez_dim3 = 0,
   char ezalloc_in_typemap = 1)
{
  (void)ezalloc_in_typemap;
  $1 = &ez_data;
  $2 = &ez_dim1;
  $3 = &ez_dim2;
  $4 = &ez_dim3;
}
%typemap(argout, fragment="ezalloc_managed")
  (DATA_TYPE **NAME, DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3)
  (char ezalloc_argout_typemap = 1)
{
  npy_intp ez_dims[3];
  int ez_fit = 1;
  EZALLOC_DIM(ez_fit, ez_dims, 0, *$2, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 1, *$3, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 2, *$4, DIM_TYPE);
  %_ezalloc_argout(*$1, DATA_TYPECODE, 3, FORTRAN)
}
%typemap(freearg, fragment="ezalloc_managed")
  (DATA_TYPE **NAME, DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3)
{
  %_ezalloc_freearg($1)
}

%typemap(in, numinputs=0)
  (DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3, DATA_TYPE **NAME)
  (DIM_TYPE ez_dim1 = 0, DIM_TYPE ez_dim2 = 0, DIM_TYPE ez_dim3 = 0, DATA_TYPE *ez_data = NULL,
   char ezalloc_in_typemap = 1)
{
  (void)ezalloc_in_typemap;
  $1 = &ez_dim1;
  $2 = &ez_dim2;
  $3 = &ez_dim3;
  $4 = &ez_data;
}
%typemap(argout, fragment="ezalloc_managed")
  (DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3, DATA_TYPE **NAME)
  (char ezalloc_argout_typemap = 1)
{
  npy_intp ez_dims[3];
  int ez_fit = 1;
  EZALLOC_DIM(ez_fit, ez_dims, 0, *$1, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 1, *$2, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 2, *$3, DIM_TYPE);
  %_ezalloc_argout(*$4, DATA_TYPECODE, 3, FORTRAN)
}
%typemap(freearg, fragment="ezalloc_managed")
  (DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3, DATA_TYPE **NAME)
{
  %_ezalloc_freearg($4)
}
%enddef

/* Rank 4. */
%define %_ezalloc_rank4(DATA_TYPE, DATA_TYPECODE, DIM_TYPE, NAME, FORTRAN)
%typemap(in, numinputs=0)
  (DATA_TYPE **NAME, DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3, DIM_TYPE *DIM4)
  (DATA_TYPE *ez_data = NULL, DIM_TYPE ez_dim1 = 0, DIM_TYPE ez_dim2 = 0, DIM_TYPE ez_dim3 = 0,
   DIM_TYPE ez_dim4 = 0,
   char ezalloc_in_typemap = 1)
{
  (void)ezalloc_in_typemap;
  $1 = &ez_data;
  $2 = &ez_dim1;
  $3 = &ez_dim2;
  $4 = &ez_dim3;
  $5 = &ez_dim4;
}
%typemap(argout, fragment="ezalloc_managed")
  (DATA_TYPE **NAME, DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3, DIM_TYPE *DIM4)
  (char ezalloc_argout_typemap = 1)
{
  npy_intp ez_dims[4];
  int ez_fit = 1;
  EZALLOC_DIM(ez_fit, ez_dims, 0, *$2, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 1, *$3, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 2, *$4, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 3, *$5, DIM_TYPE);
  %_ezalloc_argout(*$1, DATA_TYPECODE, 4, FORTRAN)
}
%typemap(freearg, fragment="ezalloc_managed")
  (DATA_TYPE **NAME, DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3, DIM_TYPE *DIM4)
{
  %_ezalloc_freearg($1)
}

%typemap(in, numinputs=0)
  (DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3, DIM_TYPE *DIM4, DATA_TYPE **NAME)
  (DIM_TYPE ez_dim1 = 0, DIM_TYPE ez_dim2 = 0, DIM_TYPE ez_dim3 = 0, DIM_TYPE ez_dim4 = 0,
   DATA_TYPE *ez_data = NULL,
   char ezalloc_in_typemap = 1)
{
  (void)ezalloc_in_typemap;
  $1 = &ez_dim1;
  $2 = &ez_dim2;
  $3 = &ez_dim3;
  $4 = &ez_dim4;
  $5 = &ez_data;
}
%typemap(argout, fragment="ezalloc_managed")
  (DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3, DIM_TYPE *DIM4, DATA_TYPE **NAME)
  (char ezalloc_argout_typemap = 1)
{
  npy_intp ez_dims[4];
  int ez_fit = 1;
  EZALLOC_DIM(ez_fit, ez_dims, 0, *$1, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 1, *$2, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 2, *$3, DIM_TYPE);
  EZALLOC_DIM(ez_fit, ez_dims, 3, *$4, DIM_TYPE);
  %_ezalloc_argout(*$5, DATA_TYPECODE, 4, FORTRAN)
}
%typemap(freearg, fragment="ezalloc_managed")
  (DIM_TYPE *DIM1, DIM_TYPE *DIM2, DIM_TYPE *DIM3, DIM_TYPE *DIM4, DATA_TYPE **NAME)
{
  %_ezalloc_freearg($5)
}
%enddef

/* numpy.i's typemaps for another type, then the managed ones over them. */
%define %ezalloc_typemaps(DATA_TYPE, DATA_TYPECODE, DIM_TYPE)
%numpy_typemaps(DATA_TYPE, DATA_TYPECODE, DIM_TYPE)
%ezalloc_argoutviewm_typemaps(DATA_TYPE, DATA_TYPECODE, DIM_TYPE)
%enddef

/* The types numpy.i instantiates %numpy_typemaps for. */
%ezalloc_argoutviewm_typemaps(signed char       , NPY_BYTE     , int)
%ezalloc_argoutviewm_typemaps(unsigned char     , NPY_UBYTE    , int)
%ezalloc_argoutviewm_typemaps(short             , NPY_SHORT    , int)
%ezalloc_argoutviewm_typemaps(unsigned short    , NPY_USHORT   , int)
%ezalloc_argoutviewm_typemaps(int               , NPY_INT      , int)
%ezalloc_argoutviewm_typemaps(unsigned int      , NPY_UINT     , int)
%ezalloc_argoutviewm_typemaps(long              , NPY_LONG     , int)
%ezalloc_argoutviewm_typemaps(unsigned long     , NPY_ULONG    , int)
%ezalloc_argoutviewm_typemaps(long long         , NPY_LONGLONG , int)
%ezalloc_argoutviewm_typemaps(unsigned long long, NPY_ULONGLONG, int)
%ezalloc_argoutviewm_typemaps(float             , NPY_FLOAT    , int)
%ezalloc_argoutviewm_typemaps(double            , NPY_DOUBLE   , int)
%ezalloc_argoutviewm_typemaps(int8_t            , NPY_INT8     , int)
%ezalloc_argoutviewm_typemaps(int16_t           , NPY_INT16    , int)
%ezalloc_argoutviewm_typemaps(int32_t           , NPY_INT32    , int)
%ezalloc_argoutviewm_typemaps(int64_t           , NPY_INT64    , int)
%ezalloc_argoutviewm_typemaps(uint8_t           , NPY_UINT8    , int)
%ezalloc_argoutviewm_typemaps(uint16_t          , NPY_UINT16   , int)
%ezalloc_argoutviewm_typemaps(uint32_t          , NPY_UINT32   , int)
%ezalloc_argoutviewm_typemaps(uint64_t          , NPY_UINT64   , int)
#ifdef __cplusplus
%ezalloc_argoutviewm_typemaps(std::complex<float> , NPY_CFLOAT , int)
%ezalloc_argoutviewm_typemaps(std::complex<double>, NPY_CDOUBLE, int)
#endif

/* ---- custom deallocators */

%fragment("ezalloc_check_names", "header", fragment="ezalloc_managed") %{
/* 0 when the module dictionary `d` has a function `name`, else -1 with
 * ImportError: a %ezalloc_deallocator for a name the module does not have
 * (a %rename'd function is named by its new name). */
SWIGINTERN int ezalloc_check_deallocator_name(PyObject *d, const char *name, const char *free_fn)
{
    PyObject *found = d == NULL ? NULL : PyDict_GetItemString(d, name);
    if (found != NULL)
        return 0;
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ImportError,
                     "%%ezalloc_deallocator(%s, %s): the module has no function '%s' "
                     "(name a %%rename'd function by its new name)", name, free_fn, name);
    return -1;
}

/* SWIG's module initialisation returns NULL on failure before SWIG 4.4,
 * -1 from its PEP 489 exec function since. */
#if SWIG_VERSION < 0x040400
#define EZALLOC_INIT_FAILED NULL
#else
#define EZALLOC_INIT_FAILED -1
#endif
%}

/* The names this macro generates begin with ezalloc_user_ (and
 * EZALLOC_USER_), which no other name of ezalloc.i does: a function named
 * like one of ezalloc.i's helpers (with_free, say) cannot collide with them. The
 * release function has C linkage in C++, as SWIG's %wrapper section (where
 * it is defined) has: its declaration says so too. */
%define %ezalloc_deallocator(NAME, FREE_FN)
%fragment("ezalloc_check_names");
%header %{
#ifdef __cplusplus
extern "C" {
#endif
static void ezalloc_user_release_##NAME(void *block);
#ifdef __cplusplus
}
#endif
static const ezalloc_deallocator ezalloc_user_deallocator_##NAME = {
    ezalloc_user_release_##NAME, #FREE_FN
};
#define EZALLOC_USER_DEALLOCATOR_##NAME ~, &ezalloc_user_deallocator_##NAME
%}
/* In the wrapper section, after every header: FREE_FN is declared by then. */
%wrapper %{
static void ezalloc_user_release_##NAME(void *block)
{
    FREE_FN(block);
}
%}
%init %{
    if (ezalloc_check_deallocator_name(d, #NAME, #FREE_FN) < 0)
        return EZALLOC_INIT_FAILED;
%}
%enddef

/* ---- opt-in: any Python integer for a plain C int argument */

%fragment("ezalloc_as_int", "header") %{
#include <limits.h>

/* Converts any integer (anything with __index__) to a C int: TypeError
 * naming the argument for what is not an integer, OverflowError outside
 * C int. */
SWIGINTERN int ezalloc_as_int(PyObject *obj, int *out, const char *func, const char *arg)
{
    PyObject *index;
    long value;
    int overflow = 0;

    if (PyLong_CheckExact(obj)) {
        /* The common case, without a new reference. */
        value = PyLong_AsLongAndOverflow(obj, &overflow);
        if (overflow == 0 && value >= INT_MIN && value <= INT_MAX) {
            *out = (int)value;
            return 0;
        }
    }
    index = PyNumber_Index(obj);
    overflow = 0;
    if (index == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            /* The type's __name__ ('float64', not tp_name's
             * 'numpy.float64'), as the ctypes module reports it. */
            PyObject *name;
            PyErr_Clear();
            name = PyObject_GetAttrString((PyObject *)Py_TYPE(obj), "__name__");
            if (name == NULL)
                return -1;
            PyErr_Format(PyExc_TypeError,
                         "%s: argument '%s' must be an integer, not '%S'",
                         func, arg, name);
            Py_DECREF(name);
        }
        return -1;
    }
    value = PyLong_AsLongAndOverflow(index, &overflow);
    if (value == -1 && PyErr_Occurred()) {
        Py_DECREF(index);
        return -1;
    }
    if (overflow != 0 || value < INT_MIN || value > INT_MAX) {
        PyErr_Format(PyExc_OverflowError,
                     "%s: argument '%s' = %S does not fit in a C int",
                     func, arg, index);
        Py_DECREF(index);
        return -1;
    }
    Py_DECREF(index);
    *out = (int)value;
    return 0;
}
%}

%fragment("ezalloc_is_int", "header") %{
#include <limits.h>

/* 1 when ezalloc_as_int would accept obj (an integer, anything with
 * __index__, within C int), else 0; never raises: for the typecheck of
 * overloaded functions and C++ default arguments. */
SWIGINTERN int ezalloc_is_int(PyObject *obj)
{
    PyObject *index;
    long value;
    int overflow = 0;

    if (!PyIndex_Check(obj))
        return 0;
    index = PyNumber_Index(obj);
    if (index == NULL) {
        PyErr_Clear();
        return 0;
    }
    value = PyLong_AsLongAndOverflow(index, &overflow);
    Py_DECREF(index);
    if (value == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return overflow == 0 && value >= INT_MIN && value <= INT_MAX;
}
%}

%define %ezalloc_int_arguments
%typemap(in, fragment="ezalloc_as_int") int {
    if (ezalloc_as_int($input, &$1, "$symname", "$1_name") < 0) SWIG_fail;
}
/* The dispatcher of an overloaded function (or of a C++ function with
 * default arguments) takes the int overload for what the in typemap
 * accepts; SWIG's own precedence for int, so overloads are tried in the
 * order SWIG tries them. */
%typemap(typecheck, precedence=SWIG_TYPECHECK_INT32, fragment="ezalloc_is_int") int {
    $1 = ezalloc_is_int($input);
}
%enddef

#endif /* EZALLOC_I */
