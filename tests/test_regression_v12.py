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

V12_PIXEL_MD5 = {
    "demo-256 self": "__DEMO_SELF__",
    "demo-256 --basis krylov": "__DEMO_KRYLOV__",
    "toof self": "__TOOF_SELF__",
    "toof --basis krylov": "__TOOF_KRYLOV__",
    "toof x snek-heavy": "__TOOF_SNEK__",
    "red-tonegraph self": "__RED_SELF__",
}


def _pixel_md5(args: list[str], out: Path) -> str:
    res = subprocess.run([sys.executable, "-m", "fastshade", "shade", *args, "-o", str(out)], cwd=ROOT,
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


@pytest.mark.parametrize("case", ["toof self", "toof --basis krylov", "toof x snek-heavy", "red-tonegraph self"])
def test_v12_shared_image_pixels(case, tmp_path):
    name = case.split()[0]
    args = [str(shared_image_path(f"{name}.png"))]
    if "krylov" in case:
        args += ["--basis", "krylov"]
    if " x " in case:
        args += ["--sample", str(shared_image_path(case.split(" x ")[1] + ".png"))]
    assert _pixel_md5(args, tmp_path / "out.png") == V12_PIXEL_MD5[case]
