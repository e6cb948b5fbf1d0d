"""The one thread policy: how many threads BLAS/OpenMP and Numba may use, and how many cores there are.

fastshade's bytes must not depend on the thread count: multi-threaded BLAS reductions round
differently, so every fastshade process pins BLAS/OpenMP to one thread.  The Numba kernels of
the eigensolve run on Numba's threads over a fixed partition of the rows
(``fastshade.kernels._jit.jit_parallel``), so their bytes are the same for any count: one image
may use every core (:func:`image_threads`, ``shade --threads``), a folder run gives each worker
``cores // workers``. Two ways to say it, one list of variables:

* :func:`thread_environment` gives the environment variables for a process that has not loaded
  NumPy yet (the command line, folder workers, benchmark workers);
* :func:`limit_threads` limits an already running process for the duration of a block
  (threadpoolctl for the BLAS/OpenMP pools, ``numba.set_num_threads`` for Numba), and restores
  the previous limits afterwards.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

THREAD_VARIABLES: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""Environment variables that size the BLAS/OpenMP thread pools (read when NumPy loads)."""

BLAS_THREADS = 1
"""BLAS/OpenMP threads of every fastshade process: one, so outputs are identical everywhere."""


PARALLEL_MIN_ROWS = 1 << 20
"""Rows of work (pixels, or unknowns of a multigrid level) from which a ``jit_parallel`` kernel
runs on its parallel twin when the process has more than one Numba thread (:func:`threaded`).
Below it the serial kernel runs: on two cores the twins gain little there, and a run that never
picks one never compiles it (about 8 s of CPU on the first run of a small image)."""


def threaded(kernel: Any, rows: int) -> Any:
    """The dispatcher to call for ``rows`` rows of work: ``kernel.parallel`` (the ``jit_parallel``
    twin) when ``rows >= PARALLEL_MIN_ROWS`` and Numba runs more than one thread here, else
    ``kernel`` itself.  Both give the same bytes.
    """
    twin = getattr(kernel, "parallel", None)
    if twin is None or rows < PARALLEL_MIN_ROWS:
        return kernel
    import numba

    return twin if numba.get_num_threads() > 1 else kernel


def image_parts(pixels: int) -> int:
    """Python threads for a stage that splits an image's lines among them (SciPy's filters release
    the GIL; each line is filtered whole by one thread, so the bytes do not depend on the count):
    Numba's thread count from :data:`PARALLEL_MIN_ROWS` pixels on, as :func:`threaded`, else 1.
    """
    if pixels < PARALLEL_MIN_ROWS:
        return 1
    import numba

    return numba.get_num_threads()


def run_parts(task: Callable[[int], Any], parts: int) -> None:
    """``task(0)``, ..., ``task(parts - 1)``, on ``parts`` threads when ``parts > 1``; an exception
    of any task is raised here.
    """
    if parts <= 1:
        task(0)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=parts) as pool:
        for _ in pool.map(task, range(parts)):
            pass


def run_slabs(image: Any, out: Any, axis: int, parts: int, one_pass: Callable[[Any, Any], object]) -> None:
    """``one_pass(image_slab, out_slab)`` over ``parts`` slabs of ``image`` (2-D or more) and ``out``
    cut across the first two axes' other one than ``axis``, so every line along ``axis`` lies whole
    in one slab, on ``parts`` threads (:func:`run_parts`); ``out`` may be ``image`` itself.
    """
    import numpy as np

    other = 1 - axis
    edges = np.linspace(0, image.shape[other], parts + 1).astype(np.int64)

    def task(k: int) -> None:
        slab = [slice(None), slice(None)]
        slab[other] = slice(int(edges[k]), int(edges[k + 1]))
        one_pass(image[tuple(slab)], out[tuple(slab)])

    run_parts(task, parts)


def work_rows(picked: Any, kernel: Any) -> int:
    """Rows of a per-thread work array for ``picked``, what :func:`threaded` returned for
    ``kernel``: Numba's thread count for the parallel twin, 1 for the serial kernel.
    """
    if picked is kernel:
        return 1
    import numba

    return numba.get_num_threads()


@contextmanager
def parallel_from(rows: int) -> Iterator[None]:
    """Within the block, :func:`threaded` picks the parallel twins from ``rows`` rows of work on
    (the warm-up compiles them on a small image; tests run them on small inputs).
    """
    global PARALLEL_MIN_ROWS
    previous, PARALLEL_MIN_ROWS = PARALLEL_MIN_ROWS, int(rows)
    try:
        yield
    finally:
        PARALLEL_MIN_ROWS = previous


def available_cores() -> int:
    """CPUs this process may run on (affinity and cgroup aware where the OS says so)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def image_threads(requested: int | None = None) -> int:
    """Numba threads for one image: ``requested`` (>= 1), or every available core when None.

    ValueError (one line) for a count below 1.
    """
    if requested is None:
        return available_cores()
    if isinstance(requested, bool) or int(requested) != requested or requested < 1:
        raise ValueError(f"--threads must be a whole number >= 1, got {requested!r}")
    return int(requested)


def thread_environment(numba_threads: int | None = None) -> dict[str, str]:
    """Environment variables pinning BLAS/OpenMP to :data:`BLAS_THREADS` (and Numba to ``numba_threads``).

    For a process that has not imported NumPy yet; ``numba_threads=None`` leaves Numba's
    count alone.
    """
    env = {name: str(BLAS_THREADS) for name in THREAD_VARIABLES}
    if numba_threads is not None:
        env["NUMBA_NUM_THREADS"] = str(max(1, int(numba_threads)))
    return env


def pin_process_threads(numba_threads: int | None = None, *, override: bool = False) -> None:
    """Write :func:`thread_environment` into ``os.environ`` of this process.

    ``override=False`` keeps a value the user set (the command line honours an explicit
    ``OMP_NUM_THREADS``); a worker passes ``override=True``. When Numba is already loaded its
    count is lowered at run time too.
    """
    for name, value in thread_environment(numba_threads).items():
        if override:
            os.environ[name] = value
        else:
            os.environ.setdefault(name, value)
    if numba_threads is not None and "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(max(1, int(numba_threads)), numba.config.NUMBA_NUM_THREADS))


@contextmanager
def limit_threads(blas_threads: int = BLAS_THREADS, numba_threads: int | None = None) -> Iterator[None]:
    """Within the block, BLAS/OpenMP use ``blas_threads`` and Numba ``numba_threads`` threads.

    Uses threadpoolctl (works after NumPy has loaded); the previous limits are restored on exit.
    ``numba_threads=None`` leaves Numba's count alone.
    """
    from threadpoolctl import threadpool_limits

    previous = None
    if numba_threads is not None:
        import numba

        previous = numba.get_num_threads()
        numba.set_num_threads(min(max(1, int(numba_threads)), numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=blas_threads):
            yield
    finally:
        if previous is not None:
            import numba

            numba.set_num_threads(previous)
