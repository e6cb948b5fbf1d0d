"""The C heap's free memory, given back to the operating system before a big allocation.

NumPy arrays under glibc's adaptive mmap threshold (which grows up to 32 MiB as big blocks are
freed) come from the C heap; when they are freed the pages stay resident unless the top of the
heap is free.  A big image's coarse multigrid levels free many such blocks just before the pixel
level allocates its own: :func:`release_free_heap` (glibc's ``malloc_trim``) keeps them out of
the peak (``fastshade.spectral.cascade``).  Elsewhere (macOS, Windows, musl) it does nothing.
:func:`small_pages` keeps an array written in scattered parts off huge pages (Linux).

:func:`page_pool` keeps the pages of NumPy's big arrays in the process while a big image is shaded
(:mod:`fastshade.kernels.pages`: a freed block's pages go to the next big array by ``mremap``, up to
a cap), instead of handing them back to the system and faulting fresh ones a moment later: at 35
Mpx the stages faulted 35 GiB of fresh pages for a 6.5 GB peak, 28 s of system time on a virtual
machine that returns freed memory to its host.  Every pooled page goes back when the pool closes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["page_pool", "pool_counts", "release_free_heap", "small_pages"]

POOL_THRESHOLD = 4 << 20
"""Bytes from which a NumPy array's data is a pool block (NumPy advises huge pages from 4 MiB)."""

_NUMPY_SET_HANDLER = 304  # PyDataMem_SetHandler's index in NumPy's C-API table (NEP 49, NumPy >= 1.22)

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


class _Allocator(ctypes.Structure):
    _fields_ = [("ctx", ctypes.c_void_p), ("malloc", ctypes.c_void_p), ("calloc", ctypes.c_void_p),
                ("realloc", ctypes.c_void_p), ("free", ctypes.c_void_p)]


class _Handler(ctypes.Structure):  # NumPy's PyDataMem_Handler
    _fields_ = [("name", ctypes.c_char * 127), ("version", ctypes.c_uint8), ("allocator", _Allocator)]


class _Pool:
    """The page pool's state, its NumPy handler (a ``mem_handler`` capsule) and the C-API setter."""

    def __init__(self) -> None:
        from fastshade.kernels import pages

        self.pages = pages
        self.state = np.zeros(pages.STATE_SIZE, dtype=np.int64)
        self.state[pages.THRESHOLD] = POOL_THRESHOLD
        self.handler = _Handler(b"fastshade_page_pool", 1, _Allocator(
            self.state.ctypes.data, pages.pool_malloc.address, pages.pool_calloc.address,
            pages.pool_realloc.address, pages.pool_free.address))
        api = ctypes.pythonapi
        api.PyCapsule_New.restype = ctypes.py_object
        api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        api.PyCapsule_GetPointer.restype = ctypes.c_void_p
        api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        self.name = ctypes.create_string_buffer(b"mem_handler")  # (the capsule keeps the pointer)
        self.capsule = api.PyCapsule_New(ctypes.addressof(self.handler), ctypes.addressof(self.name), None)
        table = api.PyCapsule_GetPointer(_numpy_multiarray()._ARRAY_API, None)
        address = ctypes.c_void_p.from_address(table + _NUMPY_SET_HANDLER * ctypes.sizeof(ctypes.c_void_p))
        self.set_handler = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.py_object)(address.value)
        self.callbacks = (pages.pool_malloc, pages.pool_calloc, pages.pool_realloc, pages.pool_free)
        self.depth = 0
        self.lock = threading.Lock()


def _numpy_multiarray() -> Any:
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as umath  # type: ignore[no-redef]
    return umath


@functools.cache
def _pool() -> _Pool | None:
    """The process's page pool, None where it cannot work (not Linux with glibc, NumPy without
    NEP 49 handlers, no GIL, or the pool could not be made).
    """
    if not sys.platform.startswith("linux") or _glibc() is None:
        return None
    if not getattr(sys, "_is_gil_enabled", lambda: True)():  # the callbacks rely on the GIL
        return None
    if not hasattr(_numpy_multiarray(), "get_handler_name"):
        return None
    try:
        pool = _Pool()
    except Exception:  # noqa: BLE001 (e.g. no compiler for the callbacks: shade without the pool)
        return None
    # immortal: an array the pool made may be freed at any time, at the interpreter's exit too,
    # after this cache and the kernels' module are gone (its free then reads the pool's state
    # through the handler: freed first, that was a crash at exit)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(pool))
    return pool


