"""The driver: feeds the plan to a backend, isolates crashes, writes the manifest, handles Ctrl-C.

:func:`run` is one whole ``fastshade run`` after its configuration was
validated; :func:`drive` is its loop.  The driver talks to workers only
through a :class:`fastshade.run.backend.Backend`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import TextIO

from tqdm.contrib.logging import logging_redirect_tqdm

from fastshade.io import sweep_stale_temps
from fastshade.job import is_written, one_line
from fastshade.run.backend import Backend, Outcome, PlannedTask
from fastshade.run.config import RunConfig, UsageError
from fastshade.run.manifest import ManifestRecord, ManifestWriter, Prior, load_manifest_index
from fastshade.run.memfit import fit_workers_to_memory
from fastshade.run.plan import Planner, restricted_formats
from fastshade.run.progress import Progress
from fastshade.run.worker import spawn_environment
from fastshade.warmup import compile_notice

__all__ = ["ISOLATION_NOTE", "MAX_CONSECUTIVE_CRASHES", "Interrupts", "check_workers", "drive", "make_backend",
           "preflight_formats", "run"]

log = logging.getLogger("fastshade.run")

MAX_CONSECUTIVE_CRASHES = 10
"""Files in a row that kill their worker (when run alone) before the run stops submitting."""

ISOLATION_NOTE = "killed its worker when run alone"
"""Message of a ``failed:crashed`` record (the backend's detail follows in parentheses)."""


class Interrupts:
    """Two-stage Ctrl-C (and SIGTERM): first stop submitting, second cancel."""

    def __init__(self) -> None:
        self.count = 0
        self.stop = threading.Event()  # set by the first Ctrl-C: wakes a waiting watch
        self._old: dict[int, object] = {}

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        self.stop.set()
        if self.count == 1:
            log.warning("interrupted: finishing the files in progress, submitting no more "
                        "(press Ctrl-C again to cancel them)")
        else:
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)  # type: ignore[arg-type]


class _Loop:
    """State of one :func:`drive` loop: crash suspects, requeued tasks, abort counters."""

    def __init__(self, cfg: RunConfig, writer: ManifestWriter, progress: Progress) -> None:
        self.cfg, self.writer, self.progress = cfg, writer, progress
        self.requeue: deque[PlannedTask] = deque()
        self.suspects: deque[PlannedTask] = deque()
        self.isolated: PlannedTask | None = None
        self.write_errors = 0
        self.crashes = 0
        self.abort: str | None = None

    def emit(self, rec: ManifestRecord) -> None:
        """Write and count one file's final record; stop submitting after too many write errors or crashes."""
        self.writer.write(rec)
        self.progress.record(rec)
        if rec.status == "failed:write_error":
            self.write_errors += 1
            if self.write_errors >= self.cfg.max_write_errors and self.abort is None:
                self.abort = (f"{self.write_errors} consecutive write errors (disk full or read-only output "
                              "folder?); stopped submitting")
        elif is_written(rec.status):
            self.write_errors = 0
            self.crashes = 0
        if rec.status == "failed:crashed":
            self.crashes += 1
            if self.crashes >= MAX_CONSECUTIVE_CRASHES and self.abort is None:
                self.abort = f"{self.crashes} files in a row killed their worker; stopped submitting"

    def settle(self, out: Outcome) -> None:
        """Turn one backend outcome into a record, a suspect or a requeue."""
        task = out.task
        alone = self.isolated is not None and task.id == self.isolated.id
        if out.kind == "done":
            assert out.report is not None
            self.emit(task.record.merged(out.report))
        elif out.kind == "crash":
            if alone:
                self.emit(task.record.failed("crashed", f"{ISOLATION_NOTE} ({out.detail})", out.worker))
            else:
                self.suspects.append(task)
        elif out.kind == "timeout":
            rec = task.record.failed(
                "timeout", f"exceeded --timeout-per-file {self.cfg.timeout:g} s; worker killed", out.worker)
            if out.seconds is not None:
                rec.seconds = round(float(out.seconds), 6)
            self.emit(rec)
        elif out.kind == "requeue":
            # not its own fault: run it again (a suspect stays first in line to run alone)
            (self.suspects if alone else self.requeue).appendleft(task)
        else:
            self.emit(task.record.failed("error", out.detail, out.worker))
        if alone:
            self.isolated = None


