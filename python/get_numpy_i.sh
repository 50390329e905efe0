#!/bin/sh
# Prints the path of a stock, unmodified numpy.i for the SWIG build.
#
# NUMPY_I=/path/to/numpy.i overrides. Otherwise the file is taken from
# Debian's python3-numpy package (apt-get download + dpkg-deb -x, nothing is
# installed) and cached in python/.numpy_i/ (git-ignored), so later runs
# cost nothing.
set -eu

die() { echo "get_numpy_i.sh: $*" >&2; exit 1; }

if [ -n "${NUMPY_I:-}" ]; then
    [ -f "$NUMPY_I" ] || die "NUMPY_I=$NUMPY_I is not a file"
    echo "$NUMPY_I"
    exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
cache="$here/.numpy_i"
if [ -f "$cache/numpy.i" ]; then
    echo "$cache/numpy.i"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get not found: set NUMPY_I=/path/to/numpy.i"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# apt-get download needs the package lists: refresh them only when asked to.
if ! apt-get download python3-numpy >&2; then
    apt-get update >&2 || die "apt-get update failed: set NUMPY_I=/path/to/numpy.i"
    apt-get download python3-numpy >&2 || die "cannot download python3-numpy"
fi
deb=$(ls python3-numpy_*.deb)
dpkg-deb -x "$deb" extracted
found=$(find extracted -type f -name numpy.i | head -n 1)
[ -n "$found" ] || die "no numpy.i in $deb"
# The typemaps the modules use must be there.
for rule in ARGOUTVIEWM_ARRAY1 ARGOUTVIEWM_ARRAY2 ARGOUTVIEW_ARRAY1; do
    grep -q "$rule" "$found" || die "$found has no $rule"
done
mkdir -p "$cache"
cp "$found" "$cache/numpy.i.tmp"
mv "$cache/numpy.i.tmp" "$cache/numpy.i"
{
    echo "package: python3-numpy $(dpkg-deb -f "$deb" Version)"
    echo "path in package: ${found#extracted}"
    echo "sha256: $(sha256sum "$cache/numpy.i" | cut -d' ' -f1)"
} > "$cache/SOURCE"
echo "$cache/numpy.i"
