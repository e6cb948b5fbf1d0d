"""The local backend: a pebble ``ProcessPool`` of spawned worker processes.

pebble gives each task its own hard timeout (the worker is stopped and
replaced, the other tasks carry on), attributes a dead worker to the one task
it was running (``ProcessExpired``), and recycles workers after
``--recycle-after`` tasks each.  What stays here: the start queue (each
worker announces ``(task id, pid, time)`` so a killed or dead worker can be
named in the manifest), draining and rebuilding the pool after a soft
timeout (an interrupted worker is not trusted with more files), and a
watchdog for a task whose worker is gone but which pebble never resolved.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import time
from concurrent.futures import FIRST_COMPLETED
from concurrent.futures import wait as futures_wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from pebble import ProcessExpired, ProcessFuture, ProcessPool

from fastshade.run.backend import CRASH_DETAIL, Outcome, PlannedTask
from fastshade.run.config import RunConfig
from fastshade.run.tasks import WorkerProbe
from fastshade.run.worker import hard_time_limit, run_task, worker_init, worker_probe

__all__ = ["ORPHAN_GRACE", "LocalPool"]

log = logging.getLogger("fastshade.run")

ORPHAN_GRACE = 5.0
"""Seconds a task may stay unresolved after its worker process is gone before it counts as a crash."""

@dataclass
class _Start:
    """A task running in a worker: its pid, its start (driver clock) and when its worker was seen gone."""

    pid: int
    t0: float
    gone_since: float | None = None


def _worker_name(pid: int | None) -> str | None:
    """Name a local worker as the manifest does (``host:pid``), or None when its pid is unknown."""
    return f"{socket.gethostname()}:{pid}" if pid else None


def _raised_by_task(err: BaseException) -> bool:
    """Tell whether an exception came from the task's own code (pebble attaches the remote traceback)."""
    return hasattr(err, "traceback")


