"""Builds the Python package `ezalloc` (metadata: pyproject.toml).

    pip install .            # from the repository root or an unpacked sdist
    python -m build          # sdist and wheel

What the build does:

1. `cargo build --release --locked` (the Rust library; a Rust toolchain,
   Rust >= 1.93, must be on PATH, or named by $CARGO);
2. copies target/release/libezalloc.so into the package under its soname
   (libezalloc.so.0): the ctypes front end loads it, and the SWIG extension
   links to it through an $ORIGIN run path, so the library is in the package
   once;
3. numpy.i of the numpy release the build compiles against
   (python/get_numpy_i.py: fetched from the package index pip uses, sha256
   checked, cached; NUMPY_I=/path/to/numpy.i overrides), with numpy's license
   text; both are installed beside ezalloc.i in ezalloc/include/, the
   directory ezalloc.get_include() returns (never in the source tree);
4. SWIG (`swig` on PATH, or $SWIG; any SWIG from 4.2.1 on) writes the modules
   ezalloc.recipe from python/ezalloc/recipe.i, compiled as ezalloc._recipe,
   and ezalloc.ndcrop (ezalloc.crop) from python/ezalloc/ndcrop.i, compiled
   as ezalloc._ndcrop; both link to the one bundled library.

Environment: CARGO, CARGO_TARGET_DIR, SWIG, NUMPY_I, EZALLOC_CACHE_DIR
(numpy.i's cache), and pip's own PIP_INDEX_URL.
"""

import filecmp
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = ROOT / "python" / "ezalloc"
SWIG_INCLUDE_DIR = PACKAGE_DIR / "include"     # ezalloc.i
INCLUDE_DIR = ROOT / "include"
MINIMUM_SWIG = (4, 2, 1)

sys.path.insert(0, str(ROOT / "python"))
import get_numpy_i  # noqa: E402  (stdlib only)


def fail(message):
    sys.exit(f"ezalloc build: {message}")


def version():
    text = (ROOT / "Cargo.toml").read_text()
    found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not found:
        fail("no version in Cargo.toml")
    return found.group(1)


