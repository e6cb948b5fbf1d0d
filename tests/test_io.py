"""Tests of fastshade.io: sniff, probe, read (bad-input catalogue), validate, atomic write."""

from __future__ import annotations

import errno
import io as stdio
import os
import pickle
import re
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, ImageOps

import fastshade.io as fio
import fastshade.io.atomic as io_atomic
import fastshade.io.decode16 as io_decode16
import fastshade.io.read as io_read
import fastshade.io.sniff as io_sniff
import fastshade.io.write as io_write
from fastshade.io import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    default_max_pixels,
    estimate_bytes,
    probe_image,
    read_image,
    sniff_format,
    sweep_stale_temps,
    validate_output,
    write_image,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_bad_inputs as bad  # noqa: E402

SHARED_IMAGES = Path(__file__).resolve().parents[1] / ".." / "shared" / "images"
TEMP_RE = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}\.tmp$")


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return bad.make_all(tmp_path_factory.mktemp("bad_inputs"))


def _q(values: np.ndarray, maxval: int) -> np.ndarray:
    return np.rint(np.clip(values, 0.0, 1.0) * maxval)


def _assert_loaded_contract(img: fio.LoadedImage) -> None:
    assert img.rgb.ndim == 3 and img.rgb.shape[2] == 3
    assert img.rgb.dtype == np.float64 and img.rgb.flags.c_contiguous
    assert np.isfinite(img.rgb).all() and img.rgb.min() >= 0.0 and img.rgb.max() <= 1.0
    if img.alpha is not None:
        assert img.alpha.shape == img.rgb.shape[:2]
        assert img.alpha.dtype == np.float64 and img.alpha.flags.c_contiguous
        assert img.alpha.min() >= 0.0 and img.alpha.max() <= 1.0
    assert img.bit_depth in (8, 16)


def _raises(path: Path, code: str, **kwargs: object) -> ImageError:
    with pytest.raises(ImageError) as info:
        read_image(path, **kwargs)  # type: ignore[arg-type]
    err = info.value
    assert err.code == code, str(err)
    text = str(err)
    assert "\n" not in text and text.startswith(f"{path}: ")
    assert err.path == str(path)
    return err


# --------------------------------------------------------------------------------------
# The catalogue as a whole
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(bad.CASES))
def test_catalogue_outcome(cases: dict[str, Path], name: str) -> None:
    expected = bad.EXPECTED_READ[name]
    if expected == "ok":
        _assert_loaded_contract(read_image(cases[name]))
    else:
        _raises(cases[name], expected)


def test_catalogue_is_complete() -> None:
    assert set(bad.EXPECTED_READ) == set(bad.CASES)
    assert set(bad.EXPECTED_READ.values()) <= fio.ERROR_CODES | {"ok"}


def test_load_truncated_images_never_enabled(cases: dict[str, Path]) -> None:
    for name in ("truncated_png", "truncated_jpeg"):
        _raises(cases[name], "decode_truncated")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --------------------------------------------------------------------------------------
# Rows 1-7: unreadable, not-an-image, too large
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["truncated_png", "truncated_jpeg"])
def test_truncated_header_probe_succeeds_decode_fails(cases: dict[str, Path], name: str) -> None:
    info = probe_image(cases[name])  # the header is intact: only decoding can tell
    assert (info.width, info.height) == (96, 96)
    err = _raises(cases[name], "decode_truncated")
    assert "truncated" in err.message


def test_zero_byte(cases: dict[str, Path]) -> None:
    path = cases["zero_byte_png"]
    assert sniff_format(path) is None
    err = _raises(path, "not_an_image")
    assert "0 bytes" in err.message
    with pytest.raises(ImageError, match="0 bytes") as info:
        probe_image(path)
    assert info.value.code == "not_an_image"


