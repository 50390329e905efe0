"""ezalloc.i, the installed package's SWIG file for everyone's C libraries:

- ezalloc.get_include() and `python -m ezalloc.swig`: ezalloc.i, the numpy.i
  of the numpy the package was built against, numpy's license;
- examples/thirdparty's gridkit (a C library that is not this project's:
  several types, ranks and orders, a block from its own allocator with its
  own free) wrapped as a user would (its setup.py, ezalloc.get_include()
  the only SWIG directory), with every SWIG found (this environment's, and
  .venv-min's 4.2.1 or $EZALLOC_TEST_SWIG when they exist), checked against
  numpy;
- every ARGOUTVIEWM_* typemap numpy.i defines, for every type it
  instantiates, generated from the numpy.i in the package;
- %ezalloc_deallocator under %rename, and a name the module does not have;
- the recipe's interface files (python_tests/swig/recipe_*.i) with their
  one `%include "numpy.i"` line changed, running the recipe's test programs;
- injected failures of numpy's objects: nothing leaks through ezalloc.i,
  with free() or a custom free; stock numpy.i leaks (measured);
- C++: std::complex, %ezalloc_deallocator with a namespaced free function
  and a function named like ezalloc.i's helpers, %ezalloc_int_arguments
  through overloads and default arguments;
- numpy.i's ARGOUT_ARRAY* released when the call fails before they are in
  its result (tracemalloc);
- the bundled numpy.i, whatever numpy.i the current directory holds.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import childproc
import ezalloc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE = ROOT / "examples" / "thirdparty"
LIBRARY_HEADERS = ROOT / "include"                   # ezalloc.h, crop.h (C headers)
LIB_A = Path(os.environ.get("EZALLOC_LIB_DIR", ROOT / "target" / "release")) / "libezalloc.a"
NATIVE_LIBS = os.environ.get("EZALLOC_NATIVE_LIBS",
                             "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc").split()
INCLUDE = Path(ezalloc.get_include())


def swig_version(swig):
    out = subprocess.run([swig, "-version"], capture_output=True, text=True).stdout
    return re.search(r"SWIG Version (\S+)", out).group(1)


def swigs():
    """{version: executable}: this environment's SWIG, .venv-min's and
    $EZALLOC_TEST_SWIG, when they exist; only those of $EZALLOC_TEST_SWIGS
    (a list separated by colons) when it is set (`make test` sets it where
    another pass covers the other SWIG)."""
    candidates = [os.environ.get("SWIG"), str(Path(sys.executable).parent / "swig"),
                  shutil.which("swig"), str(ROOT / ".venv-min" / "bin" / "swig"),
                  os.environ.get("EZALLOC_TEST_SWIG")]
    if os.environ.get("EZALLOC_TEST_SWIGS"):
        candidates = os.environ["EZALLOC_TEST_SWIGS"].split(":")
    found = {}
    for swig in candidates:
        if swig and Path(swig).is_file():
            found.setdefault(swig_version(swig), swig)
    return found


SWIGS = swigs()

# Compiles extensions in a child, so that setuptools' state stays out of the
# test process.
_SETUP = """
import json, sys
import numpy
from setuptools import Extension, setup
spec = json.loads(sys.argv[1])
setup(name="ezalloc_i_test", script_args=["-q", "build_ext", "--inplace"],
      ext_modules=[Extension(e["name"], e["sources"],
                             include_dirs=[numpy.get_include()] + e["include_dirs"],
                             extra_objects=e["objects"], extra_link_args=e["link_args"])
                   for e in spec])
