"""Worker side: thread environment, process set-up, timeouts, test hooks and the task function.

:func:`run_task` is what every worker (local pool or Dask) runs for one
:class:`~fastshade.run.tasks.FileTask`: it calls :func:`fastshade.job.shade_file`
under the soft timeout and returns a :class:`~fastshade.run.tasks.WorkerReport`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastshade.job import load_sample_rgb, one_line, shade_file
from fastshade.options import ShadeOptions
from fastshade.run.config import SampleRef
from fastshade.run.manifest import sha256_file
from fastshade.run.tasks import FileTask, WorkerProbe, WorkerReport
from fastshade.threads import pin_process_threads, thread_environment

__all__ = [
    "FileTimeout",
    "apply_worker_environment",
    "hard_time_limit",
    "run_task",
    "soft_timeout",
    "spawn_environment",
    "worker_init",
    "worker_probe",
]

_TEST_CRASH_ENV = "FASTSHADE_TEST_CRASH_ON"
_TEST_DELAY_ENV = "FASTSHADE_TEST_DELAY"
_TEST_SLEEP_ENV = "FASTSHADE_TEST_SLEEP_ON"
_TEST_HANG_ENV = "FASTSHADE_TEST_HANG_ON"
_TEST_MEMORY_ENV = "FASTSHADE_TEST_MEMORY_ON"
_TEST_SAMPLE_LOG_ENV = "FASTSHADE_TEST_SAMPLE_LOG"


# ======================================================================================
# Thread environment
# ======================================================================================


@contextlib.contextmanager
def spawn_environment(threads: int) -> Iterator[None]:
    """Export the worker thread environment while workers may be spawned (restored after).

    Spawned workers import the fastshade package (NumPy, Numba) before their
    initializer runs, so the thread counts reach them through the spawn
    environment; :func:`apply_worker_environment` only repeats them.
    """
    env = thread_environment(threads)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class _WorkerState:
    """Per-process state of a worker."""

    tasks: int = 0
    starts: Any = None  # local pool: a SimpleQueue of (task id, pid, start time) for the driver
    env_threads: int | None = None
    samples: dict[SampleRef, Any] = field(default_factory=dict)
    warm: set[str] = field(default_factory=set)
    startup: float | None = None  # warm-up seconds not yet reported


_STATE = _WorkerState()


def apply_worker_environment(threads: int) -> None:
    """Set the thread environment in this process (:func:`fastshade.threads.pin_process_threads`).

    BLAS/OpenMP stay at one thread whatever the worker count, so the outputs are identical for
    ``-j 1`` and ``-j N``; Numba gets ``threads``. Workers x threads <= cores avoids oversubscription.
    """
    if _STATE.env_threads == threads:
        return
    pin_process_threads(threads, override=True)
    _STATE.env_threads = threads


# ======================================================================================
# Process set-up and probe
# ======================================================================================


def _die_with_parent(parent_pid: int) -> None:
    """Linux: let the kernel kill this worker when the driver dies (no orphans writing files)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except Exception:  # noqa: BLE001 (best effort)
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


def worker_init(threads: int, starts: Any, parent_pid: int, options: ShadeOptions, cross: bool) -> None:
    """Initialise a local-pool worker process, once, before its first task.

    Sets the thread environment, ties the worker's life to the driver's,
    keeps the queue on which it announces task starts and warms the shader
    up (imports, JIT cache) so that no file's clock pays for it.
    """
    apply_worker_environment(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver owns Ctrl-C
    _die_with_parent(parent_pid)
    _STATE.starts = starts
    _warm_up(options, cross)


def worker_probe(in_root: str, out_root: str) -> WorkerProbe:
    """Report this worker's start-up state: version, and whether it sees IN and OUT."""
    import fastshade

    return WorkerProbe(
        version=fastshade.__version__,
        host=socket.gethostname(),
        pid=os.getpid(),
        read_in=os.path.isdir(in_root) and os.access(in_root, os.R_OK | os.X_OK),
        write_out=os.path.isdir(out_root) and os.access(out_root, os.W_OK | os.X_OK),
        numba_threads=os.environ.get("NUMBA_NUM_THREADS"),
    )


def _test_hooks(path: str) -> None:
    """Test-only fault injection (environment variables, read in the worker).

    ``FASTSHADE_TEST_CRASH_ON=<substring>``: ``os._exit(1)`` on a file whose
    name contains it (stands in for a segfault or an OOM kill).
    ``FASTSHADE_TEST_SLEEP_ON``: sleep (interruptible: exercises the soft
    timeout).  ``FASTSHADE_TEST_HANG_ON``: sleep with SIGALRM blocked
    (exercises the driver's hard kill).  ``FASTSHADE_TEST_DELAY=<seconds>``:
    sleep that long on every file (gives interruption tests a run to stop).
    """
    delay = os.environ.get(_TEST_DELAY_ENV)
    if delay:
        time.sleep(float(delay))
    name = os.path.basename(path)
    crash = os.environ.get(_TEST_CRASH_ENV)
    if crash and crash in name:
        os._exit(1)
    sleep_on = os.environ.get(_TEST_SLEEP_ENV)
    if sleep_on and sleep_on in name:
        time.sleep(600)
    hang = os.environ.get(_TEST_HANG_ENV)
    if hang and hang in name:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)


@contextlib.contextmanager
def _test_out_of_memory(path: str) -> Iterator[None]:
    """Test-only: ``FASTSHADE_TEST_MEMORY_ON=<substring>`` makes shading run out of memory.

    On a file whose name contains it, the shader called by
    :func:`fastshade.job.shade_file` is replaced, for this file only, by one
    whose first allocation cannot be satisfied (NumPy's own ``MemoryError``),
    so the job's out-of-memory handling runs as it would for a real one.
    """
    marker = os.environ.get(_TEST_MEMORY_ENV)
    if not marker or marker not in os.path.basename(path):
        yield
        return
    import numpy as np

    import fastshade.job as job_module

    real = job_module.shade_arrays

    def out_of_memory(*args: Any, **kwargs: Any) -> Any:
        np.empty(1 << 60, dtype=np.uint8)  # 1 EiB, beyond any address space: refused at once
        raise MemoryError("test hook")  # (not reached)

    job_module.shade_arrays = out_of_memory  # type: ignore[assignment]
    try:
        yield
    finally:
        job_module.shade_arrays = real


def _test_log_sample_read(path: str) -> None:
    """Test-only: ``FASTSHADE_TEST_SAMPLE_LOG=<file>``: append ``<pid> <sample>`` each time a worker reads it."""
    log_path = os.environ.get(_TEST_SAMPLE_LOG_ENV)
    if log_path:
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {path}\n")


# ======================================================================================
# Timeouts
# ======================================================================================


class FileTimeout(BaseException):
    """Raised inside a worker when a file exceeds --timeout-per-file.

    A ``BaseException`` so that no ``except Exception`` in library code
    swallows it.
    """


def hard_time_limit(timeout: float | None) -> float | None:
    """Return the seconds after which a backend kills a task's worker: the soft limit plus a grace period."""
    if not timeout:
        return None
    return timeout + max(5.0, 0.5 * timeout)


@contextlib.contextmanager
def soft_timeout(seconds: float | None) -> Iterator[None]:
    """Raise :class:`FileTimeout` in the current thread after ``seconds``.

    Main thread (process-pool workers): ``SIGALRM``.  Other threads (Dask
    worker threads): an asynchronous exception.  Both are delivered between
    Python bytecodes, so a long call into C ends first (and the asynchronous
    exception does not interrupt ``time.sleep``); the backend's hard timeout
    (kill or restart the worker) covers those cases.
    """
    if not seconds or seconds <= 0:
        yield
        return
    state = {"active": True}
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        def on_alarm(signum: int, frame: Any) -> None:
            if state["active"]:
                raise FileTimeout()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, float(seconds))
        try:
            yield
        finally:
            state["active"] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    ident = threading.get_ident()
    lock = threading.Lock()

    def fire() -> None:
        with lock:
            if state["active"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(FileTimeout))

    timer = threading.Timer(float(seconds), fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["active"] = False
        timer.cancel()
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)


# ======================================================================================
# The task
# ======================================================================================


def _cached_sample(sample: SampleRef | None, max_pixels: int | None) -> Any:
    """Return the cross-mode sample, read once per worker process (keyed by path and fingerprint)."""
    if sample is None:
        return None
    cache = _STATE.samples
    if sample not in cache:
        cache.clear()
        cache[sample] = load_sample_rgb(sample.path, max_pixels)
        _test_log_sample_read(sample.path)
    return cache[sample]


def _warm_up(options: ShadeOptions, cross: bool) -> None:
    """Import the shader and compile (or load) its kernels once per worker process.

    Runs before any file's clock starts, so --timeout-per-file never fires
    inside an import or a Numba compilation (interrupting those can leave the
    process unusable), and the per-file cost seen in the manifest is the
    steady-state one.  The seconds spent are reported with the next file.
    """
    key = options.digest() + ("x" if cross else "")
    if key in _STATE.warm:
        return
    t0 = time.perf_counter()
    try:
        from fastshade.demo import demo_image
        from fastshade.styles import shade_arrays

        small = demo_image(64, 64)
        shade_arrays(small, small if cross else None, options, analyses=False)  # (the job's call)
    except Exception:  # noqa: BLE001 (a real file will report whatever is wrong)
        pass
    _STATE.warm.add(key)
    _STATE.startup = round(time.perf_counter() - t0, 6)


def _dask_report_start(task: FileTask) -> None:
    """On a Dask worker: publish the task's start (topic ``fastshade-start``) for the driver's hard timeout."""
    try:
        from distributed import get_worker

        worker = get_worker()
        worker.log_event("fastshade-start", {"id": task.id, "attempt": task.attempt,
                                             "worker": worker.address, "pid": os.getpid()})
    except Exception:  # noqa: BLE001 (not on a Dask worker, or an old distributed: soft timeout only)
        pass


def _run_file(task: FileTask) -> tuple[WorkerReport, str | None]:
    """Do the file's work under the soft timeout: (report without timings, sha256 or None)."""
    sha = None
    try:
        with soft_timeout(task.timeout):
            _test_hooks(task.in_path)
            if task.hash:
                sha = sha256_file(task.in_path)
            try:
                sample = _cached_sample(task.sample, task.max_pixels)
            except Exception as err:  # noqa: BLE001
                return WorkerReport("failed:sample_error", "sample_error",
                                    one_line(f"cannot read the sample: {err}")), sha
            with _test_out_of_memory(task.in_path):
                job = shade_file(task.in_path, task.out_path, sample, task.options, task.format, task.depth,
                                 max_pixels=task.max_pixels, frames=task.frames, exif=task.exif,
                                 expect=task.expect, save_passes=task.save_passes,
                                 layers=task.layers, strict=task.strict, check_memory=task.check_memory)
            report = WorkerReport(job.status, job.reason, job.message, job=job)
    except FileTimeout:
        report = WorkerReport("failed:timeout", "timeout",
                              f"exceeded --timeout-per-file {task.timeout:g} s (soft limit)")
    except FileNotFoundError:
        report = WorkerReport("failed:vanished", "vanished", "input vanished")
    except PermissionError as err:
        report = WorkerReport("failed:permission", "permission", one_line(str(err)))
    return report, sha


def run_task(task: FileTask) -> WorkerReport:
    """Run one planned file in a worker and report (the driver completes the manifest record)."""
    apply_worker_environment(task.threads)
    _warm_up(task.options, task.sample is not None)
    startup, _STATE.startup = _STATE.startup, None
    if _STATE.starts is not None:  # local pool: tell the driver (hard timeout, crash attribution)
        _STATE.starts.put((task.id, os.getpid(), time.time()))
    elif task.report == "dask":
        _dask_report_start(task)
    _STATE.tasks += 1
    t0, cpu0 = time.perf_counter(), time.process_time()
    report, sha = _run_file(task)
    report.seconds = round(time.perf_counter() - t0, 6)
    report.cpu_seconds = round(time.process_time() - cpu0, 6)
    report.worker = f"{socket.gethostname()}:{os.getpid()}"
    report.worker_seq = _STATE.tasks
    report.worker_startup_seconds = startup
    report.sha256 = sha
    return report