def drive(cfg: RunConfig, backend: Backend, planner: Planner, writer: ManifestWriter, progress: Progress,
          interrupts: Interrupts) -> tuple[str | None, bool]:
    """Run the plan through ``backend``; return (abort reason or None, interrupted?).

    The walk is consumed lazily: at most ``backend.window`` tasks are in
    flight.  A task whose worker dies becomes a suspect; suspects are then
    run one at a time with nothing else in flight, and only a task that
    kills its worker alone is recorded ``failed:crashed``.
    """
    items = planner.items()
    exhausted = False
    loop = _Loop(cfg, writer, progress)
    while True:
        stopping = interrupts.count > 0 or loop.abort is not None
        if not stopping:
            if loop.suspects or loop.isolated is not None:
                if loop.isolated is None and backend.in_flight() == 0:
                    loop.isolated = loop.suspects.popleft()
                    log.info("re-running %s alone (its worker pool broke)", loop.isolated.rel)
                    backend.submit(loop.isolated)
            else:
                while backend.capacity() > 0 and interrupts.count == 0 and loop.abort is None:
                    if loop.requeue:
                        backend.submit(loop.requeue.popleft())
                        continue
                    if exhausted:
                        break
                    try:
                        kind, value = next(items)
                    except StopIteration:
                        exhausted = True
                        break
                    if isinstance(value, PlannedTask):
                        backend.submit(value)
                    elif kind == "done":
                        progress.done()
                    elif kind == "dir" and isinstance(value, ManifestRecord):
                        writer.write(value)
                        progress.record(value, tick=False)
                    elif isinstance(value, ManifestRecord):
                        loop.emit(value)
        if backend.in_flight() == 0:
            if stopping or (exhausted and not loop.requeue and not loop.suspects and loop.isolated is None):
                break
        for out in backend.wait(0.2):
            loop.settle(out)
        progress.tick()
    return loop.abort, interrupts.count > 0


def make_backend(cfg: RunConfig) -> Backend:
    """Make the local pebble pool, or the Dask backend with ``--scheduler`` (imported only then)."""
    if cfg.scheduler:
        from fastshade.run.dask import DaskBackend

        return DaskBackend(cfg)
    from fastshade.run.pool import LocalPool

    return LocalPool(cfg)


def check_workers(cfg: RunConfig, backend: Backend) -> None:
    """Check that every worker runs the same fastshade version and sees IN and OUT at the same paths."""
    import fastshade

    try:
        reports = backend.probe()
    except UsageError:
        raise
    except Exception as err:  # noqa: BLE001
        raise UsageError(f"workers failed to start: {type(err).__name__}: {one_line(str(err))}") from None
    for rep in reports:
        where = f"worker {rep.host}:{rep.pid}"
        if rep.version != fastshade.__version__:
            raise UsageError(f"{where} runs fastshade {rep.version}, this client {fastshade.__version__}; "
                             "install the same version everywhere")
        if not rep.read_in:
            raise UsageError(f"{where} cannot read IN at {cfg.in_root} (workers need the same paths)")
        if not rep.write_out:
            raise UsageError(f"{where} cannot write OUT at {cfg.out_root} (workers need the same paths)")


