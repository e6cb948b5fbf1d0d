"""DPI and ICC profile kept: per format, the input's resolution and colour profile reach the output
of `fastshade shade` and `fastshade run`, read back by Pillow and tifffile (issue 21, point 6).

The inputs are written by Pillow, tifffile and a hand-made 16-bit PNG encoder below, never by
fastshade; the profile is Pillow's sRGB profile (ImageCms), a small valid ICC profile.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from fastshade import cli
from fastshade.io import read_image, write_image
from tests.test_shader import _strokes

ROOT = Path(__file__).resolve().parents[1]
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
DPI = (600.0, 300.0)  # x != y, so a swap would show
H, W = 40, 52


def _rgb8() -> np.ndarray:
    grey = (np.asarray(_strokes(H, W)) * 255).round().astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2) if grey.ndim == 2 else grey[..., :3]


def _png16(path: Path, samples: np.ndarray, dpi: tuple[float, float], icc: bytes) -> None:
    """A 16-bit RGB PNG with pHYs and iCCP, encoded here (filter None), independent of fastshade."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w, _ = samples.shape
    rows = np.ascontiguousarray(samples, dtype=">u2").view(np.uint8).reshape(h, w * 6)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()
    ppm = [round(v / 0.0254) for v in dpi]
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"iCCP", b"sRGB test\x00\x00" + zlib.compress(icc))
                     + chunk(b"pHYs", struct.pack(">IIB", *ppm, 1))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _make_input(folder: Path, kind: str) -> Path:
    """Write the input of one case with DPI and ICC; returns its path."""
    rgb8 = _rgb8()
    rgb16 = rgb8.astype(np.uint16) * 257
    if kind == "png8":
        path = folder / "png8.png"
        Image.fromarray(rgb8).save(path, dpi=DPI, icc_profile=ICC)
    elif kind == "png16":
        path = folder / "png16.png"
        _png16(path, rgb16, DPI, ICC)
    elif kind == "tif8":
        path = folder / "tif8.tif"
        Image.fromarray(rgb8).save(path, dpi=DPI, icc_profile=ICC)
    elif kind == "tif16":
        path = folder / "tif16.tif"
        tifffile.imwrite(path, rgb16, photometric="rgb", resolution=DPI, resolutionunit="INCH", iccprofile=ICC)
    else:
        path = folder / "jpg.jpg"
        Image.fromarray(rgb8).save(path, dpi=DPI, icc_profile=ICC, quality=95)
    return path


def _metadata(path: Path) -> tuple[tuple[float, float] | None, bytes | None, int]:
    """(dpi, ICC bytes, bits per sample) of an output, read by tifffile for TIFF, else by Pillow."""
    if path.suffix == ".tif":
        with tifffile.TiffFile(path) as tif:
            tags = tif.pages[0].tags
            unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else None
            dpi = None
            if unit == 2:
                dpi = tuple(n / d for n, d in (tags["XResolution"].value, tags["YResolution"].value))
            icc = bytes(tags[34675].value) if 34675 in tags else None
            bits = tags["BitsPerSample"].value
            return dpi, icc, int(bits[0] if isinstance(bits, tuple) else bits)
    with Image.open(path) as im:
        bits = 16 if path.suffix == ".png" and open(path, "rb").read(25)[24] == 16 else 8
        return im.info.get("dpi"), im.info.get("icc_profile"), bits


CASES = ["png8", "png16", "tif8", "tif16", "jpg"]


@pytest.mark.parametrize("kind", CASES)
def test_shade_keeps_dpi_and_icc(tmp_path, capsys, kind):
    src = _make_input(tmp_path, kind)
    loaded = read_image(src)
    assert loaded.dpi == pytest.approx(DPI, abs=0.01) and loaded.icc_profile == ICC  # the input is what we think
    out, stats = tmp_path / f"out{src.suffix}", tmp_path / "stats.json"
    code = cli.main(["shade", str(src), "-o", str(out), "--stats", str(stats), "--basis", "krylov"])
    assert code == 0, capsys.readouterr().err
    dpi, icc, bits = _metadata(out)
    assert dpi == pytest.approx(DPI, abs=0.01)  # PNG stores pixels per metre: 599.9988
    assert icc == ICC
    assert bits == (16 if kind.endswith("16") else 8)
    assert json.loads(stats.read_text())["dpi"] == pytest.approx(list(DPI), abs=0.01)


