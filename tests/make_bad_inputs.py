"""Generate the bad-input catalogue of ``shared/spec/batch.md`` §4.5 on the fly.

Rows 1-18 (and the inputs for row 27) as small files written into a caller's
directory; nothing binary is committed.  Each ``make_<case>(directory)``
writes one file and returns its path; :func:`make_all` writes every case and
returns ``{name: path}``.  :data:`EXPECTED_READ` gives the expected outcome of
``fastshade.io.read_image`` with default arguments for each name (an
``ImageError`` code, or ``"ok"``); :data:`UNSUPPORTED_OUTPUT_COMBOS` lists the
row-27 output combinations that must be rejected before any compute.

The PNG and TIFF encoders here are deliberately independent of
``fastshade.io``'s writers (every PNG filter type, Adam7 interlacing,
multi-strip uncompressed TIFF), so they can serve as references for the
16-bit reader.  Everything is deterministic and cheap (the 40000 x 40000 bomb
is a header plus a few hundred bytes).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "CASES",
    "EXPECTED_READ",
    "UNSUPPORTED_OUTPUT_COMBOS",
    "encode_png",
    "encode_tiff16",
    "make_all",
    "make_exif_png",
    "make_unreadable_png",
    "source_array",
]

# --------------------------------------------------------------------------------------
# Reference encoders
# --------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ADAM7 = ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1))
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload, CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _filter_rows(raw: np.ndarray, bpp: int, filters: tuple[int, ...]) -> bytes:
    """Apply PNG filters (cycling through ``filters`` row by row) to (rows, bytes) uint8."""
    out = []
    prev = np.zeros(raw.shape[1], np.int32)
    for y in range(raw.shape[0]):
        x = raw[y].astype(np.int32)
        left = np.concatenate([np.zeros(bpp, np.int32), x[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int32), prev[:-bpp]])
        kind = filters[y % len(filters)]
        if kind == 0:
            res = x
        elif kind == 1:
            res = x - left
        elif kind == 2:
            res = x - prev
        elif kind == 3:
            res = x - (left + prev) // 2
        else:
            p = left + prev - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
            res = x - np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        out.append(bytes([kind]) + (res % 256).astype(np.uint8).tobytes())
        prev = x
    return b"".join(out)


def _row_bytes(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    """(h, w, c) integer samples -> (h, row_bytes) uint8 in PNG sample order."""
    h, w, c = samples.shape
    if bit_depth == 16:
        return np.ascontiguousarray(samples.astype(">u2")).view(np.uint8).reshape(h, w * c * 2)
    if bit_depth == 8:
        return samples.astype(np.uint8).reshape(h, w * c)
    bits = np.unpackbits(samples.astype(np.uint8).reshape(h, w * c, 1), axis=2)[:, :, 8 - bit_depth :]
    return np.packbits(bits.reshape(h, w * c * bit_depth), axis=1)


def encode_png(
    samples: np.ndarray,
    *,
    bit_depth: int,
    colour_type: int,
    interlace: bool = False,
    filters: tuple[int, ...] = (0, 1, 2, 3, 4),
    extra_chunks: tuple[tuple[bytes, bytes], ...] = (),
) -> bytes:
    """Encode integer ``samples`` ((H, W) or (H, W, C)) as a PNG file.

    Rows cycle through ``filters``; ``interlace`` uses Adam7; ``extra_chunks``
    (``(type, payload)``) go between IHDR and IDAT (PLTE, tRNS, eXIf...).
    """
    if samples.ndim == 2:
        samples = samples[..., None]
    h, w, c = samples.shape
    assert c == CHANNELS[colour_type]
    bpp = max(1, c * bit_depth // 8)
    if interlace:
        parts = []
        for y0, x0, dy, dx in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.size:
                parts.append(_filter_rows(_row_bytes(sub, bit_depth), bpp, filters))
        data = b"".join(parts)
    else:
        data = _filter_rows(_row_bytes(samples, bit_depth), bpp, filters)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, int(interlace))
    body = b"".join(png_chunk(kind, payload) for kind, payload in extra_chunks)
    return (
        PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + body + png_chunk(b"IDAT", zlib.compress(data, 6))
        + png_chunk(b"IEND", b"")
    )


def encode_tiff16(samples: np.ndarray, *, rows_per_strip: int = 7, big_endian: bool = False) -> bytes:
    """Encode uint16 ``samples`` ((H, W) or (H, W, C), C in {1, 3, 4}) as an uncompressed multi-strip TIFF."""
    if samples.ndim == 2:
        samples = samples[..., None]
    h, w, c = samples.shape
    e = ">" if big_endian else "<"
    strips = [
        np.ascontiguousarray(samples[y : y + rows_per_strip].astype(e + "u2")).tobytes()
        for y in range(0, h, rows_per_strip)
    ]
    n = len(strips)
    blob = bytearray(b"MM\x00*" if big_endian else b"II*\x00")
    blob += b"\x00\x00\x00\x00"  # IFD offset, patched below
    bps_off = len(blob)
    blob += struct.pack(f"{e}{c}H", *([16] * c))
    offsets = []
    for s in strips:
        offsets.append(len(blob))
        blob += s
    offs_off = len(blob)
    blob += struct.pack(f"{e}{n}I", *offsets)
    counts_off = len(blob)
    blob += struct.pack(f"{e}{n}I", *(len(s) for s in strips))
    if len(blob) % 2:
        blob += b"\x00"
    ifd = len(blob)
    blob[4:8] = struct.pack(f"{e}I", ifd)
    entries = [
        (256, 4, 1, w),
        (257, 4, 1, h),
        (258, 3, c, bps_off) if c > 2 else (258, 3, 1, 16),
        (259, 3, 1, 1),
        (262, 3, 1, 2 if c >= 3 else 1),
        (273, 4, n, offs_off) if n > 1 else (273, 4, 1, offsets[0]),
        (277, 3, 1, c),
        (278, 4, 1, rows_per_strip),
        (279, 4, n, counts_off) if n > 1 else (279, 4, 1, len(strips[0])),
        (284, 3, 1, 1),
    ]
    if c == 4:
        entries.append((338, 3, 1, 2))
    blob += struct.pack(f"{e}H", len(entries))
    for tag, kind, count, value in sorted(entries):
        if kind == 3 and count == 1:
            blob += struct.pack(f"{e}HHIH", tag, kind, count, value) + b"\x00\x00"
        else:
            blob += struct.pack(f"{e}HHII", tag, kind, count, value)
    blob += struct.pack(f"{e}I", 0)
    return bytes(blob)


# --------------------------------------------------------------------------------------
# Deterministic source content
# --------------------------------------------------------------------------------------


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def source_array(name: str) -> np.ndarray:
    """Exact sample values written by the lossless cases (to compare after reading).

    uint16 for the 16-bit cases, float32 for the float TIFFs, uint8 otherwise.
    """
    if name == "gray16_png":
        ramp = np.arange(37 * 41, dtype=np.uint64).reshape(37, 41) * 65535 // (37 * 41 - 1)
        return ramp.astype(np.uint16)
    if name in ("rgb16_png", "rgb16_png_interlaced", "rgb16_tiff", "rgb16_tiff_be"):
        a = _rng(11).integers(0, 65536, (29, 33, 3)).astype(np.uint16)
        a[0, 0] = (0, 65535, 257)
        return a
    if name == "rgba16_png":
        return _rng(12).integers(0, 65536, (23, 19, 4)).astype(np.uint16)
    if name == "la16_png":
        return _rng(13).integers(0, 65536, (21, 17, 2)).astype(np.uint16)
    if name == "float32_tiff":
        return np.linspace(0.0, 1.0, 24 * 20, dtype=np.float32).reshape(24, 20)
    if name in ("rgba_png",):
        a = _rng(14).integers(0, 256, (20, 24, 4)).astype(np.uint8)
        a[0, 0, 3] = 0
        a[0, 1, 3] = 255
        return a
    if name == "la_png":
        a = _rng(15).integers(0, 256, (18, 22, 2)).astype(np.uint8)
        a[0, 0, 1] = 0
        return a
    if name == "noise_rgb":
        return _rng(16).integers(0, 256, (96, 96, 3)).astype(np.uint8)
    raise KeyError(name)


# --------------------------------------------------------------------------------------
# Cases (one function per row; each returns the written path)
# --------------------------------------------------------------------------------------


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = Path(directory) / name
    path.write_bytes(data)
    return path


def _save(directory: Path, name: str, image: Image.Image, **kwargs: object) -> Path:
    path = Path(directory) / name
    image.save(path, **kwargs)
    return path


def make_truncated_png(directory: Path) -> Path:
    """Row 1: a valid noisy RGB PNG cut in half (header intact, IDAT cut)."""
    full = encode_png(source_array("noise_rgb"), bit_depth=8, colour_type=2, filters=(0,))
    return _write(directory, "truncated.png", full[: len(full) // 2])


def make_truncated_jpeg(directory: Path) -> Path:
    """Row 2: a noisy JPEG cut in half."""
    buf = io.BytesIO()
    Image.fromarray(source_array("noise_rgb")).save(buf, format="JPEG", quality=90)
    data = buf.getvalue()
    return _write(directory, "truncated.jpg", data[: len(data) // 2])


def make_zero_byte_png(directory: Path) -> Path:
    """Row 3: an empty file named .png."""
    return _write(directory, "empty.png", b"")


def make_random_bytes_png(directory: Path) -> Path:
    """Row 4: 4 KiB of seeded random bytes named .png."""
    data = _rng(4).integers(0, 256, 4096).astype(np.uint8).tobytes()
    if data[:3] == b"\xff\xd8\xff" or data[:2] == b"BM":  # never a valid signature (it isn't for seed 4)
        data = b"\x00" + data[1:]
    return _write(directory, "random.png", data)


def make_html_png(directory: Path) -> Path:
    """Row 4: an HTML error page saved as .png (a classic failed download)."""
    html = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n<body>Not Found</body></html>\n"
    return _write(directory, "page.png", html)


def make_png_named_jpg(directory: Path) -> Path:
    """Row 5: PNG content with a .jpg name (decodes normally)."""
    a = np.full((16, 20, 3), 255, np.uint8)
    a[4:12, 5:15] = 0
    return _write(directory, "actually_png.jpg", encode_png(a, bit_depth=8, colour_type=2))


def make_bomb_png(directory: Path) -> Path:
    """Row 6: 40000 x 40000 1-bit PNG header with a tiny payload (a few zero rows)."""
    ihdr = struct.pack(">IIBBBBB", 40000, 40000, 1, 0, 0, 0, 0)
    payload = zlib.compress(bytes(4 * (1 + 5000)), 9)
    data = PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", payload) + png_chunk(b"IEND", b"")
    return _write(directory, "bomb.png", data)


def make_huge_png(directory: Path) -> Path:
    """Row 7: a legit, fully valid 12000 x 12000 1-bit white PNG (~100 KB on disk)."""
    side = 12000
    row_len = side // 8
    comp = zlib.compressobj(1)
    first = b"\x00" + b"\xff" * row_len
    rest = (b"\x02" + bytes(row_len)) * 1000  # filter "Up": identical rows are zeros
    parts = [comp.compress(first)]
    remaining = side - 1
    while remaining:
        n = min(1000, remaining)
        parts.append(comp.compress(rest[: n * (row_len + 1)]))
        remaining -= n
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    data = (
        PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts)) + png_chunk(b"IEND", b"")
    )
    return _write(directory, "huge.png", data)


def make_one_by_one_png(directory: Path) -> Path:
    """Row 8: a 1 x 1 black RGB pixel."""
    return _write(directory, "one_by_one.png", encode_png(np.zeros((1, 1, 3), np.uint8), bit_depth=8, colour_type=2))


def make_one_by_n_png(directory: Path) -> Path:
    """Row 8: a 1 x 64 strip (one row)."""
    a = np.full((1, 64, 3), 255, np.uint8)
    a[0, 10:20] = 0
    return _write(directory, "one_by_n.png", encode_png(a, bit_depth=8, colour_type=2))


def make_n_by_one_png(directory: Path) -> Path:
    """Row 8: a 64 x 1 strip (one column), grey."""
    a = np.full((64, 1), 255, np.uint8)
    a[10:20] = 0
    return _write(directory, "n_by_one.png", encode_png(a, bit_depth=8, colour_type=0))


def make_all_white_png(directory: Path) -> Path:
    """Row 9: 32 x 32 all white (no ink)."""
    white = np.full((32, 32, 3), 255, np.uint8)
    return _write(directory, "all_white.png", encode_png(white, bit_depth=8, colour_type=2))


def make_all_black_png(directory: Path) -> Path:
    """Row 9: 32 x 32 all black."""
    return _write(directory, "all_black.png", encode_png(np.zeros((32, 32, 3), np.uint8), bit_depth=8, colour_type=2))


def make_speckle_png(directory: Path) -> Path:
    """Row 10: 240 x 240 white with 6400 isolated black pixels (every 3rd row/column)."""
    a = np.full((240, 240), 255, np.uint8)
    a[1::3, 1::3] = 0
    return _write(directory, "speckle.png", encode_png(a, bit_depth=8, colour_type=0))


def make_gray16_png(directory: Path) -> Path:
    """Row 11: 16-bit greyscale ramp 0..65535 (37 x 41)."""
    return _write(directory, "gray16.png", encode_png(source_array("gray16_png"), bit_depth=16, colour_type=0))


def make_rgb16_png(directory: Path) -> Path:
    """Row 12: 16-bit RGB, random samples, rows cycling through all five filters."""
    return _write(directory, "rgb16.png", encode_png(source_array("rgb16_png"), bit_depth=16, colour_type=2))


def make_rgb16_png_interlaced(directory: Path) -> Path:
    """Row 12: 16-bit RGB, Adam7 interlaced, all filters."""
    data = encode_png(source_array("rgb16_png_interlaced"), bit_depth=16, colour_type=2, interlace=True)
    return _write(directory, "rgb16_adam7.png", data)


def make_rgba16_png(directory: Path) -> Path:
    """Row 12/14: 16-bit RGBA."""
    return _write(directory, "rgba16.png", encode_png(source_array("rgba16_png"), bit_depth=16, colour_type=6))


def make_la16_png(directory: Path) -> Path:
    """Row 11/14: 16-bit grey + alpha."""
    return _write(directory, "la16.png", encode_png(source_array("la16_png"), bit_depth=16, colour_type=4))


def make_rgb16_tiff(directory: Path) -> Path:
    """Row 12: 16-bit RGB uncompressed little-endian TIFF in 5 strips."""
    return _write(directory, "rgb16.tif", encode_tiff16(source_array("rgb16_tiff")))


def make_rgb16_tiff_be(directory: Path) -> Path:
    """Row 12: 16-bit RGB uncompressed big-endian TIFF in 5 strips."""
    return _write(directory, "rgb16_be.tif", encode_tiff16(source_array("rgb16_tiff_be"), big_endian=True))


def make_palette_trns_png(directory: Path) -> Path:
    """Row 13: 4-colour palette PNG; index 0 fully transparent, index 1 half (tRNS)."""
    idx = np.zeros((16, 16), np.uint8)
    idx[4:12, 4:12] = 1
    idx[6:10, 6:10] = 2
    idx[0, 15] = 3
    plte = bytes([255, 255, 255, 0, 0, 0, 200, 30, 30, 10, 20, 250])
    trns = bytes([0, 128])
    data = encode_png(idx, bit_depth=8, colour_type=3, extra_chunks=((b"PLTE", plte), (b"tRNS", trns)))
    return _write(directory, "palette_trns.png", data)


def make_onebit_png(directory: Path) -> Path:
    """Row 13: 1-bit bilevel PNG (bit 1 = white), odd width to exercise row padding."""
    a = np.ones((13, 21), np.uint8)
    a[3:9, 2:18] = 0
    return _write(directory, "onebit.png", encode_png(a, bit_depth=1, colour_type=0))


def make_rgb_trns_png(directory: Path) -> Path:
    """Row 13: 8-bit RGB with a tRNS colour key (white transparent)."""
    a = np.full((10, 12, 3), 255, np.uint8)
    a[2:8, 3:9] = (0, 0, 0)
    data = encode_png(a, bit_depth=8, colour_type=2, extra_chunks=((b"tRNS", struct.pack(">HHH", 255, 255, 255)),))
    return _write(directory, "rgb_trns.png", data)


def make_rgba_png(directory: Path) -> Path:
    """Row 14: 8-bit RGBA with random alpha."""
    return _write(directory, "rgba.png", encode_png(source_array("rgba_png"), bit_depth=8, colour_type=6))


def make_la_png(directory: Path) -> Path:
    """Row 14: 8-bit grey + alpha."""
    return _write(directory, "la.png", encode_png(source_array("la_png"), bit_depth=8, colour_type=4))


def make_cmyk_jpeg(directory: Path) -> Path:
    """Row 15: CMYK JPEG, pure red (C=0, M=Y=255, K=0), 16 x 24."""
    return _save(directory, "cmyk.jpg", Image.new("CMYK", (24, 16), (0, 255, 255, 0)), format="JPEG", quality=95)


def _exif_base() -> np.ndarray:
    """24 x 40 white RGB with a black 8 x 8 block in the stored top-left corner."""
    a = np.full((24, 40, 3), 255, np.uint8)
    a[:8, :8] = 0
    return a


def make_exif6_jpeg(directory: Path) -> Path:
    """Row 16: JPEG stored 40 wide x 24 tall with EXIF orientation 6 (rotate 90 deg CW to display)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(directory, "exif6.jpg", Image.fromarray(_exif_base()), format="JPEG", quality=95, exif=exif)


