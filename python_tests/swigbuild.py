"""Builds throwaway SWIG modules for the tests, in a temporary directory."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_DIR = ROOT / "python"
PACKAGE_SOURCE = PYTHON_DIR / "ezalloc"        # recipe.i, ezerrno.i, include/ezalloc.i
INCLUDE_DIR = ROOT / "include"
LIB_DIR = Path(os.environ.get("EZALLOC_LIB_DIR", ROOT / "target" / "release"))
NATIVE_LIBS = os.environ.get("EZALLOC_NATIVE_LIBS",
                             "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc").split()

# Runs in a child so that setuptools' state stays out of the test process.
_SETUP = """
import json, sys
import numpy
from setuptools import Extension, setup
spec = json.loads(sys.argv[1])
setup(name="swigbuild", script_args=["-q", "build_ext", "--inplace"],
      ext_modules=[Extension(e["name"], e["sources"],
                             include_dirs=[numpy.get_include()] + spec["include_dirs"],
                             extra_objects=e["objects"],
                             extra_link_args=spec["link_args"])
                   for e in spec["extensions"]])
"""


def numpy_i_dir():
    """numpy.i of the numpy in use, as the package build gets it."""
    out = subprocess.run([sys.executable, str(PYTHON_DIR / "get_numpy_i.py")], check=True,
                         text=True, stdout=subprocess.PIPE)
    return str(Path(out.stdout.strip().splitlines()[-1]).parent)


def swig_executable():
    """$SWIG (set by the Makefile to the venv's), else beside this Python."""
    if os.environ.get("SWIG"):
        return os.environ["SWIG"]
    beside = Path(sys.executable).parent / "swig"
    return str(beside) if beside.exists() else shutil.which("swig")


def build(workdir, modules):
    """modules: [(module name, .i path, [C sources], [objects])]. Runs SWIG on
    each .i under that module name, compiles everything in `workdir`, and
    returns `workdir` (to put on sys.path)."""
    workdir = Path(workdir)
    swig = swig_executable()
    # ezalloc.i includes numpy.i as ezalloc_numpy.i, which the package
    # build puts beside it.
    numpy_i = Path(numpy_i_dir()) / "numpy.i"
    shutil.copyfile(numpy_i, workdir / "ezalloc_numpy.i")
    includes = ["-I" + str(PACKAGE_SOURCE / "include"), "-I" + str(workdir),
                "-I" + str(numpy_i.parent),
                "-I" + str(INCLUDE_DIR), "-I" + str(PACKAGE_SOURCE)]
    extensions = []
    for name, interface, sources, objects in modules:
        wrap = workdir / f"{name}_wrap.c"
        subprocess.run([swig, "-python", *includes, "-module", name,
                        "-outdir", str(workdir), "-o", str(wrap), str(interface)],
                       check=True)
        extensions.append({"name": f"_{name}",
                           "sources": [str(wrap), *map(str, sources)],
                           "objects": [str(o) for o in objects]})
    spec = {"extensions": extensions, "include_dirs": [str(INCLUDE_DIR)],
            "link_args": NATIVE_LIBS}
    subprocess.run([sys.executable, "-c", _SETUP, json.dumps(spec)], cwd=workdir,
                   check=True, stdout=subprocess.DEVNULL)
    return workdir


def build_shared(workdir, name, sources):
    """Compiles C sources into workdir/lib<name>.so and returns its path."""
    out = Path(workdir) / f"lib{name}.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-I" + str(INCLUDE_DIR),
                    *map(str, sources), "-o", str(out)], check=True)
    return out
