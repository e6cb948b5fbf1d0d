"""The figures of diagnose (optional matplotlib, imported only when a figure is drawn).

``strategies.png`` is a contact sheet of the runs, ``affinity.png`` the affinity histograms of
test D.  Both are re-encoded until they fit :data:`MAX_FIGURE_BYTES`.
"""

from __future__ import annotations

import importlib
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from fastshade.diagnose.results import Diagnosis, RunRecord
from fastshade.diagnose.tables import fmt
from fastshade.io import write_file

__all__ = ["MAX_FIGURE_BYTES", "have_matplotlib", "plot_affinity", "plot_strategies"]

MAX_FIGURE_BYTES = 300_000
"""Figures are re-encoded with fewer colours / lower resolution until they fit."""


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported (the figures need it: ``pip install 'fastshade[plots]'``)."""
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        return False
    return True


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_small_png(fig: Any, path: Path, dpi: int = 90) -> None:
    """Save a figure as PNG under :data:`MAX_FIGURE_BYTES` (adaptive palette, then lower dpi)."""
    from PIL import Image

    for d in (dpi, int(dpi * 0.8), int(dpi * 0.65), int(dpi * 0.5)):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=d)
        buf.seek(0)
        im = Image.open(buf).convert("RGB")
        for colours in (256, 128, 64):
            out = io.BytesIO()
            im.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
            if out.tell() <= MAX_FIGURE_BYTES:
                write_file(path, out.getvalue(), "PNG")
                return
    write_file(path, out.getvalue(), "PNG")


def _crop_box(diag: Diagnosis, margin: int = 12) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)``: the box around every run's visible shadow pixels plus ``margin``."""
    h, w = diag.target_rgb.shape[:2]
    ys, xs = [], []
    for rec in [diag.self_run, *diag.runs]:
        if rec.owner is not None and (rec.owner >= 0).any():
            yy, xx = np.nonzero(rec.owner >= 0)
            ys += [yy.min(), yy.max()]
            xs += [xx.min(), xx.max()]
    if not ys:
        return 0, h, 0, w
    return (max(min(ys) - margin, 0), min(max(ys) + margin + 1, h),
            max(min(xs) - margin, 0), min(max(xs) + margin + 1, w))


def _tile(rec: RunRecord, box: tuple[int, int, int, int]) -> np.ndarray:
    """Output image with the visible shadow pixels tinted by placement (tab20 cycle)."""
    from matplotlib import colormaps

    y0, y1, x0, x1 = box
    img = rec.image[y0:y1, x0:x1, :3].copy()
    own = rec.owner[y0:y1, x0:x1]
    vis = own >= 0
    if vis.any():
        cmap = colormaps["tab20"]
        colours = np.asarray([cmap(i % 20)[:3] for i in range(int(own.max()) + 1)])
        img[vis] = colours[own[vis]]
    return img


def _caption(summary: dict[str, Any], goal: dict[str, Any] | None) -> str:
    """Two lines of metrics under a tile (and PASS/fail against the goal)."""
    s = summary
    text = (f"run {fmt(s['median_run_ratio'], '.2f')}  frag {fmt(s['mean_fragments'], '.2f')}\n"
            f"ret {fmt(s['mean_retention'], '.2f')}  share {fmt(s['max_source_share'], '.2f')}"
            f"  n {s['placements']}")
    if goal is not None:
        text += "  " + ("PASS" if goal["passed"] else "fail")
    return text


def plot_strategies(diag: Diagnosis, path: Path, title: str = "") -> None:
    """Contact sheet: input, self, every strategy (visible shadow pixels coloured by placement)."""
    plt = _pyplot()
    box = _crop_box(diag)
    y0, y1, x0, x1 = box
    tiles: list[tuple[str, np.ndarray, str]] = [("input", diag.target_rgb[y0:y1, x0:x1, :3], "")]
    tiles.append(("self", _tile(diag.self_run, box), _caption(diag.self_run.metrics["summary"], None)))
    for rec, e in zip(diag.runs, diag.report["strategies"], strict=True):
        tiles.append((rec.label, _tile(rec, box), _caption(e["summary"], e["goal"])))
    cols = 4
    rows = math.ceil(len(tiles) / cols)
    aspect = (y1 - y0) / max(x1 - x0, 1)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.2, rows * (3.2 * aspect + 0.75)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (label, img, cap) in zip(axes.ravel(), tiles, strict=False):
        ax.imshow(np.clip(img, 0, 1), interpolation="antialiased")
        ax.set_title(label, fontsize=9)
        ax.text(0.5, -0.02, cap, transform=ax.transAxes, ha="center", va="top", fontsize=7.5,
                family="monospace")
    fig.suptitle((title + "\n" if title else "") + "visible shadow pixels coloured by placement", fontsize=10)
    fig.tight_layout()
    _save_small_png(fig, path)
    plt.close(fig)


def plot_affinity(diag: Diagnosis, path: Path, title: str = "") -> None:
    """Test D: affinity histograms self vs cross, z-scores within placements, gate keep fractions."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    a_s, a_c = diag.affinity_self, diag.affinity_cross
    ax = axes[0]
    if a_s.size or a_c.size:
        both = np.concatenate([a_s, a_c])
        lo, hi = np.percentile(both, [0.5, 99.5]) if both.size else (0, 1)
        bins = np.linspace(lo, hi if hi > lo else lo + 1e-12, 60)
        for vals, lab, col in ((a_s, "self", "tab:blue"), (a_c, "cross (baseline)", "tab:red")):
            if vals.size:
                ax.hist(np.clip(vals, lo, hi), bins=bins, density=True, alpha=0.55, color=col,
                        label=f"{lab}: n={vals.size}, mean {vals.mean():.2e}")
                ax.axvline(vals.mean(), color=col, lw=1)
        ax.legend(fontsize=7)
    ax.set_title("per-pixel affinity φt[dst]·φ[src]", fontsize=9)
    ax = axes[1]
    for placements_vals, lab, col in ((a_s, "self", "tab:blue"), (a_c, "cross", "tab:red")):
        if placements_vals.size > 1:
            z = (placements_vals - placements_vals.mean()) / (placements_vals.std() + 1e-30)
            ax.hist(np.clip(z, -4, 4), bins=np.linspace(-4, 4, 41), density=True, alpha=0.55, color=col,
                    label=f"{lab}: share > mean {np.mean(z > 0):.2f}")
    ax.axvline(0, color="k", lw=0.8)
    ax.legend(fontsize=7)
    ax.set_title("affinity, z-score over all pixels", fontsize=9)
    ax = axes[2]
    bins = np.linspace(0, 1, 21)
    for vals, lab, col in ((diag.keep_self, "self", "tab:blue"), (diag.keep_cross, "cross", "tab:red")):
        if vals.size:
            ax.hist(vals, bins=bins, alpha=0.55, color=col, label=f"{lab}: mean {vals.mean():.2f}")
    ax.legend(fontsize=7)
    ax.set_title("fraction kept by the 'mean' gate, per placement", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save_small_png(fig, path)
    plt.close(fig)
