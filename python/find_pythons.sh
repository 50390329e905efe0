#!/bin/sh
# Finds a Python interpreter for each version given (major.minor), for
# `make py-test` and `make wheel`:
#
#   sh python/find_pythons.sh 3.11 3.12 3.13
#
# prints one line per version found, "<version> <interpreter>", and a notice
# on stderr for each version not found. Looked for, in this order: pyenv's
# $(pyenv root)/versions/<version>.<patch>/bin/python (the newest patch
# release first), then python<version> on PATH. An interpreter counts only
# if it runs, is that version and can make a venv with pip (venv and
# ensurepip present).
set -u

works() { # $1: interpreter, $2: version
    [ -x "$1" ] || command -v "$1" >/dev/null 2>&1 || return 1
    got=$("$1" -c 'import sys, venv, ensurepip; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) &&
        [ "$got" = "$2" ]
}

root=$(pyenv root 2>/dev/null || true)
for v in "$@"; do
    found=
    if [ -n "$root" ] && [ -d "$root/versions" ]; then
        for dir in $(ls -d "$root/versions/$v".* 2>/dev/null | sort -t. -k3,3nr); do
            case "${dir##*/}" in
                "$v".[0-9]*) ;;
                *) continue ;; # 3.13.0t (free-threaded), 3.12-dev, ...
            esac
            case "${dir##*/}" in
                *[!0-9.]*) continue ;;
            esac
            if works "$dir/bin/python" "$v"; then found="$dir/bin/python"; break; fi
        done
    fi
    if [ -z "$found" ] && works "python$v" "$v"; then
        found=$(command -v "python$v")
    fi
    if [ -n "$found" ]; then
        echo "$v $found"
    else
        echo "*** NOTICE: no Python $v found (pyenv's \$(pyenv root)/versions/$v.*, python$v on PATH): its tests are SKIPPED ***" >&2
    fi
done