def make_exif8_jpeg(directory: Path) -> Path:
    """Row 16: same content with EXIF orientation 8 (rotate 90 deg CCW to display)."""
    exif = Image.Exif()
    exif[0x0112] = 8
    return _save(directory, "exif8.jpg", Image.fromarray(_exif_base()), format="JPEG", quality=95, exif=exif)


def make_exif_png(directory: Path, orientation: int) -> Path:
    """A lossless RGB PNG (random content, 5 x 7) with an eXIf orientation tag."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    a = _rng(100 + orientation).integers(0, 256, (5, 7, 3)).astype(np.uint8)
    return _save(directory, f"exif{orientation}.png", Image.fromarray(a), format="PNG", exif=exif)


def _frames() -> list[Image.Image]:
    colours = [(0, 0, 0), (255, 0, 0), (0, 0, 255)]
    return [Image.new("RGB", (20, 16), c) for c in colours]


def make_animated_gif(directory: Path) -> Path:
    """Row 17: 3-frame animated GIF (black, red, blue)."""
    first, *rest = _frames()
    return _save(
        directory, "animated.gif", first, format="GIF", save_all=True, append_images=rest, duration=100, loop=0
    )


def make_apng(directory: Path) -> Path:
    """Row 17: 3-frame animated PNG (black, red, blue)."""
    first, *rest = _frames()
    return _save(directory, "animated.png", first, format="PNG", save_all=True, append_images=rest, duration=100)


def make_multipage_tiff(directory: Path) -> Path:
    """Row 17: 3-page TIFF (black, red, blue)."""
    first, *rest = _frames()
    return _save(directory, "multipage.tif", first, format="TIFF", save_all=True, append_images=rest)


def make_float32_tiff(directory: Path) -> Path:
    """Row 18: float32 single-channel TIFF with values in [0, 1] (accepted)."""
    return _save(directory, "float32.tif", Image.fromarray(source_array("float32_tiff")), format="TIFF")


def make_float_nan_tiff(directory: Path) -> Path:
    """Row 18: float32 TIFF containing NaN (rejected: unsupported_dtype)."""
    a = source_array("float32_tiff").copy()
    a[3, 4] = np.nan
    return _save(directory, "float_nan.tif", Image.fromarray(a), format="TIFF")


def make_float_range_tiff(directory: Path) -> Path:
    """Row 18: float32 TIFF with values up to 4 (rejected: unsupported_dtype)."""
    a = source_array("float32_tiff") * 4.0
    return _save(directory, "float_range.tif", Image.fromarray(a), format="TIFF")


def make_unreadable_png(directory: Path) -> Path:
    """Row 21: a valid PNG with mode 000 (``permission`` unless running as root).

    Not part of :func:`make_all` (root can read it anyway, and tmp cleanup
    would have to restore the mode).
    """
    path = make_one_by_one_png(directory).rename(Path(directory) / "unreadable.png")
    path.chmod(0)
    return path


CASES: dict[str, Callable[[Path], Path]] = {
    "truncated_png": make_truncated_png,
    "truncated_jpeg": make_truncated_jpeg,
    "zero_byte_png": make_zero_byte_png,
    "random_bytes_png": make_random_bytes_png,
    "html_png": make_html_png,
    "png_named_jpg": make_png_named_jpg,
    "bomb_png": make_bomb_png,
    "huge_png": make_huge_png,
    "one_by_one_png": make_one_by_one_png,
    "one_by_n_png": make_one_by_n_png,
    "n_by_one_png": make_n_by_one_png,
    "all_white_png": make_all_white_png,
    "all_black_png": make_all_black_png,
    "speckle_png": make_speckle_png,
    "gray16_png": make_gray16_png,
    "rgb16_png": make_rgb16_png,
    "rgb16_png_interlaced": make_rgb16_png_interlaced,
    "rgba16_png": make_rgba16_png,
    "la16_png": make_la16_png,
    "rgb16_tiff": make_rgb16_tiff,
    "rgb16_tiff_be": make_rgb16_tiff_be,
    "palette_trns_png": make_palette_trns_png,
    "onebit_png": make_onebit_png,
    "rgb_trns_png": make_rgb_trns_png,
    "rgba_png": make_rgba_png,
    "la_png": make_la_png,
    "cmyk_jpeg": make_cmyk_jpeg,
    "exif6_jpeg": make_exif6_jpeg,
    "exif8_jpeg": make_exif8_jpeg,
    "animated_gif": make_animated_gif,
    "apng": make_apng,
    "multipage_tiff": make_multipage_tiff,
    "float32_tiff": make_float32_tiff,
    "float_nan_tiff": make_float_nan_tiff,
    "float_range_tiff": make_float_range_tiff,
}
"""Every generated case: name -> ``make_<case>(directory) -> Path``."""

EXPECTED_READ: dict[str, str] = {
    "truncated_png": "decode_truncated",
    "truncated_jpeg": "decode_truncated",
    "zero_byte_png": "not_an_image",
    "random_bytes_png": "not_an_image",
    "html_png": "not_an_image",
    "bomb_png": "too_large",
    "huge_png": "too_large",
    "float_nan_tiff": "unsupported_dtype",
    "float_range_tiff": "unsupported_dtype",
    **{
        name: "ok"
        for name in CASES
        if name
        not in {
            "truncated_png",
            "truncated_jpeg",
            "zero_byte_png",
            "random_bytes_png",
            "html_png",
            "bomb_png",
            "huge_png",
            "float_nan_tiff",
            "float_range_tiff",
        }
    },
}
"""Outcome of ``fastshade.io.read_image(path)`` (defaults): an ImageError code or ``"ok"``."""

UNSUPPORTED_OUTPUT_COMBOS: tuple[tuple[str, bool, int], ...] = (
    ("jpeg", True, 8),  # RGBA -> JPEG
    ("jpg", False, 16),  # 16-bit -> JPEG
    ("jpeg", True, 16),
    ("webp", False, 16),
    ("gif", False, 8),  # unknown / unsupported extensions
    ("bmp", False, 8),
    ("exr", False, 16),
    ("", False, 8),
    ("png", False, 12),  # bit depth other than 8/16
)
"""Row 27: ``(format, has_alpha, bit_depth)`` that ``validate_output`` must reject."""


def make_all(directory: Path | str) -> dict[str, Path]:
    """Write every case of :data:`CASES` into ``directory`` (created if needed).

    Returns
    -------
    dict
        ``{name: path}`` in catalogue order.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return {name: make(directory) for name, make in CASES.items()}