"""


def build(workdir, swig, modules, cplusplus=False):
    """modules: [(module name, .i path, [C sources], [objects], [C include
    dirs])]. SWIG finds ezalloc.i and numpy.i through ezalloc.get_include()
    alone; returns workdir."""
    spec = []
    for name, interface, sources, objects, include_dirs in modules:
        wrap = Path(workdir) / f"{name}_wrap.{'cxx' if cplusplus else 'c'}"
        subprocess.run([swig, "-python", *(["-c++"] if cplusplus else []), "-I" + str(INCLUDE),
                        *["-I" + str(d) for d in include_dirs], "-module", name,
                        "-outdir", str(workdir), "-o", str(wrap), str(interface)], check=True)
        spec.append({"name": f"_{name}", "sources": [str(wrap), *map(str, sources)],
                     "objects": [str(o) for o in objects],
                     "include_dirs": [str(d) for d in include_dirs],
                     "link_args": NATIVE_LIBS if objects else []})
    subprocess.run([sys.executable, "-c", _SETUP, json.dumps(spec)], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)
    return workdir


def child(build_dir, scenario, **kwargs):
    return childproc.check(childproc.run("child_ezalloc_i.py", build_dir, scenario, **kwargs))


# --------------------------------------------------------------- the package

def test_get_include_holds_ezalloc_i_numpy_i_and_numpy_license():
    package = Path(ezalloc.__file__).resolve().parent
    assert INCLUDE.resolve().parent == package
    assert sorted(p.name for p in INCLUDE.iterdir()) == ["ezalloc.i", "ezalloc_numpy.i",
                                                          "numpy-LICENSE.txt", "numpy.i"]
    assert (INCLUDE / "ezalloc_numpy.i").read_bytes() == (INCLUDE / "numpy.i").read_bytes()
    # numpy.i is that of the numpy the package was built against, as
    # get_numpy_i fetches it from that release's sdist: this environment's
    # numpy, unless the package is a wheel built elsewhere (`make test`
    # then names the build's numpy in EZALLOC_TEST_BUILD_NUMPY).
    built_with = os.environ.get("EZALLOC_TEST_BUILD_NUMPY") or np.__version__
    out = subprocess.run([sys.executable, str(ROOT / "python" / "get_numpy_i.py"),
                          built_with], check=True, capture_output=True, text=True)
    fetched = Path(out.stdout.strip().splitlines()[-1])
    assert (INCLUDE / "numpy.i").read_bytes() == fetched.read_bytes()
    assert (INCLUDE / "numpy-LICENSE.txt").read_bytes() == \
        (fetched.parent / "numpy-LICENSE.txt").read_bytes()
    assert "NumPy Developers" in (INCLUDE / "numpy-LICENSE.txt").read_text()
    source = (fetched.parent / "SOURCE").read_text()
    assert f"numpy-{built_with}.tar.gz" in source
    assert hashlib.sha256((INCLUDE / "numpy.i").read_bytes()).hexdigest() in source


def test_python_m_ezalloc_swig_prints_the_directory(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ezalloc.swig"], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout
    assert Path(out.strip()) == INCLUDE
    copy = tmp_path / "vendored"
    out = subprocess.run([sys.executable, "-m", "ezalloc.swig", "--copy", str(copy)],
                         check=True, capture_output=True, text=True).stdout
    assert Path(out.strip()) == copy
    for name in ("ezalloc.i", "numpy.i", "ezalloc_numpy.i", "numpy-LICENSE.txt"):
        assert (copy / name).read_bytes() == (INCLUDE / name).read_bytes()


def test_python_m_ezalloc_swig_fetches_another_numpy_i(tmp_path):
    """--numpy VERSION: fetched from the index pip uses, sha256-checked and
    cached (a local index serving a stand-in sdist); --copy with it."""
    from test_get_numpy_i import LICENSE, NUMPY_I, VERSION, Index
    index = Index(form="json")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "NUMPY_I"}
        env.update(EZALLOC_CACHE_DIR=str(tmp_path / "cache"), PIP_INDEX_URL=index.url,
                   PIP_CONFIG_FILE=os.devnull, no_proxy="127.0.0.1", NO_PROXY="127.0.0.1")
        run = lambda *args: subprocess.run([sys.executable, "-m", "ezalloc.swig", *args],
                                           env=env, capture_output=True, text=True, cwd=tmp_path)
        out = run("--numpy", VERSION)
        assert out.returncode == 0, out.stderr
        path = Path(out.stdout.strip())
        assert path == tmp_path / "cache" / "numpy-i" / VERSION / "numpy.i"
        assert path.read_bytes() == NUMPY_I
        out = run("--numpy", VERSION, "--copy", str(tmp_path / "v"))
        assert out.returncode == 0, out.stderr
        assert (tmp_path / "v" / "numpy.i").read_bytes() == NUMPY_I
        assert (tmp_path / "v" / "ezalloc_numpy.i").read_bytes() == NUMPY_I
        assert (tmp_path / "v" / "numpy-LICENSE.txt").read_bytes() == LICENSE
        assert (tmp_path / "v" / "ezalloc.i").read_bytes() == (INCLUDE / "ezalloc.i").read_bytes()
        assert index.downloads() == 1                      # the second from the cache
        bad = Index(form="json", published_sha="ab" * 32)
        try:
            env["PIP_INDEX_URL"] = bad.url
            env["EZALLOC_CACHE_DIR"] = str(tmp_path / "cache2")
            out = run("--numpy", VERSION)
            assert out.returncode != 0 and "sha256 mismatch" in out.stderr
        finally:
            bad.server.shutdown()
    finally:
        index.server.shutdown()


# --------------------------------------------------------------- gridkit

@pytest.fixture(scope="module", params=sorted(SWIGS), ids=lambda v: f"swig{v}")
def gridkit(request, tmp_path_factory):
    """examples/thirdparty built by its own setup.py (ezalloc.get_include()
    is its only SWIG directory); beside it the same interface through stock
    numpy.i, and the %rename'd variants."""
    swig = SWIGS[request.param]
    work = tmp_path_factory.mktemp(f"gridkit-{request.param}")
    for name in ("gridkit.c", "gridkit.h", "gridkit.i", "setup.py"):
        shutil.copy(EXAMPLE / name, work / name)
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace", f"--swig={swig}"],
                   cwd=work, check=True, stdout=subprocess.DEVNULL)
    text = (EXAMPLE / "gridkit.i").read_text()
    stock = text.replace('%include "ezalloc.i"', '%include "numpy.i"')
    stock = re.sub(r"(?m)^%ezalloc_deallocator.*$", "", stock)
    assert stock != text
    (work / "gridkit_stock.i").write_text(stock)
    out_typemap = re.search(r"(?s)%typemap\(out\) int \{.*?\n\}\n", text).group(0)
    renamed = f"""%module gridkit_renamed
%{{
#define SWIG_FILE_WITH_INIT
#include "gridkit.h"
%}}
%include "ezalloc.i"
%init %{{
    import_array();
%}}
{out_typemap}
%apply (unsigned char **ARGOUTVIEWM_ARRAY1, int *DIM1) {{(unsigned char **buf, int *len)}}
%rename(make_buf) gk_make_buf;
%ezalloc_deallocator(NAME, gk_buf_release);
int gk_make_buf(int n, unsigned char **buf, int *len);
long gk_buf_live(void);
"""
    (work / "gridkit_renamed.i").write_text(renamed.replace("NAME", "make_buf"))
    (work / "gridkit_misnamed.i").write_text(
        renamed.replace("NAME", "gk_make_buf").replace("gridkit_renamed", "gridkit_misnamed"))
    build(work, swig, [(name, work / f"{name}.i", [work / "gridkit.c"], [], [work])
                       for name in ("gridkit_stock", "gridkit_renamed", "gridkit_misnamed")])
    return work


