# The Python package `ezalloc` (python/ezalloc/, built by the root setup.py
# and pyproject.toml). Included by the top-level Makefile, which provides
# `lib` (cargo build --release); paths are relative to the repository root.
#
#   make py-env      .venv with the exact pins of python/requirements.txt
#   make py-build    builds the wheel in .venv (no build isolation: the pins)
#                    and installs it there; the tests import that install
#   make py-test     pytest (python_tests/) on the installed package, then
#                    the same with the other ends of the supported ranges
#                    (py-test-min)
#   make py-test-min .venv-min: the lowest supported numpy (2.3.5), SWIG
#                    (4.2.1) and setuptools: the package built from source
#                    there, pytest; then .venv's wheel installed there, pytest
#   make py-demo     examples/demo.py, through both front ends
#   make wheel       a manylinux wheel in dist/ (auditwheel repair + show)
#   make sdist       the source distribution in dist/
#
# numpy.i is fetched by python/get_numpy_i.py (cached under ~/.cache/ezalloc).

PYTHON ?= python3
VENV ?= .venv
VENV_PY := $(VENV)/bin/python
VENV_MIN ?= .venv-min
VENV_MIN_PY := $(VENV_MIN)/bin/python
PIP_QUIET := --disable-pip-version-check -q
WHEEL_DIR := target/wheels

# What the package is built from: when none of these changed, py-build
# reuses the installed package.
# (The headers are build.rs's output from src/; _version.py is setup.py's.)
PY_SOURCES := setup.py pyproject.toml MANIFEST.in python/get_numpy_i.py \
	$(filter-out python/ezalloc/_version.py,$(wildcard python/ezalloc/*.py)) \
	$(wildcard python/ezalloc/*.i python/ezalloc/include/*.i python/ezalloc/*.pyi) python/ezalloc/py.typed \
	include/ezalloc.h include/crop.h include/ezalloc_nd.h \
	Cargo.toml Cargo.lock build.rs $(wildcard src/*.rs src/*/*.rs)

.PHONY: py-env py-build py-test py-test-min py-demo wheel sdist py-clean

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
# from the source tree shadows it.
PY_TEST_CMD = cd python_tests && $(abspath $(1))/bin/python -c \
	"import ezalloc, numpy, sys; print('ezalloc', ezalloc.__version__, 'from', ezalloc.__file__, \
	'| numpy', numpy.__version__, '| python', sys.version.split()[0])" && \
	$(abspath $(1))/bin/python -m pytest -q

py-test: py-build
	@$(abspath $(VENV)/bin/swig) -version | sed -n 's/^SWIG Version/== pytest, built with SWIG/p'
	$(call PY_TEST_CMD,$(VENV))
	$(MAKE) --no-print-directory py-test-min

# Lowest numpy and SWIG: the package built from source there, then the wheel
# built in .venv (newest numpy and SWIG) installed there, as a user with the
# lowest numpy would get it.
py-test-min: $(WHEEL_DIR)/$(notdir $(VENV_MIN))/.built py-build failmalloc-preload
	$(call py_install,$(VENV_MIN),$(VENV_MIN))
	@$(abspath $(VENV_MIN)/bin/swig) -version | sed -n 's/^SWIG Version/== pytest, built with SWIG/p'
	$(call PY_TEST_CMD,$(VENV_MIN))
	$(call py_install,$(VENV_MIN),$(VENV))
	@echo "== pytest, the wheel built in $(VENV) (its numpy and SWIG)"
	$(call PY_TEST_CMD,$(VENV_MIN))

py-demo: py-build
	$(abspath $(VENV_PY)) examples/demo.py

# A manylinux wheel: built in .venv, repaired and checked by auditwheel.
wheel: py-env lib
	rm -rf $(WHEEL_DIR)/raw dist/*.whl && mkdir -p $(WHEEL_DIR)/raw dist
	SWIG=$(abspath $(VENV))/bin/swig $(VENV_PY) -m build --wheel --no-isolation \
	  --outdir $(WHEEL_DIR)/raw .
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/auditwheel repair -w dist $(WHEEL_DIR)/raw/ezalloc-*.whl
	$(VENV)/bin/auditwheel show dist/ezalloc-*.whl

sdist: py-env
	rm -f dist/ezalloc-*.tar.gz
	$(VENV_PY) -m build --sdist --outdir dist .

# Build outputs only; the venvs and the cached numpy.i stay.
py-clean:
	rm -rf build dist $(WHEEL_DIR) python/*.egg-info python/ezalloc/_version.py \
	  $(VENV)/.ezalloc-installed
