"""Layers: each stage's marks as RGBA, and an OpenRaster file that viewers open; the round trip."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from fastshade.demo import demo_image
from fastshade.io import write_image

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastshade", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def _over(layers_top_first: list[np.ndarray]) -> np.ndarray:
    """Porter-Duff "over" in 8-bit integer terms, written out here (not the code under test)."""
    out = layers_top_first[-1][:, :, :3].astype(np.float64)
    for layer in reversed(layers_top_first[:-1]):
        a = layer[:, :, 3:4] / 255.0
        out = layer[:, :, :3] * a + out * (1 - a)
    return np.rint(out).astype(np.uint8)


@pytest.mark.parametrize("passes", ["1", "2"])
def test_layers_composite_over_the_input_to_the_output(tmp_path, passes):
    src, out = tmp_path / "d.png", tmp_path / "o.png"
    write_image(src, demo_image(128, 128), bit_depth=8)
    res = _cli("shade", str(src), "-o", str(out), "--layers", "--passes", passes)
    assert res.returncode == 0, res.stderr
    inp, shaded = iio.imread(src), iio.imread(out)
    thicken, shadow = iio.imread(tmp_path / "o.thicken.png"), iio.imread(tmp_path / "o.shadow.png")
    assert thicken.shape == shadow.shape == (128, 128, 4)
    assert set(np.unique(thicken[:, :, 3])) <= {0, 255} and (thicken[:, :, 3] > 0).any()
    assert not ((thicken[:, :, 3] > 0) & (shadow[:, :, 3] > 0)).any()  # each changed pixel in one layer
    # transparent where untouched
    untouched = (inp == shaded).all(axis=2)
    assert (thicken[untouched, 3] == 0).all() and (shadow[untouched, 3] == 0).all()
    rgba_in = np.concatenate([inp, np.full((128, 128, 1), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(_over([shadow, thicken, rgba_in]), shaded)


def test_openraster_file_is_what_viewers_expect(tmp_path):
    src, out = tmp_path / "d.png", tmp_path / "o.png"
    write_image(src, demo_image(300, 280), bit_depth=8)
    assert _cli("shade", str(src), "-o", str(out), "--layers").returncode == 0
    ora = tmp_path / "o.ora"
    raw = ora.read_bytes()
    # the first entry is "mimetype", stored, so its content sits at a fixed offset (30 + 8)
    assert raw[30:38] == b"mimetype" and raw[38:54] == b"image/openraster"
    with zipfile.ZipFile(ora) as z:
        first = z.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert z.read("mimetype") == b"image/openraster"
        root = ET.fromstring(z.read("stack.xml"))
        assert (root.tag, root.get("w"), root.get("h")) == ("image", "280", "300") and root.get("version")
        srcs = [e.get("src") for e in root.iter("layer")]
        names = [e.get("name") for e in root.iter("layer")]
        assert names[-1] == "drawing" and set(names[:-1]) == {"thicken", "shadow"}
        layers = [iio.imread(z.read(s)) for s in srcs]
        merged = iio.imread(z.read("mergedimage.png"))
        thumb = iio.imread(z.read("Thumbnails/thumbnail.png"))
    assert max(thumb.shape[:2]) <= 256
    np.testing.assert_array_equal(merged[:, :, :3], iio.imread(out))
    np.testing.assert_array_equal(_over(layers), iio.imread(out))
    np.testing.assert_array_equal(layers[-1][:, :, :3], iio.imread(src))


def test_run_writes_layers_beside_each_output(tmp_path):
    src, out = tmp_path / "in" / "sub", tmp_path / "out"
    src.mkdir(parents=True)
    write_image(src / "d.png", demo_image(64, 64), bit_depth=8)
    res = _cli("run", str(tmp_path / "in"), str(out), "--layers", "-j", "1")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (out / "sub").iterdir()) == ["d.ora", "d.png", "d.shadow.png", "d.thicken.png"]


def test_openraster_carries_the_input_dpi(tmp_path):
    from PIL import Image

    src, out = tmp_path / "d.png", tmp_path / "o.png"
    Image.fromarray((demo_image(96, 96) * 255).round().astype(np.uint8)).save(src, dpi=(300, 300))
    assert _cli("shade", str(src), "-o", str(out), "--layers").returncode == 0
    with zipfile.ZipFile(tmp_path / "o.ora") as z:
        root = ET.fromstring(z.read("stack.xml"))
    assert round(float(root.get("xres"))) == 300 and round(float(root.get("yres"))) == 300
    assert Image.open(tmp_path / "o.shadow.png").info.get("dpi", (0, 0))[0] == pytest.approx(300, abs=0.5)