@pytest.mark.parametrize("name", ["zero_byte_png", "random_bytes_png", "html_png"])
def test_not_an_image_never_reaches_pillow(
    cases: dict[str, Path], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pillow(*args: object, **kwargs: object) -> None:
        raise AssertionError("Pillow must not be asked to identify a file that failed the sniff")

    monkeypatch.setattr(Image, "open", no_pillow)
    err = _raises(cases[name], "not_an_image")
    assert f"{cases[name].stat().st_size} bytes" in err.message


def test_html_is_described(cases: dict[str, Path]) -> None:
    assert "HTML" in _raises(cases["html_png"], "not_an_image").message


def test_png_named_jpg(cases: dict[str, Path]) -> None:
    path = cases["png_named_jpg"]
    assert path.suffix == ".jpg" and sniff_format(path) == "png"
    img = read_image(path)
    assert img.format == "png" and img.rgb.shape == (16, 20, 3)
    assert (img.rgb[4:12, 5:15] == 0).all() and img.rgb[0, 0].tolist() == [1.0, 1.0, 1.0]


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decode(self: object) -> None:
        raise AssertionError("pixel data must not be decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)


@pytest.mark.parametrize("max_pixels", [DEFAULT_MAX_PIXELS, None])
def test_bomb_rejected_from_header(
    cases: dict[str, Path], monkeypatch: pytest.MonkeyPatch, max_pixels: int | None
) -> None:
    _forbid_decoding(monkeypatch)
    path = cases["bomb_png"]
    with pytest.raises(ImageError) as info:
        probe_image(path, max_pixels=max_pixels)
    assert info.value.code == "too_large"
    err = _raises(path, "too_large", max_pixels=max_pixels)
    assert "1600000000" in err.message


def test_huge_rejected_with_memory_estimate(cases: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid_decoding(monkeypatch)
    path = cases["huge_png"]
    info = probe_image(path, max_pixels=None)
    assert (info.width, info.height, info.mode, info.bit_depth, info.frames) == (12000, 12000, "1", 1, 1)
    err = _raises(path, "too_large")
    assert "12000x12000" in err.message and "GiB" in err.message
    with pytest.raises(ImageError, match="--max-pixels"):
        probe_image(path)


def test_small_max_pixels(cases: dict[str, Path]) -> None:
    _raises(cases["all_white_png"], "too_large", max_pixels=32 * 32 - 1)
    assert read_image(cases["all_white_png"], max_pixels=32 * 32).rgb.shape == (32, 32, 3)


def test_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    _raises(missing, "not_found")
    with pytest.raises(ImageError) as info:
        sniff_format(missing)
    assert info.value.code == "not_found"
    _raises(tmp_path / "nope.png" / "deeper.png", "not_found")


def test_directory(tmp_path: Path) -> None:
    _raises(tmp_path, "not_an_image")


def test_permission_mapped(cases: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod 000 is ineffective as root, so simulate the kernel's answer."""

    def denied(path: object, mode: str = "r") -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(io_sniff, "open", denied, raising=False)
    err = _raises(cases["one_by_one_png"], "permission")
    assert "permission" in err.message.lower()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read mode-000 files")
def test_permission_real(tmp_path: Path) -> None:
    path = bad.make_unreadable_png(tmp_path)
    try:
        _raises(path, "permission")
    finally:
        path.chmod(0o644)


def test_unknown_tiff_layout_is_unsupported_dtype(tmp_path: Path) -> None:
    """A 3-channel float32 TIFF: Pillow has no mode for it."""
    data = np.zeros((4, 5, 3), "<f4").tobytes()
    entries = [(256, 4, 1, 5), (257, 4, 1, 4), (258, 3, 1, 32), (259, 3, 1, 1), (262, 3, 1, 2),
               (273, 4, 1, 8), (277, 3, 1, 3), (278, 4, 1, 4), (279, 4, 1, len(data)), (339, 3, 1, 3)]
    blob = bytearray(b"II*\x00" + (8 + len(data)).to_bytes(4, "little") + data)
    blob += len(entries).to_bytes(2, "little")
    for tag, kind, count, value in entries:
        blob += tag.to_bytes(2, "little") + kind.to_bytes(2, "little") + count.to_bytes(4, "little")
        blob += (value.to_bytes(2, "little") + b"\x00\x00") if kind == 3 else value.to_bytes(4, "little")
    blob += b"\x00\x00\x00\x00"
    path = tmp_path / "rgbf.tif"
    path.write_bytes(bytes(blob))
    assert sniff_format(path) == "tiff"
    _raises(path, "unsupported_dtype")


def test_corrupt_png_crc_is_decode_error(tmp_path: Path) -> None:
    data = bytearray(bad.encode_png(np.zeros((8, 8), np.uint8), bit_depth=8, colour_type=0))
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0xFF  # corrupt compressed payload, CRC now wrong
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(data))
    _raises(path, "decode_error")


@pytest.mark.parametrize(("width", "height"), [(0, 5), (5, 0)])
def test_zero_size_png_is_degenerate(tmp_path: Path, width: int, height: int) -> None:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path = tmp_path / "zero.png"
    path.write_bytes(bad.PNG_SIGNATURE + bad.png_chunk(b"IHDR", ihdr) + bad.png_chunk(b"IDAT", zlib.compress(b""))
                     + bad.png_chunk(b"IEND", b""))
    err = _raises(path, "degenerate")
    assert f"{width}x{height}" in err.message


def test_header_only_garbage_after_signature(tmp_path: Path) -> None:
    path = tmp_path / "sig_only.png"
    path.write_bytes(bad.PNG_SIGNATURE + b"\x00\x00")
    err = _raises(path, "decode_error")
    assert "PNG" in err.message


# --------------------------------------------------------------------------------------
# Rows 8-10: degenerate sizes and content
# --------------------------------------------------------------------------------------


def test_tiny_images(cases: dict[str, Path]) -> None:
    one = read_image(cases["one_by_one_png"])
    assert one.rgb.shape == (1, 1, 3) and (one.rgb == 0).all() and one.alpha is None
    strip = read_image(cases["one_by_n_png"])
    assert strip.rgb.shape == (1, 64, 3)
    assert (strip.rgb[0, 10:20] == 0).all() and (strip.rgb[0, :10] == 1).all()
    column = read_image(cases["n_by_one_png"])
    assert column.rgb.shape == (64, 1, 3)
    assert (column.rgb[10:20, 0] == 0).all() and (column.rgb[20:, 0] == 1).all()


def test_flat_images(cases: dict[str, Path]) -> None:
    assert (read_image(cases["all_white_png"]).rgb == 1.0).all()
    assert (read_image(cases["all_black_png"]).rgb == 0.0).all()


def test_speckle(cases: dict[str, Path]) -> None:
    img = read_image(cases["speckle_png"])
    assert int((img.rgb[..., 0] == 0).sum()) == 80 * 80


# --------------------------------------------------------------------------------------
# Rows 11-14: bit depth, palette, alpha
# --------------------------------------------------------------------------------------


def test_gray16_full_precision(cases: dict[str, Path]) -> None:
    img = read_image(cases["gray16_png"])
    source = bad.source_array("gray16_png")
    assert img.bit_depth == 16 and img.warnings == [] and img.alpha is None
    for c in range(3):
        np.testing.assert_array_equal(_q(img.rgb[..., c], 65535), source)
    info = probe_image(cases["gray16_png"])
    assert info.bit_depth == 16 and info.mode.startswith("I;16")


@pytest.mark.parametrize("name", ["rgb16_png", "rgb16_png_interlaced", "rgb16_tiff", "rgb16_tiff_be"])
def test_rgb16_full_precision(cases: dict[str, Path], name: str) -> None:
    img = read_image(cases[name])
    assert img.bit_depth == 16 and "precision_reduced" not in img.warnings and img.alpha is None
    np.testing.assert_array_equal(_q(img.rgb, 65535), bad.source_array(name))
    info = probe_image(cases[name])
    assert (info.mode, info.bit_depth) == ("RGB", 16)


def test_rgb16_every_filter_and_interlace_shape(tmp_path: Path) -> None:
    """Odd sizes, one filter type per file, both interlace settings, vs the reference encoder."""
    rng = np.random.default_rng(7)
    for shape in [(1, 1, 3), (2, 9, 3), (9, 2, 3), (13, 11, 4)]:
        source = rng.integers(0, 65536, shape).astype(np.uint16)
        for interlace in (False, True):
            for filt in range(5):
                path = tmp_path / f"f{filt}_{interlace}_{shape[0]}x{shape[1]}.png"
                path.write_bytes(
                    bad.encode_png(source, bit_depth=16, colour_type=6 if shape[2] == 4 else 2,
                                   interlace=interlace, filters=(filt,))
                )
                img = read_image(path)
                got = np.concatenate([img.rgb, img.alpha[..., None]], axis=2) if shape[2] == 4 else img.rgb
                np.testing.assert_array_equal(_q(got, 65535), source, err_msg=path.name)


def test_rgba16_and_la16(cases: dict[str, Path]) -> None:
    rgba = read_image(cases["rgba16_png"])
    src = bad.source_array("rgba16_png")
    np.testing.assert_array_equal(_q(rgba.rgb, 65535), src[..., :3])
    np.testing.assert_array_equal(_q(rgba.alpha, 65535), src[..., 3])
    la = read_image(cases["la16_png"])
    src = bad.source_array("la16_png")
    assert la.bit_depth == 16 and la.warnings == []
    np.testing.assert_array_equal(_q(la.rgb[..., 1], 65535), src[..., 0])
    np.testing.assert_array_equal(_q(la.alpha, 65535), src[..., 1])


def test_rgb16_fallback_warns(cases: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """When the raw mode is not a known 16-bit layout, read 8-bit and say so."""
    monkeypatch.setattr(io_decode16, "_swapped_rawmode", lambda raw: None)
    img = read_image(cases["rgb16_png"])
    assert "precision_reduced" in img.warnings and img.bit_depth == 16
    np.testing.assert_array_equal(_q(img.rgb, 255), bad.source_array("rgb16_png") >> 8)


def test_palette_with_trns(cases: dict[str, Path]) -> None:
    img = read_image(cases["palette_trns_png"])
    assert img.alpha is not None and img.bit_depth == 8
    assert img.alpha[0, 0] == 0.0  # index 0: transparent
    assert img.alpha[4, 4] == pytest.approx(128 / 255)  # index 1: half
    assert img.alpha[7, 7] == 1.0 and img.alpha[0, 15] == 1.0  # no tRNS entry: opaque
    np.testing.assert_array_equal(_q(img.rgb[7, 7], 255), [200, 30, 30])
    np.testing.assert_array_equal(_q(img.rgb[0, 15], 255), [10, 20, 250])


def test_onebit(cases: dict[str, Path]) -> None:
    img = read_image(cases["onebit_png"])
    assert img.rgb.shape == (13, 21, 3) and img.alpha is None and img.bit_depth == 8
    assert set(np.unique(img.rgb).tolist()) == {0.0, 1.0}
    assert (img.rgb[3:9, 2:18] == 0).all() and img.rgb[:3].min() == 1.0
    assert probe_image(cases["onebit_png"]).bit_depth == 1


def test_rgb_colour_key_trns(cases: dict[str, Path]) -> None:
    img = read_image(cases["rgb_trns_png"])
    assert img.alpha is not None
    assert (img.alpha[2:8, 3:9] == 1).all() and img.alpha[0, 0] == 0.0


@pytest.mark.parametrize("name", ["rgba_png", "la_png"])
def test_alpha_kept(cases: dict[str, Path], name: str) -> None:
    img = read_image(cases[name])
    src = bad.source_array(name)
    assert img.alpha is not None
    np.testing.assert_array_equal(_q(img.alpha, 255), src[..., -1])
    np.testing.assert_array_equal(_q(img.rgb[..., 0], 255), src[..., 0])
    if name == "la_png":
        assert (img.rgb[..., 0] == img.rgb[..., 2]).all()


# --------------------------------------------------------------------------------------
# Rows 15-18: CMYK, EXIF, frames, float
# --------------------------------------------------------------------------------------


def test_cmyk(cases: dict[str, Path]) -> None:
    img = read_image(cases["cmyk_jpeg"])
    assert img.rgb.shape == (16, 24, 3) and img.alpha is None
    assert "cmyk_converted" in img.warnings
    np.testing.assert_allclose(img.rgb.reshape(-1, 3).mean(0), [1.0, 0.0, 0.0], atol=0.05)


def test_exif6_rotates_clockwise(cases: dict[str, Path]) -> None:
    img = read_image(cases["exif6_jpeg"])
    assert img.rgb.shape == (40, 24, 3) and "exif_rotated" in img.warnings
    assert img.rgb[:8, -8:].mean() < 0.2 and img.rgb[:8, :8].mean() > 0.8
    raw = read_image(cases["exif6_jpeg"], exif="ignore")
    assert raw.rgb.shape == (24, 40, 3) and raw.warnings == []
    assert raw.rgb[:8, :8].mean() < 0.2


def test_exif8_rotates_counterclockwise(cases: dict[str, Path]) -> None:
    img = read_image(cases["exif8_jpeg"])
    assert img.rgb.shape == (40, 24, 3)
    assert img.rgb[-8:, :8].mean() < 0.2 and img.rgb[:8, :8].mean() > 0.8


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_matches_pillow_exif_transpose(tmp_path: Path, orientation: int) -> None:
    path = bad.make_exif_png(tmp_path, orientation)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    img = read_image(path)
    np.testing.assert_array_equal(_q(img.rgb, 255), expected)
    assert ("exif_rotated" in img.warnings) == (orientation != 1)


@pytest.mark.parametrize("name", ["animated_gif", "apng", "multipage_tiff"])
def test_multi_frame(cases: dict[str, Path], name: str) -> None:
    img = read_image(cases[name])
    assert img.rgb.shape == (16, 20, 3)
    assert img.rgb.max() < 0.01  # frame 0 is black
    assert "first_frame_of_3" in img.warnings
    assert probe_image(cases[name]).frames == 3
    _raises(cases[name], "multi_frame", frames="reject")


def test_float_tiff(cases: dict[str, Path]) -> None:
    img = read_image(cases["float32_tiff"])
    assert img.bit_depth == 16 and img.alpha is None
    np.testing.assert_array_equal(img.rgb[..., 1], bad.source_array("float32_tiff").astype(np.float64))
    assert probe_image(cases["float32_tiff"]).mode == "F"
    assert "NaN" in _raises(cases["float_nan_tiff"], "unsupported_dtype").message
    assert "outside [0, 1]" in _raises(cases["float_range_tiff"], "unsupported_dtype").message


def test_bad_arguments(cases: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="frames"):
        read_image(cases["one_by_one_png"], frames="all")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exif"):
        read_image(cases["one_by_one_png"], exif="rotate")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_pixels"):
        read_image(cases["one_by_one_png"], max_pixels=0)


# --------------------------------------------------------------------------------------
# Sniffing, probing, errors, memory model
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "pil_format", "expected"),
    [("png", "PNG", "png"), ("jpg", "JPEG", "jpeg"), ("gif", "GIF", "gif"), ("tif", "TIFF", "tiff"),
     ("bmp", "BMP", "bmp"), ("webp", "WEBP", "webp")],
)
def test_sniff_formats(tmp_path: Path, fmt: str, pil_format: str, expected: str) -> None:
    path = tmp_path / f"x.{fmt}"
    Image.new("RGB", (3, 2), (10, 20, 30)).save(path, format=pil_format)
    wrong = tmp_path / "x.dat"
    wrong.write_bytes(path.read_bytes())
    assert sniff_format(path) == expected and sniff_format(wrong) == expected
    assert read_image(wrong).rgb.shape == (2, 3, 3)


def test_sniff_rejects_lookalikes(tmp_path: Path) -> None:
    lookalikes = [
        ("bm.txt", b"BMW is a car brand, not a bitmap header."),
        ("riff.wav", b"RIFF\x00\x00\x00\x00WAVEfmt "),
        ("short", b"\x89PN"),
        ("gif", b"GIF90a"),
    ]
    for name, data in lookalikes:
        path = tmp_path / name
        path.write_bytes(data)
        assert sniff_format(path) is None, name


def test_image_error_contract() -> None:
    err = ImageError("/some/dir/a b.png", "decode_error", "two\nlines\n  of   text")
    assert str(err) == "/some/dir/a b.png: two lines of text"
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.code, again.message, str(again)) == (err.path, err.code, err.message, str(err))
    assert isinstance(again, ImageError)
    with pytest.raises(ValueError, match="unknown ImageError code"):
        ImageError("x", "nonsense", "msg")
    assert "\n" not in str(ImageError("a\nb.png", "not_found", "m"))
    assert ImageError(Path("p.png"), "not_found", "m").path == "p.png"


def test_memory_model() -> None:
    # the default options: 5 CSR entries x 12 B x 5 (operator, AMG setup and V-cycle copies), 8
    # LOBPCG blocks of k + 4 = 12 float64 columns, 12 float64 planes (tests/test_memory_model.py
    # measures them)
    assert estimate_bytes(1, 1) == 5 * 12 * 5 + 8 * 12 * 8 + 12 * 8 == 1164
    assert estimate_bytes(100, 37) == 3700 * 1164
    assert estimate_bytes(0, 10) == 0
    limit = default_max_pixels(available=12 * 2**30)
    assert estimate_bytes(1, limit) <= 12 * 2**30 < estimate_bytes(1, limit + 1)
    with pytest.raises(ValueError):
        estimate_bytes(-1, 5)


def test_probe_fields(cases: dict[str, Path]) -> None:
    info = probe_image(cases["palette_trns_png"])
    assert info == fio.ImageInfo(str(cases["palette_trns_png"]), "png", 16, 16, 1, "P", 8)
    assert probe_image(cases["cmyk_jpeg"]).mode == "CMYK"
    exif6 = probe_image(cases["exif6_jpeg"])
    assert (exif6.width, exif6.height) == (40, 24)  # header size, before rotation


# --------------------------------------------------------------------------------------
# Real images
# --------------------------------------------------------------------------------------


def _shared_images() -> list[Path]:
    return sorted(SHARED_IMAGES.glob("*.png")) if SHARED_IMAGES.is_dir() else []


@pytest.mark.parametrize("path", _shared_images() or [None], ids=lambda p: p.name if p else "absent")
def test_shared_images(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"shared test images not found at {SHARED_IMAGES}")
    img = read_image(path)
    _assert_loaded_contract(img)
    with Image.open(path) as im:
        assert img.rgb.shape[:2] == (im.height, im.width)
        expected = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(_q(img.rgb, 255), expected)
    if path.name == "1bit redraw.png":
        assert set(np.unique(img.rgb).tolist()) <= {0.0, 1.0}
        assert probe_image(path).mode == "P"


# --------------------------------------------------------------------------------------
# Output validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_", "expected"),
    [("png", "png"), (".PNG", "png"), ("out/dir/x.tif", "tiff"), ("TIFF", "tiff"), ("jpg", "jpeg"),
     ("a.b.JPEG", "jpeg"), ("webp", "webp"), (Path("o/x.png"), "png")],
)
def test_validate_output_accepts(given_: str, expected: str) -> None:
    assert validate_output(given_, has_alpha=False, bit_depth=8) == expected


