"""Resolution (DPI) and ICC colour profile: read from an opened image, checked, and encoded.

Reading takes what Pillow parsed from the header: PNG ``pHYs`` (metres converted to inches),
TIFF ``XResolution``/``YResolution``/``ResolutionUnit`` (centimetres converted), JPEG JFIF
density (or its EXIF resolution), BMP's pixels per metre; and the ICC profile of PNG
``iCCP``, JPEG ``APP2``, TIFF tag 34675 and WebP ``ICCP``.  A resolution of 1 x 1 or less is a
placeholder (Pillow writes 1 dpi into every TIFF it saves without one), not a resolution, and is
dropped, as are zero, negative and non-finite values.  The writers (:mod:`fastshade.io.write`)
put them back: Pillow's ``dpi=``/``icc_profile=`` for 8-bit PNG, TIFF, JPEG (and the profile
only for WebP, which has no resolution field), the chunks below for 16-bit PNG, and tifffile's
``resolution=``/``iccprofile=`` for 16-bit TIFF.
"""

from __future__ import annotations

import math
import struct
import zlib

from PIL import Image

__all__ = ["Dpi", "check_dpi", "check_icc_profile", "icc_colour_space", "orient_dpi", "png_metadata_chunks",
           "read_dpi", "read_icc_profile"]

Dpi = tuple[float, float]
"""Horizontal and vertical resolution in dots per inch."""

_ICC_HEADER_BYTES = 128
_METRES_PER_INCH = 0.0254


def read_dpi(im: Image.Image) -> Dpi | None:
    """The resolution Pillow parsed from ``im``'s header, or None when it has none (or a placeholder)."""
    dpi = im.info.get("dpi")
    try:
        x, y = (float(v) for v in dpi)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(x) and math.isfinite(y)) or x <= 0 or y <= 0 or (x <= 1 and y <= 1):
        return None
    return x, y


def orient_dpi(dpi: Dpi | None, orientation: int) -> Dpi | None:
    """The resolution after EXIF orientation ``orientation``: the transposing ones (5-8) swap x and y."""
    if dpi is None or orientation < 5:
        return dpi
    return dpi[1], dpi[0]


def read_icc_profile(im: Image.Image) -> bytes | None:
    """The ICC profile embedded in ``im``'s file, or None (also for an empty one)."""
    profile = im.info.get("icc_profile")
    return bytes(profile) if profile else None


def icc_colour_space(profile: bytes) -> str:
    """The data colour space an ICC profile describes (``RGB``, ``GRAY``, ``CMYK``...; "" if unreadable)."""
    if len(profile) < _ICC_HEADER_BYTES:
        return ""
    return profile[16:20].decode("latin-1").strip()


def check_dpi(dpi: Dpi | None) -> Dpi | None:
    """Return ``dpi`` as two floats, or raise ValueError unless both are finite and > 0."""
    if dpi is None:
        return None
    try:
        x, y = (float(v) for v in dpi)
    except (TypeError, ValueError):
        raise ValueError(f"dpi must be two numbers (x, y), got {dpi!r}") from None
    if not (math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0):
        raise ValueError(f"dpi must be finite and > 0, got {dpi!r}")
    return x, y


def check_icc_profile(profile: bytes | None, channels: int) -> bytes | None:
    """Return ``profile``, or raise ValueError unless it is an ICC profile for ``channels`` (1 grey, 3 RGB)."""
    if profile is None:
        return None
    if not isinstance(profile, (bytes, bytearray)):
        raise ValueError(f"icc_profile must be bytes, got {type(profile).__name__}")
    space = icc_colour_space(bytes(profile))
    expected = "GRAY" if channels == 1 else "RGB"
    if space != expected:
        raise ValueError(f"icc_profile describes {space or 'no'} colour space, the image is {expected}")
    return bytes(profile)


def png_metadata_chunks(dpi: Dpi | None, profile: bytes | None) -> list[tuple[bytes, bytes]]:
    """The PNG chunks that carry ``dpi`` (``pHYs``, pixels per metre) and ``profile`` (``iCCP``).

    Both go between ``IHDR`` and the first ``IDAT``; ``pHYs`` rounds like Pillow
    (``int(dpi / 0.0254 + 0.5)``), so 16-bit and 8-bit PNGs store the same numbers.
    """
    chunks = []
    if profile is not None:
        chunks.append((b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(profile)))
    if dpi is not None:
        ppm = [int(v / _METRES_PER_INCH + 0.5) for v in dpi]
        chunks.append((b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    return chunks
