#!/bin/sh
# Installs what `make test` needs and this machine lacks, where it can:
#   - valgrind, pkg-config, a C++ compiler and the multilib C/C++ compilers
#     (32-bit tests) through apt-get, when apt-get is there and we are root;
#   - the Rust target i686-unknown-linux-gnu and the clippy and rustfmt
#     components through rustup, when rustup is there.
# Whatever it cannot install it names in a notice; the tests that need it
# are then skipped with a notice of their own. It never fails the build.
# Set EZALLOC_NO_INSTALL=1 to install nothing (only the notices).

notice() { echo "*** NOTICE: $* ***"; }

# `tools/deps.sh aarch64` (make deps-aarch64): what `make test-aarch64`
# needs instead: clang, lld, qemu-user and Debian's arm64 cross C/C++
# libraries through apt-get, the Rust target through rustup.
if [ "$1" = aarch64 ]; then
    need=""
    for tool in clang:clang clang++:clang ld.lld:lld qemu-aarch64:qemu-user; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || need="$need ${tool#*:}"
    done
    [ -d /usr/aarch64-linux-gnu/lib ] || need="$need libc6-dev-arm64-cross libgcc-12-dev-arm64-cross"
    [ -d /usr/aarch64-linux-gnu/include/c++ ] || need="$need libstdc++-12-dev-arm64-cross"
    if [ -n "$need" ] && [ -z "$EZALLOC_NO_INSTALL" ] && command -v apt-get >/dev/null 2>&1 &&
        [ "$(id -u)" = 0 ]; then
        echo "deps: apt-get install$need"
        # shellcheck disable=SC2086
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends $need >/dev/null; } ||
            notice "apt-get could not install$need"
    elif [ -n "$need" ]; then
        notice "missing for the aarch64 tests:$need (install them with your package manager)"
    fi
    if command -v rustup >/dev/null 2>&1 && [ -z "$EZALLOC_NO_INSTALL" ] &&
        ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
        echo "deps: rustup target add aarch64-unknown-linux-gnu"
        rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 ||
            notice "rustup could not add the target aarch64-unknown-linux-gnu"
    fi
    exit 0
fi

CC=${CC:-cc}
CXX=${CXX:-c++}
builds() {   # builds COMPILER LANGUAGE FLAGS: can COMPILER build a program?
    printf 'int main(void) { return 0; }\n' | $1 $3 -x "$2" - -o /dev/null 2>/dev/null
}

need=""
command -v valgrind >/dev/null 2>&1 || need="$need valgrind"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
command -v "$CXX" >/dev/null 2>&1 || need="$need g++"
builds "$CC" c -m32 || need="$need gcc-multilib"
builds "$CXX" c++ -m32 || need="$need g++-multilib"

if [ -n "$need" ]; then
    if [ -n "$EZALLOC_NO_INSTALL" ]; then
        notice "EZALLOC_NO_INSTALL is set: not installing$need"
    elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "deps: apt-get install$need"
        # shellcheck disable=SC2086
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends $need >/dev/null; } ||
            notice "apt-get could not install$need"
    else
        notice "missing:$need (no apt-get, or not root: install them with your package manager)"
    fi
fi

if command -v rustup >/dev/null 2>&1; then
    installed_targets=$(rustup target list --installed 2>/dev/null)
    case "$installed_targets" in
    *i686-unknown-linux-gnu*) ;;
    *) if [ -n "$EZALLOC_NO_INSTALL" ]; then
           notice "EZALLOC_NO_INSTALL is set: not adding the Rust target i686-unknown-linux-gnu"
       else
           echo "deps: rustup target add i686-unknown-linux-gnu"
           rustup target add i686-unknown-linux-gnu >/dev/null 2>&1 ||
               notice "rustup could not add the target i686-unknown-linux-gnu"
       fi ;;
    esac
    for component in clippy rustfmt; do
        rustup component list --installed 2>/dev/null | grep -q "^$component" && continue
        [ -n "$EZALLOC_NO_INSTALL" ] && continue
        echo "deps: rustup component add $component"
        rustup component add "$component" >/dev/null 2>&1 ||
            notice "rustup could not add the component $component (make lint needs it)"
    done
else
    notice "no rustup: the i686 target cannot be added (its tests will be skipped)"
fi
exit 0