@pytest.mark.parametrize(("fmt", "has_alpha", "bit_depth"), bad.UNSUPPORTED_OUTPUT_COMBOS)
def test_validate_output_rejects(fmt: str, has_alpha: bool, bit_depth: int) -> None:
    with pytest.raises(ImageError) as info:
        validate_output(fmt, has_alpha=has_alpha, bit_depth=bit_depth)
    assert info.value.code == "unsupported_output"
    assert "\n" not in str(info.value)


def test_validate_output_alpha_and_16bit_ok_for_png_tiff() -> None:
    for fmt in ("png", "tiff"):
        for depth in (8, 16):
            assert validate_output(fmt, has_alpha=True, bit_depth=depth) == fmt
    assert validate_output("webp", has_alpha=True, bit_depth=8) == "webp"


# --------------------------------------------------------------------------------------
# Writing: round trips, determinism, atomicity
# --------------------------------------------------------------------------------------


def _random_image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


@pytest.mark.parametrize(("fmt", "bit_depth"), [("png", 8), ("png", 16), ("tiff", 8), ("tiff", 16), ("webp", 8)])
@pytest.mark.parametrize("layout", ["rgb", "rgba", "grey", "grey_alpha"])
def test_lossless_round_trip(tmp_path: Path, fmt: str, bit_depth: int, layout: str) -> None:
    h, w = 7, 11
    rgb = _random_image((h, w, 3) if layout.startswith("rgb") else (h, w), seed=1)
    alpha = _random_image((h, w), seed=2) if layout.endswith("alpha") or layout == "rgba" else None
    path = tmp_path / f"out.{fmt}"
    write_image(path, rgb, alpha, bit_depth=bit_depth)
    img = read_image(path)
    maxval = 255 if bit_depth == 8 else 65535
    expected_rgb = rgb if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, axis=2)
    np.testing.assert_array_equal(_q(img.rgb, maxval), _q(expected_rgb, maxval))
    assert img.bit_depth == bit_depth and "precision_reduced" not in img.warnings
    if alpha is None:
        assert img.alpha is None
    else:
        np.testing.assert_array_equal(_q(img.alpha, maxval), _q(alpha, maxval))


