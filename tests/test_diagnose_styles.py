"""`fastshade diagnose --styles`: per-style pixel metrics of the cross shade."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastshade.demo import demo_image
from fastshade.diagnose.styles import piece_metrics
from fastshade.io import write_image

ROOT = Path(__file__).resolve().parents[1]


def test_piece_metrics_by_hand():
    before = np.ones((20, 20, 3))
    ink = np.zeros((20, 20), bool)
    ink[10, :] = True
    before[ink] = 0.0
    after = before.copy()
    after[2:4, 2:7] = 0.5  # one 10 px piece on paper
    after[15, 15] = 0.2  # one 1 px speck on paper
    after[10, 0:2] = 0.3  # 2 ink pixels overwritten (a separate 2 px changed piece)
    m = piece_metrics(before, after, ink)
    assert m["changed_pixels"] == 13 and m["pieces"] == 2 and m["median_piece"] == 5.5
    assert m["speck_share"] == pytest.approx(3 / 13)  # the 1 px speck and the 2 px ink piece
    assert m["ink_hit"] == pytest.approx(2 / 20)


def test_diagnose_styles_writes_one_row_per_style(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    write_image(a, demo_image(96, 96), bit_depth=8)
    write_image(b, demo_image(80, 112), bit_depth=8)
    out = tmp_path / "d"
    res = subprocess.run([sys.executable, "-m", "fastshade", "diagnose", str(a), str(b), "-o", str(out), "--no-plots",
                          "--styles", "all"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    rows = json.loads((out / "styles.json").read_text())
    from fastshade.styles import STYLES

    assert [r["style"] for r in rows] == list(STYLES)
    assert all(r["changed_pixels"] >= 0 and 0.0 <= r["speck_share"] <= 1.0 for r in rows if "error" not in r)
    assert [r["style"] for r in rows if "error" in r] == ["v6"]  # v6 has no cross mode, and says so
    assert "v6" in res.stdout and "no cross mode" in res.stdout
    bad = subprocess.run([sys.executable, "-m", "fastshade", "diagnose", str(a), "-o", str(out), "--styles", "nope"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "unknown style" in bad.stderr
