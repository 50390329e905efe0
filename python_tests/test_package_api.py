"""The package's namespace: __all__, dir() and the lazily imported ctypes
front end."""

import subprocess
import sys

import ezalloc


def test_all_names_exist_and_dir_lists_them():
    assert set(ezalloc.__all__) == {"__version__", "crop", "get_include", "recipe",
                                    "recipe_ctypes", "get_threads", "set_threads"}
    listed = dir(ezalloc)
    assert listed == sorted(listed)
    for name in ezalloc.__all__:
        assert name in listed
        assert getattr(ezalloc, name) is not None


def test_dir_lists_recipe_ctypes_before_its_import():
    # In a fresh interpreter: recipe_ctypes is imported on first use only,
    # and dir() lists it before that.
    code = ("import sys, ezalloc; "
            "assert 'ezalloc.recipe_ctypes' not in sys.modules; "
            "assert 'recipe_ctypes' in dir(ezalloc); "
            "assert 'ezalloc.recipe_ctypes' not in sys.modules; "
            "from ezalloc import *; "
            "assert recipe_ctypes.crop is not None; "
            "assert callable(crop) and callable(set_threads)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute():
    try:
        ezalloc.no_such_name
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("no AttributeError")


def test_crop_help_has_an_example_that_runs():
    """help(ezalloc.crop): an example (run here as a doctest: it prints what
    the text says), what "large" means, and no name internal to the
    library."""
    import doctest
    doc = ezalloc.crop.__doc__
    assert "ezalloc_crop_nd" not in doc and "1 MiB" in doc
    test = doctest.DocTestParser().get_doctest(doc, {}, "ezalloc.crop", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.tries == 3 and runner.failures == 0