def test_jpeg_round_trip(tmp_path: Path) -> None:
    rgb = np.zeros((16, 16, 3))
    rgb[:, 8:] = 1.0
    write_image(tmp_path / "x.jpg", rgb)
    img = read_image(tmp_path / "x.jpg")
    np.testing.assert_allclose(img.rgb, rgb, atol=0.03)


@pytest.mark.parametrize(("fmt", "bit_depth", "alpha"), [("png", 8, False), ("png", 8, True), ("png", 16, False),
                                                        ("png", 16, True), ("tiff", 8, True), ("tiff", 16, False),
                                                        ("jpeg", 8, False), ("webp", 8, True)])
def test_byte_identical(tmp_path: Path, fmt: str, bit_depth: int, alpha: bool) -> None:
    rgb = _random_image((33, 17, 3), seed=3)
    a = _random_image((33, 17), seed=4) if alpha else None
    write_image(tmp_path / "a.out", rgb, a, bit_depth=bit_depth, fmt=fmt)
    write_image(tmp_path / "b.out", rgb.copy(), None if a is None else a.copy(), bit_depth=bit_depth, fmt=fmt)
    assert (tmp_path / "a.out").read_bytes() == (tmp_path / "b.out").read_bytes()
    assert sniff_format(tmp_path / "a.out") == fmt


