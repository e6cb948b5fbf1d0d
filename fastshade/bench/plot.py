"""``--plot``: the scaling curves of a result file (needs matplotlib, ``fastshade[plots]``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastshade.bench.schema import BASELINES, STAGES

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
"""Figure formats of ``--plot``."""


def plot_scaling(results: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Log-log plot of median seconds vs pixels per stage (demo cases) with the baselines dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    demo = sorted((c for c in results["cases"] if c["kind"] == "demo"), key=lambda c: c["pixels"])
    growth = results.get("growth", {})
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    ax = axes[0]
    for stage in STAGES + ("shader",):
        pts = [(c["pixels"], c["stages"][stage]["median"]) for c in demo if c["stages"][stage]["median"] > 0]
        if not pts:
            continue
        b = growth.get(stage, {}).get("exponent")
        label = f"{stage} (b={b:.2f})" if b is not None else stage
        ax.plot(*zip(*pts, strict=True), marker="o", lw=2.5 if stage == "shader" else 1.2, label=label)
    ax.set(xscale="log", yscale="log", xlabel="pixels", ylabel="median seconds", title="fastshade stages")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    for i, stage in enumerate(BASELINES):
        colour = f"C{i}"
        pts = [(c["pixels"], c["stages"][stage]["median"]) for c in demo]
        ax.plot(*zip(*pts, strict=True), marker="o", color=colour, label=f"{stage} (ours)")
        for j, (key, lab) in enumerate(BASELINES[stage]):
            bp = []
            for c in demo:
                for e in c.get("baselines", {}).get(stage, []):
                    if e["key"] == key and e.get("median"):
                        bp.append((c["pixels"], e["median"]))
            if bp:
                ax.plot(*zip(*bp, strict=True), marker="x", ls="--" if j == 0 else ":", color=colour, label=lab)
    ax.set(xscale="log", yscale="log", xlabel="pixels", ylabel="median seconds", title="ours vs NumPy/SciPy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    m = results["machine"]
    fig.suptitle(f"fastshade bench: {m['cpu']}, threads {results['config']['threads']}, "
                 f"{'CPU' if results.get('clock') == 'cpu' else 'wall-clock'} seconds", fontsize=10)
    fig.tight_layout()
    from fastshade.io import write_atomic

    write_atomic(path, lambda fh: fig.savefig(fh, format=Path(path).suffix.lower()[1:], dpi=110), "plot")
    plt.close(fig)

