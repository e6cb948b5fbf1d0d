"""Writing: check an output format, quantise float planes and encode them, atomically.

Values are quantised with round-half-to-even of ``value * 255`` (or
``* 65535``) after clipping to [0, 1] and written through
:func:`~fastshade.io.atomic.write_atomic` (temp file, fsync, ``os.replace``).
Every encoder embeds no timestamp, so the same input gives byte-identical
files.  8-bit PNG/TIFF/JPEG/WebP are written by Pillow; 16-bit TIFF (grey,
RGB, RGBA; grey + alpha as RGBA) by tifffile; 16-bit PNG (grey, grey + alpha,
RGB, RGBA) by the small zlib encoder below, because Pillow cannot hold 16-bit
colour.  The resolution and ICC profile of the input, when given, are written
too (:mod:`fastshade.io.metadata`); without them the bytes are as before.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from typing import IO

import numpy as np
from PIL import Image

from fastshade.io.atomic import write_atomic
from fastshade.io.errors import ImageError
from fastshade.io.metadata import Dpi, check_dpi, check_icc_profile, png_metadata_chunks

__all__ = ["OUTPUT_FORMATS", "validate_output", "write_image"]

_OUTPUT_ALIASES = {
    "png": "png",
    "tif": "tiff",
    "tiff": "tiff",
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jpe": "jpeg",
    "webp": "webp",
}
OUTPUT_FORMATS: tuple[str, ...] = ("png", "tiff", "jpeg", "webp")
"""Normalised output formats :func:`write_image` can produce."""


def _format_key(path_or_format: str) -> str:
    base = os.path.basename(str(path_or_format))
    root, ext = os.path.splitext(base)
    return (ext[1:] if ext else root.lstrip(".")).lower()


def validate_output(path_or_format: str | os.PathLike[str], *, has_alpha: bool, bit_depth: int) -> str:
    """Check an output format/bit-depth/alpha combination before any compute.

    Parameters
    ----------
    path_or_format : str or os.PathLike
        A format name (``png``, ``.tif``, ``JPG``...) or an output path whose
        extension names the format.
    has_alpha : bool
        Whether the image to write has an alpha channel.
    bit_depth : int
        8 or 16.

    Returns
    -------
    str
        The normalised format: ``png``, ``tiff``, ``jpeg`` or ``webp``.

    Raises
    ------
    ImageError
        ``unsupported_output`` for an unknown extension, a bit depth other
        than 8/16, alpha to JPEG, or 16-bit to JPEG/WebP.
    """
    label = os.fspath(path_or_format)
    key = _format_key(label)
    fmt = _OUTPUT_ALIASES.get(key)
    if fmt is None:
        raise ImageError(
            label, "unsupported_output", f"unknown output format {key!r} (use png, tiff, jpeg or webp)"
        )
    if bit_depth not in (8, 16):
        raise ImageError(label, "unsupported_output", f"output bit depth {bit_depth} not supported (8 or 16)")
    if fmt == "jpeg" and has_alpha:
        raise ImageError(label, "unsupported_output", "JPEG cannot store alpha; use png, tiff or webp")
    if fmt in ("jpeg", "webp") and bit_depth == 16:
        raise ImageError(label, "unsupported_output", f"{fmt.upper()} is 8-bit only; use png or tiff for 16-bit")
    return fmt


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


_PNG_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type
_IDAT_CHUNK_BYTES = 1 << 20


def _encode_png16(fh: IO[bytes], samples: np.ndarray, dpi: Dpi | None, icc: bytes | None) -> None:
    """Write ``samples`` ((H, W, C) uint16, C in 1..4) as a 16-bit PNG (filter Up, zlib 6), with
    ``pHYs``/``iCCP`` chunks for ``dpi``/``icc`` when given.
    """
    height, width, channels = samples.shape
    rows = np.ascontiguousarray(samples, dtype=">u2").view(np.uint8).reshape(height, width * channels * 2)
    filtered = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = 2  # "Up": row minus the row above (the row above row 0 is zeros)
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # uint8 arithmetic wraps mod 256
    compressed = zlib.compress(filtered.tobytes(), 6)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, _PNG_COLOUR_TYPE[channels], 0, 0, 0)
    fh.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr))
    for kind, payload in png_metadata_chunks(dpi, icc):
        fh.write(_png_chunk(kind, payload))
    for start in range(0, max(len(compressed), 1), _IDAT_CHUNK_BYTES):
        fh.write(_png_chunk(b"IDAT", compressed[start : start + _IDAT_CHUNK_BYTES]))
    fh.write(_png_chunk(b"IEND", b""))


def _encode_tiff16(fh: IO[bytes], samples: np.ndarray, dpi: Dpi | None, icc: bytes | None) -> None:
    """Write ``samples`` ((H, W, C) uint16, C in {1, 3, 4}) as a little-endian Adobe-deflate TIFF, one strip,
    with ``XResolution``/``YResolution`` in inches and the ICC tag 34675 for ``dpi``/``icc`` when given.
    """
    import tifffile  # imported here: it takes 0.2 s and only 16-bit TIFF output needs it

    height, _width, channels = samples.shape
    buffer = io.BytesIO()  # in memory: tifffile takes the name of a file handle, an int for ours (os.fdopen)
    metadata: dict[str, object] = {}
    if dpi is not None:
        metadata.update(resolution=dpi, resolutionunit="INCH")
    if icc is not None:
        metadata["iccprofile"] = icc
    tifffile.imwrite(
        buffer,
        samples[..., 0] if channels == 1 else samples,
        byteorder="<",
        photometric="rgb" if channels >= 3 else "minisblack",
        extrasamples=["unassalpha"] if channels == 4 else None,
        compression="adobe_deflate",
        compressionargs={"level": 6},
        rowsperstrip=height,
        metadata=None,
        software=False,
        **metadata,  # type: ignore[arg-type]
    )
    fh.write(buffer.getbuffer())


def _encode(fh: IO[bytes], fmt: str, samples: np.ndarray, bit_depth: int, dpi: Dpi | None,
            icc: bytes | None) -> None:
    """Encode quantised ``samples`` ((H, W, C) uint8/uint16) in ``fmt`` into ``fh``, with ``dpi`` and ``icc``."""
    if bit_depth == 16:
        if fmt == "png":
            _encode_png16(fh, samples, dpi, icc)
        else:
            if samples.shape[2] == 2:  # grey + alpha -> RGBA (Pillow reads no 16-bit LA TIFF)
                samples = np.concatenate([np.repeat(samples[..., :1], 3, axis=2), samples[..., 1:]], axis=2)
                icc = None  # a GRAY profile cannot describe the RGB samples written
            _encode_tiff16(fh, samples, dpi, icc)
        return
    image = Image.fromarray(samples[..., 0] if samples.shape[2] == 1 else samples)
    buffer = io.BytesIO()  # Pillow encodes in memory (libtiff would otherwise write to the fd behind our back)
    extra: dict[str, object] = {}
    if dpi is not None and fmt != "webp":  # WebP has no resolution field
        extra["dpi"] = dpi
    if icc is not None:
        extra["icc_profile"] = icc
    if fmt == "png":
        image.save(buffer, format="PNG", compress_level=6, **extra)
    elif fmt == "tiff":
        image.save(buffer, format="TIFF", compression="tiff_deflate", **extra)
    elif fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=95, subsampling=0, **extra)
    else:
        image.save(buffer, format="WEBP", lossless=True, exact=True, **extra)
    fh.write(buffer.getbuffer())


def _quantise(values: np.ndarray, maxval: int, dtype: type[np.unsignedinteger]) -> np.ndarray:
    scaled = np.clip(values, 0.0, 1.0)  # one temporary, the steps in place (the same values)
    scaled *= maxval
    return np.rint(scaled, out=scaled).astype(dtype)


def _check_plane(name: str, a: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(a).__name__}")
    if not (np.issubdtype(a.dtype, np.floating) or a.dtype == np.bool_):
        raise ValueError(f"{name} must be a float array with values in [0, 1], got dtype {a.dtype}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def write_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    *,
    bit_depth: int = 8,
    fmt: str | None = None,
    dpi: Dpi | None = None,
    icc_profile: bytes | None = None,
) -> None:
    """Write an image atomically (temp file + fsync + ``os.replace``).

    Parameters
    ----------
    path : str or os.PathLike
        Final file name; missing parent directories are created.  An existing
        file is replaced atomically.
    rgb : numpy.ndarray
        ``(H, W, 3)`` colour or ``(H, W)`` grey, float, values in [0, 1]
        (clipped), finite.  Not modified.
    alpha : numpy.ndarray or None, optional
        ``(H, W)`` float in [0, 1], or ``None`` for an opaque image.
    bit_depth : int, optional
        8 (default) or 16 (PNG and TIFF only).
    fmt : str or None, optional
        Output format (``png``, ``tiff``/``tif``, ``jpeg``/``jpg``, ``webp``);
        by default taken from the extension of ``path``.
    dpi : (float, float) or None, optional
        Resolution (x, y) in dots per inch to record: PNG ``pHYs``, TIFF
        ``XResolution``/``YResolution`` (inches), JPEG JFIF density (whole
        numbers); WebP has no field for it.  None (default) records none.
    icc_profile : bytes or None, optional
        ICC profile to embed; it must describe the written colour space (RGB,
        or GRAY for a grey ``rgb`` plane).  None (default) embeds none.

    Raises
    ------
    ImageError
        ``unsupported_output`` for a bad format/depth/alpha combination
        (nothing is written), ``write_error`` when encoding or writing fails;
        neither a partial file under ``path`` nor a temporary file is left.
    ValueError
        For arrays of the wrong dtype or shape, or containing NaN/inf; for a
        ``dpi`` that is not two finite numbers > 0, or an ``icc_profile`` of
        another colour space.

    Notes
    -----
    Quantisation is ``rint(clip(v, 0, 1) * 255)`` (or ``* 65535``), i.e. round
    half to even, so the same input always gives the same samples, and the
    encoders embed no timestamps, so the same input gives byte-identical files.
    """
    spath = os.fspath(path)
    rgb = _check_plane("rgb", rgb)
    if rgb.ndim == 3 and rgb.shape[2] == 3:
        planes = [rgb]
    elif rgb.ndim == 2:
        planes = [rgb[..., None]]
    else:
        raise ValueError(f"rgb must have shape (H, W, 3) or (H, W), got {rgb.shape}")
    if alpha is not None:
        alpha = _check_plane("alpha", alpha, rgb.shape[:2])
        planes.append(alpha[..., None])
    dpi = check_dpi(dpi)
    icc_profile = check_icc_profile(icc_profile, planes[0].shape[2])
    out_fmt = validate_output(fmt if fmt is not None else spath, has_alpha=alpha is not None, bit_depth=bit_depth)
    stacked = np.concatenate(planes, axis=2) if len(planes) > 1 else planes[0]
    if bit_depth == 16:
        samples = _quantise(stacked, 65535, np.uint16)
    else:
        samples = _quantise(stacked, 255, np.uint8)

    write_atomic(spath, lambda fh: _encode(fh, out_fmt, samples, bit_depth, dpi, icc_profile), out_fmt.upper())
