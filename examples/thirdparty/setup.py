"""Builds the gridkit module (gridkit.i, gridkit.c) with setuptools' SWIG
support; ezalloc.get_include() is the only SWIG include directory it needs.

    python setup.py build_ext --inplace

or, with the pyproject.toml beside it, `pip install .`.
"""
import ezalloc
import numpy
from setuptools import Extension, setup

setup(
    name="gridkit",
    version="1.0",
    py_modules=["gridkit"],
    ext_modules=[Extension(
        "_gridkit",
        sources=["gridkit.i", "gridkit.c"],
        include_dirs=[numpy.get_include()],
        swig_opts=["-I" + ezalloc.get_include()],
    )],
)
