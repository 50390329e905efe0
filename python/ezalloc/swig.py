"""ezalloc.i for SWIG users: where it is, and numpy.i for other numpy releases.

    python -m ezalloc.swig
        prints ezalloc.get_include(): the directory of ezalloc.i, of the
        numpy.i of the numpy release this package was built against (also
        as ezalloc_numpy.i, the name ezalloc.i includes it by) and of
        numpy's license text (numpy-LICENSE.txt). Give it to SWIG:
        swig -python -I"$(python -m ezalloc.swig)" mymodule.i

    python -m ezalloc.swig --numpy VERSION
        fetches numpy.i and numpy's license from the sdist of numpy VERSION
        on the package index pip uses (PIP_INDEX_URL, else pip's
        configuration, else https://pypi.org/simple; its sha256, as the
        index publishes it, checked over the whole download), caches them
        in EZALLOC_CACHE_DIR, else $XDG_CACHE_HOME/ezalloc, else
        ~/.cache/ezalloc (under numpy-i/VERSION/) and prints the path of
        that numpy.i.

    python -m ezalloc.swig [--numpy VERSION] --copy DIRECTORY
        copies ezalloc.i, numpy.i (the bundled one, or that of VERSION, also
        as ezalloc_numpy.i) and numpy-LICENSE.txt into DIRECTORY, for a
        project that vendors its SWIG files, and prints DIRECTORY. (ezalloc.i
        includes the ezalloc_numpy.i beside it, so a project that wants
        another numpy.i uses such a copy rather than a second -I
        directory.)
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

from . import _numpy_i, get_include


def numpy_i(version: str | None = None) -> tuple[Path, Path]:
    """(numpy.i, numpy-LICENSE.txt) paths: the bundled ones, or those of
    numpy `version` (fetched and cached)."""
    if version is None:
        include = Path(get_include())
        return include / "numpy.i", include / _numpy_i.LICENSE_NAME
    path = Path(_numpy_i.numpy_i(version))
    return path, _numpy_i.license_of(path)


def copy_to(directory: str | os.PathLike[str], version: str | None = None) -> Path:
    """Copies ezalloc.i, numpy.i (also as ezalloc_numpy.i) and
    numpy-LICENSE.txt into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    numpy_file, license_file = numpy_i(version)
    shutil.copyfile(Path(get_include()) / "ezalloc.i", directory / "ezalloc.i")
    shutil.copyfile(numpy_file, directory / "numpy.i")
    shutil.copyfile(numpy_file, directory / "ezalloc_numpy.i")
    shutil.copyfile(license_file, directory / _numpy_i.LICENSE_NAME)
    return directory


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ezalloc.swig",
        description="Prints the SWIG include directory of ezalloc.i and numpy.i; "
                    "fetches the numpy.i of another numpy release.")
    parser.add_argument("--numpy", metavar="VERSION",
                        help="the numpy.i of this numpy release (fetched from the package "
                             "index pip uses, sha256-checked, cached under ~/.cache/ezalloc "
                             "or EZALLOC_CACHE_DIR; prints its path)")
    parser.add_argument("--copy", metavar="DIRECTORY",
                        help="copy ezalloc.i, numpy.i and numpy's license into DIRECTORY")
    args = parser.parse_args(argv)
    try:
        if args.copy:
            print(copy_to(args.copy, args.numpy))
        elif args.numpy:
            print(numpy_i(args.numpy)[0])
        else:
            print(get_include())
    except _numpy_i.FetchError as e:
        sys.exit(f"ezalloc.swig: {e}")


if __name__ == "__main__":
    main()