def _made_pool() -> _Pool | None:
    """The process's page pool if a :func:`page_pool` ever made it (None otherwise: nothing is made)."""
    return _pool() if _pool.cache_info().currsize else None


@contextlib.contextmanager
def page_pool(cap: int) -> Iterator[None]:
    """While open (``cap > 0``), NumPy arrays of at least :data:`POOL_THRESHOLD` bytes made in
    this thread's context are pool blocks: their pages, when freed, go to the next big array
    instead of back to the system, the pool holding at most ``cap`` bytes
    (:mod:`fastshade.kernels.pages`; the same values in the arrays, fewer page faults).  On the
    outermost close the pool's pages are returned; arrays still alive are unmapped as usual when
    freed.  Nested and concurrent uses share one pool (the largest cap open).  Does nothing where
    :func:`_pool` cannot work (not Linux with glibc, NumPy without NEP 49 handlers, no GIL).
    """
    pool = _pool() if cap > 0 else None
    if pool is None:
        yield
        return
    pages = pool.pages
    with pool.lock:  # (the drain runs without the GIL: no pool opens while it runs)
        pool.state[pages.HUGE_ADVICE] = int(bool(_numpy_multiarray()._get_madvise_hugepage()))
        pool.state[pages.POOL_CAP] = max(int(cap), int(pool.state[pages.POOL_CAP]) if pool.depth else 0)
        if not pool.depth:
            pool.state[pages.POOL_BUDGET] = 0
        pool.depth += 1
        pool.state[pages.ACTIVE] = 1
    previous = pool.set_handler(pool.capsule)
    try:
        yield
    finally:
        pool.set_handler(previous)
        with pool.lock:
            pool.depth -= 1
            if pool.depth == 0:
                # inactive first: a block freed meanwhile on another thread is unmapped, and only
                # the drain touches the pool's segments
                pool.state[pages.ACTIVE] = 0
                pool.state[pages.POOL_BUDGET] = 0
                pages.drain_pool(pool.state)


def pool_up_to_peak() -> None:
    """From now until the pool's outermost close, let the open pool hold freed pages beyond its cap
    as long as its pages and the live pool blocks stay within the process's peak resident memory so
    far, less the resident memory that is neither (a big image's stages after the basis need less
    than the basis did: their arrays take the pool's pages instead of faulting fresh ones).  Does
    nothing when no pool is open.
    """
    pool = _made_pool()
    if pool is None:
        return
    import resource

    pages, state = pool.pages, pool.state
    with pool.lock:
        resident = _resident_bytes()
        if not pool.depth or resident is None:  # (unreadable: the cap alone, as before)
            return
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # (KiB on Linux)
        other = max(0, resident - _resident_live(pool) - int(state[pages.POOLED_BYTES]))
        state[pages.POOL_BUDGET] = max(int(state[pages.POOL_BUDGET]), peak - other)


def _resident_bytes() -> int | None:
    """The process's resident memory now (``/proc/self/statm``), None when it cannot be read."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _resident_live(pool: Any) -> int:
    """Bytes of the live pool blocks' pages that are resident (``mincore``; a block's pages are
    mapped when made and resident once written).
    """
    pages, state = pool.pages, pool.state
    libc = _glibc()  # (never None where a pool was made)
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for j in range(int(state[pages.PIECE_COUNT])):
        start, length = (int(v) for v in state[pages.PIECES + 3 * j + 1:pages.PIECES + 3 * j + 3])
        vec = (ctypes.c_ubyte * (length // page))()
        if libc.mincore(ctypes.c_void_p(start), ctypes.c_size_t(length), vec) == 0:
            total += page * int(np.count_nonzero(np.frombuffer(vec, dtype=np.uint8) & 1))
    return total


def pool_counts() -> dict[str, int]:
    """The pool's counters: ``fresh`` and ``reused`` bytes of pool blocks so far, ``pooled`` bytes
    held now, ``live`` pool blocks and their ``live_bytes``, the ``budget`` of
    :func:`pool_up_to_peak` (0: the cap alone) (all 0 when no pool was opened in this process).
    """
    pool = _made_pool()
    if pool is None:
        return dict(fresh=0, reused=0, pooled=0, live=0, live_bytes=0, budget=0)
    pages, state = pool.pages, pool.state
    return dict(fresh=int(state[pages.FRESH_BYTES]), reused=int(state[pages.REUSED_BYTES]),
                pooled=int(state[pages.POOLED_BYTES]), live=int(state[pages.LIVE_BLOCKS]),
                live_bytes=int(state[pages.LIVE_BYTES]), budget=int(state[pages.POOL_BUDGET]))
