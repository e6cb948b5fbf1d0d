"""Layers for compositing: the marks of each painting stage as their own RGBA image.

Every pixel the shade changed (in the written 8-bit file) belongs to exactly one layer: the stage
that changed it last (:mod:`fastshade.pipeline.stagelog`).  Layer pixels carry the output's
colour, opaque; everything else is transparent.  So the layers composited over the input (any
order: they never overlap) give the output exactly, for an opaque input.
"""

from __future__ import annotations

import numpy as np

from fastshade.pipeline.results import ShadeResult
from fastshade.pipeline.stagelog import quantised_change

DRAWING = "drawing"
"""The name of the bottom layer: the input."""


def stage_layers(original: np.ndarray, result: ShadeResult) -> list[tuple[str, np.ndarray]]:
    """``[(name, (H, W, 4) float RGBA), ...]`` top first: one layer per stage (the last painted on
    top; ``other`` for changed pixels no stage recorded), then the input as :data:`DRAWING`.

    ``original`` is the input as (H, W, 3|4) float in [0, 1], ``result`` what
    :func:`fastshade.styles.shade_arrays` returned for it.
    """
    image = result.image
    changed = quantised_change(original, image)
    stage_of = result.stage_of if result.stage_of is not None else np.full(changed.shape, -1, np.int8)
    alpha = image[:, :, 3] if image.shape[2] == 4 else np.ones(changed.shape)
    groups = [(name, stage_of == i) for i, name in enumerate(result.stage_names)]
    groups.append(("other", stage_of < 0))
    layers = []
    for name, owned in reversed(groups):
        mask = changed & owned
        if name == "other" and not mask.any():
            continue
        rgba = np.zeros(changed.shape + (4,))
        rgba[mask, :3] = image[mask, :3]
        rgba[mask, 3] = alpha[mask]
        layers.append((name, rgba))
    drawing = original if original.shape[2] == 4 else np.concatenate([original, np.ones(changed.shape + (1,))], 2)
    layers.append((DRAWING, drawing))
    return layers


def composite(layers: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Porter-Duff "over" of ``layers`` (top first), (H, W, 4) float: what a layer viewer shows."""
    out = np.zeros_like(layers[-1][1], dtype=np.float64)
    for _, layer in reversed(layers):
        a = layer[:, :, 3:4]
        out_a = a + out[:, :, 3:4] * (1 - a)
        safe = np.where(out_a > 0, out_a, 1.0)
        out[:, :, :3] = (layer[:, :, :3] * a + out[:, :, :3] * out[:, :, 3:4] * (1 - a)) / safe
        out[:, :, 3:4] = out_a
    return out
