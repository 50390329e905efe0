#!/bin/sh
# `make check-headers` must catch a hand-edited header, committed or not,
# and the build must bring back a deleted one. Runs in a scratch copy of the
# tree (the files git tracks or would track, as they are now) with its own
# git repository and cargo target folder, so the tree itself is never
# touched. Usage: test_check_headers.sh MAKE ROOT
set -eu
make=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy=$tmp/tree
mkdir -p "$copy"
cd "$root"
before=$(cat include/*.h | cksum)
git ls-files --cached --others --exclude-standard | while read -r f; do
  if [ -f "$f" ]; then echo "$f"; fi
done | tar -cf - -T - | tar -xf - -C "$copy"
# Reuse one target folder across runs: only this copy's crate is rebuilt.
CARGO_TARGET_DIR=$root/target/check-headers-test
export CARGO_TARGET_DIR
cd "$copy"
git init -q
git -c user.name=t -c user.email=t@t.invalid add -A
git -c user.name=t -c user.email=t@t.invalid commit -qm base
check() { $make --no-print-directory check-headers >"$tmp/out" 2>&1; }
fail() { echo "test-check-headers: $*"; cat "$tmp/out" 2>/dev/null; exit 1; }
cp include/crop.h "$tmp/crop.h.generated"

check || fail "check-headers fails on an untouched copy"

sed -i 's/int \*arr_in/long *arr_in/' include/crop.h
grep -q 'long \*arr_in' include/crop.h || fail "the edit did not apply"
check && fail "check-headers passed with a hand edit in the working tree"
cmp -s include/crop.h "$tmp/crop.h.generated" || fail "the build did not regenerate crop.h"

sed -i 's/int \*arr_in/long *arr_in/' include/crop.h
git -c user.name=t -c user.email=t@t.invalid commit -qam "hand edit"
check && fail "check-headers passed with a committed hand edit"
git reset -q --hard HEAD~1

rm include/crop.h
cargo build --release --quiet
cmp -s include/crop.h "$tmp/crop.h.generated" || fail "the build did not bring back a deleted crop.h"
check || fail "check-headers fails after the header came back"

cd "$root"
[ "$(cat include/*.h | cksum)" = "$before" ] || fail "the tree's headers changed"
echo "check-headers: catches hand edits (working tree and committed); a deleted header is regenerated"
