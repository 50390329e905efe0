"""numpy's stock numpy.i and its license, from numpy's sdist (stdlib only).

    python get_numpy_i.py [NUMPY_VERSION]       (from the source tree)
    python -m ezalloc.swig --numpy VERSION      (from the installed package)

print the path of numpy.i. The file is `tools/swig/numpy.i` from the sdist of
exactly the numpy release asked for (default: the numpy importable by this
Python); numpy's wheels do not carry it. numpy's license text, the sdist's
`LICENSE.txt`, is kept beside it as `numpy-LICENSE.txt`. The sdist is found
the way pip finds packages:

- the index: PIP_INDEX_URL, else pip's configuration (`pip config list`,
  `install.index-url` over `global.index-url`), else pip's own default, read
  from pip (this Python's, else that of the `pip` on PATH, else that of the
  base interpreter: a build front end's isolated environment may lack pip);
- the index's simple API, JSON form (PEP 691), HTML (PEP 503) as a fallback;
- the sdist's sha256 as published by the index is checked over the whole
  download, which is streamed: only numpy.i and LICENSE.txt are extracted,
  nothing is built.

The result is cached in $EZALLOC_CACHE_DIR, else $XDG_CACHE_HOME/ezalloc,
else ~/.cache/ezalloc, under numpy-i/<version>/. NUMPY_I=/path/to/numpy.i
overrides all of this (its license: numpy-LICENSE.txt or LICENSE.txt beside
it, or the LICENSE.txt of the unpacked sdist it is in). numpy.i does not need pyfragments.swg (that file only
changes SWIG's own scalar conversions, which the project's typemaps replace).
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import typing
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

MEMBER = "tools/swig/numpy.i"
LICENSE_MEMBER = "LICENSE.txt"
LICENSE_NAME = "numpy-LICENSE.txt"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# The typemaps the project's interface files use must be in the file.
REQUIRED_RULES = ("ARGOUTVIEWM_ARRAY1", "ARGOUTVIEWM_ARRAY2", "ARGOUTVIEW_ARRAY1",
                  "SWIG_AppendOutput")


class FetchError(Exception):
    pass


def log(message: str) -> None:
    print(f"get_numpy_i: {message}", file=sys.stderr)


def cache_root() -> Path:
    if os.environ.get("EZALLOC_CACHE_DIR"):
        return Path(os.environ["EZALLOC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ezalloc"


def _run(cmd: list[str]) -> str | None:
    """Standard output of `cmd`, or None if it cannot run or fails."""
    try:
        out = subprocess.run(cmd, text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def _pip_python() -> str | None:
    """A Python with pip: this one, else the one of the `pip` on PATH, else
    the base interpreter of this venv (a build front end's isolated
    environment may have no pip of its own). Run with -I, so that a build
    environment's path overlay (PYTHONPATH) does not hide pip; PIP_*
    variables still apply."""
    candidates: list[str | None] = [sys.executable]
    for name in ("pip3", "pip"):
        script = shutil.which(name)
        if script:
            try:
                with open(script, "rb") as f:
                    first = f.readline()
            except OSError:
                continue
            if first.startswith(b"#!") and first[2:].split():
                candidates.append(first[2:].split()[0].decode())
    candidates.append(getattr(sys, "_base_executable", None))
    for python in candidates:
        if python and _run([python, "-I", "-m", "pip", "--version"]) is not None:
            return python
    return None


def index_url() -> str:
    """The index pip would use for `pip install`."""
    env = os.environ.get("PIP_INDEX_URL")
    if env:
        return env.split()[0]
    python = _pip_python()
    if python is None:
        raise FetchError("no pip found to tell the package index: set PIP_INDEX_URL, "
                         "or NUMPY_I=/path/to/numpy.i")
    listing = _run([python, "-I", "-m", "pip", "config", "list"]) or ""
    found = {}
    for line in listing.splitlines():
        m = re.match(r"^([\w:.-]+)\.index[-_]url='(.*)'$", line.strip())
        if m:
            found[m.group(1)] = m.group(2)
    for section in ("install", "global"):
        if found.get(section):
            return found[section].split()[0]
    default = (_run([python, "-I", "-c",
                     "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"])
               or "").strip()
    if not default:
        raise FetchError(f"cannot read pip's default index from {python}: set "
                         "PIP_INDEX_URL, or NUMPY_I=/path/to/numpy.i")
    return default


class _Links(HTMLParser):
    """Anchors of a PEP 503 project page: (filename, href)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links.append((data.strip(), self._href))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None