def test_quantisation_exact_levels_and_clipping(tmp_path: Path) -> None:
    levels8 = np.arange(256) / 255.0
    rgb = np.repeat(levels8.reshape(16, 16)[..., None], 3, axis=2)
    write_image(tmp_path / "l8.png", rgb)
    with Image.open(tmp_path / "l8.png") as im:
        np.testing.assert_array_equal(np.asarray(im)[..., 0].ravel(), np.arange(256))
    clipped = np.array([[-0.5, 0.0, 1.0, 7.0]])
    write_image(tmp_path / "clip.png", clipped, bit_depth=16)
    with Image.open(tmp_path / "clip.png") as im:
        np.testing.assert_array_equal(np.asarray(im).ravel(), [0, 0, 65535, 65535])
    # round half to even: 0.5 * 255 = 127.5 -> 128, and the quantiser is np.rint
    values = np.random.default_rng(5).random((9, 9))
    np.testing.assert_array_equal(io_write._quantise(values, 255, np.uint8), np.rint(values * 255))
    assert io_write._quantise(np.array([0.5]), 255, np.uint8)[0] == 128


def test_write_does_not_modify_input(tmp_path: Path) -> None:
    rgb = _random_image((5, 6, 3)) * 1.5 - 0.2
    before = rgb.copy()
    write_image(tmp_path / "x.png", rgb)
    np.testing.assert_array_equal(rgb, before)


