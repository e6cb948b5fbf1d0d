"""What a diagnosis returns: one record per shading run, the diagnosis, and its JSON form."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastshade.options import ShadeOptions

__all__ = ["Diagnosis", "RunRecord", "jsonable"]


@dataclass
class RunRecord:
    """One shading run inside a diagnosis (self or one strategy)."""

    label: str
    options: ShadeOptions | None
    metrics: dict[str, Any]
    info: dict[str, Any]
    image: np.ndarray | None = None
    owner: np.ndarray | None = None
    seconds: float = 0.0


@dataclass
class Diagnosis:
    """Result of :func:`~fastshade.diagnose.runner.diagnose_arrays`: the JSON report plus what the figures need.

    ``runs`` are the strategies (with images, for the contact sheet); ``affinity_*`` the
    per-pixel affinities of the self and baseline-cross placements and ``keep_*`` the
    per-placement fraction their ``mean`` gate keeps (test D).
    """

    report: dict[str, Any]
    target_rgb: np.ndarray
    self_run: RunRecord
    runs: list[RunRecord] = field(default_factory=list)
    affinity_self: np.ndarray = field(default_factory=lambda: np.zeros(0))
    affinity_cross: np.ndarray = field(default_factory=lambda: np.zeros(0))
    keep_self: np.ndarray = field(default_factory=lambda: np.zeros(0))
    keep_cross: np.ndarray = field(default_factory=lambda: np.zeros(0))


def jsonable(obj: Any) -> Any:
    """``obj`` with NumPy scalars and arrays as Python values, tuples as lists, keys as strings.

    Non-finite floats become ``None`` (so ``json.dumps(..., allow_nan=False)`` accepts the result).
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    return obj