def preflight_formats(cfg: RunConfig) -> None:
    """Read every header first for --format jpg/webp: RGBA or 16-bit inputs are a usage error."""
    planner = Planner(cfg, {})
    for _ in planner.items():
        pass
    problems = planner.format_problems
    if problems:
        shown = "; ".join(f"{rec.path}: {rec.message}" for rec in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        hint = " (use --format png/tiff, or --depth 8 for 16-bit inputs)"
        name = "jpg" if cfg.fmt == "jpeg" else cfg.fmt
        raise UsageError(f"--format {name} cannot hold {len(problems)} input(s): {shown}{more}{hint}")


AfterBacklog = Callable[[Backend, ManifestWriter, Progress, Interrupts], tuple[str | None, bool]]
"""What runs once the backlog is done (``--watch``): returns (abort reason or None, cancelled?)."""


def _drive_with_progress(cfg: RunConfig, backend: Backend, writer: ManifestWriter, progress: Progress,
                         index: dict[str, Prior], then: AfterBacklog | None = None) -> tuple[str | None, bool]:
    """Call :func:`drive` with tqdm-aware logging and Ctrl-C handling; a second Ctrl-C kills the workers.

    ``then`` (``--watch``) runs after a backlog that was not interrupted; a Ctrl-C that ends it
    is its normal end, not an interruption (only a second one, cancelling files, is).
    """
    redirect = logging_redirect_tqdm(loggers=[log]) if progress.bar is not None else contextlib.nullcontext()
    with redirect, Interrupts() as interrupts:
        try:
            abort, interrupted = drive(cfg, backend, Planner(cfg, index), writer, progress, interrupts)
            if then is None or abort or interrupted:
                return abort, interrupted
            return then(backend, writer, progress, interrupts)
        except KeyboardInterrupt:
            log.warning("cancelled: killing the workers; unfinished files stay unrecorded (re-run with --resume)")
            backend.close(kill=True)
            return None, True


def run(cfg: RunConfig, stream: TextIO, then: AfterBacklog | None = None) -> int:
    """Run one ``fastshade run`` (not a dry run): returns the exit status; usage errors raise :class:`UsageError`.

    ``then``: what runs after the backlog (``--watch``: :class:`fastshade.run.watch.Watcher`).
    """
    started = time.monotonic()
    if cfg.fmt != "same" and cfg.fmt in restricted_formats()[1]:
        preflight_formats(cfg)  # exit 2 before anything is created
    if cfg.out_inside_in:
        log.info("note: OUT is inside IN; it is left out of the walk (its files are never read as inputs)")
    lowered = fit_workers_to_memory(cfg, load_manifest_index(cfg.manifest) if (cfg.resume or cfg.if_exists == "skip")
                                    else {})  # before any worker starts
    if lowered:
        log.warning(lowered)
    interrupted = False
    abort: str | None = None
    if cfg.scheduler in (None, "local"):  # (remote workers have their own caches)
        notice = compile_notice()
        if notice:
            print(notice, file=stream, flush=True)
    with spawn_environment(cfg.threads_per_worker):
        backend = make_backend(cfg)  # (a scheduler that cannot be reached: exit 2, nothing created)
        try:
            os.makedirs(cfg.out_root, exist_ok=True)
            check_workers(cfg, backend)  # version and paths: exit 2 before the manifest is touched
            index = load_manifest_index(cfg.manifest) if (cfg.resume or cfg.if_exists == "skip") else {}
            if cfg.retry_failed and not any(p.status.startswith("failed:") for p in index.values()):
                log.info("--retry-failed: the manifest lists no failed file")
            writer = ManifestWriter(cfg.manifest)  # the lock is taken before anything is swept or written
            try:
                swept = sweep_stale_temps(cfg.out_root)
                if swept:
                    log.info("removed %d stale temporary file(s) left by an interrupted run", swept)
                progress = Progress(cfg, stream)
                progress.t0 = started  # the summary's time includes worker start-up
                try:
                    abort, interrupted = _drive_with_progress(cfg, backend, writer, progress, index, then)
                finally:
                    progress.close()
                    backend.close(kill=interrupted)
                sweep_stale_temps(cfg.out_root)  # temps of workers that died mid-write
            finally:
                writer.close()
        finally:
            backend.close(kill=interrupted)
    note = ""
    if abort:
        note = f"aborted: {abort}"
        log.warning("aborted: %s", abort)
    elif interrupted:
        note = "interrupted (re-run with --resume to continue)"
    elif then is not None:
        note = "watch stopped by Ctrl-C"
    print(progress.summary(cfg.manifest, note), file=stream)
    if interrupted:
        return 130
    return 1 if (progress.counts["failed"] or abort) else 0
