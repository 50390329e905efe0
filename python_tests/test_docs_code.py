"""Every code block of README.md, python/README.md and docs/*.md runs or
compiles.

- ```python blocks run, each as a script of its own, with the installed
  package (a block that demonstrates an error catches it);
- ```c blocks compile as C99 against include/ with -Wall -Wextra -Werror
  -pedantic; a block with a main() is linked against the package's
  libezalloc.so.0 and run;
- ```swig blocks go through `swig -python` (with ezalloc.get_include() on
  the include path, where the package has it), which must accept them;
- a block whose first line names a file (`/* mylib.h */`, `# setup.py`) is
  also written under that name beside the later blocks of its page, so
  that an interface file can include the header shown before it;
- blocks in any other language of NOT_RUN (shell sessions, output, text)
  are not run. A block tagged with a language in none of these lists fails
  the test, so that no block escapes by a new tag.

Pages added to docs/ later are covered as they appear."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ezalloc

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "python" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

RUN, COMPILE, SWIG = "python", "c", "swig"
NOT_RUN = {"sh", "console", "text", "toml", "ini", "make"}

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)\s*(?P<info>[^\s`]*)[^\n]*$")


def blocks(page):
    """(language, first line number, text) of each fenced block of a page."""
    found = []
    lines = page.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, start = m["fence"], m["info"], i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        # MyST directives ({toctree}, {eval-rst}, ...) are not code.
        if not info.startswith("{"):
            found.append((info, start, "\n".join(body) + "\n"))
    return found


NAMED = re.compile(r"^(?:/\*|#|//)\s*(?P<name>[\w.-]+\.\w+)\s*(?:\*/)?\s*$")


def cases(page):
    """One test per block, with the named blocks that precede it."""
    named = {}
    for lang, line, text in blocks(page):
        yield pytest.param(lang, text, dict(named),
                           id=f"{page.relative_to(ROOT)}:{line}:{lang or 'untagged'}")
        m = NAMED.match(text.split("\n", 1)[0])
        if m:
            named[m["name"]] = text


CASES = [case for page in PAGES for case in cases(page)]


def test_the_pages_have_blocks_of_each_kind():
    langs = {c.values[0] for c in CASES}
    assert {RUN, COMPILE} <= langs, langs


@pytest.mark.parametrize("lang, text, files", CASES)
def test_code_block(lang, text, files, tmp_path):
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    if lang == RUN:
        run_python(text, tmp_path)
    elif lang == COMPILE:
        compile_c(text, tmp_path)
    elif lang == SWIG:
        run_swig(text, tmp_path)
    else:
        assert lang in NOT_RUN, (
            f"a ```{lang} block: tag it {RUN}, {COMPILE} or {SWIG} (tested), "
            f"or one of {sorted(NOT_RUN)} (not run)")


def run_python(text, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(text)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"the block failed:\n{text}\n{r.stdout}\n{r.stderr}"


def cc():
    return os.environ.get("CC", "cc")


def library():
    """The package's libezalloc.so.0 (what the Python front ends use)."""
    lib = Path(ezalloc.__file__).parent / "libezalloc.so.0"
    assert lib.is_file(), lib
    return lib


def compile_c(text, tmp_path):
    src = tmp_path / "block.c"
    src.write_text(text)
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{ROOT / 'include'}"]
    if not re.search(r"\bint\s+main\s*\(", text):
        r = subprocess.run([cc(), *flags, "-c", str(src), "-o", str(tmp_path / "block.o")],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"the block does not compile:\n{text}\n{r.stderr}"
        return
    exe = tmp_path / "block"
    lib = library()
    r = subprocess.run([cc(), *flags, str(src), "-o", str(exe), str(lib),
                        f"-Wl,-rpath,{lib.parent}"], capture_output=True, text=True)
    assert r.returncode == 0, f"the block does not compile:\n{text}\n{r.stderr}"
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"the program failed:\n{text}\n{r.stdout}\n{r.stderr}"


def swig_executable():
    beside = Path(sys.executable).parent / "swig"
    return str(beside) if beside.exists() else shutil.which("swig")


def run_swig(text, tmp_path):
    swig = swig_executable()
    if swig is None:
        pytest.skip("no swig executable")
    iface = tmp_path / "block.i"
    iface.write_text(text)
    includes = []
    if hasattr(ezalloc, "get_include"):
        includes.append(f"-I{ezalloc.get_include()}")
    r = subprocess.run([swig, "-python", *includes, "-outdir", str(tmp_path),
                        "-o", str(tmp_path / "block_wrap.c"), str(iface)],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"swig refuses the block:\n{text}\n{r.stderr}"


def test_readme_swig_quick_start_builds_and_runs(tmp_path):
    """The README's SWIG quick start, end to end: its files as shown, its
    shell commands as shown (the pip line aside: the package and SWIG are
    those of this venv), and the module it builds returns the counts."""
    if swig_executable() is None:
        pytest.skip("no swig executable")
    page = ROOT / "README.md"
    shell = None
    for case in cases(page):
        lang, text, files = case.values
        if lang == "sh" and "swig -python" in text:
            shell, named = text, files
    assert shell is not None, "README.md has no shell block that runs swig"
    for name, body in named.items():
        (tmp_path / name).write_text(body)
    script = "\n".join(line for line in shell.splitlines() if not line.startswith("pip install"))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    r = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"the quick start failed:\n{script}\n{r.stdout}\n{r.stderr}"
    assert r.stdout.split()[-3:] == ["[10", "0", "0]"], r.stdout
