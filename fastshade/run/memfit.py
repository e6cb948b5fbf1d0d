"""Fit ``-j`` to memory: fewer workers when their memory estimates would not fit together.

Before any worker starts, the run plans every file once (headers only) and finds the largest
image it would shade.  When ``workers x estimate_bytes(largest)`` (the memory model of
:mod:`fastshade.io.memory`) exceeds the memory available when the run started
(``RunConfig.memory_available``: psutil, or ``FASTSHADE_MEMORY_AVAILABLE``), the run uses
``available // estimate`` workers instead (at least one), and says so in one line.
Only local workers are fitted; a remote Dask cluster's memory is not this machine's.
"""

from __future__ import annotations

from fastshade.io import estimate_bytes, format_bytes
from fastshade.run.backend import PlannedTask
from fastshade.run.config import RunConfig
from fastshade.run.manifest import Prior
from fastshade.run.plan import Planner

__all__ = ["fit_workers_to_memory", "largest_planned", "workers_that_fit"]


def largest_planned(cfg: RunConfig, index: dict[str, Prior]) -> PlannedTask | None:
    """The planned task with the most pixels (headers only; None when nothing would be shaded)."""
    largest: PlannedTask | None = None
    for kind, value in Planner(cfg, index).items():
        if kind == "task" and isinstance(value, PlannedTask):
            if largest is None or (value.record.pixels or 0) > (largest.record.pixels or 0):
                largest = value
    return largest


def workers_that_fit(workers: int, need_bytes: int, available: int) -> int:
    """``min(workers, available // need_bytes)``, at least 1 (``workers`` when nothing is needed)."""
    if need_bytes <= 0:
        return workers
    return max(1, min(workers, available // need_bytes))


def fit_workers_to_memory(cfg: RunConfig, index: dict[str, Prior]) -> str | None:
    """Lower ``cfg.workers`` in place when the workers' estimates would not fit the memory available.

    Parameters
    ----------
    cfg : RunConfig
        The run; its ``workers`` may be lowered.  Nothing is planned for one worker or a remote
        scheduler.
    index : dict
        The manifest index the run will plan with (files already done are not counted).

    Returns
    -------
    str or None
        The one line that says what was lowered and why, or None when nothing changed.
    """
    if cfg.workers <= 1 or cfg.scheduler not in (None, "local") or not cfg.memory_available:
        return None
    largest = largest_planned(cfg, index)
    if largest is None:
        return None
    rec = largest.record
    need = estimate_bytes(rec.height or 0, rec.width or 0, cfg.options)
    fit = workers_that_fit(cfg.workers, need, cfg.memory_available)
    if fit >= cfg.workers:
        return None
    note = (f"-j {cfg.workers} lowered to {fit}: {cfg.workers} workers x {format_bytes(need)} (memory model "
            f"of the largest planned file, {rec.path}, {rec.width}x{rec.height}) would not fit the "
            f"{format_bytes(cfg.memory_available)} available")
    cfg.workers = fit
    return note
