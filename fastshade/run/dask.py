"""dask.distributed backend of ``fastshade run --scheduler``.

The driver loop, planning, manifest and guarantees are those of
:mod:`fastshade.run`; this module only replaces the local process pool
(:mod:`fastshade.run.pool`) with another :class:`fastshade.run.backend.Backend`:

* ``--scheduler local`` starts a ``LocalCluster`` of ``--workers`` processes
  with one thread each; ``--scheduler tcp://HOST:PORT`` connects to a running
  scheduler.  Every worker must see IN and OUT at the same paths (checked at
  start with ``client.run``) and run the same ``fastshade.__version__``
  (a mismatch is a usage error, exit 2).
* Paths are submitted, never pixels: each task reads its input and writes its
  output on the shared filesystem and returns the small manifest record.
* The window of tasks in flight is bounded (2 x the cluster's threads) and fed
  through ``distributed.as_completed`` with ``.add()``.
* ``NUMBA_NUM_THREADS`` (which the Nanny does not set) and the BLAS thread
  counts are set on every worker by a worker plugin, also on workers that
  join or restart later; the local cluster also gets them in its spawn
  environment.
* A task whose worker dies comes back as ``KilledWorker``: a suspect, re-run
  alone like on the local backend; only a file that kills a worker when it
  runs alone is ``failed:crashed``.  The local cluster is created with
  ``distributed.scheduler.allowed-failures = 0`` because that isolation
  replaces the scheduler's retries.
* ``--timeout-per-file``: the soft limit raises an exception in the task's
  thread between bytecodes; a task still running a grace period later (stuck
  in one long C call) is given up and its worker restarted through its Nanny
  (``client.restart_workers``); start times come from worker events (topic
  ``fastshade-start``) stamped with the driver's clock.

Import errors are turned into a usage error naming the missing extra
(``pip install 'fastshade[distributed]'``).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from fastshade.run.backend import Outcome, PlannedTask
from fastshade.run.config import RunConfig, UsageError
from fastshade.run.tasks import WorkerProbe
from fastshade.run.worker import (
    apply_worker_environment,
    hard_time_limit,
    run_task,
    worker_probe,
)
from fastshade.threads import thread_environment

try:
    import dask
    from distributed import Client, LocalCluster, as_completed
    from distributed.diagnostics.plugin import WorkerPlugin
    from distributed.scheduler import KilledWorker
except ImportError as _err:  # pragma: no cover (the extra is installed in the test environment)
    raise UsageError(
        f"--scheduler needs dask.distributed ({_err}); install it with: pip install 'fastshade[distributed]'"
    ) from None

__all__ = ["RESTART_TIMEOUT", "DaskBackend", "ThreadLimitPlugin"]

log = logging.getLogger("fastshade.run")

RESTART_TIMEOUT = 30.0
"""Seconds a hard-timeout worker restart may block the driver (Distributed's default is 4x the
client timeout, 120 s); past it the task is abandoned and the run goes on with the others."""


class ThreadLimitPlugin(WorkerPlugin):
    """Set the worker thread environment (Numba and BLAS) on every Dask worker, restarted ones included.

    With ``ignore_sigint`` (our own ``--scheduler local`` cluster, whose
    workers share the driver's terminal) the worker also ignores SIGINT, so a
    Ctrl-C reaches only the driver, which lets the files in progress finish.
    """

    name = "fastshade-thread-limits"

    def __init__(self, threads: int, ignore_sigint: bool = False) -> None:
        self.threads = int(threads)
        self.ignore_sigint = bool(ignore_sigint)

    def setup(self, worker: Any) -> None:
        """Run on each worker when it starts (or restarts)."""
        apply_worker_environment(self.threads)
        if self.ignore_sigint and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in this (main) thread while child processes are spawned."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class DaskBackend:
    """A :class:`fastshade.run.backend.Backend` on a Dask cluster (local or remote)."""

    name = "dask"

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.cluster: Any = None
        if cfg.scheduler == "local":
            env = thread_environment(cfg.threads_per_worker)
            with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                                  "distributed.nanny.pre-spawn-environ": dict(env)}), _sigint_ignored():
                # nannies and workers inherit the ignored SIGINT (it survives exec, and Python
                # keeps an ignored SIGINT), so a terminal Ctrl-C reaches only this driver, which
                # lets the files in progress finish, as with the local process pool
                self.cluster = LocalCluster(n_workers=cfg.workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.CRITICAL)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(cfg.scheduler, timeout="30s")
            except Exception as err:  # noqa: BLE001 (OSError, TimeoutError, ValueError for a bad address)
                raise UsageError(f"cannot connect to the Dask scheduler at {cfg.scheduler}: {err}") from None
        try:
            self.client.wait_for_workers(1, timeout=120)
        except Exception as err:  # noqa: BLE001
            self.close()
            raise UsageError(f"the Dask cluster at {cfg.scheduler} has no workers ({err})") from None
        self.client.register_plugin(ThreadLimitPlugin(cfg.threads_per_worker,
                                                      ignore_sigint=cfg.scheduler == "local"))
        threads = sum(self.client.nthreads().values())
        self.window = 2 * max(1, threads)
        self._ac = as_completed(with_results=False)
        self._futures: dict[str, tuple[Any, PlannedTask]] = {}
        self._started: dict[tuple[int, int], tuple[str, int, float]] = {}
        self._limit = hard_time_limit(cfg.timeout)
        if cfg.timeout:
            self.client.subscribe_topic("fastshade-start", self._on_start)

    def _on_start(self, event: Any) -> None:
        """Note that a task started on a worker (runs in the client's event loop; the driver's clock)."""
        msg = event[1] if isinstance(event, tuple) else event
        self._started[(msg["id"], msg["attempt"])] = (msg["worker"], msg["pid"], time.time())

    def probe(self) -> list[WorkerProbe]:
        """Run the start-up probe on every worker of the cluster."""
        reports = self.client.run(worker_probe, self.cfg.in_root, self.cfg.out_root)
        return list(reports.values())

    def in_flight(self) -> int:
        """Count the tasks submitted and not yet returned."""
        return len(self._futures)

    def capacity(self) -> int:
        """Return how many more tasks may be submitted now (0 while draining)."""
        return self.window - len(self._futures)

    def submit(self, task: PlannedTask) -> None:
        """Start one task."""
        task.attempt += 1
        key = f"fastshade-{self.cfg.run_id}-{task.id}-{task.attempt}"
        fut = self.client.submit(run_task, task.wire(report="dask"), key=key, pure=False, retries=0)
        self._futures[fut.key] = (fut, task)
        self._ac.add(fut)

    def _hard_timeouts(self) -> list[Outcome]:
        """Tasks past --timeout-per-file plus a grace period: give up on them and restart their worker."""
        if not self._limit or not self.cfg.timeout:
            return []
        now = time.time()
        out = []
        for key, (fut, task) in list(self._futures.items()):
            info = self._started.get((task.id, task.attempt))
            if info is None or now - info[2] <= self._limit:
                continue
            address, pid, t0 = info
            self._futures.pop(key)
            fut.release()
            log.warning("%s: still running %.0f s after --timeout-per-file; restarting worker %s",
                        task.rel, now - t0 - self.cfg.timeout, address)
            try:
                self.client.restart_workers([address], timeout=RESTART_TIMEOUT)
            except Exception as err:  # noqa: BLE001 (no Nanny: the task is abandoned, not stopped)
                log.warning("could not restart worker %s (%s); its task is abandoned", address, err)
            out.append(Outcome(task, "timeout", seconds=now - t0, worker=f"{address} (pid {pid})"))
        return out

    def wait(self, timeout: float) -> list[Outcome]:
        """Return the outcomes that arrived within about ``timeout`` seconds (possibly none)."""
        deadline = time.monotonic() + timeout
        while not self._ac.has_ready():
            if time.monotonic() >= deadline:
                return self._hard_timeouts()
            time.sleep(0.02)
        out: list[Outcome] = []
        for fut in self._ac.next_batch(block=False):
            entry = self._futures.pop(fut.key, None)
            if entry is None:
                continue
            _, task = entry
            if fut.status == "finished":
                out.append(Outcome(task, "done", report=fut.result()))
            elif fut.status == "cancelled":
                out.append(Outcome(task, "requeue", detail="cancelled"))
            else:
                exc = fut.exception()
                if isinstance(exc, KilledWorker):
                    text = str(exc).split(". ", 1)[0] if str(exc) else "worker died"
                    out.append(Outcome(task, "crash", detail=text))
                else:
                    out.append(Outcome(task, "error", detail=f"{type(exc).__name__}: {exc}"))
            self._started.pop((task.id, task.attempt), None)
            fut.release()
        return out + self._hard_timeouts()

    def close(self, kill: bool = False) -> None:
        """Stop the workers (``kill``: now, abandoning running tasks); idempotent."""
        futures = [fut for fut, _ in self._futures.values()] if hasattr(self, "_futures") else []
        self._futures = {}
        client = getattr(self, "client", None)
        if client is not None:
            if futures:
                try:
                    client.cancel(futures)
                except Exception:  # noqa: BLE001 (shutting down anyway)
                    pass
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
            self.client = None
        if self.cluster is not None:
            try:
                self.cluster.close()
            except Exception:  # noqa: BLE001
                pass
            self.cluster = None
