# The Python package `ezalloc` (python/ezalloc/, built by the root setup.py
# and pyproject.toml). Included by the top-level Makefile, which provides
# `lib` (cargo build --release); paths are relative to the repository root.
#
#   make py-env      .venv with the exact pins of python/requirements.txt
#   make py-build    builds the wheel in .venv (no build isolation: the pins)
#                    and installs it there; the tests import that install
#   make py-test     for each Python of PY_VERSIONS found (python/find_pythons.sh:
#                    pyenv's, else on PATH; absent ones skipped with a notice):
#                    py-test-one with that interpreter
#   make py-test-one the whole pytest suite (python_tests/) on the package
#                    installed in $(VENV) (the newest numpy and SWIG for that
#                    Python), then py-test-min. The valgrind tests and the
#                    SWIG 4.2.1 builds of the ezalloc.i tests run in the
#                    default Python's pass only (PY_DEFAULT=1).
#   make py-test-min $(VENV_MIN): the lowest supported numpy (2.3.5), SWIG
#                    (4.2.1) and setuptools: the package built from source
#                    there, the tests that depend on the build
#                    ($(PY_MIN_TESTS)); then $(VENV)'s wheel installed there,
#                    the tests of what it was built to ($(PY_WHEEL_TESTS))
#   make py-typecheck  mypy's stubtest on the installed package, mypy --strict
#                    on python_tests/typed_usage.py (and that file run)
#   make docs        the Sphinx documentation of docs/ (-W: a warning fails)
#   make py-demo     examples/demo.py, through both front ends
#   make wheel       a manylinux wheel in dist/ per Python of PY_VERSIONS found
#                    (auditwheel repair + show)
#   make sdist       the source distribution in dist/
#
# The default interpreter's venvs are .venv and .venv-min ($(PYTHON)); any
# other version's are .venv-<version> and .venv-<version>-min.
#
# numpy.i is fetched by python/get_numpy_i.py (cached under ~/.cache/ezalloc).

PYTHON ?= python3
VENV ?= .venv
VENV_PY := $(VENV)/bin/python
VENV_MIN ?= .venv-min
VENV_MIN_PY := $(VENV_MIN)/bin/python
PIP_QUIET := --disable-pip-version-check -q
WHEEL_DIR := target/wheels
# The Python versions the suite runs on and wheels are built for (the
# classifiers and requires-python of pyproject.toml say the same).
PY_VERSIONS ?= 3.11 3.12 3.13
DOCS_DIR := target/docs