def test_write_creates_parents_and_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "x.png"
    write_image(path, np.zeros((2, 2, 3)))
    write_image(path, np.ones((3, 3, 3)))
    assert read_image(path).rgb.shape == (3, 3, 3)
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_atomic_failure_mid_encode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def failing_encode(fh: stdio.BufferedWriter, fmt: str, samples: np.ndarray, bit_depth: int,
                       *metadata: object) -> None:
        fh.write(b"\x89PNG\r\n\x1a\n partial")
        fh.flush()
        seen.append(_listing(tmp_path))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io_write, "_encode", failing_encode)
    with pytest.raises(ImageError) as info:
        write_image(tmp_path / "out.png", np.zeros((4, 4, 3)))
    assert info.value.code == "write_error" and "No space left" in info.value.message
    assert len(seen) == 1 and len(seen[0]) == 1 and TEMP_RE.match(seen[0][0])
    assert seen[0][0].startswith(".out.png.") and f".{os.getpid()}." in seen[0][0]
    assert _listing(tmp_path) == []  # no final file, no temp


@pytest.mark.parametrize("step", ["replace", "fsync"])
def test_atomic_failure_keeps_previous_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    path = tmp_path / "out.png"
    write_image(path, np.zeros((4, 4, 3)))
    previous = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(io_atomic.os, step, boom)
    with pytest.raises(ImageError) as info:
        write_image(path, np.ones((4, 4, 3)))
    monkeypatch.undo()
    assert info.value.code == "write_error"
    assert path.read_bytes() == previous
    assert _listing(tmp_path) == ["out.png"]


