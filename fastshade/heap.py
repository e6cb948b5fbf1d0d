"""The C heap's free memory, given back to the operating system before a big allocation.

NumPy arrays under glibc's adaptive mmap threshold (which grows up to 32 MiB as big blocks are
freed) come from the C heap; when they are freed the pages stay resident unless the top of the
heap is free.  A big image's coarse multigrid levels free many such blocks just before the pixel
level allocates its own: :func:`release_free_heap` (glibc's ``malloc_trim``) keeps them out of
the peak (``fastshade.spectral.cascade``).  Elsewhere (macOS, Windows, musl) it does nothing.
:func:`small_pages` keeps an array written in scattered parts off huge pages (Linux).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

__all__ = ["release_free_heap", "small_pages"]

_MADV_NOHUGEPAGE = 15  # (Linux)
_PAGE = 4096


def release_free_heap() -> None:
    """Return the C heap's free pages to the OS (glibc ``malloc_trim(0)``; elsewhere nothing)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def small_pages(array: Any) -> Any:
    """Back ``array``'s memory with 4 KiB pages (Linux ``madvise(MADV_NOHUGEPAGE)`` over its whole
    pages; elsewhere nothing), then return it.  For a big array written in scattered parts (chunks
    that fill part of their room): NumPy asks for 2 MiB huge pages, which a single write makes
    wholly resident; with small pages only the pages written count.  Call it before writing.
    """
    libc = _glibc()
    if libc is None or array.nbytes < 2 * _PAGE:
        return array
    start = -(-array.ctypes.data // _PAGE) * _PAGE
    stop = (array.ctypes.data + array.nbytes) // _PAGE * _PAGE
    if stop > start:
        libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(stop - start), _MADV_NOHUGEPAGE)
    return array


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
    lib.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    lib.madvise.restype = ctypes.c_int
    return lib
