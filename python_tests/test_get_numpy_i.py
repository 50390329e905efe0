"""python/get_numpy_i.py against a local package index (http.server): the
index found from PIP_INDEX_URL or pip's configuration, the JSON simple API
and its HTML fallback, the sha256 check, the cache and NUMPY_I."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "python" / "get_numpy_i.py"
VERSION = "9.8.7"
NUMPY_I = ("/* numpy.i stand-in */\n%define ARGOUTVIEWM_ARRAY1 ARGOUTVIEWM_ARRAY2 "
           "ARGOUTVIEW_ARRAY1 SWIG_AppendOutput\n").encode()
LICENSE = b"numpy license stand-in\n"


def sdist(numpy_i=NUMPY_I, license=LICENSE):
    buffer = io.BytesIO()
    members = [(f"numpy-{VERSION}/README.md", b"numpy\n" * 5000),
               (f"numpy-{VERSION}/tools/swig/numpy.i", numpy_i),
               (f"numpy-{VERSION}/tools/swig/pyfragments.swg", b"x")]
    if license is not None:
        members.append((f"numpy-{VERSION}/LICENSE.txt", license))
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Index:
    """A simple-API index serving one numpy sdist."""

    def __init__(self, form="json", published_sha=None, archive=None):
        self.archive = archive or sdist()
        self.sha = published_sha or hashlib.sha256(self.archive).hexdigest()
        self.form = form
        self.requests = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                index.requests.append((self.path, self.headers.get("Accept", "")))
                if self.path == "/simple/numpy/":
                    name = f"numpy-{VERSION}.tar.gz"
                    if index.form == "json" and "vnd.pypi.simple.v1+json" in self.headers.get("Accept", ""):
                        body = json.dumps({"meta": {"api-version": "1.0"}, "name": "numpy", "files": [
                            {"filename": f"numpy-{VERSION}-cp311-x.whl", "url": "../../f/w.whl",
                             "hashes": {"sha256": "0" * 64}},
                            {"filename": name, "url": f"../../f/{name}",
                             "hashes": {"sha256": index.sha}}]}).encode()
                        kind = "application/vnd.pypi.simple.v1+json"
                    else:
                        body = (f'<html><body><a href="../../f/{name}#sha256={index.sha}">{name}</a>'
                                "</body></html>").encode()
                        kind = "text/html"
                elif self.path == f"/f/numpy-{VERSION}.tar.gz":
                    body, kind = index.archive, "application/octet-stream"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/simple/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def downloads(self):
        return sum(path.endswith(".tar.gz") for path, _ in self.requests)


@pytest.fixture
def index(request):
    made = []

    def make(**kwargs):
        made.append(Index(**kwargs))
        return made[-1]
    yield make
    for i in made:
        i.server.shutdown()


def run(tmp_path, **env):
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("PIP_") and k not in ("NUMPY_I",)}
    base.update(EZALLOC_CACHE_DIR=str(tmp_path / "cache"), PIP_CONFIG_FILE=os.devnull,
                no_proxy="127.0.0.1", NO_PROXY="127.0.0.1")
    base.update(env)
    return subprocess.run([sys.executable, str(SCRIPT), VERSION], env=base, text=True,
                          capture_output=True, timeout=60)


def test_json_api_sha256_checked_and_cached(tmp_path, index):
    i = index(form="json")
    out = run(tmp_path, PIP_INDEX_URL=i.url)
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert path == tmp_path / "cache" / "numpy-i" / VERSION / "numpy.i"
    assert path.read_bytes() == NUMPY_I
    assert (path.parent / "numpy-LICENSE.txt").read_bytes() == LICENSE
    assert not (path.parent / "pyfragments.swg").exists()
    assert i.sha in (path.parent / "SOURCE").read_text()
    assert any("application/vnd.pypi.simple.v1+json" in accept for _, accept in i.requests)
    assert i.downloads() == 1
    again = run(tmp_path, PIP_INDEX_URL=i.url)
    assert again.returncode == 0 and Path(again.stdout.strip()) == path
    assert i.downloads() == 1               # from the cache


def test_html_fallback(tmp_path, index):
    i = index(form="html")
    out = run(tmp_path, PIP_INDEX_URL=i.url)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).read_bytes() == NUMPY_I


def test_index_from_pip_configuration(tmp_path, index):
    i = index(form="json")
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nindex-url = {i.url}\n")
    out = run(tmp_path, PIP_CONFIG_FILE=str(config))
    assert out.returncode == 0, out.stderr
    assert i.downloads() == 1


def test_sha256_mismatch_is_refused(tmp_path, index):
    i = index(form="json", published_sha="ab" * 32)
    out = run(tmp_path, PIP_INDEX_URL=i.url)
    assert out.returncode != 0
    assert "sha256 mismatch" in out.stderr
    assert not (tmp_path / "cache" / "numpy-i" / VERSION / "numpy.i").exists()


def test_missing_version_is_a_clear_error(tmp_path, index):
    i = index(form="json")
    out = subprocess.run([sys.executable, str(SCRIPT), "0.0.1"], text=True, capture_output=True,
                         env=dict(os.environ, PIP_INDEX_URL=i.url, NO_PROXY="127.0.0.1",
                                  EZALLOC_CACHE_DIR=str(tmp_path)))
    assert out.returncode != 0 and "numpy-0.0.1.tar.gz is not on" in out.stderr


def test_numpy_i_override(tmp_path):
    mine = tmp_path / "numpy.i"
    mine.write_text("mine")
    out = run(tmp_path, NUMPY_I=str(mine), PIP_INDEX_URL="http://127.0.0.1:9/unused/")
    assert out.returncode == 0 and Path(out.stdout.strip()) == mine
    wrong = tmp_path / "other.i"
    wrong.write_text("x")
    out = run(tmp_path, NUMPY_I=str(wrong))
    assert out.returncode != 0 and "named numpy.i" in out.stderr


def test_pip_found_from_an_environment_without_pip(tmp_path, index):
    """As in `python -m build`'s isolated environment: no pip in the build's
    Python; pip's configuration is still read, through another pip."""
    i = index(form="json")
    env_dir = tmp_path / "nopip"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    assert subprocess.run([str(python), "-I", "-m", "pip", "--version"],
                          capture_output=True).returncode != 0
    config = tmp_path / "pip.conf"
    config.write_text(f"[install]\nindex-url = {i.url}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(EZALLOC_CACHE_DIR=str(tmp_path / "cache"), PIP_CONFIG_FILE=str(config),
               NO_PROXY="127.0.0.1", PATH=f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}")
    out = subprocess.run([str(python), str(SCRIPT), VERSION], env=env, text=True,
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).read_bytes() == NUMPY_I
    assert i.downloads() == 1


def test_sdist_without_license_is_refused(tmp_path, index):
    """numpy.i is installed with numpy's license text, so an sdist without
    LICENSE.txt gives no numpy.i."""
    i = index(form="json", archive=sdist(license=None))
    out = run(tmp_path, PIP_INDEX_URL=i.url)
    assert out.returncode != 0
    assert "has no LICENSE.txt" in out.stderr
    assert not (tmp_path / "cache" / "numpy-i" / VERSION / "numpy.i").exists()


def test_cache_without_license_is_fetched_again(tmp_path, index):
    """A cached numpy.i without its license (an older cache) is fetched again."""
    i = index(form="json")
    directory = tmp_path / "cache" / "numpy-i" / VERSION
    directory.mkdir(parents=True)
    (directory / "numpy.i").write_bytes(b"stale")
    out = run(tmp_path, PIP_INDEX_URL=i.url)
    assert out.returncode == 0, out.stderr
    assert i.downloads() == 1
    assert (directory / "numpy.i").read_bytes() == NUMPY_I
    assert (directory / "numpy-LICENSE.txt").read_bytes() == LICENSE
