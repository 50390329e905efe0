"""Type stubs of ezalloc.threads."""

from typing import SupportsIndex

MAX_THREADS: int

def get_threads() -> int: ...
def set_threads(n: SupportsIndex) -> int: ...
