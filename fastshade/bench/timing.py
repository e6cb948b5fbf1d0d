"""Repeat-and-time helpers: time a call on both clocks, summarise a list of runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

SLOW_BASELINE_SECONDS = 2.0
"""A call whose first timed run takes longer than this is not repeated."""


def summary(runs: list[float]) -> dict[str, Any]:
    """``{"median", "min", "max", "runs"}`` of a non-empty list of seconds."""
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs), "runs": runs}


def timed(fn: Callable[[], T], repeat: int) -> tuple[list[float], list[float], T]:
    """Run ``fn`` once untimed, then ``repeat`` times on both clocks.

    Returns ``(wall runs, CPU runs, result of the untimed call)``.  The repeats stop after
    the first timed run when it is slower than :data:`SLOW_BASELINE_SECONDS`.
    """
    result = fn()
    runs: list[float] = []
    cpu: list[float] = []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if runs[-1] > SLOW_BASELINE_SECONDS:
            break
    return runs, cpu, result
