"""End-to-end regression: the v12 pixel MD5s published with the fidelity issue.

Each case runs the real command line (``python -m fastshade shade``) and hashes the pixels it
wrote, as the issues do: ``hashlib.md5(imageio.v3.imread(out).tobytes())``. A change to any
stage of the v12 path (a constant, a rounding, a ddof) changes at least one of these; an
intended change must update them here and in the README, and bump ``OUTPUT_VERSION``.
The demo case needs no files; the others use ``../shared/images`` and skip without it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from tests.conftest import shared_image_path

ROOT = Path(__file__).resolve().parents[1]

# An 8 x 8 grey drawing whose 134 pixel lies between the contour thresholds of std with
# ddof=1 (v12's) and ddof=0: the review's surviving mutation changes its output.
TINY = [[171] + [14] * 7] + [[171] + [255] * 7 for _ in range(7)]
TINY[5][2] = 134

V12_PIXEL_MD5 = {
    "tiny 8x8": "b2c9dd5b11aba2868cab20fa06f81100",
    "demo-256 self": "7c3fb90339f65780534eb4b30651ae37",
    "demo-256 --basis krylov": "c70bd0e1b624daf8bb3b334211493acb",
    "toof self": "95d9a9f3ead179889f6e30db4b62126e",
    "toof --basis krylov": "3ab03266349f916204b7225f5cd6e8b5",
    "toof x snek-heavy": "03491ea5dfd988d3be44e0144aa603db",
    "red-tonegraph self": "c5dcfda14065a52d0746d30ae380f514",
}


def _pixel_md5(args: list[str], out: Path) -> str:
    # --style v12 named explicitly: the v12 bytes hold whatever the default style is
    res = subprocess.run([sys.executable, "-m", "fastshade", "shade", *args, "--style", "v12", "-o", str(out)],
                         cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return hashlib.md5(iio.imread(out).tobytes()).hexdigest()


def _demo(tmp_path: Path) -> Path:
    from fastshade.demo import demo_image
    from fastshade.io import write_image

    path = tmp_path / "demo-256.png"
    write_image(path, np.clip(demo_image(256, 256), 0.0, 1.0), bit_depth=8)
    return path


@pytest.mark.parametrize("case", ["demo-256 self", "demo-256 --basis krylov"])
def test_v12_demo_pixels(case, tmp_path):
    extra = ["--basis", "krylov"] if "krylov" in case else []
    assert _pixel_md5([str(_demo(tmp_path)), *extra], tmp_path / "out.png") == V12_PIXEL_MD5[case]


def test_v12_tiny_drawing_pixels(tmp_path):
    from fastshade.io import write_image

    path = tmp_path / "tiny.png"
    write_image(path, np.repeat(np.array(TINY, dtype=np.float64)[:, :, None] / 255.0, 3, axis=2), bit_depth=8)
    assert _pixel_md5([str(path)], tmp_path / "out.png") == V12_PIXEL_MD5["tiny 8x8"]


@pytest.mark.parametrize("case", ["toof self", "toof --basis krylov", "toof x snek-heavy", "red-tonegraph self"])
def test_v12_shared_image_pixels(case, tmp_path):
    name = case.split()[0]
    args = [str(shared_image_path(f"{name}.png"))]
    if "krylov" in case:
        args += ["--basis", "krylov"]
    if " x " in case:
        args += ["--sample", str(shared_image_path(case.split(" x ")[1] + ".png"))]
    assert _pixel_md5(args, tmp_path / "out.png") == V12_PIXEL_MD5[case]