def find_sdist(index: str, version: str) -> tuple[str, str]:
    """(url, sha256) of numpy-<version>.tar.gz on the index."""
    page = index.rstrip("/") + "/numpy/"
    request = urllib.request.Request(page, headers={
        "Accept": f"{JSON_TYPE}, text/html;q=0.1"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            content_type = response.headers.get("Content-Type", "")
            body = response.read()
            page = response.geturl()
    except OSError as e:
        raise FetchError(f"cannot read {page}: {e}") from None
    wanted = f"numpy-{version}.tar.gz"
    if content_type.startswith(JSON_TYPE) or content_type.startswith("application/json"):
        files = [(f["filename"], f["url"], f.get("hashes", {}).get("sha256"))
                 for f in json.loads(body)["files"]]
    else:
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        files = []
        for name, href in parser.links:
            fragment = urllib.parse.urlsplit(href).fragment
            digest = fragment[len("sha256="):] if fragment.startswith("sha256=") else None
            files.append((name, href.split("#")[0], digest))
    for name, url, digest in files:
        if name == wanted:
            if not digest:
                raise FetchError(f"{page} publishes no sha256 for {wanted}")
            return urllib.parse.urljoin(page, url), digest.lower()
    raise FetchError(f"{wanted} is not on {page}")


class _HashingReader:
    """A file object that hashes what is read through it."""

    def __init__(self, raw: typing.BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.sha256.update(data)
        self.size += len(data)
        return data


def fetch(version: str, destination: Path) -> Path:
    """Streams numpy's sdist, checks its sha256, writes numpy.i and
    numpy-LICENSE.txt to `destination` (a directory). Returns numpy.i's path."""
    index = index_url()
    url, expected = find_sdist(index, version)
    log(f"numpy {version}: {MEMBER} from {url}")
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination) as tmp:
        extracted = None
        license_file = None
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                reader = _HashingReader(response)
                with tarfile.open(fileobj=typing.cast(typing.BinaryIO, reader),
                                  mode="r|gz") as archive:
                    for member in archive:
                        inner = member.name.split("/", 1)[-1]
                        source = archive.extractfile(member) if member.isfile() else None
                        if source is not None and inner == MEMBER:
                            extracted = Path(tmp) / "numpy.i"
                            extracted.write_bytes(source.read())
                        elif source is not None and inner == LICENSE_MEMBER:
                            license_file = Path(tmp) / LICENSE_NAME
                            license_file.write_bytes(source.read())
                # Read what the tar stream left (padding) so that the hash
                # covers the whole file.
                while reader.read(1 << 20):
                    pass
        except (OSError, tarfile.TarError) as e:
            raise FetchError(f"cannot read {url}: {e}") from None
        digest = reader.sha256.hexdigest()
        if digest != expected:
            raise FetchError(f"sha256 mismatch for {url}: index says {expected}, "
                             f"got {digest} ({reader.size} bytes)")
        if extracted is None:
            raise FetchError(f"{url} has no {MEMBER}")
        if license_file is None:
            raise FetchError(f"{url} has no {LICENSE_MEMBER} (numpy's license)")
        text = extracted.read_text()
        missing = [rule for rule in REQUIRED_RULES if rule not in text]
        if missing:
            raise FetchError(f"numpy {version}'s numpy.i lacks {', '.join(missing)}")
        (Path(tmp) / "SOURCE").write_text(
            f"{url}\nsdist sha256: {digest}\nnumpy.i sha256: "
            f"{hashlib.sha256(extracted.read_bytes()).hexdigest()}\n")
        os.replace(Path(tmp) / "SOURCE", destination / "SOURCE")
        os.replace(license_file, destination / LICENSE_NAME)
        os.replace(extracted, destination / "numpy.i")
    return destination / "numpy.i"


def numpy_i(version: str | None = None) -> Path:
    """The path of numpy.i for numpy `version` (default: the importable one);
    its license is license_of(path)."""
    override = os.environ.get("NUMPY_I")
    if override:
        path = Path(override)
        if not path.is_file() or path.name != "numpy.i":
            raise FetchError(f"NUMPY_I={override} must be an existing file named numpy.i "
                             "(SWIG includes it by name)")
        return path.resolve()
    if version is None:
        import numpy
        version = numpy.__version__
    if not re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", version):
        raise FetchError(f"unexpected numpy version {version!r}")
    directory = cache_root() / "numpy-i" / version
    cached = directory / "numpy.i"
    if cached.is_file() and (directory / LICENSE_NAME).is_file():
        return cached
    return fetch(version, directory)


def license_of(path: str | os.PathLike[str]) -> Path:
    """numpy's license text for the numpy.i at `path`: numpy-LICENSE.txt
    beside it (the cache), else LICENSE.txt beside it, else the LICENSE.txt
    of the unpacked sdist it is in (tools/swig/numpy.i)."""
    path = Path(path)
    for candidate in (path.parent / LICENSE_NAME, path.parent / LICENSE_MEMBER,
                      path.parent.parent.parent / LICENSE_MEMBER):
        if candidate.is_file():
            return candidate
    raise FetchError(f"no numpy license text beside {path} ({LICENSE_NAME} or "
                     f"{LICENSE_MEMBER}), nor in the sdist it would be in")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    try:
        print(numpy_i(argv[0] if argv else None))
    except FetchError as e:
        sys.exit(f"get_numpy_i: {e}")


if __name__ == "__main__":
    main()
