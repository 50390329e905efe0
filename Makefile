# ezalloc: build, test, install. GNU conventions: PREFIX, DESTDIR, LIBDIR,
# INCLUDEDIR; `make`, `make test`, `make demo`, `make install`, `make lint`,
# `make docs`.

CARGO ?= cargo
CC ?= cc
CXX ?= c++
PYTHON ?= python3
VALGRIND ?= valgrind
PKG_CONFIG ?= pkg-config
STRIP ?= strip

PREFIX ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
LIBDIR ?= $(EXEC_PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
# `make` builds the libraries with the `dist` profile (Cargo.toml): link-time
# optimisation keeps only the code the library reaches.
LIBDIR_BUILD := target/dist
LIB_A := $(LIBDIR_BUILD)/libezalloc.a
LIB_SO := $(LIBDIR_BUILD)/libezalloc.so
LIBS := $(LIB_A) $(LIB_SO)
HEADERS := include/ezalloc.h include/crop.h
# What the Rust static library needs from the system
# (`cargo rustc --release --lib -- --print native-static-libs`).
STATIC_LIBS := -lpthread -ldl -lm -lrt -lutil -lgcc_s

CFLAGS_TEST := -std=c99 -Wall -Wextra -Werror -pedantic -g -O1 -Iinclude
CXXFLAGS_TEST := -std=c++11 -Wall -Wextra -Werror -pedantic -g -O1 -Iinclude
VALGRIND_FLAGS := -q --error-exitcode=1 --leak-check=full \
	--errors-for-leak-kinds=all --show-leak-kinds=all
HAVE_VALGRIND := $(shell command -v $(VALGRIND) >/dev/null 2>&1 && echo yes)
HAVE_CXX := $(shell command -v $(CXX) >/dev/null 2>&1 && echo yes)
HAVE_PKG_CONFIG := $(shell command -v $(PKG_CONFIG) >/dev/null 2>&1 && echo yes)
# $(call valgrind_each,PROGRAMS): each program under memcheck (zero errors,
# zero leaks), or a notice when valgrind is missing.
define valgrind_each
	@if [ -z "$(HAVE_VALGRIND)" ]; then \
	  echo "*** NOTICE: $(VALGRIND) not found: the memcheck runs of $(notdir $(1)) are SKIPPED ***"; \
	else for t in $(1); do echo "== valgrind $$t"; \
	  EZALLOC_TEST_UNDER_VALGRIND=1 $(VALGRIND) $(VALGRIND_FLAGS) ./$$t || exit 1; done; fi
endef
C_TESTS := test_alloc test_crop test_prototypes
C_TEST_DIR := target/c_tests
C_TEST_BINS := $(foreach t,$(C_TESTS),$(C_TEST_DIR)/$(t)-shared $(C_TEST_DIR)/$(t)-static) \
	$(if $(HAVE_CXX),$(C_TEST_DIR)/test_prototypes-cxx)

.PHONY: all lib test test-suite deps deps-aarch64 test-aarch64 demo bench c-demo c-test c-test-valgrind cargo-test cargo-test-i686 \
	check-headers test-check-headers test-install test-install-isolated test-cargo-link lint \
	install uninstall clean FORCE

all: lib

lib: $(LIBS)

# cargo decides what to rebuild, and leaves the files (and their times)
# alone when nothing changed, so what depends on them is rebuilt only after
# a real change. build.rs refreshes the headers (rewriting them only when
# their text changes) and links the soname libezalloc.so.$(MAJOR).
# `cargo rustc --crate-type` leaves the rlib out: cargo applies LTO only then.
$(LIBS) $(HEADERS) &: FORCE
	$(CARGO) rustc --profile dist --lib --crate-type staticlib --crate-type cdylib

# ---------------------------------------------------------------- tests

# `make test` first installs what it needs and this machine lacks, where it
# can (tools/deps.sh: apt-get as root, rustup); the tests that need what is
# still missing are skipped with a notice. The suite then runs in a second
# make, which sees what was installed.
test: deps
	@$(MAKE) --no-print-directory test-suite

deps:
	@sh tools/deps.sh

# The stages, in order, each in its own make; their times are printed at the
# end (and the stages done so far when one fails).
TEST_STAGES := check-headers test-check-headers cargo-test cargo-test-i686 c-test c-test-valgrind \
	c-test-reliability c-test-sanitize c-test-tsan c-test-nd nd-fuzz test-install \
	test-install-isolated test-cargo-link py-test py-typecheck docs

test-suite:
	@times=$$(mktemp) && trap 'rm -f "$$times"' EXIT && all=$$(date +%s) && rc=0 && \
	for stage in $(TEST_STAGES); do \
	  start=$$(date +%s); \
	  $(MAKE) --no-print-directory $$stage || { rc=$$?; echo "$$stage FAILED" >> "$$times"; break; }; \
	  echo "$$stage $$(( $$(date +%s) - start ))" >> "$$times"; \
	done; \
	echo "== make test: the stages' times (s)"; \
	awk '{ printf "  %-22s %s\n", $$1, $$2 }' "$$times"; \
	echo "  total                  $$(( $$(date +%s) - all ))"; \
	exit $$rc

cargo-test:
	$(CARGO) test --release

# The library and its Rust tests (C tests of c_tests/ included, through the
# cc crate and -m32) for 32-bit x86, where size_t is 32 bits: checked size
# arithmetic, no 64-bit assumption. Needs the Rust target and a multilib C
# toolchain (`make deps` installs them where it can); without them it is
# skipped with a notice saying how to install them. SKIP_I686=1 skips it too.
I686 := i686-unknown-linux-gnu
cargo-test-i686:
	@if [ -n "$(SKIP_I686)" ]; then \
	  echo "*** NOTICE: SKIP_I686 is set: the $(I686) build and tests are SKIPPED ***"; exit 0; fi; \
	if ! rustup target list --installed 2>/dev/null | grep -qx '$(I686)'; then \
	  echo "*** NOTICE: the Rust target $(I686) is not installed: its tests are SKIPPED ***"; \
	  echo "  (install it: rustup target add $(I686))"; exit 0; fi; \
	if ! echo 'int main(void) { return 0; }' | $(CC) -m32 -x c - -o /dev/null 2>/dev/null || \
	   ! echo 'int main() { return 0; }' | $(CXX) -m32 -x c++ - -o /dev/null 2>/dev/null; then \
	  echo "*** NOTICE: '$(CC) -m32' / '$(CXX) -m32' cannot build 32-bit programs: the $(I686) tests are SKIPPED ***"; \
	  echo "  (install a multilib toolchain, e.g. on Debian/Ubuntu: apt-get install gcc-multilib g++-multilib)"; exit 0; fi; \
	echo "$(CARGO) test --release --target $(I686)"; \
	$(CARGO) test --release --target $(I686)

# The library and its Rust tests (the C tests of c_tests/ included, through
# the cc crate) for 64-bit Arm Linux, run under qemu-user: the scalar paths
# that replace the x86 kernels there must be exact. Cross-built with clang
# and lld (Debian's gcc-aarch64-linux-gnu conflicts with gcc-multilib, which
# the i686 tests need); `make deps-aarch64` installs what it can. What is
# missing is skipped with a notice. Two C tests that count the process's
# threads or re-execute themselves are skipped under the emulator (native
# runs cover them).
AARCH64 := aarch64-unknown-linux-gnu
AARCH64_SYSROOT := /usr/aarch64-linux-gnu
AARCH64_RUNNER := qemu-aarch64 -L $(AARCH64_SYSROOT)
deps-aarch64:
	@sh tools/deps.sh aarch64

test-aarch64: deps-aarch64
	@missing=""; \
	rustup target list --installed 2>/dev/null | grep -qx '$(AARCH64)' || missing="$$missing rustup-target:$(AARCH64)"; \
	for t in clang clang++ ld.lld qemu-aarch64; do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	test -d $(AARCH64_SYSROOT)/lib || missing="$$missing $(AARCH64_SYSROOT)"; \
	if [ -n "$$missing" ]; then \
	  echo "*** NOTICE: missing for the $(AARCH64) tests:$$missing: they are SKIPPED ***"; \
	  echo "  (Debian: apt-get install clang lld qemu-user libc6-dev-arm64-cross libgcc-12-dev-arm64-cross libstdc++-12-dev-arm64-cross; rustup target add $(AARCH64))"; \
	  exit 0; fi; \
	start=$$(date +%s); \
	echo "*** NOTICE: test_fork.c and test_thread_count.c (they count the process's threads) are SKIPPED under $(AARCH64_RUNNER) ***"; \
	echo "cargo test --release --target $(AARCH64) (under $(AARCH64_RUNNER))"; \
	CC_aarch64_unknown_linux_gnu="clang --target=aarch64-linux-gnu -fuse-ld=lld" \
	CXX_aarch64_unknown_linux_gnu="clang++ --target=aarch64-linux-gnu -fuse-ld=lld" \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=clang \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=--target=aarch64-linux-gnu -C link-arg=-fuse-ld=lld" \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$(AARCH64_RUNNER)" \
	EZALLOC_TEST_RUNNER="$(AARCH64_RUNNER)" \
	  $(CARGO) test --release --target $(AARCH64) && \
	echo "== test-aarch64 took $$(( $$(date +%s) - start )) s"

# The headers must be what build.rs generates, both in the working tree
# (a hand edit is caught: the headers are saved, the build regenerates them,
# and any difference fails) and in the last commit (git diff HEAD).
check-headers:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	for h in $(HEADERS); do if [ -f $$h ]; then cp $$h $$tmp/; fi; done && \
	$(CARGO) build --release --quiet && \
	stale=0 && for h in $(HEADERS); do \
	  if ! cmp -s $$h $$tmp/$$(basename $$h); then \
	    echo "$$h was missing, stale or edited by hand: build.rs has regenerated it"; \
	    diff -u $$tmp/$$(basename $$h) $$h; stale=1; fi; done && \
	test $$stale = 0 && \
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git diff --exit-code HEAD -- $(HEADERS) || { \
	    echo "include/ differs from what build.rs generates: commit the new headers"; exit 1; }; \
	  echo "headers: up to date"; \
	else echo "headers: not a git checkout, commit not checked; working tree up to date"; fi

# check-headers must fail on a hand-edited header (committed or not), and the
# build must bring back a deleted one: checked in a scratch copy of the tree
# (tracked files as they are now), so the tree itself is never touched.
test-check-headers: lib
	@sh c_tests/test_check_headers.sh "$(MAKE)" "$(CURDIR)"

$(C_TEST_DIR):
	mkdir -p $@

$(C_TEST_DIR)/%-shared: c_tests/%.c c_tests/check.h $(HEADERS) $(LIBS) | $(C_TEST_DIR)
	$(CC) $(CFLAGS_TEST) $< -o $@ -L$(LIBDIR_BUILD) -Wl,-rpath,$(CURDIR)/$(LIBDIR_BUILD) -lezalloc

$(C_TEST_DIR)/%-static: c_tests/%.c c_tests/check.h $(HEADERS) $(LIBS) | $(C_TEST_DIR)
	$(CC) $(CFLAGS_TEST) $< -o $@ $(LIB_A) $(STATIC_LIBS)

$(C_TEST_DIR)/test_prototypes-cxx: c_tests/test_prototypes.c $(HEADERS) $(LIBS) | $(C_TEST_DIR)
	$(CXX) -x c++ $(CXXFLAGS_TEST) $< -o $@ -L$(LIBDIR_BUILD) -Wl,-rpath,$(CURDIR)/$(LIBDIR_BUILD) -lezalloc

# Plain runs only: test_fallback caps the address space, which valgrind and
# ASan need; test_thread_count counts pthread_create calls (--wrap) and
# re-executes itself once per EZALLOC_THREADS value and CPU affinity.
C_PLAIN_BINS := $(C_TEST_DIR)/test_fallback-static $(C_TEST_DIR)/test_thread_count

$(C_TEST_DIR)/test_thread_count: c_tests/test_thread_count.c c_tests/check.h c_tests/tasks.h $(HEADERS) $(LIBS) | $(C_TEST_DIR)
	$(CC) $(CFLAGS_TEST) $< -o $@ -Wl,--wrap=pthread_create $(LIB_A) $(STATIC_LIBS)

# (c_tests.mk adds the GUEST_BINS prerequisites.)
c-test: $(C_TEST_BINS) $(C_PLAIN_BINS)
	@$(if $(HAVE_CXX),:,echo "*** NOTICE: $(CXX) not found: the C++ build of test_prototypes is SKIPPED ***")
	@for t in $(C_TEST_BINS) $(C_PLAIN_BINS) $(GUEST_BINS); do echo "== $$t"; ./$$t || exit 1; done

# Memcheck: zero errors, zero leaks of any kind.
c-test-valgrind: $(C_TEST_BINS)
	$(call valgrind_each,$(C_TEST_BINS))

# Install into a scratch prefix and build a program with pkg-config there,
# against the shared library and against the static one (which must not
# need libezalloc.so at run time).
# The install locations are the scratch prefix's, whatever PREFIX, LIBDIR,
# INCLUDEDIR, PKGCONFIGDIR or DESTDIR the caller passed or exported: the
# caller's installation is never written to nor removed.
SCRATCH_INSTALL = PREFIX=$$tmp/prefix EXEC_PREFIX=$$tmp/prefix LIBDIR=$$tmp/prefix/lib \
	INCLUDEDIR=$$tmp/prefix/include PKGCONFIGDIR=$$tmp/prefix/lib/pkgconfig DESTDIR=

test-install: lib
	@if [ -z "$(HAVE_PKG_CONFIG)" ]; then \
	  echo "*** NOTICE: $(PKG_CONFIG) not found: the pkg-config builds of test-install are SKIPPED ***"; exit 0; fi; \
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(MAKE) --no-print-directory install $(SCRATCH_INSTALL) >/dev/null && \
	export PKG_CONFIG_PATH=$$tmp/prefix/lib/pkgconfig && \
	$(CC) $(CFLAGS_TEST) examples/demo.c -o $$tmp/demo-shared \
	  $$($(PKG_CONFIG) --cflags --libs ezalloc) -Wl,-rpath,$$($(PKG_CONFIG) --variable=libdir ezalloc) && \
	$(CC) $(CFLAGS_TEST) examples/demo.c -o $$tmp/demo-static -Wl,--no-as-needed \
	  $$($(PKG_CONFIG) --cflags --libs ezalloc-static) && \
	! readelf -d $$tmp/demo-static | grep -q 'libezalloc.so' && \
	$$tmp/demo-shared >/dev/null && $$tmp/demo-static >/dev/null && \
	$(MAKE) --no-print-directory uninstall $(SCRATCH_INSTALL) >/dev/null && \
	test -z "$$(find $$tmp/prefix -type f -o -type l)" && \
	echo "install: pkg-config builds (shared and static) under $$tmp work; uninstall removes every file"

# After a plain `cargo build --release`, a program linked with
# -Ltarget/release -lezalloc starts: build.rs links the soname there.
test-cargo-link:
	$(CARGO) build --release
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(CC) $(CFLAGS_TEST) examples/demo.c -o $$tmp/demo -Ltarget/release \
	  -Wl,-rpath,$(CURDIR)/target/release -lezalloc && \
	$$tmp/demo >/dev/null && \
	echo "cargo build --release: a program linked with -Ltarget/release -lezalloc runs"

# test-install with the caller's locations set (on the command line and in
# the environment) must leave them untouched.
test-install-isolated: lib
	@sh c_tests/test_install_isolated.sh "$(MAKE)"

lint: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	@if rustup target list --installed 2>/dev/null | grep -qx '$(I686)'; then \
	  echo "$(CARGO) clippy --all-targets --target $(I686) -- -D warnings"; \
	  $(CARGO) clippy --all-targets --target $(I686) -- -D warnings; \
	else echo "*** NOTICE: the Rust target $(I686) is not installed: its lint is SKIPPED ***"; fi

# ---------------------------------------------------------------- demo

c-demo: $(LIBS)
	@mkdir -p target
	$(CC) $(CFLAGS_TEST) examples/demo.c -o target/demo -L$(LIBDIR_BUILD) \
	  -Wl,-rpath,$(CURDIR)/$(LIBDIR_BUILD) -lezalloc
	./target/demo

# The main job: the recipe's demonstrations through the Python front ends
# (venv, pinned numpy and SWIG, numpy.i, both modules built from scratch).
# The build's output goes to target/demo-build.log (printed if it fails).
demo:
	@mkdir -p target
	@echo "== make demo: building the library and the Python package (the first time:"
	@echo "   a few minutes, installing numpy and SWIG into .venv; log: target/demo-build.log)"
	@$(MAKE) --no-print-directory py-build > target/demo-build.log 2>&1 || \
	  { cat target/demo-build.log; echo "make demo: the build failed (above)"; exit 1; }
	@$(MAKE) --no-print-directory -s py-demo

# ---------------------------------------------------------------- bench

BENCH_DIR := target/bench

$(BENCH_DIR)/libbaseline.so: bench/baseline.c $(HEADERS) $(LIBS)
	mkdir -p $(BENCH_DIR)
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -O2 -fPIC -shared -Iinclude $< -o $@ \
	  -L$(LIBDIR_BUILD) -Wl,-rpath,$(CURDIR)/$(LIBDIR_BUILD) -lezalloc

# The machine's limit for the crop table: a streaming copy with all cores.
$(BENCH_DIR)/libstream.so: bench/stream.c
	mkdir -p $(BENCH_DIR)
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -O2 -fPIC -shared $< -o $@ -lpthread

# Figures, not pass/fail: the Python tables (numpy side by side: the
# recipe's crop, then ezalloc.crop with the machine's limit, then the seeded
# random sweep, throughput by size, scaling by threads and the PNG plots in
# target/bench/), then the raw Rust functions under criterion.
bench: py-build $(BENCH_DIR)/libbaseline.so $(BENCH_DIR)/libstream.so
	$(abspath $(VENV_PY)) bench/bench.py
	$(abspath $(VENV_PY)) bench/bench_crop.py
	$(abspath $(VENV_PY)) bench/bench_sweep.py
	$(CARGO) bench --bench crop
	$(CARGO) bench --bench dispatch

# ---------------------------------------------------------------- install

# pkg-config files: ezalloc (shared; Libs.private for --static) and
# ezalloc-static (links libezalloc.a itself).
PC_FILES := ezalloc.pc ezalloc-static.pc

%.pc: %.pc.in Cargo.toml
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|' $< > $@

# Installs what `make` built; it does not build (so `sudo make install`
# needs no Rust toolchain on root's PATH).
install:
	@test -f $(LIB_A) -a -f $(LIB_SO) || { echo "nothing built: run 'make' first"; exit 1; }
	rm -f $(PC_FILES) && $(MAKE) --no-print-directory $(PC_FILES)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/ezalloc $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libezalloc.a
	$(STRIP) --strip-debug $(DESTDIR)$(LIBDIR)/libezalloc.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libezalloc.so.$(VERSION)
	ln -sf libezalloc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libezalloc.so.$(MAJOR)
	ln -sf libezalloc.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libezalloc.so
	install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/ezalloc
	install -m 644 $(PC_FILES) $(DESTDIR)$(PKGCONFIGDIR)
	rm -f $(PC_FILES)

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libezalloc.a $(DESTDIR)$(LIBDIR)/libezalloc.so \
	  $(DESTDIR)$(LIBDIR)/libezalloc.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libezalloc.so.$(VERSION) \
	  $(addprefix $(DESTDIR)$(PKGCONFIGDIR)/,$(PC_FILES))
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/ezalloc/,$(notdir $(HEADERS)))
	-rmdir $(DESTDIR)$(INCLUDEDIR)/ezalloc

clean:
	$(CARGO) clean
	rm -f $(PC_FILES)

# Reliability (malloc failure, threads) and sanitizer builds of the C tests.
include c_tests/c_tests.mk
include c_tests/nd.mk
-include python/python.mk

# The Python failure-injection tests preload libfailmalloc.so.
py-test: failmalloc-preload
