from . import recipe as recipe
from . import recipe_ctypes as recipe_ctypes

__version__: str
__all__: list[str]
