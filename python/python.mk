# Python front ends: SWIG modules (python/ezalloc.i, python/crop.i) and the
# ctypes module (python/ezalloc_ctypes.py). Included by the top-level
# Makefile, which provides `lib` (cargo build --release); paths are relative
# to the repository root.
#
#   make py-env     venv with the pinned packages, and numpy.i
#   make py-build   SWIG modules built in place in python/
#   make py-test    pytest on python_tests/
#   make py-demo    the recipe's demonstrations through both front ends

PYTHON ?= python3
LIBDIR_BUILD ?= target/release
VENV ?= .venv
VENV_PY := $(VENV)/bin/python
PY_ENV_STAMP := $(VENV)/.ezalloc-py-env
# Run from python/: absolute paths.
PY_RUN := EZALLOC_LIB_DIR=$(abspath $(LIBDIR_BUILD)) \
	EZALLOC_LIB=$(abspath $(LIBDIR_BUILD))/libezalloc.so $(abspath $(VENV_PY))

.PHONY: py-env py-build py-test py-demo py-clean

py-env: $(PY_ENV_STAMP)

$(PY_ENV_STAMP): python/requirements.txt
	test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --disable-pip-version-check -q -r python/requirements.txt
	sh python/get_numpy_i.sh
	touch $@

py-build: lib py-env
	cd python && $(PY_RUN) setup.py -q build_ext --inplace

py-test: py-build
	cd python_tests && $(PY_RUN) -m pytest -q

py-demo: py-build
	cd python && $(PY_RUN) demo.py

# Build outputs only; the venv and the cached numpy.i stay.
py-clean:
	cd python && rm -rf build *.egg-info *_wrap.c ezalloc.py crop.py _ezalloc*.so _crop*.so
