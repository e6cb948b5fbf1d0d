"""Input | the original's v12 output | ``fastshade --basis krylov --shadow-placement fixed``, one row per image.

usage (from a checkout): python docs/figures/make_krylov_sheet.py docs/figures/krylov-vs-original-v12.png
Reads ../shared/images and ../shared/reference/original (the original's outputs).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np

SHARED = Path(__file__).resolve().parents[3] / "shared"
IMAGES = ("toof", "snek-heavy", "red-tonegraph")


def rgb(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8."""
    a = iio.imread(path)
    return (a[..., :3] if a.ndim == 3 else np.repeat(a[..., None], 3, 2)).astype(np.uint8)


def padded(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """``a`` on white paper of ``h`` x ``w`` plus an 8 px gutter on the right."""
    return np.pad(a, ((0, h - a.shape[0]), (0, w - a.shape[1] + 8), (0, 0)), constant_values=255)


def main(out: str) -> None:
    """Shade each image with this checkout and write the sheet to ``out``."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in IMAGES:
            src = SHARED / "images" / f"{name}.png"
            ours = Path(tmp) / f"{name}.png"
            subprocess.run([sys.executable, "-m", "fastshade", "shade", str(src), "-o", str(ours),
                            "--basis", "krylov", "--shadow-placement", "fixed"], check=True)
            ims = [rgb(src), rgb(SHARED / "reference" / "original" / f"v12-{name}-self.png"), rgb(ours)]
            h, w = max(i.shape[0] for i in ims), max(i.shape[1] for i in ims)
            row = np.concatenate([padded(i, h, w) for i in ims], 1)
            step = max(1, row.shape[1] // 900)
            rows.append(row[::step, ::step])
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                            for r in rows], 0)
    iio.imwrite(out, sheet, optimize=True)


if __name__ == "__main__":
    main(sys.argv[1])
