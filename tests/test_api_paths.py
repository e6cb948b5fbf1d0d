"""The README's headline call, ``shade("toof.png")``: a path (str or pathlib.Path) as the target.

A path gives the same image as the decoded array and, written as an 8-bit PNG, the bytes of
``fastshade shade``.  Runs on the demo written to a PNG, and on the real ``toof.png`` when
``../shared/images`` is present (skipped otherwise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fastshade import cli, shade
from fastshade.demo import demo_image
from fastshade.io import read_image, write_image
from tests.conftest import shared_image_path


def _as_cli_png(path: Path, image: np.ndarray, dpi: tuple[float, float] | None = None) -> bytes:
    write_image(path, image[:, :, :3], image[:, :, 3] if image.shape[2] == 4 else None, bit_depth=8, dpi=dpi)
    return path.read_bytes()


def test_shade_accepts_a_str_and_a_path_and_matches_the_array_and_the_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "art").mkdir()
    src = tmp_path / "art" / "demo.png"
    write_image(src, demo_image(96, 112))
    monkeypatch.chdir(src.parent)

    image, stats = shade("demo.png")  # as in the README: a relative str
    assert image.shape == (96, 112, 3) and image.dtype == np.float64
    assert stats["mode"] == "self" and stats["high_gate_pixels"] > 0

    by_path, stats_path = shade(src)  # an absolute pathlib.Path
    np.testing.assert_array_equal(by_path, image)
    by_array, _ = shade(read_image(src).rgb)
    np.testing.assert_array_equal(by_array, image)
    assert stats_path["low_gate_pixels"] == stats["low_gate_pixels"]
    assert stats_path["components"] == stats["components"]

    assert cli.main(["shade", "demo.png", "-o", str(tmp_path / "cli.png")]) == 0
    capsys.readouterr()
    assert _as_cli_png(tmp_path / "api.png", image) == (tmp_path / "cli.png").read_bytes()


def test_shade_of_the_real_toof_png_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    toof = shared_image_path("toof.png")
    monkeypatch.chdir(toof.parent)
    image, stats = shade("toof.png")
    assert image.shape == (512, 512, 3)
    assert stats["mode"] == "self" and stats["placements"]
    assert cli.main(["shade", "toof.png", "-o", str(tmp_path / "cli.png")]) == 0
    capsys.readouterr()
    dpi = read_image("toof.png").dpi  # the command keeps toof's 96 dpi (pHYs); the array API has none
    assert dpi == pytest.approx((96, 96), abs=0.02)
    assert _as_cli_png(tmp_path / "api.png", image, dpi) == (tmp_path / "cli.png").read_bytes()
