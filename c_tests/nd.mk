# The N-dimensional and typed crops (include/ezalloc_nd.h,
# include/ezalloc_typed.h); included by the top Makefile after
# c_tests/c_tests.mk, whose variables it uses.
#
#   make c-test-nd   test_nd (the 60 typed functions and ezalloc_crop_nd
#                    against a model, errno cases, overflowing sizes) against
#                    the shared and the static library, and
#                    test_nd_failmalloc (malloc failures injected with
#                    --wrap=malloc): plainly, under valgrind memcheck, and
#                    built with ASan + UBSan
#   make nd-fuzz     the fuzz target over ezalloc_crop_nd's validation
#                    (tests/fuzz_nd.rs), for ND_FUZZ_SECONDS seconds
#   make bench-nd    criterion benchmarks of the N-dimensional copy
#                    (bench/nd.rs); part of `make bench`

.PHONY: c-test-nd nd-fuzz bench-nd

ND_HEADERS := include/ezalloc_nd.h include/ezalloc_typed.h
# Installed and checked for freshness with the others.
HEADERS += $(ND_HEADERS)
ND_FUZZ_SECONDS ?= 30

$(ND_HEADERS): lib

ND_DEPS := c_tests/check.h $(ND_HEADERS) lib
ND_BINS := $(C_TEST_DIR)/test_nd-shared $(C_TEST_DIR)/test_nd-static \
	$(C_TEST_DIR)/test_nd_failmalloc-wrap
ND_SANITIZE_BINS := $(SANITIZE_DIR)/test_nd $(SANITIZE_DIR)/test_nd_failmalloc

$(C_TEST_DIR)/test_nd-shared: c_tests/test_nd.c $(ND_DEPS) | $(C_TEST_DIR)
	$(CC) $(CFLAGS_TEST) $< -o $@ $(SHARED_LINK)

$(C_TEST_DIR)/test_nd-static: c_tests/test_nd.c $(ND_DEPS) | $(C_TEST_DIR)
	$(CC) $(CFLAGS_TEST) $< -o $@ $(LIB_A) $(STATIC_LIBS)

$(C_TEST_DIR)/test_nd_failmalloc-wrap: c_tests/test_nd_failmalloc.c $(ND_DEPS) | $(C_TEST_DIR)
	$(CC) $(RELIABILITY_CFLAGS) $< -o $@ $(WRAP_LINK)

$(SANITIZE_DIR)/test_nd: c_tests/test_nd.c $(ND_DEPS) | $(SANITIZE_DIR)
	$(CC) $(SANITIZE_CFLAGS) $< -o $@ $(LIB_A) $(STATIC_LIBS)

$(SANITIZE_DIR)/test_nd_failmalloc: c_tests/test_nd_failmalloc.c $(ND_DEPS) | $(SANITIZE_DIR)
	$(CC) $(SANITIZE_CFLAGS) -D_GNU_SOURCE -pthread $< -o $@ $(WRAP_LINK)

c-test-nd: $(ND_BINS) $(ND_SANITIZE_BINS)
	@for t in $(ND_BINS); do echo "== $$t"; ./$$t || exit 1; done
	$(call valgrind_each,$(ND_BINS))
	@for t in $(ND_SANITIZE_BINS); do echo "== asan+ubsan $$t"; \
	  $(SANITIZE_ENV) ./$$t || exit 1; done

nd-fuzz:
	EZALLOC_FUZZ_SECONDS=$(ND_FUZZ_SECONDS) $(CARGO) test --release --test fuzz_nd -- --nocapture

bench-nd:
	$(CARGO) bench --bench nd

bench: bench-nd
