"""Process memory: hand the heap's free pages back to the system."""

import ctypes
import ctypes.util
from functools import cache


@cache
def _malloc_trim():
    """glibc's malloc_trim, or None off glibc."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def release_free_memory():
    """Return the free pages of the C heap to the system (glibc's malloc_trim; elsewhere a no-op).

    A training step allocates and frees batch-sized tensors; glibc keeps the freed blocks in its
    heaps, so without this a run stays well above what it holds (docs/design.md). Called once
    per epoch: it leaves the peak at that of a training step.
    """
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