def test_run_keeps_dpi_and_icc_in_every_format(tmp_path):
    (tmp_path / "in").mkdir()
    for kind in CASES:
        _make_input(tmp_path / "in", kind)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "fastshade", "run", str(tmp_path / "in"), str(out), "-q", "-j", "1",
                           "--format", "same", "--on-collision", "suffix", "--basis", "krylov"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (out / "fastshade-manifest.jsonl").read_text().splitlines()]
    assert len(records) == len(CASES) and all(r["status"] == "ok" for r in records), records
    for rec in records:
        dpi, icc, _ = _metadata(out / rec["output"])
        assert dpi == pytest.approx(DPI, abs=0.01), rec["output"]
        assert icc == ICC, rec["output"]
        assert rec["stats"]["dpi"] == pytest.approx(list(DPI), abs=0.01)


def test_no_metadata_in_none_out(tmp_path, capsys):
    src, out, stats = tmp_path / "plain.png", tmp_path / "out.png", tmp_path / "s.json"
    Image.fromarray(_rgb8()).save(src)
    assert cli.main(["shade", str(src), "-o", str(out), "--stats", str(stats), "--basis", "krylov"]) == 0
    data = out.read_bytes()
    assert b"pHYs" not in data and b"iCCP" not in data
    assert json.loads(stats.read_text())["dpi"] is None
    demo = tmp_path / "demo.png"
    assert cli.main(["shade", "--demo", "-o", str(demo), "--basis", "krylov"]) == 0
    assert b"pHYs" not in demo.read_bytes() and b"iCCP" not in demo.read_bytes()
    capsys.readouterr()


def test_exif_rotation_swaps_the_resolution(tmp_path, capsys):
    src, out = tmp_path / "rot.jpg", tmp_path / "out.png"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise: width and height, x and y resolution swap
    Image.fromarray(_rgb8()).save(src, dpi=DPI, exif=exif.tobytes(), quality=95)
    assert cli.main(["shade", str(src), "-o", str(out), "--basis", "krylov"]) == 0, capsys.readouterr().err
    with Image.open(out) as im:
        assert im.size == (H, W)
        assert im.info["dpi"] == pytest.approx(DPI[::-1], abs=0.01)


def test_a_profile_that_cannot_describe_the_rgb_output_is_dropped_with_a_warning(tmp_path, capsys):
    grey_icc = ICC[:16] + b"GRAY" + ICC[20:]  # header says grey: wrong for the RGB output
    src, out = tmp_path / "grey.png", tmp_path / "out.png"
    Image.fromarray(_rgb8()[..., 0]).save(src, dpi=DPI, icc_profile=grey_icc)
    assert cli.main(["shade", str(src), "-o", str(out), "--basis", "krylov"]) == 0
    assert f"fastshade: warning: {src}: icc_profile_dropped" in capsys.readouterr().err
    with Image.open(out) as im:
        assert "icc_profile" not in im.info and im.info["dpi"] == pytest.approx(DPI, abs=0.01)


def test_write_image_checks_its_metadata(tmp_path):
    rgb = np.zeros((4, 4, 3))
    for bad in [(0, 300), (float("nan"), 1), (600,), "600"]:
        with pytest.raises(ValueError, match="dpi"):
            write_image(tmp_path / "a.png", rgb, dpi=bad)
    with pytest.raises(ValueError, match="icc_profile describes RGB colour space, the image is GRAY"):
        write_image(tmp_path / "a.png", rgb[..., 0], icc_profile=ICC)
    with pytest.raises(ValueError, match="icc_profile"):
        write_image(tmp_path / "a.png", rgb, icc_profile=b"not a profile")
    assert not os.listdir(tmp_path)