def elf_soname(path):
    """DT_SONAME of a 64-bit ELF shared library, or None."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    end = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(end + "Q", data, 0x28)
    shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
    sections = [struct.unpack_from(end + "IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    for section in sections:
        if section[1] != 6:            # SHT_DYNAMIC
            continue
        strtab = sections[section[6]][4]
        for offset in range(section[4], section[4] + section[5], 16):
            tag, value = struct.unpack_from(end + "qQ", data, offset)
            if tag == 0:
                break
            if tag == 14:              # DT_SONAME
                start = strtab + value
                return data[start:data.index(b"\0", start)].decode()
    return None


def build_rust_library():
    """Runs cargo; returns the path of the built libezalloc.so."""
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if not cargo or not shutil.which(cargo):
        fail("cargo not found. ezalloc's library is written in Rust: install a Rust "
             "toolchain (Rust >= 1.93, e.g. with rustup) so that `cargo` is on PATH, "
             "or set CARGO=/path/to/cargo, then retry.")
    cmd = [cargo, "build", "--release", "--locked"]
    print(" ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        fail(f"`{' '.join(cmd)}` failed (exit status {result.returncode})")
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    if not target.is_absolute():
        target = ROOT / target
    lib = target / "release" / "libezalloc.so"
    if not lib.is_file():
        fail(f"cargo finished but {lib} does not exist")
    return lib


def swig_executable():
    swig = os.environ.get("SWIG") or shutil.which("swig") \
        or shutil.which("swig", path=str(Path(sys.executable).parent))
    if not swig:
        fail("swig not found: `pip install swig` (any SWIG from 4.2.1 on) or set SWIG")
    out = subprocess.run([swig, "-version"], text=True, stdout=subprocess.PIPE).stdout
    found = re.search(r"SWIG Version (\d+)\.(\d+)\.(\d+)", out)
    if found and tuple(map(int, found.groups())) < MINIMUM_SWIG:
        print(f"ezalloc build: warning: {swig} is SWIG {'.'.join(found.groups())}; "
              "the build is tested with SWIG 4.2.1 and later", file=sys.stderr)
    return swig


def numpy_i_or_fail():
    try:
        return get_numpy_i.numpy_i()
    except get_numpy_i.FetchError as e:
        fail(f"{e}\n(set NUMPY_I=/path/to/numpy.i to use a numpy.i you have)")


def write_if_changed(source, destination):
    if not (destination.exists() and filecmp.cmp(source, destination, shallow=False)):
        shutil.copyfile(source, destination)


class BuildPy(build_py):
    def run(self):
        text = f'"""Written by setup.py from Cargo.toml."""\n\n__version__ = "{version()}"\n'
        path = PACKAGE_DIR / "_version.py"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        super().run()
        # numpy.i of the numpy this build compiles against, and numpy's
        # license, beside ezalloc.i in the built package (ezalloc.get_include()).
        numpy_i = numpy_i_or_fail()
        try:
            license_text = get_numpy_i.license_of(numpy_i)
        except get_numpy_i.FetchError as e:
            fail(str(e))
        include = Path(self.build_lib) / "ezalloc" / "include"
        include.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(numpy_i, include / "numpy.i")
        # The name ezalloc.i includes: no project has a file of that name
        # for SWIG to find first.
        shutil.copyfile(numpy_i, include / "ezalloc_numpy.i")
        shutil.copyfile(license_text, include / get_numpy_i.LICENSE_NAME)


class BuildExt(build_ext):
    """cargo, then SWIG, then the extension linked to the bundled library."""

    def run(self):
        # Different venvs (numpy and SWIG versions) share build/: always
        # compile the wrapper against this build's numpy.
        self.force = True
        super().run()

    def bundled_library(self, package_out):
        """cargo (once per build), then the library copied into the
        package under its soname; returns the copy's path."""
        if getattr(self, "_bundled", None) is None:
            lib = build_rust_library()
            soname = elf_soname(lib) or lib.name
            for old in package_out.glob("libezalloc.so*"):
                old.unlink()
            bundled = package_out / soname
            shutil.copyfile(lib, bundled)
            bundled.chmod(0o755)
            self._bundled = bundled
        return self._bundled

    def build_extension(self, ext):
        package_out = Path(self.get_ext_fullpath(ext.name)).parent
        package_out.mkdir(parents=True, exist_ok=True)
        bundled = self.bundled_library(package_out)
        module = ext.name.rsplit(".", 1)[-1].lstrip("_")    # ezalloc._recipe -> recipe

        numpy_i = numpy_i_or_fail()
        temp = Path(self.build_temp)
        temp.mkdir(parents=True, exist_ok=True)
        wrapper = temp / f"{module}_wrap.c"
        with tempfile.TemporaryDirectory(dir=temp) as out:
            # ezalloc.i includes numpy.i as ezalloc_numpy.i.
            shutil.copyfile(numpy_i, Path(out) / "ezalloc_numpy.i")
            cmd = [swig_executable(), "-python", f"-I{SWIG_INCLUDE_DIR}", f"-I{out}",
                   f"-I{INCLUDE_DIR}",
                   f"-I{PACKAGE_DIR}", "-outdir", out, "-o", str(Path(out) / wrapper.name),
                   str(PACKAGE_DIR / f"{module}.i")]
            print(" ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
            write_if_changed(Path(out) / wrapper.name, wrapper)
            shutil.copyfile(Path(out) / f"{module}.py", package_out / f"{module}.py")

        # The run path is $ORIGIN alone: drop the interpreter's own
        # -Wl,-rpath flags (a Python built with one in LDSHARED, as pyenv
        # does), which would otherwise be searched for libezalloc.so.0 first.
        for attr in ("linker_so", "linker_so_cxx"):
            command = getattr(self.compiler, attr, None)
            if command:
                setattr(self.compiler, attr,
                        [a for a in command if not a.startswith(("-Wl,-rpath,", "-Wl,-R"))])

        import numpy
        ext.sources = [str(wrapper)]
        ext.include_dirs = [numpy.get_include(), str(INCLUDE_DIR)]
        ext.extra_objects = [str(bundled)]
        super().build_extension(ext)


setup(
    version=version(),
    ext_modules=[Extension(
        f"ezalloc._{module}",
        sources=[f"python/ezalloc/{module}.i"],   # replaced by SWIG's output
        # The bundled libezalloc.so.0 is found beside the module, wherever
        # the package is installed.
        extra_link_args=["-Wl,-rpath,$ORIGIN"],
    ) for module in ("recipe", "ndcrop")],
    cmdclass={"build_py": BuildPy, "build_ext": BuildExt},
)
