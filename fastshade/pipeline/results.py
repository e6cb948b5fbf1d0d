"""What the shader produces: stage timings, per-image analyses, placements and the full result."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastshade.pipeline.components import Components
from fastshade.spectral import SpectralBasis


class Timer:
    """Collects seconds per named stage, read from ``clock`` (wall-clock ``perf_counter`` by default).

    ``fastshade bench --clock cpu`` passes ``time.process_time``: the clock is injected, never patched.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the time spent in the ``with`` block to stage ``name`` (and tell a clock that has
        an ``on_stage(name)`` method, as ``fastshade shade``'s progress display does).
        """
        on_stage = getattr(self.clock, "on_stage", None)
        if on_stage is not None:
            on_stage(name)
        t0 = self.clock()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + self.clock() - t0


@dataclass
class Analysis:
    """Everything the shader derives from one image before painting."""

    rgb: np.ndarray  # (H, W, 3) float64
    carrier: np.ndarray  # (H, W)
    contours: np.ndarray  # (H, W) bool
    basis: SpectralBasis | None
    field: np.ndarray  # (H, W) gating field f
    perp_y: np.ndarray  # thicken direction (perpendicular of the unit gradient of f)
    perp_x: np.ndarray
    void_y: np.ndarray  # -grad(heat), unit length
    void_x: np.ndarray
    high: np.ndarray  # (H, W) bool
    low: np.ndarray  # (H, W) bool
    components: Components  # 8-connected low-gate components >= min_component
    basis_energy: np.ndarray | None = None  # (H*W,) energy of basis columns 2.. when basis is None
    # (a coarse analysis interpolated back: fastshade.pipeline.resolution)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the image."""
        return self.carrier.shape  # type: ignore[return-value]


@dataclass
class Placement:
    """One shadow placement (the log that the diagnostics are computed from)."""

    target_component: int
    source_component: int
    source_flat: np.ndarray  # flat source pixel indices (in the source image)
    dst_flat: np.ndarray  # flat destination indices of the in-bounds pixels (target image)
    attempted: np.ndarray  # bool per source pixel: destination inside the image
    kept: np.ndarray  # bool per source pixel: passed the affinity gate (and inside)
    written: np.ndarray  # bool per source pixel: actually written (kept and ink guard)
    dst_y: np.ndarray
    dst_x: np.ndarray
    centroid: tuple[float, float]
    shift: tuple[float, float]
    score: float = float("nan")
    score_margin: float = float("nan")
    affinity: np.ndarray | None = None

    def summary(self) -> dict[str, Any]:
        """The JSON form of the placement in ``stats["placements"]`` (pixel counts, not the arrays)."""
        return {
            "target_component": int(self.target_component),
            "source_component": int(self.source_component),
            "source_pixels": int(self.source_flat.size),
            "attempted_pixels": int(self.attempted.sum()),
            "kept_pixels": int(self.kept.sum()),
            "written_pixels": int(self.written.sum()),
            "centroid": [float(self.centroid[0]), float(self.centroid[1])],
            "shift": [float(self.shift[0]), float(self.shift[1])],
            "score": None if not np.isfinite(self.score) else float(self.score),
            "score_margin": None if not np.isfinite(self.score_margin) else float(self.score_margin),
        }


@dataclass
class ShadeResult:
    """Full result of :func:`shade_arrays`: image, JSON stats and the placement log."""

    image: np.ndarray
    stats: dict[str, Any]
    placements: list[Placement] = field(default_factory=list)
    target: Analysis | None = None
    sample: Analysis | None = None
    owner: np.ndarray | None = None  # (H, W) int32: index of the last placement that wrote a pixel, -1 none
    stage_of: np.ndarray | None = None  # (H, W) int8: index in stage_names of the last stage that changed a pixel
    stage_names: tuple[str, ...] = ()