def test_gridkit_matches_numpy(gridkit):
    assert child(gridkit, "check").startswith("ok")


def test_renamed_function_takes_its_deallocator_by_its_new_name(gridkit):
    assert child(gridkit, "renamed").startswith("ok")


def test_deallocator_for_a_name_the_module_lacks_fails_at_import(gridkit):
    out = subprocess.run([sys.executable, "-c", "import gridkit_misnamed"], cwd=gridkit,
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert ("ImportError: %ezalloc_deallocator(gk_make_buf, gk_buf_release): the module has "
            "no function 'gk_make_buf'") in out.stderr, out.stderr


def test_injected_failures_leak_nothing(gridkit):
    """PYTHONMALLOC=malloc and the failing malloc: the ndarray, its capsule
    and the list of two outputs fail in turn; see child_ezalloc_i.failmalloc."""
    out = child(gridkit, "failmalloc", preload=True, env={"PYTHONMALLOC": "malloc"},
                timeout=600)
    assert out.startswith("ok"), out
    print(out)


def test_stock_numpy_i_leaks_the_block(gridkit):
    """The same failures through stock numpy.i's ARGOUTVIEWM_ARRAY2: the
    32 MiB block leaks whenever the ndarray or its capsule cannot be made
    (the figure docs/swig.md gives)."""
    out = child(gridkit, "stock_leak", preload=True, env={"PYTHONMALLOC": "malloc"},
                timeout=600)
    result = json.loads(out.strip().splitlines()[-1])
    leaks = [r for r in result["rows"] if r["leaked"] >= result["block"]]
    assert leaks, result
    print(f"stock numpy.i: {len(leaks)} of {len(result['rows'])} injected failures leaked "
          f"{sorted({r['leaked'] for r in leaks})} bytes each (block {result['block']}); "
          f"exceptions {sorted({str(r['error']) for r in result['rows']})}")


# --------------------------------------------------------------- every typemap

def numpy_i_types_and_signatures():
    """numpy.i's own list: the C types it instantiates %numpy_typemaps for
    (C++'s std::complex aside) and its ARGOUTVIEWM_* signatures."""
    text = (INCLUDE / "numpy.i").read_text()
    types = re.findall(r"(?m)^%numpy_typemaps\(\s*([^,]+?)\s*,\s*(NPY_\w+)\s*,\s*int\s*\)", text)
    types = [(c, code) for c, code in types if "::" not in c]
    signatures = []
    for m in re.finditer(r"%typemap\(in,numinputs=0\)\s*\(([^)]*ARGOUTVIEWM_\w+[^)]*)\)", text):
        params = [" ".join(p.split()) for p in m.group(1).split(",")]
        if params not in signatures:
            signatures.append(params)
    return types, signatures


SHAPES = {1: (7,), 2: (3, 5), 3: (2, 3, 4), 4: (2, 3, 2, 3)}


def allmaps_sources(work):
    """A C source and interface with three functions per (type, signature):
    NAME fills the block with its index modulo 100, NAME_null returns NULL
    (an empty shape or not), NAME_negative a negative dimension. Odd types
    allocate with a counting allocator released by %ezalloc_deallocator."""
    types, signatures = numpy_i_types_and_signatures()
    assert len(types) >= 20 and len(signatures) == 14, (types, signatures)
    c = ["#include <stdlib.h>", "#include <stdint.h>", "static long live;",
         "long ez_live(void) { return live; }",
         "static void *ez_alloc(size_t n) { live++; return malloc(n); }",
         "void ez_release(void *p) { live--; free(p); }"]
    prototypes = ["long ez_live(void);", "void ez_release(void *p);"]
    i_text = ["%include <stdint.i>", '%include "ezalloc.i"', "%init %{", "    import_array();",
              "%}", "long ez_live(void);"]
    spec = []
    for t, (ctype, code) in enumerate(types):
        for s, params in enumerate(signatures):
            data = next(p for p in params if "ARGOUTVIEWM_" in p)
            kind = data.split("ARGOUTVIEWM_")[1]
            ndim = int(kind[-1])
            dims = [p.split("*")[-1].strip() for p in params if "DIM" in p.split("*")[-1]]
            pointer = data.split("**")[-1].strip()
            decl = ", ".join(p.replace("DATA_TYPE", ctype).replace("DIM_TYPE", "int")
                             for p in params)
            name = f"f{s}_{t}"
            shape = SHAPES[ndim]
            alloc = "ez_alloc" if t % 2 else "malloc"
            count = int(np.prod(shape))
            set_dims = " ".join(f"*{d} = {n};" for d, n in zip(dims, shape))
            c.append(f"void {name}({decl}) {{ long i; {ctype} *p = {alloc}({count} * sizeof *p);"
                     f" for (i = 0; i < {count}; i++) p[i] = ({ctype})(i % 100);"
                     f" {set_dims} *{pointer} = p; }}")
            c.append(f"void {name}_null(int empty, {decl}) {{ {set_dims} if (empty) *{dims[0]} = 0;"
                     f" *{pointer} = NULL; }}")
            c.append(f"void {name}_negative({decl}) {{ {set_dims} *{dims[-1]} = -1;"
                     f" *{pointer} = {alloc}(16); }}")
            for suffix, extra in (("", ""), ("_null", "int empty, "), ("_negative", "")):
                if t % 2:
                    i_text.append(f"%ezalloc_deallocator({name}{suffix}, ez_release);")
                i_text.append(f"void {name}{suffix}({extra}{decl});")
                prototypes.append(i_text[-1])
            spec.append({"name": name, "shape": shape, "typecode": code,
                         "fortran": kind.startswith("F")})
    (work / "allmaps.c").write_text("\n".join(c) + "\n")
    head = ["%module allmaps", "%{", "#define SWIG_FILE_WITH_INIT", "#include <stdint.h>",
            *prototypes, "%}"]
    (work / "allmaps.i").write_text("\n".join(head + i_text) + "\n")
    (work / "allmaps.json").write_text(json.dumps(spec))
    return spec


@pytest.mark.parametrize("version", sorted(SWIGS), ids=lambda v: f"swig{v}")
def test_every_argoutviewm_typemap_of_numpy_i(tmp_path, version):
    spec = allmaps_sources(tmp_path)
    build(tmp_path, SWIGS[version], [("allmaps", tmp_path / "allmaps.i", [tmp_path / "allmaps.c"],
                                      [], [])])
    wrap = (tmp_path / "allmaps_wrap.c").read_text()
    assert "SWIGPY_CAPSULE_NAME, free_cap" not in wrap          # none of stock numpy.i's
    assert wrap.count("ezalloc_typed_block(") >= 3 * len(spec)
    out = child(tmp_path, "typemaps")
    assert out.startswith(f"ok, {len(spec)} functions"), out


# --------------------------------------------------------------- the recipe

RECIPE_ALLOC = """
import resource
import numpy
import recipe_ezalloc as ezalloc

# What the process maps now, plus 512 MiB: the managed loop frees each block,
# the leaking one runs out.
with open("/proc/self/statm") as f:
    mapped = int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (mapped + (512 << 20),) * 2)

n = 2048
m = 1024 * 1024
err = 0
print("ARGOUTVIEWM_ARRAY1 (managed arrays) - %d allocations (%d bytes each)" % (n, 4 * m))
for i in range(n):
    try:
        a = ezalloc.alloc_managed(m)
        del a
    except MemoryError:
        err = 1
        print("Step %d failed" % i)
        break
if err == 0:
    print("Done!")
print("ARGOUTVIEW_ARRAY1 (unmanaged, leaking) - %d allocations (%d bytes each)" % (n, 4 * m))
for i in range(n):
    try:
        a = ezalloc.alloc_leaking(m)
        del a
    except MemoryError:
        err = 1
        print("Step %d failed" % i)
        break
if err == 0:
    print("Done? Increase n!")
"""

RECIPE_CROP = """
import numpy
import recipe_crop as crop

a = numpy.zeros((5, 10), numpy.intc)     # the recipe: numpy.int, a C int on its platform
a[numpy.arange(5), :] = numpy.arange(10)
b = numpy.transpose([(10 ** numpy.arange(5))]).astype(numpy.intc)
a = (a * b)[:, 1:]
c = crop.crop(a, 2, 4, 1, 5)
d = a[2:4, 1:5]
print(c.tolist())
print(d.tolist())
print(type(c.base).__name__, (c == d).all())
"""


@pytest.mark.parametrize("version", sorted(SWIGS), ids=lambda v: f"swig{v}")
def test_recipe_interface_files_with_one_line_changed(tmp_path, version):
    """The recipe's ezalloc.i and crop.i (as python_tests/swig writes them),
    `%include "numpy.i"` changed to `%include "ezalloc.i"` and nothing
    else, built against the library and run with the recipe's test
    programs: the managed loop completes, the leaking one runs out of
    address space, the crop equals numpy's slicing."""
    modules = []
    for name in ("recipe_ezalloc", "recipe_crop"):
        text = (HERE / "swig" / f"{name}.i").read_text()
        changed = text.replace('%include "numpy.i"', '%include "ezalloc.i"')
        diff = [(a, b) for a, b in zip(text.splitlines(), changed.splitlines()) if a != b]
        assert diff == [('%include "numpy.i"', '%include "ezalloc.i"')]
        (tmp_path / f"{name}.i").write_text(changed)
        modules.append((name, tmp_path / f"{name}.i", [], [LIB_A], [LIBRARY_HEADERS]))
    build(tmp_path, SWIGS[version], modules)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", RECIPE_ALLOC], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1] == "Done!", out.stdout
    step = re.fullmatch(r"Step (\d+) failed", lines[3])
    assert step and 0 < int(step.group(1)) < 2048, out.stdout
    out = subprocess.run([sys.executable, "-c", RECIPE_CROP], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    want = [[200, 300, 400, 500], [2000, 3000, 4000, 5000]]
    assert out.stdout.splitlines() == [str(want), str(want), "PyCapsule True"], out.stdout


# --------------------------------------------------------------- C++

COMPLEX_I = """%module cx
%{
#define SWIG_FILE_WITH_INIT
#include <complex>
#include <cstdlib>
void roots(int n, std::complex<double> **out, int *len)
{
    std::complex<double> *p = static_cast<std::complex<double> *>(std::malloc(sizeof *p * n));
    for (int k = 0; k < n; k++)
        p[k] = std::complex<double>(k, -k);
    *out = p;
    *len = n;
}
void froots(int n, int *d1, int *d2, std::complex<float> **out)
{
    std::complex<float> *p = static_cast<std::complex<float> *>(std::malloc(sizeof *p * n * 2));
    for (int k = 0; k < 2 * n; k++)
        p[k] = std::complex<float>(k, 1);
    *out = p;
    *d1 = n;
    *d2 = 2;
}
%}
%include "ezalloc.i"
%init %{
    import_array();
%}
%apply (std::complex<double> **ARGOUTVIEWM_ARRAY1, int *DIM1) {(std::complex<double> **out, int *len)}
%apply (int *DIM1, int *DIM2, std::complex<float> **ARGOUTVIEWM_FARRAY2)
    {(int *d1, int *d2, std::complex<float> **out)}
void roots(int n, std::complex<double> **out, int *len);
void froots(int n, int *d1, int *d2, std::complex<float> **out);
"""

CHECK_COMPLEX = """
import numpy as np
import cx
r = cx.roots(5)
assert r.dtype == np.complex128 and type(r.base).__name__ == "PyCapsule"
np.testing.assert_array_equal(r, np.arange(5) - 1j * np.arange(5))
f = cx.froots(3)
assert f.dtype == np.complex64 and f.shape == (3, 2) and f.flags.f_contiguous
np.testing.assert_array_equal(f, (np.arange(6) + 1j).reshape((3, 2), order="F"))
print("ok")
"""


@pytest.mark.parametrize("version", sorted(SWIGS), ids=lambda v: f"swig{v}")
def test_cplusplus_std_complex(tmp_path, version):
    """In C++, numpy.i's std::complex<float/double> typemaps are the managed
    ones too."""
    (tmp_path / "cx.i").write_text(COMPLEX_I)
    build(tmp_path, SWIGS[version], [("cx", tmp_path / "cx.i", [], [], [])], cplusplus=True)
    out = subprocess.run([sys.executable, "-c", CHECK_COMPLEX], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


CXX_DEALLOCATOR_I = """%module cxxd
%{
#define SWIG_FILE_WITH_INIT
#include <cstdlib>
namespace lib {
long releases;
void release(void *p)
{
    releases++;
    std::free(p);
}
long released() { return releases; }
void make(int n, double **out, int *len)
{
    double *p = static_cast<double *>(std::malloc(sizeof *p * (n + 1)));
    for (int k = 0; k < n; k++)
        p[k] = k / 2.0;
    *out = p;
    *len = n;
}
}
/* Named like ezalloc.i's own ezalloc_release_with_free. */
void with_free(int n, double **out, int *len) { lib::make(n, out, len); }
int ovl(int) { return 1; }
int ovl(double) { return 2; }
int ovl(const char *) { return 3; }
int wide(int) { return 1; }
int wide(long long) { return 2; }
int dflt(int a, int b = 2) { return a + b; }
%}
%include "ezalloc.i"
%init %{
    import_array();
%}
%apply (double **ARGOUTVIEWM_ARRAY1, int *DIM1) {(double **out, int *len)}
%ezalloc_deallocator(make, lib::release);
%ezalloc_deallocator(with_free, lib::release);
%ezalloc_int_arguments
namespace lib {
void make(int n, double **out, int *len);
long released();
}
void with_free(int n, double **out, int *len);
int ovl(int);
int ovl(double);
int ovl(const char *);
int wide(int);
int wide(long long);
int dflt(int a, int b = 2);
"""

CHECK_CXX_DEALLOCATOR = """
import gc
import numpy as np
import cxxd

def expect_type_error(call):
    try:
        call()
    except TypeError:
        return
    raise AssertionError("no TypeError")

a = cxxd.make(5)
assert type(a.base).__name__ == "PyCapsule"
np.testing.assert_array_equal(a, np.arange(5) / 2.0)
view = a[1:3]
del a
gc.collect()
assert cxxd.released() == 0
del view
gc.collect()
assert cxxd.released() == 1
b = cxxd.with_free(np.int64(3))                # the opt-in int typemap
np.testing.assert_array_equal(b, [0, 0.5, 1])
del b
gc.collect()
assert cxxd.released() == 2
# the dispatcher of overloads and default arguments takes what the int
# typemap accepts
assert cxxd.ovl(1) == 1 and cxxd.ovl(np.int64(1)) == 1 and cxxd.ovl(np.uint8(7)) == 1
assert cxxd.ovl(1.5) == 2 and cxxd.ovl(np.float64(1)) == 2 and cxxd.ovl("x") == 3
assert cxxd.ovl(2 ** 40) == 2                  # outside C int: not the int overload
assert cxxd.wide(1) == 1 and cxxd.wide(np.int16(1)) == 1 and cxxd.wide(2 ** 40) == 2
assert cxxd.dflt(np.int64(1)) == 3 and cxxd.dflt(1, np.int32(5)) == 6
expect_type_error(lambda: cxxd.dflt(1.5))
expect_type_error(lambda: cxxd.dflt(2 ** 40))
print("ok")
"""


@pytest.mark.parametrize("version", sorted(SWIGS), ids=lambda v: f"swig{v}")
def test_cplusplus_deallocator_and_int_overloads(tmp_path, version):
    """In C++: %ezalloc_deallocator (namespaced free function, a wrapped
    function named like ezalloc.i's own helpers) releases each block once;
    %ezalloc_int_arguments reaches overloads and default arguments."""
    (tmp_path / "cxxd.i").write_text(CXX_DEALLOCATOR_I)
    build(tmp_path, SWIGS[version], [("cxxd", tmp_path / "cxxd.i", [], [], [])], cplusplus=True)
    out = subprocess.run([sys.executable, "-c", CHECK_CXX_DEALLOCATOR], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("version", sorted(SWIGS), ids=lambda v: f"swig{v}")
def test_a_numpy_i_elsewhere_does_not_replace_the_bundled_one(tmp_path, version):
    """ezalloc.i includes the bundled numpy.i (as ezalloc_numpy.i), whatever
    numpy.i the directory SWIG runs in (which SWIG searches first) or an
    earlier -I directory holds; a project's own %include "numpy.i" still
    finds those first, as SWIG's search order says."""
    (tmp_path / "m.i").write_text('%module m\n%include "ezalloc.i"\n')
    other = tmp_path / "other"
    other.mkdir()
    (other / "numpy.i").write_text('#error "the numpy.i of an earlier -I directory"\n')
    (tmp_path / "numpy.i").write_text('#error "the numpy.i of the current directory"\n')
    run = lambda name: subprocess.run([SWIGS[version], "-python", "-I" + str(other),
                                       "-I" + str(INCLUDE), name], cwd=tmp_path,
                                      capture_output=True, text=True)
    out = run("m.i")
    assert out.returncode == 0, out.stderr          # neither #error was included
    (tmp_path / "n.i").write_text('%module n\n%include "numpy.i"\n')
    out = run("n.i")
    assert out.returncode != 0 and "the numpy.i of the current directory" in out.stderr


ARGOUT_ARRAYS_I = """%module outs
%{
#define SWIG_FILE_WITH_INIT
#include <stdlib.h>
/* A managed output, NULL for a non-empty array when `fail`, then numpy.i's
 * ARGOUT_ARRAY* outputs after it. */
static void fill(double *z, long n) { long i; for (i = 0; i < n; i++) z[i] = (double)i; }
static double *block(int fail) { double *p = fail ? NULL : malloc(sizeof *p); if (p) *p = 7; return p; }
void after(int fail, double **o, int *n, double *z, int nz) { *o = block(fail); *n = 1; fill(z, nz); }
void after_dim_first(int fail, double **o, int *n, int nz, double *z) { *o = block(fail); *n = 1; fill(z, nz); }
void after_fixed(int fail, double **o, int *n, double z[256][512]) { *o = block(fail); *n = 1; fill(&z[0][0], 256 * 512); }
void before(int fail, double *z, int nz, double **o, int *n) { *o = block(fail); *n = 1; fill(z, nz); }
double input_after(double *z, int nz, double *x, int nx) { fill(z, nz); return x[nx - 1]; }
void pair(double *z, int nz, double *w, int nw) { fill(z, nz); fill(w, nw); }
%}
%include "ezalloc.i"
%init %{
    import_array();
%}
%apply (double **ARGOUTVIEWM_ARRAY1, int *DIM1) {(double **o, int *n)}
%apply (double *ARGOUT_ARRAY1, int DIM1) {(double *z, int nz), (double *w, int nw)}
%apply (int DIM1, double *ARGOUT_ARRAY1) {(int nz, double *z)}
%apply (double ARGOUT_ARRAY2[ANY][ANY]) {(double z[256][512])}
%apply (double *IN_ARRAY1, int DIM1) {(double *x, int nx)}
void after(int fail, double **o, int *n, double *z, int nz);
void after_dim_first(int fail, double **o, int *n, int nz, double *z);
void after_fixed(int fail, double **o, int *n, double z[256][512]);
void before(int fail, double *z, int nz, double **o, int *n);
double input_after(double *z, int nz, double *x, int nx);
void pair(double *z, int nz, double *w, int nw);
"""

CHECK_ARGOUT_ARRAYS = """
import sys
import tracemalloc
import numpy as np
import outs

N = 1 << 17                                    # 1 MiB of float64 per ARGOUT array
o, z = outs.after(0, N)
assert o.tolist() == [7.0] and sys.getrefcount(z) == 2
np.testing.assert_array_equal(z, np.arange(N))
o, z = outs.after_dim_first(0, 5)
assert o.tolist() == [7.0] and z.tolist() == [0, 1, 2, 3, 4]
o, z = outs.after_fixed(0)
assert z.shape == (256, 512) and z[1, 0] == 512 and sys.getrefcount(z) == 2
z, o = outs.before(0, 3)
assert z.tolist() == [0, 1, 2] and o.tolist() == [7.0]
r, z = outs.input_after(3, [1.0, 2.5])
assert r == 2.5 and z.tolist() == [0, 1, 2]
z, w = outs.pair(2, 3)
assert z.tolist() == [0, 1] and w.tolist() == [0, 1, 2]
del o, z, w

def fails(call, exc):
    try:
        call()
    except exc:
        return
    raise AssertionError("no " + exc.__name__)

tracemalloc.start()
for name, call, exc in [("after", lambda: outs.after(1, N), MemoryError),
                        ("after_dim_first", lambda: outs.after_dim_first(1, N), MemoryError),
                        ("after_fixed", lambda: outs.after_fixed(1), MemoryError),
                        ("before", lambda: outs.before(1, N), MemoryError),
                        ("input_after", lambda: outs.input_after(N, "abc"), ValueError)]:
    fails(call, exc)
    start = tracemalloc.get_traced_memory()[0]
    for _ in range(20):
        fails(call, exc)
    grown = tracemalloc.get_traced_memory()[0] - start
    assert grown < (1 << 20), (name, grown)    # 20 MiB if each ARGOUT array leaked
print("ok")
"""


@pytest.mark.parametrize("version", sorted(SWIGS), ids=lambda v: f"swig{v}")
def test_argout_arrays_are_released_when_the_call_fails(tmp_path, version):
    """numpy.i's ARGOUT_ARRAY* outputs (arrays numpy.i makes before the
    call) beside a managed output: returned once on success, released when
    an output before them fails or a later argument does not convert."""
    (tmp_path / "outs.i").write_text(ARGOUT_ARRAYS_I)
    build(tmp_path, SWIGS[version], [("outs", tmp_path / "outs.i", [], [], [])])
    out = subprocess.run([sys.executable, "-c", CHECK_ARGOUT_ARRAYS], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_argout_arrays_under_injected_failures(tmp_path):
    """PYTHONMALLOC=malloc and the failing malloc during calls with numpy.i's
    ARGOUT_ARRAY* outputs beside a managed one, and two of them: the right
    result or MemoryError (the output list that cannot grow included), and
    nothing stays in use; see child_ezalloc_i.argout_failmalloc."""
    (tmp_path / "outs.i").write_text(ARGOUT_ARRAYS_I)
    build(tmp_path, SWIGS[max(SWIGS)], [("outs", tmp_path / "outs.i", [], [], [])])
    out = child(tmp_path, "argout_failmalloc", preload=True, env={"PYTHONMALLOC": "malloc"},
                timeout=600)
    assert out.startswith("ok"), out
    print(out)
