"""The manifest: its one record schema, reading it back, and its single locked writer.

One JSON line per input (and per folder that could not be entered), appended
as results arrive.  :class:`ManifestRecord` is the schema; every record is
made with :func:`new_record` or :func:`skip_record` and completed with
:meth:`ManifestRecord.merged` (a worker's report) or
:meth:`ManifestRecord.failed` (a crash, a hard timeout, an error).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from filelock import lock_descriptor, unlock_descriptor

from fastshade.job import one_line, status_of
from fastshade.run.config import RunConfig, UsageError
from fastshade.run.tasks import WorkerReport

__all__ = [
    "Fingerprint",
    "ManifestRecord",
    "ManifestWriter",
    "Prior",
    "load_manifest_index",
    "new_record",
    "read_manifest",
    "sha256_file",
    "skip_record",
]


def sha256_file(path: str) -> str:
    """Return the hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    """An input as planned: size and mtime_ns, plus its sha256 with ``--hash``."""

    size: int | None
    mtime_ns: int | None
    sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return ``{"size", "mtime_ns"}`` and ``"sha256"`` when known."""
        out: dict[str, Any] = {"size": self.size, "mtime_ns": self.mtime_ns}
        if self.sha256:
            out["sha256"] = self.sha256
        return out


# Keys written only when set (records of files that a worker ran), after the always-present ones.
_WHEN_SET = ("cpu_seconds", "worker_seq", "worker_startup_seconds", "stats")
# Fields a worker's JobResult refines over the planned (header) values.
_FROM_JOB = ("width", "height", "pixels", "format", "depth", "input_format", "stats")


@dataclass
class ManifestRecord:
    """One manifest line.

    ``path`` is relative to IN, ``output`` to OUT; ``status`` is ``ok``,
    ``warning:<reason>`` (shaded and written, with the shader's first warning; every warning code
    is in ``warnings``), ``skipped:<reason>`` or ``failed:<reason>``; ``options`` is the
    ShadeOptions digest and ``params`` the digest of everything that decides
    the output bytes (see :func:`fastshade.run.config.config_from_args`);
    ``run`` names the run and ``time`` is stamped when written.
    """

    path: str
    output: str | None = None
    status: str = "ok"
    reason: str | None = None
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    pixels: int | None = None
    seconds: float = 0.0
    worker: str | None = None
    fingerprint: Fingerprint | None = None
    options: str = ""
    params: str = ""
    format: str | None = None
    depth: int | None = None
    input_format: str | None = None
    run: str = ""
    time: str | None = None
    cpu_seconds: float | None = None
    worker_seq: int | None = None
    worker_startup_seconds: float | None = None
    stats: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object of this line (fixed key order; the worker-only keys only when set)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _WHEN_SET and value is None:
                continue
            out[f.name] = value.to_json() if isinstance(value, Fingerprint) else value
        return out

    def merged(self, report: WorkerReport) -> ManifestRecord:
        """Return this planned record completed with a worker's report (a new record)."""
        rec = dataclasses.replace(self, warnings=list(self.warnings))
        job = report.job
        if job is not None:
            for name in _FROM_JOB:
                value = getattr(job, name)
                if value is not None:
                    setattr(rec, name, value)
            rec.warnings += [w for w in job.warnings if w not in self.warnings]
        for name in ("seconds", "cpu_seconds", "worker", "worker_seq", "worker_startup_seconds"):
            value = getattr(report, name)
            if value is not None:
                setattr(rec, name, value)
        if report.sha256:
            rec.fingerprint = dataclasses.replace(rec.fingerprint or Fingerprint(None, None), sha256=report.sha256)
        rec.status, rec.reason, rec.message = report.status, report.reason, one_line(report.message or "")
        return rec

    def failed(self, reason: str, message: str, worker: str | None = None) -> ManifestRecord:
        """Return this planned record as ``failed:<reason>`` (a new record)."""
        rec = dataclasses.replace(self, warnings=list(self.warnings), status=f"failed:{reason}", reason=reason,
                                  message=one_line(message))
        if worker:
            rec.worker = worker
        return rec


def new_record(cfg: RunConfig, rel: str) -> ManifestRecord:
    """Make a blank ``ok`` record of input ``rel`` stamped with this run's options, params and id."""
    return ManifestRecord(path=rel, options=cfg.options_digest, params=cfg.params, run=cfg.run_id)


def skip_record(cfg: RunConfig, rel: str, reason: str, message: str, *, skipped: bool = True) -> ManifestRecord:
    """Make a record the driver decides alone: ``skipped:<reason>`` (or ``failed:`` with ``skipped=False``)."""
    rec = new_record(cfg, rel)
    rec.status, rec.reason, rec.message = status_of(reason, skipped=skipped), reason, one_line(message)
    return rec


def read_manifest(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the records of a manifest as dicts, skipping blank or torn lines (a killed writer)."""
    try:
        fh = open(path, encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return
    with fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("path"), str):
                yield rec


@dataclass(frozen=True)
class Prior:
    """What the manifest last said about one input (kept compact: one per input)."""

    status: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    params: str | None
    output: str | None

    @classmethod
    def from_json(cls, rec: dict[str, Any]) -> Prior:
        """Read the parts of a manifest line that decide a resume."""
        fp = rec.get("fingerprint") or {}
        return cls(str(rec.get("status")), fp.get("size"), fp.get("mtime_ns"), fp.get("sha256"), rec.get("params"),
                   rec.get("output"))


def load_manifest_index(path: str) -> dict[str, Prior]:
    """Return the last record per input path (later lines win)."""
    return {rec["path"]: Prior.from_json(rec) for rec in read_manifest(path)}


def _dumps(rec: dict[str, Any]) -> str:
    try:
        line = json.dumps(rec, ensure_ascii=False)
        line.encode("utf-8")
        return line
    except UnicodeEncodeError:  # undecodable file names (surrogate escapes): escape everything
        return json.dumps(rec, ensure_ascii=True)


class ManifestWriter:
    """The single writer of the JSON-lines manifest (the driver process).

    Opens the file for appending, takes an exclusive lock on it
    (``filelock.lock_descriptor``: ``flock`` on POSIX, ``LockFileEx`` on
    Windows; a second run on the same manifest is a usage error), repairs a
    torn last line left by a killed run, and flushes every record (``fsync``
    at most once a second and on close).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._fh = open(path, "a+b")  # noqa: SIM115 (closed in close())
        try:
            locked = lock_descriptor(self._fh.fileno(), blocking=False)
        except OSError:
            locked = False
        if not locked:
            self._fh.close()
            raise UsageError(f"the manifest {path} is in use by another fastshade run")
        self._fh.seek(0, os.SEEK_END)
        if self._fh.tell() > 0:
            self._fh.seek(-1, os.SEEK_END)
            if self._fh.read(1) != b"\n":
                self._fh.write(b"\n")
        self._last_sync = time.monotonic()
        self.lines = 0

    def write(self, rec: ManifestRecord) -> None:
        """Append one record (stamping its ``time``) and flush it."""
        rec.time = rec.time or time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self._fh.write((_dumps(rec.to_json()) + "\n").encode("utf-8", errors="surrogateescape"))
        self._fh.flush()
        self.lines += 1
        if time.monotonic() - self._last_sync > 1.0:
            os.fsync(self._fh.fileno())
            self._last_sync = time.monotonic()

    def close(self) -> None:
        """Flush, ``fsync``, unlock and close (idempotent)."""
        if self._fh.closed:
            return
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        finally:
            with contextlib.suppress(OSError):
                unlock_descriptor(self._fh.fileno())
            self._fh.close()
