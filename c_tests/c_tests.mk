# Reliability and sanitizer C tests; included by the top Makefile after its
# own variables (CC, CFLAGS_TEST, LIB_A, LIB_SO, LIBDIR_BUILD, STATIC_LIBS,
# HEADERS, LIBS, C_TEST_DIR, C_TESTS, VALGRIND, VALGRIND_FLAGS).
#
#   make c-test-reliability  malloc failure injection and 8-thread tests,
#                            plainly and under valgrind memcheck
#   make c-test-sanitize     every C test built with ASan + UBSan against the
#                            static library, in $(C_TEST_DIR)/asan/
#   make c-test-tsan         the threads and signals tests under
#                            ThreadSanitizer
#   make failmalloc-preload  $(C_TEST_DIR)/libfailmalloc.so, an LD_PRELOAD
#                            malloc that fails on demand (for the Python tests)

.PHONY: c-test-reliability c-test-sanitize c-test-tsan failmalloc-preload

FAILMALLOC_SO := $(C_TEST_DIR)/libfailmalloc.so
# -D_GNU_SOURCE: RTLD_DEFAULT, pthread barriers.
RELIABILITY_CFLAGS := $(CFLAGS_TEST) -D_GNU_SOURCE -pthread
RELIABILITY_DEPS := c_tests/check.h c_tests/tasks.h $(HEADERS) $(LIBS)
# Static library, failures injected with -Wl,--wrap=malloc.
WRAP_LINK := -Wl,--wrap=malloc $(LIB_A) $(STATIC_LIBS)
SHARED_LINK := -L$(LIBDIR_BUILD) -Wl,-rpath,$(CURDIR)/$(LIBDIR_BUILD) -lezalloc

# The library as a guest in a threaded host: pthread_cancel, signal
# handlers, fork(). Built against the shared and the static library; run
# by c-test, under valgrind, ASan + UBSan and (signals, fork) TSan.
GUEST_TESTS := test_cancel test_signals test_fork
GUEST_BINS := $(foreach t,$(GUEST_TESTS),$(C_TEST_DIR)/$(t)-gshared $(C_TEST_DIR)/$(t)-gstatic)

# The helper pool and dlclose(): shared library only, loaded with dlopen().
DLCLOSE_BIN := $(C_TEST_DIR)/test_dlclose
GUEST_BINS += $(DLCLOSE_BIN)

c-test: $(GUEST_BINS)

$(DLCLOSE_BIN): c_tests/test_dlclose.c $(RELIABILITY_DEPS) | $(C_TEST_DIR)
	$(CC) $(RELIABILITY_CFLAGS) -DEZALLOC_SO='"$(CURDIR)/$(LIB_SO)"' $< -o $@ -ldl

$(C_TEST_DIR)/%-gshared: c_tests/%.c $(RELIABILITY_DEPS) | $(C_TEST_DIR)
	$(CC) $(RELIABILITY_CFLAGS) $< -o $@ $(SHARED_LINK)

$(C_TEST_DIR)/%-gstatic: c_tests/%.c $(RELIABILITY_DEPS) | $(C_TEST_DIR)
	$(CC) $(RELIABILITY_CFLAGS) $< -o $@ $(LIB_A) $(STATIC_LIBS)

# Run plainly and under valgrind.
RELIABILITY_BINS := $(C_TEST_DIR)/test_failmalloc-wrap \
	$(C_TEST_DIR)/test_threads-wrap $(C_TEST_DIR)/test_threads-shared \
	$(addprefix $(C_TEST_DIR)/,$(addsuffix -gshared,$(GUEST_TESTS))) $(DLCLOSE_BIN)
# Run plainly only, with LD_PRELOAD: under valgrind its own malloc, preloaded
# first, wins over libfailmalloc.so's.
PRELOAD_BIN := $(C_TEST_DIR)/test_failmalloc-preload

$(FAILMALLOC_SO): c_tests/failmalloc_preload.c | $(C_TEST_DIR)
	$(CC) $(RELIABILITY_CFLAGS) -fPIC -shared $< -o $@

failmalloc-preload: $(FAILMALLOC_SO)

$(C_TEST_DIR)/test_failmalloc-wrap: c_tests/test_failmalloc.c $(RELIABILITY_DEPS) | $(C_TEST_DIR)
	$(CC) $(RELIABILITY_CFLAGS) $< -o $@ $(WRAP_LINK)

$(PRELOAD_BIN): c_tests/test_failmalloc.c $(RELIABILITY_DEPS) | $(C_TEST_DIR)
	$(CC) $(RELIABILITY_CFLAGS) -DFAILMALLOC_PRELOAD $< -o $@ $(SHARED_LINK) -ldl

