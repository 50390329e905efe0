from . import recipe as recipe
from . import recipe_ctypes as recipe_ctypes
from .threads import get_threads as get_threads, set_threads as set_threads

__version__: str
__all__: list[str]
