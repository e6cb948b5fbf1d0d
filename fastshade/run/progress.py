"""Progress of a run: ok/skip/fail counters, a tqdm bar on a TTY, plain log lines otherwise, the summary."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections import Counter
from typing import Any, TextIO

from fastshade.job import is_written
from fastshade.run.config import RunConfig
from fastshade.run.manifest import ManifestRecord
from fastshade.run.walk import count_inputs

__all__ = ["Progress", "fmt_seconds"]

log = logging.getLogger("fastshade.run")


def fmt_seconds(s: float) -> str:
    """Format seconds for people: ``12.3 s``, ``4.5 min``, ``2.0 h``."""
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


class Progress:
    """ok/skip/fail counters, a tqdm bar on a TTY, plain log lines otherwise.

    The total is counted by a background walk of IN (a daemon thread), so the
    first files start at once; until it is known the bar has no total.
    """

    def __init__(self, cfg: RunConfig, stream: TextIO) -> None:
        self.cfg = cfg
        self.stream = stream
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.warnings: Counter[str] = Counter()
        self.done_earlier = 0
        self.total: int | None = None
        self.seen = 0
        self.t0 = time.monotonic()
        self._last_line = self.t0
        self.bar: Any = None
        self._counter_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._counted: list[int] = []
        is_tty = bool(getattr(stream, "isatty", lambda: False)())
        if not cfg.quiet and is_tty:
            from tqdm import tqdm

            self.bar = tqdm(total=None, unit="file", file=stream, dynamic_ncols=True, smoothing=0.1,
                            desc="fastshade run")
        if not cfg.quiet:
            self._counter_thread = threading.Thread(target=self._count, daemon=True, name="fastshade-count")
            self._counter_thread.start()

    def _count(self) -> None:
        with contextlib.suppress(Exception):
            self._counted.append(count_inputs(self.cfg, self._stop))

    def _poll_total(self) -> None:
        if self.total is None and self._counted:
            self.total = self._counted[0]
            if self.bar is not None:
                self.bar.total = self.total
                self.bar.refresh()

    def record(self, rec: ManifestRecord, tick: bool = True) -> None:
        """Count one manifest record (``tick=False``: a folder-level record, not an input file)."""
        status = rec.status
        kind = "ok" if is_written(status) else status.split(":", 1)[0]
        self.counts[kind] += 1
        if status != "ok":
            self.reasons[status] += 1
        if status.startswith("warning:"):
            self.counts["warned"] += 1
        for code in rec.warnings:
            self.warnings[re.sub(r"\d+", "N", code)] += 1  # first_frame_of_3 -> first_frame_of_N
        if kind == "failed" or status.startswith("warning:"):
            log.warning("%s %s: %s", status, rec.path, rec.message)
        elif self.cfg.verbose:
            log.info("%s %s%s", status, rec.path, f": {rec.message}" if rec.message else "")
        if tick:
            self.seen += 1
            self._advance()

    def done(self) -> None:
        """Count one input that needed nothing (already done per the manifest)."""
        self.done_earlier += 1
        self.seen += 1
        self._advance()

    def _advance(self) -> None:
        self._poll_total()
        if self.bar is not None:
            self.bar.set_postfix(ok=self.counts["ok"], skip=self.counts["skipped"] + self.done_earlier,
                                 fail=self.counts["failed"], refresh=False)
            self.bar.update(1)

    def tick(self) -> None:
        """Periodic plain progress line when there is no bar (every 10 s)."""
        self._poll_total()
        if self.bar is not None or self.cfg.quiet:
            return
        now = time.monotonic()
        if now - self._last_line < 10.0:
            return
        self._last_line = now
        rate = self.seen / max(now - self.t0, 1e-9)
        total = f"/{self.total}" if self.total is not None else ""
        eta = ""
        if self.total and rate > 0:
            eta = f", ETA {fmt_seconds((self.total - self.seen) / rate)}"
        log.info("progress: %d%s files (%d ok, %d skipped, %d failed), %.2f files/s%s", self.seen, total,
                 self.counts["ok"], self.counts["skipped"] + self.done_earlier, self.counts["failed"], rate, eta)

    def close(self) -> None:
        """Stop the background count and close the bar."""
        self._stop.set()
        if self.bar is not None:
            self.bar.close()

    def _reasons(self, kind: str) -> str:
        """`` (too_large 2, exists 1)``: the reasons of one kind of record with their counts."""
        rows = sorted(((k.split(":", 1)[1], v) for k, v in self.reasons.items() if k.startswith(kind + ":")),
                      key=lambda kv: (-kv[1], kv[0]))
        return f" ({', '.join(f'{k} {v}' for k, v in rows)})" if rows else ""

    def summary(self, manifest: str, note: str = "") -> str:
        """Return the one-line summary printed at the end of a run: the counts, every skip and
        failure reason and every warning code with its count, the time and the manifest.
        """
        secs = time.monotonic() - self.t0
        processed = self.counts["ok"] + self.counts["failed"]
        parts = [f"{self.counts['ok']} ok", f"{self.counts['skipped']} skipped{self._reasons('skipped')}",
                 f"{self.counts['failed']} failed{self._reasons('failed')}"]
        if self.counts["warned"]:
            parts[0] += f" ({self.counts['warned']} with a warning)"
        if self.done_earlier:
            parts.append(f"{self.done_earlier} already done")
        text = "fastshade run: " + ", ".join(parts)
        if self.warnings:
            rows = sorted(self.warnings.items(), key=lambda kv: (-kv[1], kv[0]))
            text += "; warnings: " + ", ".join(f"{k} {v}" for k, v in rows)
        text += f" in {fmt_seconds(secs)}"
        if processed:
            text += f" ({processed / max(secs, 1e-9):.2f} files/s)"
        text += f"; manifest {manifest}"
        return text + (f"; {note}" if note else "")
