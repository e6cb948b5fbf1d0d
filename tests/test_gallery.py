"""`fastshade gallery`: one before/after PNG per case under the size budget, and an index."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from fastshade.demo import demo_image
from fastshade.gallery.cases import Case, gallery_cases
from fastshade.gallery.sheet import MAX_BYTES, png_under_budget, side_by_side
from fastshade.io import write_image

ROOT = Path(__file__).resolve().parents[1]


def test_cases_cover_every_style_self_cross_and_passes(tmp_path):
    for name in ("toof", "snek-heavy"):
        (tmp_path / f"{name}.png").write_bytes(b"")
    cases = gallery_cases(["v12", "other"], str(tmp_path))
    for style in ("v12", "other"):
        mine = [c for c in cases if c.style == style]
        assert Case(style, "demo") in mine and Case(style, "toof", passes=4) in mine
        assert Case(style, "toof", "snek-heavy") in mine and Case(style, "snek-heavy") in mine
    assert Case("v12", "toof", "snek-heavy").name == "v12-toof-x-snek-heavy-p1"
    assert {c.target for c in gallery_cases(["v12"], str(tmp_path / "missing"))} == {"demo"}


def test_sheet_shrinks_to_the_budget():
    rng = np.random.default_rng(0)
    noisy = rng.random((600, 600, 3))  # incompressible: must be shrunk
    blob = png_under_budget(side_by_side([noisy, noisy], ["a", "b"]))
    assert len(blob) <= MAX_BYTES
    img = iio.imread(blob)
    assert img.shape[1] <= 1200 and img.shape[1] > img.shape[0]


def test_gallery_command_writes_pictures_and_index(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    write_image(images / "toof.png", demo_image(96, 96), bit_depth=8)
    out = tmp_path / "gallery"
    res = subprocess.run([sys.executable, "-m", "fastshade", "gallery", "--images", str(images), "--out", str(out),
                          "--styles", "v12"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["v12-demo-p1.png", "v12-demo-p4.png", "v12-toof-p1.png", "v12-toof-p4.png"]
    assert all((out / n).stat().st_size <= MAX_BYTES for n in names)
    index = (out / "README.md").read_text()
    assert all(f"]({n})" in index for n in names)
    bad = subprocess.run([sys.executable, "-m", "fastshade", "gallery", "--styles", "nope", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "unknown style" in bad.stderr and "Traceback" not in bad.stderr