# What the package is built from: when none of these changed, py-build
# reuses the installed package.
# (The headers are build.rs's output from src/; _version.py is setup.py's.)
PY_SOURCES := setup.py pyproject.toml MANIFEST.in python/get_numpy_i.py \
	$(filter-out python/ezalloc/_version.py,$(wildcard python/ezalloc/*.py)) \
	$(wildcard python/ezalloc/*.i python/ezalloc/include/*.i python/ezalloc/*.pyi) python/ezalloc/py.typed \
	include/ezalloc.h include/crop.h include/ezalloc_nd.h \
	Cargo.toml Cargo.lock build.rs $(wildcard src/*.rs src/*/*.rs)

.PHONY: py-env py-build py-test py-test-one py-test-min py-typecheck docs py-demo wheel \
	wheel-one sdist py-clean

py-env: $(VENV)/.ezalloc-py-env

$(VENV)/.ezalloc-py-env: python/requirements.txt
	test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install $(PIP_QUIET) -r $<
	touch $@

$(VENV_MIN)/.ezalloc-py-env: python/requirements-min.txt
	test -x $(VENV_MIN_PY) || $(PYTHON) -m venv $(VENV_MIN)
	$(VENV_MIN_PY) -m pip install $(PIP_QUIET) -r $<
	touch $@

# Build the wheel with the venv's own numpy and SWIG (as pip would, minus the
# isolation) into target/wheels/<venv>/, only when a source changed.
# $(1): venv directory.
define py_wheel
	rm -rf $(WHEEL_DIR)/$(notdir $(1)) && mkdir -p $(WHEEL_DIR)/$(notdir $(1))
	SWIG=$(abspath $(1))/bin/swig $(1)/bin/python -m pip wheel $(PIP_QUIET) \
	  --no-build-isolation --no-deps -w $(WHEEL_DIR)/$(notdir $(1)) .
endef
# Install a wheel into a venv: what users get. $(1): venv, $(2): wheel dir.
define py_install
	$(1)/bin/python -m pip install $(PIP_QUIET) --no-deps --force-reinstall \
	  $(WHEEL_DIR)/$(notdir $(2))/ezalloc-*.whl
endef

py-build: $(VENV)/.ezalloc-installed

$(WHEEL_DIR)/$(notdir $(VENV))/.built: $(VENV)/.ezalloc-py-env $(PY_SOURCES) | lib
	$(call py_wheel,$(VENV))
	touch $@

$(VENV)/.ezalloc-installed: $(WHEEL_DIR)/$(notdir $(VENV))/.built
	$(call py_install,$(VENV),$(VENV))
	touch $@

$(WHEEL_DIR)/$(notdir $(VENV_MIN))/.built: $(VENV_MIN)/.ezalloc-py-env $(PY_SOURCES) | lib
	$(call py_wheel,$(VENV_MIN))
	touch $@

# pytest on the installed package; run from python_tests/ so that nothing
# from the source tree shadows it. $(1): the venv; $(2): the test files
# (none: all). Each pass prints its time.
PY_TEST_CMD = cd python_tests && $(abspath $(1))/bin/python -c \
	"import ezalloc, numpy, sys; print('ezalloc', ezalloc.__version__, 'from', ezalloc.__file__, \
	'| numpy', numpy.__version__, '| python', sys.version.split()[0])" && \
	start=$$(date +%s) && $(abspath $(1))/bin/python -m pytest -q -p no:cacheprovider $(2) && \
	echo "== pytest pass took $$(( $$(date +%s) - start )) s ($(1)$(if $(2),, whole suite))"

# What differs between the passes of one Python. The whole suite runs once,
# on the newest numpy and SWIG. Built with the lowest numpy and SWIG: what
# depends on the build (the SWIG modules, ezalloc.i and its typemaps built
# with that SWIG, import and install). The newest wheel over the lowest
# numpy: what depends on the numpy it runs with.
PY_WHEEL_TESTS := test_package_api.py test_alloc.py test_crop.py test_errno.py test_nd_crop.py \
	test_ownership.py
PY_MIN_TESTS := $(PY_WHEEL_TESTS) test_swig_builds.py test_swig_typed.py test_ezalloc_i.py \
	test_ezalloc_i_redefine.py
# Only the default Python's whole-suite pass runs valgrind and builds with
# every SWIG found; the other passes run the valgrind tests without it and
# build with their venv's own SWIG.
PY_PASS_ENV = $(if $(PY_DEFAULT),,EZALLOC_TEST_VALGRIND=0 EZALLOC_TEST_SWIGS=$(abspath $(1))/bin/swig)
PY_MIN_ENV = EZALLOC_TEST_VALGRIND=0 EZALLOC_TEST_SWIGS=$(abspath $(VENV_MIN))/bin/swig

# One sub-make per interpreter found, with its venvs: $(1) is the target,
# run as `$(MAKE) $(1) PYTHON=<interpreter> VENV=<venv> VENV_MIN=<venv>-min`.
# The interpreter of the same version as $(PYTHON) uses .venv and .venv-min.
define per_python
	@found=$$(sh python/find_pythons.sh $(PY_VERSIONS)) || exit 1; \
	if [ -z "$$found" ]; then echo "*** NOTICE: none of Python $(PY_VERSIONS) found: $(1) SKIPPED ***"; exit 0; fi; \
	default=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
	echo "$$found" | while read v py; do \
	  if [ "$$v" = "$$default" ]; then venv=$(VENV); dflt=1; else venv=$(VENV)-$$v; dflt=; fi; \
	  echo "== Python $$v ($$py): make $(1) VENV=$$venv"; \
	  $(MAKE) --no-print-directory $(1) PYTHON="$$py" VENV="$$venv" VENV_MIN="$$venv-min" \
	    PY_DEFAULT=$$dflt || exit 1; \
	done
endef

py-test: failmalloc-preload
	$(call per_python,py-test-one)

py-test-one: py-build failmalloc-preload
	@$(abspath $(VENV)/bin/swig) -version | sed -n 's/^SWIG Version/== pytest, built with SWIG/p'
	export EZALLOC_TEST_PASS=whole $(call PY_PASS_ENV,$(VENV)) && $(call PY_TEST_CMD,$(VENV))
	$(MAKE) --no-print-directory py-test-min

# Lowest numpy and SWIG: the package built from source there, then the wheel
# built in $(VENV) (newest numpy and SWIG) installed there, as a user with the
# lowest numpy would get it.
py-test-min: $(WHEEL_DIR)/$(notdir $(VENV_MIN))/.built py-build failmalloc-preload
	$(call py_install,$(VENV_MIN),$(VENV_MIN))
	@$(abspath $(VENV_MIN)/bin/swig) -version | sed -n 's/^SWIG Version/== pytest, built with SWIG/p'
	export $(PY_MIN_ENV) && $(call PY_TEST_CMD,$(VENV_MIN),$(PY_MIN_TESTS))
	$(call py_install,$(VENV_MIN),$(VENV))
	@echo "== pytest, the wheel built in $(VENV) (its numpy and SWIG)"
	export $(PY_MIN_ENV) EZALLOC_TEST_BUILD_NUMPY=$$($(abspath $(VENV))/bin/python -c \
	  'import numpy; print(numpy.__version__)') && $(call PY_TEST_CMD,$(VENV_MIN),$(PY_WHEEL_TESTS))

# Docs and type checks: the development venv, with python/requirements-dev.txt.
$(VENV)/.ezalloc-dev-env: python/requirements-dev.txt $(VENV)/.ezalloc-py-env
	$(VENV_PY) -m pip install $(PIP_QUIET) -r $<
	touch $@

# stubtest compares the stubs with the installed package; run from
# python_tests/ so that nothing from the source tree shadows it.
py-typecheck: py-build $(VENV)/.ezalloc-dev-env
	cd python_tests && $(abspath $(VENV_PY)) -m mypy.stubtest ezalloc
	cd python_tests && $(abspath $(VENV_PY)) -m mypy --strict --no-incremental typed_usage.py
	cd python_tests && $(abspath $(VENV_PY)) typed_usage.py

# The package's docstrings through autodoc, so the installed package.
docs: py-build $(VENV)/.ezalloc-dev-env
	rm -rf $(DOCS_DIR)
	$(VENV_PY) -m sphinx -W --keep-going -q -b html docs $(DOCS_DIR)/html
	@echo "docs: $(DOCS_DIR)/html/index.html"

py-demo: py-build
	$(abspath $(VENV_PY)) examples/demo.py

# Manylinux wheels, one per Python of PY_VERSIONS found: each built in its
# venv, repaired and checked by auditwheel.
wheel: lib
	rm -rf dist/*.whl && mkdir -p dist
	$(call per_python,wheel-one)
	@ls dist/*.whl

wheel-one: py-env lib
	rm -rf $(WHEEL_DIR)/raw-$(notdir $(VENV)) && mkdir -p $(WHEEL_DIR)/raw-$(notdir $(VENV)) dist
	SWIG=$(abspath $(VENV))/bin/swig $(VENV_PY) -m build --wheel --no-isolation \
	  --outdir $(WHEEL_DIR)/raw-$(notdir $(VENV)) .
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/auditwheel repair -w dist \
	  $(WHEEL_DIR)/raw-$(notdir $(VENV))/ezalloc-*.whl
	$(VENV)/bin/auditwheel show dist/ezalloc-*-$$($(VENV_PY) -c \
	  'import sys; print("cp%d%d" % sys.version_info[:2])')-*.whl

sdist: py-env
	rm -f dist/ezalloc-*.tar.gz
	$(VENV_PY) -m build --sdist --outdir dist .

# Build outputs only; the venvs and the cached numpy.i stay.
py-clean:
	rm -rf build dist $(WHEEL_DIR) $(DOCS_DIR) python/*.egg-info python/ezalloc/_version.py \
	  $(VENV)/.ezalloc-installed $(VENV)-3.*/.ezalloc-installed
