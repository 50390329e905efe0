"""Builds the SWIG modules `ezalloc` (_ezalloc) and `crop` (_crop).

Both are linked against the static libezalloc.a, so they are self-contained.

    python setup.py build_ext --inplace     # modules beside this file
    pip install ./python                    # from the repository root

Environment:
    EZALLOC_LIB_DIR      directory holding libezalloc.a (default ../target/release)
    NUMPY_I              path of a stock numpy.i (default: get_numpy_i.sh)
    EZALLOC_NATIVE_LIBS  link flags the Rust static library needs
                         (default: the Linux list below)
    SWIG                 the swig executable (default: beside this Python, or on PATH)
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
INCLUDE_DIR = ROOT / "include"
MODULES = ("ezalloc", "crop")

# From `cargo rustc --release --lib -- --print native-static-libs` on Linux.
LINUX_NATIVE_LIBS = "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

os.chdir(HERE)


def fail(message):
    sys.exit(f"ezalloc setup.py: {message}")


def static_library():
    lib_dir = Path(os.environ.get("EZALLOC_LIB_DIR", ROOT / "target" / "release"))
    lib = lib_dir.resolve() / "libezalloc.a"
    if not lib.is_file():
        fail(f"{lib} not found: run `cargo build --release` at the repository "
             "root, or set EZALLOC_LIB_DIR to the directory holding libezalloc.a")
    return lib


def numpy_i_dir():
    """The directory of the stock numpy.i, fetched (and cached) if needed."""
    script = HERE / "get_numpy_i.sh"
    out = subprocess.run(["sh", str(script)], check=False, text=True,
                         stdout=subprocess.PIPE)
    if out.returncode != 0:
        fail("could not obtain numpy.i (see above); set NUMPY_I=/path/to/numpy.i")
    path = Path(out.stdout.strip().splitlines()[-1]).resolve()
    if path.name != "numpy.i":
        fail(f"NUMPY_I must name a file called numpy.i (SWIG includes it by name), got {path}")
    return path.parent


def swig_executable():
    candidates = [os.environ.get("SWIG"),
                  str(Path(sys.executable).parent / "swig"),
                  shutil.which("swig")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            break
    else:
        fail("swig not found: `pip install swig==4.2.1` or set SWIG")
    version = subprocess.run([candidate, "-version"], check=True, text=True,
                             stdout=subprocess.PIPE).stdout
    found = re.search(r"SWIG Version (\d+)\.(\d+)\.(\d+)", version)
    if not found or found.group(1, 2) != ("4", "2"):
        first_line = version.strip().splitlines()[0] if version.strip() else "?"
        fail(f"{candidate} is not SWIG 4.2.x ({first_line}): Debian's numpy.i "
             "calls SWIG_Python_AppendOutput with two arguments, which SWIG 4.3 "
             "changed; install swig==4.2.1")
    return candidate


def run_swig():
    """Writes <module>_wrap.c and <module>.py for each module, when stale."""
    inputs = [HERE / "eztypemaps.i", *INCLUDE_DIR.glob("*.h")]
    swig = None
    for name in MODULES:
        source = HERE / f"{name}.i"
        outputs = [HERE / f"{name}_wrap.c", HERE / f"{name}.py"]
        newest_input = max(p.stat().st_mtime for p in [source, *inputs])
        if all(p.exists() and p.stat().st_mtime >= newest_input for p in outputs):
            continue
        swig = swig or swig_executable()
        cmd = [swig, "-python", "-I" + str(numpy_i_dir()), "-I" + str(INCLUDE_DIR),
               "-o", str(outputs[0]), str(source)]
        print(" ".join(shlex.quote(c) for c in cmd))
        subprocess.run(cmd, check=True)


class BuildPy(build_py):
    def run(self):
        # The SWIG proxies ezalloc.py and crop.py must exist before they are copied.
        run_swig()
        super().run()
        # ezalloc_ctypes looks for the shared library beside itself first.
        shared = static_library().with_name("libezalloc.so")
        if shared.is_file():
            self.copy_file(str(shared), os.path.join(self.build_lib, shared.name))


class BuildExt(build_ext):
    def run(self):
        run_swig()
        super().run()


def extension(name):
    import numpy

    lib = static_library()
    native = shlex.split(os.environ.get("EZALLOC_NATIVE_LIBS", LINUX_NATIVE_LIBS))
    return Extension(
        f"_{name}",
        sources=[f"{name}_wrap.c"],
        include_dirs=[numpy.get_include(), str(INCLUDE_DIR)],
        extra_objects=[str(lib)],
        # Keep the library's own symbols (alloc, crop, ...) out of the
        # module's dynamic symbol table.
        extra_link_args=["-Wl,--exclude-libs,ALL", *native],
        depends=[str(lib), *map(str, INCLUDE_DIR.glob("*.h"))],
    )


setup(
    name="ezalloc",
    version="0.1.0",
    description="Python front ends (SWIG and ctypes) of the ezalloc C library",
    python_requires=">=3.9",
    install_requires=["numpy"],
    py_modules=["ezalloc", "crop", "ezalloc_ctypes"],
    ext_modules=[extension(name) for name in MODULES],
    cmdclass={"build_py": BuildPy, "build_ext": BuildExt},
)
