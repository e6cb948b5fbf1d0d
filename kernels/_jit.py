"""The one house decorator for every fastshade kernel.

All Numba options live here and nowhere else (a test greps the tree for stray
``fastmath=`` / ``cache=`` / ``parallel=`` arguments):

* ``nogil=True``: kernels release the GIL so threaded callers (Dask workers,
  user thread pools) can run them concurrently.
* ``error_model="numpy"``: division by zero gives inf/nan instead of raising;
  kernels never raise.
* ``fastmath`` is a *set* of LLVM flags, not ``True``.  ``nnan``/``ninf`` are
  left out on purpose (NaN checks must keep working) and so is ``afn``
  (approximate ``exp``/``log`` would make the Laplacian weights differ from
  NumPy's in the last bits).  ``reassoc`` is left out as well so that
  reductions are summed in source order: outputs are bit-for-bit reproducible
  and match the NumPy/SciPy references exactly.
* ``cache=True`` when a cache locator exists; when none does (read-only
  site-packages, no ``$HOME``, ``NUMBA_CACHE_DIR`` unset) the kernel is
  compiled in memory instead of failing at import
  (numba/numba#4908).  ``FASTSHADE_NO_CACHE=1`` forces in-memory compilation.

* ``parallel=True`` only through :func:`jit_parallel`: the kernels of the eigensolve
  split their rows into fixed chunks (the partition never depends on the thread count,
  and a sum over chunks is added in chunk order), so their outputs are the same bytes for
  any ``numba.set_num_threads`` (:mod:`fastshade.threads`).  Every other kernel is serial.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import numba

F = TypeVar("F", bound=Callable)

FASTMATH_FLAGS: frozenset[str] = frozenset({"nsz", "arcp", "contract"})
"""LLVM fast-math flags used by every kernel (see module docstring)."""

_BASE_OPTIONS = dict(nogil=True, error_model="numpy", fastmath=set(FASTMATH_FLAGS))

CACHE_ENABLED: bool = os.environ.get("FASTSHADE_NO_CACHE", "") in ("", "0")


def jit(func: F) -> F:
    """Compile ``func`` with the house options (``@jit`` on a module-level def).

    The result is an ordinary Numba dispatcher: callable from Python with
    NumPy arrays and from a user's own ``@njit`` code.
    """
    if CACHE_ENABLED:
        try:
            return numba.njit(cache=True, **_BASE_OPTIONS)(func)  # type: ignore[return-value]
        except RuntimeError:
            # "cannot cache function ...: no locator available": fall through.
            pass
    return numba.njit(cache=False, **_BASE_OPTIONS)(func)  # type: ignore[return-value]


def jit_parallel(func: F) -> F:
    """:func:`jit` with ``parallel=True``: the kernel's ``prange`` loops run on Numba's threads.

    Only for kernels whose ``prange`` iterates over a fixed partition (see the module
    docstring); the number of threads is the caller's (``numba.set_num_threads``).
    """
    options = dict(_BASE_OPTIONS, parallel=True)
    if CACHE_ENABLED:
        try:
            return numba.njit(cache=True, **options)(func)  # type: ignore[return-value]
        except RuntimeError:
            pass
    return numba.njit(cache=False, **options)(func)  # type: ignore[return-value]