def test_interrupt_propagates_and_cleans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(fh: stdio.BufferedWriter, *args: object) -> None:
        fh.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(io_write, "_encode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "out.tif", np.zeros((4, 4, 3)))
    assert _listing(tmp_path) == []


def test_write_error_when_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(ImageError) as info:
        write_image(tmp_path / "file" / "out.png", np.zeros((2, 2, 3)))
    assert info.value.code == "write_error"


def test_write_to_existing_directory_name(tmp_path: Path) -> None:
    (tmp_path / "d.png").mkdir()
    with pytest.raises(ImageError) as info:
        write_image(tmp_path / "d.png", np.zeros((2, 2, 3)))
    assert info.value.code == "write_error"
    assert _listing(tmp_path) == ["d.png"]


def test_write_validates_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as info:
        write_image(tmp_path / "x.jpg", np.zeros((2, 2, 3)), np.ones((2, 2)))
    assert info.value.code == "unsupported_output"
    with pytest.raises(ImageError):
        write_image(tmp_path / "x.png", np.zeros((2, 2, 3)), fmt="gif")
    with pytest.raises(ImageError):
        write_image(tmp_path / "x.jpg", np.zeros((2, 2, 3)), bit_depth=16)
    assert _listing(tmp_path) == []


@pytest.mark.parametrize(
    ("rgb", "alpha", "match"),
    [(np.zeros((2, 2, 4)), None, "shape"), (np.zeros((2, 2, 3), np.uint8), None, "float"),
     (np.full((2, 2, 3), np.nan), None, "NaN"), (np.zeros((2, 2, 3)), np.zeros((3, 2)), "alpha"),
     (np.zeros((0, 2, 3)), None, "empty"), ([[0.0]], None, "numpy array")],
)
def test_write_rejects_bad_arrays(tmp_path: Path, rgb: object, alpha: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        write_image(tmp_path / "x.png", rgb, alpha)  # type: ignore[arg-type]
    assert _listing(tmp_path) == []


def test_sweep_stale_temps(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    stale = [tmp_path / ".a.png.123.0badc0de.tmp", sub / ".b c.tif.99999.deadbeef.tmp"]
    keep = [tmp_path / "a.png", tmp_path / ".a.png.tmp", tmp_path / "x.tmp", tmp_path / ".a.png.123.XYZ.tmp",
            tmp_path / f".mine.png.{os.getpid()}.00000000.tmp", sub / "b.png"]
    for p in stale + keep:
        p.write_bytes(b"x")
    (tmp_path / ".dir.1.abcdef01.tmp").mkdir()  # directories are never removed
    assert sweep_stale_temps(tmp_path, recursive=False) == 1
    assert sweep_stale_temps(tmp_path) == 1
    assert sweep_stale_temps(tmp_path) == 0
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale)
    assert sweep_stale_temps(tmp_path / "missing") == 0


def test_temp_name_matches_sweep_pattern() -> None:
    name = io_atomic._temp_name("out put.png")
    assert TEMP_RE.match(name) and io_atomic._TEMP_RE.match(name)


@settings(deadline=None, max_examples=30)
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    grey=st.booleans(),
    with_alpha=st.booleans(),
    bit_depth=st.sampled_from([8, 16]),
    fmt=st.sampled_from(["png", "tiff"]),
    seed=st.integers(0, 2**16),
)
def test_round_trip_property(h: int, w: int, grey: bool, with_alpha: bool, bit_depth: int, fmt: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rgb = rng.random((h, w) if grey else (h, w, 3)) * 1.2 - 0.1
    alpha = rng.random((h, w)) if with_alpha else None
    maxval = 255 if bit_depth == 8 else 65535
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x.{fmt}"
        write_image(path, rgb, alpha, bit_depth=bit_depth)
        img = read_image(path)
        assert sorted(os.listdir(tmp)) == [path.name]
    expected = rgb if not grey else np.repeat(rgb[..., None], 3, axis=2)
    np.testing.assert_array_equal(_q(img.rgb, maxval), _q(expected, maxval))
    assert (img.alpha is None) == (alpha is None)
    if alpha is not None:
        np.testing.assert_array_equal(_q(img.alpha, maxval), _q(alpha, maxval))


# --------------------------------------------------------------------------------------
# The one-error-type contract
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "code"), [(RuntimeError("plugin bug"), "decode_error"), (MemoryError(), "too_large")]
)
def test_unexpected_errors_become_image_errors(
    cases: dict[str, Path], monkeypatch: pytest.MonkeyPatch, raised: BaseException, code: str
) -> None:
    def broken(*args: object) -> None:
        raise raised

    monkeypatch.setattr(io_read, "_pixels", broken)
    err = _raises(cases["one_by_one_png"], code)
    if code == "decode_error":
        assert "RuntimeError" in err.message and "plugin bug" in err.message


