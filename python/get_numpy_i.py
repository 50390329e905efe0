"""Prints the path of numpy's stock numpy.i for the SWIG build (stdlib only).

    python get_numpy_i.py [NUMPY_VERSION]

The implementation is the package's own python/ezalloc/_numpy_i.py (which
`python -m ezalloc.swig` uses once installed); this file loads it from the
source tree, without importing the package, for setup.py and the tests.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "ezalloc"))
try:
    from _numpy_i import (  # type: ignore[import-not-found]  # noqa: E402,F401
        FetchError, LICENSE_NAME, cache_root, fetch, license_of,
        main, numpy_i)
finally:
    del sys.path[0]

if __name__ == "__main__":
    main()
