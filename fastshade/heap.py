"""The C heap's free memory, given back to the operating system before a big allocation.

NumPy arrays under glibc's adaptive mmap threshold (which grows up to 32 MiB as big blocks are
freed) come from the C heap; when they are freed the pages stay resident unless the top of the
heap is free.  A big image's coarse multigrid levels free many such blocks just before the pixel
level allocates its own: :func:`release_free_heap` (glibc's ``malloc_trim``) keeps them out of
the peak (``fastshade.spectral.cascade``).  Elsewhere (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

__all__ = ["release_free_heap"]


def release_free_heap() -> None:
    """Return the C heap's free pages to the OS (glibc ``malloc_trim(0)``; elsewhere nothing)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _glibc() -> Any:
    """The C library as a ``ctypes`` handle when it has ``malloc_trim`` (glibc), else None."""
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = lib.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lib
