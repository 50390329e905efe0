#!/bin/sh
# `make test-install` must use its own scratch locations whatever the
# caller sets: with PREFIX, EXEC_PREFIX, LIBDIR, INCLUDEDIR, PKGCONFIGDIR and
# DESTDIR on the command line, then in the environment, nothing may appear
# in, change in or vanish from those folders (which hold a pretend existing
# installation). Usage: test_install_isolated.sh MAKE
set -eu
make=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lib/pkgconfig" "$tmp/include/ezalloc" "$tmp/prefix" "$tmp/dest"
echo "existing library" >"$tmp/lib/libezalloc.so.0"
echo "existing header" >"$tmp/include/ezalloc/crop.h"
echo "existing pc" >"$tmp/lib/pkgconfig/ezalloc.pc"
state() { (cd "$tmp" && find . | sort && find . -type f | sort | xargs cat); }
before=$(state)
$make --no-print-directory test-install PREFIX="$tmp/prefix" EXEC_PREFIX="$tmp/prefix" \
  LIBDIR="$tmp/lib" INCLUDEDIR="$tmp/include" PKGCONFIGDIR="$tmp/lib/pkgconfig" \
  DESTDIR="$tmp/dest" >/dev/null
[ "$(state)" = "$before" ] || { echo "test-install wrote to the caller's locations (command line)"; exit 1; }
PREFIX="$tmp/prefix" EXEC_PREFIX="$tmp/prefix" LIBDIR="$tmp/lib" INCLUDEDIR="$tmp/include" \
  PKGCONFIGDIR="$tmp/lib/pkgconfig" DESTDIR="$tmp/dest" \
  $make --no-print-directory test-install >/dev/null
[ "$(state)" = "$before" ] || { echo "test-install wrote to the caller's locations (environment)"; exit 1; }
echo "test-install: the caller's PREFIX, LIBDIR, INCLUDEDIR, PKGCONFIGDIR and DESTDIR untouched"