def test_interrupt_while_reading_propagates(cases: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(io_read, "_pixels", interrupted)
    with pytest.raises(KeyboardInterrupt):
        read_image(cases["one_by_one_png"])


def test_unreadable_exif_is_a_warning(cases: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def corrupt(self: Image.Image) -> None:
        raise SyntaxError("corrupt EXIF")

    monkeypatch.setattr(Image.Image, "getexif", corrupt)
    img = read_image(cases["exif6_jpeg"])
    assert img.warnings == ["exif_unreadable"] and img.rgb.shape == (24, 40, 3)
    assert read_image(cases["exif6_jpeg"], exif="ignore").warnings == []


def test_int32_tiff_is_unsupported_dtype(tmp_path: Path) -> None:
    path = tmp_path / "int32.tif"
    Image.fromarray(np.arange(12, dtype=np.int32).reshape(3, 4) * 1000).save(path, format="TIFF")
    assert "integer" in _raises(path, "unsupported_dtype").message


@pytest.mark.parametrize(("ext", "depth", "alpha"), [
    ("png", 8, False), ("png", 16, True), ("tif", 8, True), ("tif", 16, False), ("tif", 16, True),
    ("jpg", 8, False), ("webp", 8, True),
])
def test_probe_output_accepts_whole_outputs_and_rejects_every_truncation(tmp_path: Path, ext: str,
                                                                        depth: int, alpha: bool) -> None:
    from fastshade.io import probe_output

    rgb = np.random.default_rng(3).random((30, 41, 3))
    path = tmp_path / f"o.{ext}"
    write_image(path, rgb, rgb[:, :, 0] if alpha else None, bit_depth=depth)
    assert probe_output(path).width == 41
    whole = path.read_bytes()
    for cut in (1, 4, 12, len(whole) // 2):  # the header always survives these cuts
        path.write_bytes(whole[:-cut])
        with pytest.raises(ImageError) as info:
            probe_output(path)
        assert info.value.code in ("decode_truncated", "decode_error"), (cut, info.value)


def test_write_atomic_leaves_nothing_on_failure(tmp_path: Path) -> None:
    from fastshade.io import write_atomic

    def boom(fh):
        fh.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(ImageError, match="No space left"):
        write_atomic(tmp_path / "s.json", boom, "JSON")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "d").mkdir()
    with pytest.raises(ImageError, match="directory"):
        write_atomic(tmp_path / "d", lambda fh: fh.write(b"x"), "JSON")
    write_atomic(tmp_path / "s.json", lambda fh: fh.write(b"{}"), "JSON")
    assert (tmp_path / "s.json").read_bytes() == b"{}" and len(list(tmp_path.iterdir())) == 2


@pytest.mark.skipif(__import__("numba").config.NUMBA_NUM_THREADS < 2, reason="Numba has one thread here")
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_8bit_samples_split_among_threads_are_the_same_values(tmp_path, channels):
    import numba

    from fastshade import threads

    rng = np.random.default_rng(channels)
    shape = (37, 23) if channels == 1 else (37, 23, channels)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / "split.png"
    Image.fromarray(pixels).save(path)
    one = fio.read_image(path)
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        with threads.parallel_from(0):  # every image in two parts of rows, on two threads
            two = fio.read_image(path)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(two.rgb, one.rgb)
    assert (two.alpha is None) == (one.alpha is None)
    if one.alpha is not None:
        np.testing.assert_array_equal(two.alpha, one.alpha)
    colour = pixels if channels >= 3 else np.repeat(pixels.reshape(37, 23, -1)[..., :1], 3, axis=2)
    np.testing.assert_array_equal(one.rgb, colour[..., :3] / 255.0)
