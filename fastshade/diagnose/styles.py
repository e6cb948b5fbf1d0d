"""Cross mode in every style: the same pair shaded by each style, measured on the pixels.

The placement metrics of the strategy ladder read v12's placement log; styles paint differently
(whole-patch copies, transplants, re-tints), so this table measures what every style did to the
target from the images alone (original-system.md §7's "long coherent strokes vs hairy fragments",
as ``../shared/tools/look_metrics.py`` does): changed pixels, the pieces the shader added (8-connected
changed pixels off the ink), their median size, the share of specks (pieces of <= 3 px), and the
ink it overwrote.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from fastshade.options import ShadeOptions
from fastshade.pipeline.stagelog import quantised_change

SPECK_PIXELS = 3
"""Largest piece counted as a speck."""


def piece_metrics(before: np.ndarray, after: np.ndarray, ink: np.ndarray) -> dict[str, Any]:
    """Pixel metrics of one shade: ``before``/``after`` (H, W, 3) float in [0, 1], ``ink`` (H, W) bool."""
    changed = quantised_change(before[:, :, :3], after[:, :, :3])
    eight = np.ones((3, 3), dtype=bool)
    labels, n = ndimage.label(changed & ~ink, structure=eight)
    sizes = np.bincount(labels.ravel())[1:] if n else np.zeros(0, dtype=np.int64)
    all_labels, n_all = ndimage.label(changed, structure=eight)
    all_sizes = np.bincount(all_labels.ravel())[1:] if n_all else np.zeros(0, dtype=np.int64)
    return {
        "changed_pixels": int(changed.sum()),
        "pieces": int(n),
        "median_piece": float(np.median(sizes)) if n else 0.0,
        "speck_share": float(all_sizes[all_sizes <= SPECK_PIXELS].sum() / max(int(changed.sum()), 1)),
        "ink_hit": float((changed & ink).sum() / max(int(ink.sum()), 1)),
    }


def styles_cross_table(target: np.ndarray, sample: np.ndarray | None, opts: ShadeOptions,
                       styles: list[str]) -> list[dict[str, Any]]:
    """One row per style: ``target`` shaded with ``sample`` (itself when None) in that style, one pass,
    with the explicit options of ``opts``; :func:`piece_metrics` plus the style's placement count.
    """
    import dataclasses

    from fastshade.pipeline.paper import paper_ink_model
    from fastshade.styles import resolve_options, shade_arrays

    ink = paper_ink_model(target).ink
    rows = []
    for style in styles:
        o = resolve_options(dataclasses.replace(opts, style=style, passes=1, envelope="auto"))
        try:
            res = shade_arrays(target, sample, o, force_cross=sample is None)
        except ValueError as err:  # a style without a cross mode (v6) says so
            rows.append({"style": style, "error": str(err).splitlines()[0]})
            continue
        rows.append({"style": style, **piece_metrics(target, res.image, ink),
                     "placements": len(res.stats.get("placements", []))})
    return rows


def format_styles_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table."""
    head = f"{'style':<10} {'changed':>8} {'pieces':>7} {'median':>7} {'specks':>7} {'ink hit':>8} {'placed':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['style']:<10} {r['error']}")
            continue
        lines.append(f"{r['style']:<10} {r['changed_pixels']:>8} {r['pieces']:>7} {r['median_piece']:>7.0f} "
                     f"{r['speck_share']:>7.1%} {r['ink_hit']:>8.2%} {r['placements']:>7}")
    return "\n".join(lines)
