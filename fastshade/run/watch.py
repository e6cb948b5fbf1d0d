"""``fastshade run --watch``: after the backlog, shade each new or changed file as it settles.

Every ``--poll-interval`` seconds the watcher lists IN with the run's own walk (same filters,
OUT and the manifest left out) and notes each file's size and modification time.  A file is
shaded once it is *settled*: seen with the same size and time in two polls in a row (so one
still being written or copied is left alone until it stops growing) and not already handled
at that size and time.  Settled files go through the same planner (the manifest decides what
is done), backend, manifest writer and atomic writes as the backlog did.

Ctrl-C ends the watch: files in progress are finished and recorded, and the run exits 0 (1 if
a file failed); a second Ctrl-C cancels them (exit 130).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from fastshade.run.backend import Backend
from fastshade.run.config import DEFAULT_POLL_INTERVAL, RunConfig
from fastshade.run.driver import Interrupts, drive
from fastshade.run.manifest import ManifestWriter, Prior, load_manifest_index
from fastshade.run.plan import PlanItem, Planner
from fastshade.run.progress import Progress
from fastshade.run.walk import iter_listings

__all__ = ["Snapshot", "Watcher", "settled", "snapshot"]

log = logging.getLogger("fastshade.run")

Snapshot = dict[str, tuple[int, int]]
"""Input path relative to IN -> (size, mtime_ns)."""


def snapshot(cfg: RunConfig) -> Snapshot:
    """Size and modification time of every input file the run's walk finds in IN."""
    out: Snapshot = {}
    for listing in iter_listings(cfg):
        for item in listing.files:
            try:
                st = os.stat(item.abs_path)
            except OSError:  # gone between the listing and the stat
                continue
            out[item.rel] = (st.st_size, st.st_mtime_ns)
    return out


class _SettledPlanner(Planner):
    """The run's planner, restricted to the inputs of ``only`` (their folders' notes included)."""

    def __init__(self, cfg: RunConfig, index: dict[str, Prior], only: set[str]) -> None:
        super().__init__(cfg, index)
        self._only = only

    def items(self) -> Iterator[PlanItem]:
        for listing in iter_listings(self.cfg):
            listing.files = [f for f in listing.files if f.rel in self._only]
            listing.notes = [r for r in listing.notes if r.path in self._only]
            listing.dir_notes = []
            if listing.files or listing.notes:
                yield from self.plan_listing(listing)


def settled(previous: Snapshot, current: Snapshot, handled: Snapshot) -> set[str]:
    """Files unchanged since the previous poll and not yet handled at their current size and time."""
    return {rel for rel, st in current.items() if previous.get(rel) == st and handled.get(rel) != st}


class Watcher:
    """The ``--watch`` loop, run by :func:`fastshade.run.driver.run` after the backlog.

    Made before the backlog starts: its first snapshot is what the backlog plans from, so a
    file that changes while the backlog runs is shaded again once it settles.
    """

    def __init__(self, cfg: RunConfig, interval: float = DEFAULT_POLL_INTERVAL) -> None:
        self.cfg = cfg
        self.interval = interval
        self.handled = snapshot(cfg)

    def __call__(self, backend: Backend, writer: ManifestWriter, progress: Progress,
                 interrupts: Interrupts) -> tuple[str | None, bool]:
        """Poll IN and shade settled files until Ctrl-C; return (abort reason or None, cancelled?)."""
        cfg = self.cfg
        previous = dict(self.handled)
        log.info("watching %s for new or changed files (every %g s); press Ctrl-C to stop",
                 cfg.in_root, self.interval)
        while interrupts.count == 0:
            if interrupts.stop.wait(self.interval):
                break
            current = snapshot(cfg)
            ready = settled(previous, current, self.handled)
            previous = current
            if not ready:
                continue
            names = sorted(ready)
            log.info("watch: %d new or changed file(s): %s%s", len(names), ", ".join(names[:5]),
                     ", ..." if len(names) > 5 else "")
            for rel in ready:
                self.handled[rel] = current[rel]
            planner = _SettledPlanner(cfg, load_manifest_index(cfg.manifest), ready)
            abort, _ = drive(cfg, backend, planner, writer, progress, interrupts)
            if abort:
                return abort, False
        return None, False