$(C_TEST_DIR)/test_threads-wrap: c_tests/test_threads.c $(RELIABILITY_DEPS) | $(C_TEST_DIR)
	$(CC) $(RELIABILITY_CFLAGS) -DWRAP_MALLOC $< -o $@ $(WRAP_LINK)

$(C_TEST_DIR)/test_threads-shared: c_tests/test_threads.c $(RELIABILITY_DEPS) | $(C_TEST_DIR)
	$(CC) $(RELIABILITY_CFLAGS) $< -o $@ $(SHARED_LINK)

c-test-reliability: $(RELIABILITY_BINS) $(PRELOAD_BIN) $(FAILMALLOC_SO)
	@for t in $(filter-out %-gshared,$(RELIABILITY_BINS)); do echo "== $$t"; ./$$t || exit 1; done
	@echo "== LD_PRELOAD=$(FAILMALLOC_SO) $(PRELOAD_BIN)"
	@LD_PRELOAD=$(CURDIR)/$(FAILMALLOC_SO) ./$(PRELOAD_BIN)
	$(call valgrind_each,$(RELIABILITY_BINS))

# ---------------------------------------------------------------- sanitizers
# The test programs are instrumented; the Rust library is not, but its
# malloc/free go through ASan's allocator, so leaks, double frees and
# overflows of the blocks it returns are caught. The tests ask malloc for
# sizes near 2^64 on purpose: allocator_may_return_null makes that NULL.

SANITIZE_DIR := $(C_TEST_DIR)/asan
SANITIZE_CFLAGS := $(CFLAGS_TEST) -fsanitize=address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=all
SANITIZE_ENV := ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
SANITIZE_BINS := $(addprefix $(SANITIZE_DIR)/,$(C_TESTS) test_failmalloc test_threads \
	$(GUEST_TESTS))

$(SANITIZE_DIR):
	mkdir -p $@

$(SANITIZE_DIR)/%: c_tests/%.c c_tests/check.h $(HEADERS) $(LIBS) | $(SANITIZE_DIR)
	$(CC) $(SANITIZE_CFLAGS) $< -o $@ $(LIB_A) $(STATIC_LIBS)

$(SANITIZE_DIR)/test_failmalloc: c_tests/test_failmalloc.c $(RELIABILITY_DEPS) | $(SANITIZE_DIR)
	$(CC) $(SANITIZE_CFLAGS) -D_GNU_SOURCE $< -o $@ $(WRAP_LINK)

$(SANITIZE_DIR)/test_threads: c_tests/test_threads.c $(RELIABILITY_DEPS) | $(SANITIZE_DIR)
	$(CC) $(SANITIZE_CFLAGS) -D_GNU_SOURCE -pthread -DWRAP_MALLOC $< -o $@ $(WRAP_LINK)

$(addprefix $(SANITIZE_DIR)/,$(GUEST_TESTS)): $(SANITIZE_DIR)/%: c_tests/%.c $(RELIABILITY_DEPS) | $(SANITIZE_DIR)
	$(CC) $(SANITIZE_CFLAGS) -D_GNU_SOURCE -pthread $< -o $@ $(LIB_A) $(STATIC_LIBS)

c-test-sanitize: $(SANITIZE_BINS)
	@for t in $(SANITIZE_BINS); do echo "== asan+ubsan $$t"; \
	  $(SANITIZE_ENV) ./$$t || exit 1; done

# ThreadSanitizer: the threads test, crop's helper threads included (they
# are pthreads, whose creation and joining TSan intercepts even though the
# Rust library itself is not instrumented).
TSAN_BIN := $(C_TEST_DIR)/tsan/test_threads
# Not test_fork: ThreadSanitizer cannot start threads in the child of a
# multi-threaded fork ("not supported"), which is what that test does.
TSAN_GUEST_BINS := $(C_TEST_DIR)/tsan/test_signals

$(TSAN_BIN): c_tests/test_threads.c $(RELIABILITY_DEPS)
	@mkdir -p $(@D)
	$(CC) $(RELIABILITY_CFLAGS) -fsanitize=thread -DWRAP_MALLOC $< -o $@ $(WRAP_LINK)

$(TSAN_GUEST_BINS): $(C_TEST_DIR)/tsan/%: c_tests/%.c $(RELIABILITY_DEPS)
	@mkdir -p $(@D)
	$(CC) $(RELIABILITY_CFLAGS) -fsanitize=thread $< -o $@ $(LIB_A) $(STATIC_LIBS)

c-test-tsan: $(TSAN_BIN) $(TSAN_GUEST_BINS)
	@for t in $(TSAN_BIN) $(TSAN_GUEST_BINS); do echo "== tsan $$t"; \
	  TSAN_OPTIONS=allocator_may_return_null=1:halt_on_error=1 ./$$t || exit 1; done
