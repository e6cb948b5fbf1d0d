"""The vocabulary of a ``fastshade bench`` result file: stage names, clocks, baselines, the original's figures."""

from __future__ import annotations

from typing import Any

SCHEMA = "fastshade-bench/1"
"""``schema`` field of every result file (``--json``)."""

STAGES: tuple[str, ...] = ("load", "laplacian", "basis", "fields", "gates", "thicken", "components",
                           "shadow", "save")
"""Stages in the order they are printed."""
SHADER_STAGES: tuple[str, ...] = ("laplacian", "basis", "fields", "gates", "thicken", "components", "shadow")
"""Stages timed by :class:`fastshade.pipeline.results.Timer` inside :func:`fastshade.pipeline.shader.shade_arrays`."""
SUMMARY_FIGURES: tuple[str, ...] = ("shader", "other", "end_to_end")
"""``shader`` = whole ``shade_arrays`` call; ``other`` = shader minus its stages;
``end_to_end`` = load + shader + save."""
COMPARED: tuple[str, ...] = STAGES + ("shader", "end_to_end")
"""Figures judged by ``--compare``."""

CLOCKS: tuple[str, ...] = ("wall", "cpu")
"""Clocks of every figure: wall-clock seconds and CPU seconds of the worker process."""

BASELINES: dict[str, tuple[tuple[str, str], ...]] = {
    "laplacian": (("scipy_coo", "SciPy COO->CSR"),),
    "basis": (("eigsh", "eigsh shift-invert"), ("lobpcg_plain", "lobpcg, no precond."),
              ("lobpcg_scipy_amg", "scipy lobpcg, our AMG cascade")),
    "components": (("ndimage_label", "ndimage.label+bincount"),),
    "thicken": (("numpy", "NumPy vectorised"),),
    "shadow": (("numpy", "NumPy per component"),),
}
"""Baselines per stage: (key, label).  Implementations in :mod:`fastshade.reference`."""

ORIGINAL_SIZE = (1152, 832)
"""(H, W) of the original's largest benchmark image (dinnerneglectingsocials.png, 832 W x 1152 H)."""

ORIGINAL_REFERENCE: dict[str, dict[str, Any]] = {
    "toof_self": {"seconds": 7.05, "label": "original, toof self (1 thread)", "case": "image:toof"},
    "toof_snek_cross": {"seconds": 19.4, "label": "original, toof x snek-heavy cross (1 thread)",
                        "case": "cross:toof:snek-heavy"},
    "large_self": {"seconds": 315.0, "label": "original, 1152x832 self (1 thread)",
                   "case": f"demo-{ORIGINAL_SIZE[0]}x{ORIGINAL_SIZE[1]}"},
    "gpu_pair": {"seconds": 1.24, "label": "original GPU pipeline, per cross pair",
                 "case": "cross:toof:snek-heavy"},
}
ORIGINAL_STYLE_SECONDS: dict[tuple[str, int], float] = {
    ("v12", 1): 10.08, ("v6", 1): 5.35, ("v6", 4): 22.59, ("final", 1): 47.86, ("final", 4): 199.81,
}
"""Wall seconds of the original's own looks on toof, one thread (``../shared/reference/README.md``:
v12 self, the v6 sketch's passes 1 and 4 (cumulative), the final pipeline's ADSR passes 1 and 4
(cumulative)); the bench's style rows on toof give our shader time's ratio to them."""

"""Wall-clock seconds of the original research code (SQCU/itten) on this machine
class; the GPU figure is its nn.Module float32 pipeline (1243 ms/pair, its
README).  Compared with our end-to-end time (load + shader + save)."""
