"""The driver's interface to an execution backend (the local pool, Dask).

The driver (:mod:`fastshade.run.driver`) only talks to a :class:`Backend`:
it submits :class:`PlannedTask` objects and gets :class:`Outcome` objects
back.  Backends import this module and :mod:`fastshade.run.worker`, never
the driver.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, Protocol

from fastshade.run.manifest import ManifestRecord
from fastshade.run.tasks import FileTask, WorkerProbe, WorkerReport

__all__ = ["CRASH_DETAIL", "Backend", "Outcome", "OutcomeKind", "PlannedTask"]

OutcomeKind = Literal["done", "crash", "timeout", "requeue", "error"]

CRASH_DETAIL = "its worker process died without a result"
"""Detail of a ``crash`` outcome when the backend knows no more than that."""


@dataclass
class PlannedTask:
    """A file the driver hands to a backend.

    ``job`` is what the worker gets; ``rel``/``out_rel`` are the input and
    output paths relative to IN and OUT; ``record`` is the planned manifest
    record, kept by the driver and completed with the outcome.
    """

    job: FileTask
    rel: str
    out_rel: str
    record: ManifestRecord
    attempt: int = 0

    @property
    def id(self) -> int:
        """Return the task's number in this run (unique, in planning order)."""
        return self.job.id

    def wire(self, report: str | None = None) -> FileTask:
        """Return the :class:`FileTask` to send for the current attempt (``report="dask"``: publish the start)."""
        return dataclasses.replace(self.job, attempt=self.attempt, report=report)


@dataclass
class Outcome:
    """What became of one submitted task.

    ``done``: the worker answered (``report``).  ``crash``: its worker died
    while the task was in flight; the driver treats it as a suspect and runs
    it again alone.  ``timeout``: killed by the hard timeout after
    ``seconds``.  ``requeue``: lost for a reason that is not its own; run it
    again normally.  ``error``: anything else (``detail``).  ``worker`` names
    the worker when the backend knows it.
    """

    task: PlannedTask
    kind: OutcomeKind
    report: WorkerReport | None = None
    detail: str = ""
    seconds: float | None = None
    worker: str | None = None


class Backend(Protocol):
    """Runs file tasks somewhere; the driver keeps at most ``window`` of them in flight."""

    name: str
    window: int

    def probe(self) -> list[WorkerProbe]:
        """Start the workers and return one start-up report per worker (raises on failure)."""
        ...

    def in_flight(self) -> int:
        """Tasks submitted and not yet returned by :meth:`wait`."""
        ...

    def capacity(self) -> int:
        """How many more tasks may be submitted now (0 while draining)."""
        ...

    def submit(self, task: PlannedTask) -> None:
        """Start one task."""
        ...

    def wait(self, timeout: float) -> list[Outcome]:
        """Outcomes that arrived within about ``timeout`` seconds (possibly none)."""
        ...

    def close(self, kill: bool = False) -> None:
        """Stop the workers (``kill``: now, abandoning running tasks); idempotent."""
        ...