class LocalPool:
    """``pebble.ProcessPool`` (spawn) with crash attribution, hard timeouts and recycling.

    Implements :class:`fastshade.run.backend.Backend`.  ``wait`` returns
    ``done`` (the worker's report), ``crash`` (the task's worker died: a
    suspect for the driver), ``timeout`` (stopped by the hard timeout) or
    ``error`` outcomes.
    """

    name = "local"

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.workers = cfg.workers
        self.window = 2 * cfg.workers
        self._ctx = multiprocessing.get_context("spawn")
        self._starts = self._ctx.SimpleQueue()
        self._pool: ProcessPool | None = None
        self._futures: dict[ProcessFuture[Any], PlannedTask] = {}
        self._started: dict[int, _Start] = {}
        self._recycle = False
        self._broken = False
        self._limit = hard_time_limit(cfg.timeout)

    def _live_pool(self) -> ProcessPool:
        """Return the running pool; start a new one when there is none or the old one broke."""
        if self._pool is not None and not self._pool.active:
            self._close_pool(kill=True)
        if self._pool is None:
            self._pool = ProcessPool(
                max_workers=self.workers, max_tasks=self.cfg.recycle_after, initializer=worker_init,
                initargs=(self.cfg.threads_per_worker, self._starts, os.getpid(), self.cfg.options,
                          self.cfg.sample is not None),
                context=self._ctx)
        return self._pool

    def probe(self) -> list[WorkerProbe]:
        """Start every worker now (in parallel) and check it; returns one report per probe."""
        pool = self._live_pool()
        futs = [pool.schedule(worker_probe, (self.cfg.in_root, self.cfg.out_root)) for _ in range(self.workers)]
        return [fut.result(timeout=300) for fut in futs]

    def in_flight(self) -> int:
        """Count the tasks submitted and not yet returned."""
        return len(self._futures)

    def capacity(self) -> int:
        """Return how many more tasks may be submitted now (0 while draining)."""
        if self._recycle and self._pool is not None:
            if self._futures:
                return 0  # draining before the recycle
            self._close_pool()
            self._recycle = False
        return self.window - len(self._futures)

    def submit(self, task: PlannedTask) -> None:
        """Start one task."""
        fut = self._live_pool().schedule(run_task, (task.wire(),), timeout=self._limit)
        self._futures[fut] = task

    def _drain_starts(self) -> None:
        while not self._starts.empty():
            task_id, pid, t0 = self._starts.get()
            self._started[task_id] = _Start(pid, t0)

    def wait(self, timeout: float) -> list[Outcome]:
        """Return the outcomes that arrived within about ``timeout`` seconds (possibly none)."""
        self._drain_starts()
        if not self._futures:
            time.sleep(min(timeout, 0.05))
            return []
        done, _ = futures_wait(list(self._futures), timeout=timeout, return_when=FIRST_COMPLETED)
        self._drain_starts()
        out = [self._outcome(fut, self._futures.pop(fut)) for fut in done]
        if self._broken:  # every other task went with the pool
            out += [Outcome(task, "crash", detail="worker pool broke") for task in self._futures.values()]
            self._close_pool(kill=True)
            self._futures.clear()
            self._started.clear()
            self._broken = False
        return out + self._orphans()

    def _outcome(self, fut: ProcessFuture[Any], task: PlannedTask) -> Outcome:
        start = self._started.pop(task.id, None)
        pid = start.pid if start else None
        try:
            report = fut.result()
        except ProcessExpired as err:  # an OSError: before the generic handlers
            return Outcome(task, "crash", detail=CRASH_DETAIL, worker=_worker_name(err.pid or pid))
        except BrokenProcessPool:
            self._broken = True
            return Outcome(task, "crash", detail="worker pool broke", worker=_worker_name(pid))
        except Exception as err:  # noqa: BLE001 (e.g. an unpicklable result: a bug, keep going)
            if isinstance(err, TimeoutError) and not _raised_by_task(err):  # pebble stopped the worker
                elapsed = time.time() - start.t0 if start else float(self._limit or 0.0)
                log.warning("%s: still running %.0f s after --timeout-per-file; killing worker %s",
                            task.rel, elapsed - (self.cfg.timeout or 0.0), pid or "?")
                return Outcome(task, "timeout", seconds=elapsed, worker=_worker_name(pid))
            return Outcome(task, "error", detail=f"{type(err).__name__}: {err}", worker=_worker_name(pid))
        if report.reason == "timeout":
            self._recycle = True  # an interrupted worker is not trusted with more files
        return Outcome(task, "done", report=report)

    def _orphans(self) -> list[Outcome]:
        """Return tasks whose worker process is gone but that pebble never resolved, as crash suspects.

        pebble can lose such a task when a worker dies between announcing a
        task and the pool reading that announcement, or when a worker stopped
        for another task's timeout had already taken this one.
        """
        alive = {proc.pid for proc in multiprocessing.active_children()}
        now = time.monotonic()
        out = []
        for fut, task in list(self._futures.items()):
            start = self._started.get(task.id)
            if start is None or fut.done() or start.pid in alive:
                continue
            start.gone_since = start.gone_since or now
            if now - start.gone_since > ORPHAN_GRACE:
                self._futures.pop(fut)
                fut.cancel()
                del self._started[task.id]
                out.append(Outcome(task, "crash", detail=CRASH_DETAIL, worker=_worker_name(start.pid)))
        return out

    def _close_pool(self, kill: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            self._drain_starts()
            busy = {start.pid for start in self._started.values()}
            for proc in multiprocessing.active_children():  # busy workers: killed now, not after pebble's grace
                if proc.pid in busy:
                    proc.kill()
            pool.stop()
        else:
            pool.close()
        pool.join()

    def close(self, kill: bool = False) -> None:
        """Stop the workers (``kill``: now, abandoning running tasks); idempotent."""
        self._futures.clear()
        self._close_pool(kill=kill)
        self._started.clear()
