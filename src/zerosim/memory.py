"""Process memory: give the heap that large frees left behind back to the operating system.

Layer ``foundation`` (with ``errors``, ``numbers`` and ``lazy``) -- imports the standard library only,
so every layer may use it: the population builder after drawing a city, the engine after set-up.
"""

from __future__ import annotations

import ctypes
from functools import cache


def release_freed_memory() -> bool:
    """Give memory that the C allocator keeps after large frees back to the operating system.

    glibc serves a large array from a fresh mapping (returned on free) only above its mmap
    threshold, and it raises that threshold (up to 32 MiB) each time such an array is freed; later
    arrays below it come from the heap and, once freed, stay resident as free heap space. After a
    population build that was ~36 bytes per agent. ``malloc_trim(0)`` returns the free heap pages.
    A no-op where the C library has no ``malloc_trim`` (musl, macOS, Windows).

    Returns
    -------
    bool
        True if some memory was returned.
    """
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


@cache
def _malloc_trim():
    """glibc's ``int malloc_trim(size_t pad)`` from the C library already loaded, or None."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, TypeError, AttributeError):  # no C library to open by None, or not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim
