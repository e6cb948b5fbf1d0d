"""What crosses the process boundary: a file task to a worker, its report back, a worker's probe.

All three are plain dataclasses, pickled by the local pool and by Dask; a
worker never sees the driver's planned manifest record (see
:class:`fastshade.run.backend.PlannedTask`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastshade.job import JobResult
from fastshade.options import ShadeOptions
from fastshade.run.config import SampleRef

__all__ = ["FileTask", "WorkerProbe", "WorkerReport"]


@dataclass(frozen=True)
class FileTask:
    """One planned file, as a worker needs it.

    ``expect`` is the input's (size, mtime_ns) seen at planning; ``attempt``
    counts submissions (Dask keys and start events); ``report`` is ``"dask"``
    when the worker should publish its start as a Dask event; ``strict`` fails a target that is
    not line art and ``check_memory`` (a ``max_pixels`` resolved from the default limit) checks the
    memory available before a big pixel level iterates (:func:`fastshade.job.shade_file`).
    """

    id: int
    in_path: str
    out_path: str
    options: ShadeOptions
    sample: SampleRef | None
    format: str
    depth: int | None
    max_pixels: int | None
    frames: str
    exif: str
    timeout: float | None
    hash: bool
    threads: int
    expect: tuple[int | None, int | None]
    attempt: int = 0
    report: str | None = None
    save_passes: bool = False
    layers: bool = False
    strict: bool = False
    check_memory: bool = False


@dataclass
class WorkerReport:
    """A worker's answer for one file task.

    ``job`` is the result of :func:`fastshade.job.shade_file` when it ran to
    the end (None after a soft timeout, a sample error, a vanished or
    unreadable input); ``status``/``reason``/``message`` are the outcome
    either way.  ``seconds``/``cpu_seconds`` time the whole task (hashing
    included), ``worker`` is ``host:pid``, ``worker_seq`` the task's number
    in that process, ``worker_startup_seconds`` the warm-up paid before the
    worker's first file (once per process), ``sha256`` the input's hash with
    ``--hash``.
    """

    status: str
    reason: str | None
    message: str
    job: JobResult | None = None
    seconds: float = 0.0
    cpu_seconds: float | None = None
    worker: str | None = None
    worker_seq: int | None = None
    worker_startup_seconds: float | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class WorkerProbe:
    """A worker's start-up report: its fastshade version and whether it sees IN and OUT."""

    version: str
    host: str
    pid: int
    read_in: bool
    write_out: bool
    numba_threads: str | None
