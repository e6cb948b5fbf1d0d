"""Full-precision decoding of 16-bit colour PNG and TIFF with Pillow's own decoders.

Pillow has no 16-bit multichannel mode and returns 16-bit RGB(A) PNG/TIFF as
8-bit.  We decode such files twice: once with the normal raw mode (high bytes)
and once with the byte order of the raw mode swapped (``RGB;16B`` <->
``RGB;16L``), which yields the low bytes; unfiltering/decompression is the same
in both passes because the bits per pixel are unchanged.  16-bit grey + alpha
PNG is decoded once as 32-bit big-endian integers (``I;32B``: grey in the high
half, alpha in the low half).  If a file's raw mode is not one of these known
layouts (premultiplied or padded TIFF variants, animated PNG), the caller uses
the 8-bit result and adds the warning ``precision_reduced``.  The trick is
verified in ``tests/test_io.py`` against independently encoded PNGs with every
filter type and Adam7 interlacing, and against raw and deflate TIFFs.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

import numpy as np
from PIL import Image

from fastshade.io.pillow import load, open_pillow

__all__ = ["read_16bit_colour"]

_SWAP_16 = {"B": "L", "L": "B", "N": "B" if sys.byteorder == "little" else "L"}
_MULTICHANNEL_16 = ("RGB;16", "RGBA;16")


def _swapped_rawmode(raw: str) -> str | None:
    """``RGB;16B`` -> ``RGB;16L`` etc. for the known 16-bit colour raw modes, else None."""
    for prefix in _MULTICHANNEL_16:
        if raw[:-1] == prefix and raw[-1] in _SWAP_16:
            return prefix + _SWAP_16[raw[-1]]
    return None


def _retile(im: Image.Image, rawmode: str) -> bool:
    """Replace the raw mode of every tile of a not-yet-loaded image; False if impossible."""
    tiles = list(getattr(im, "tile", None) or [])
    if not tiles or any(t.codec_name not in ("zip", "raw", "libtiff") for t in tiles):
        return False
    new = []
    for t in tiles:
        args = t.args
        new.append(t._replace(args=(rawmode, *args[1:]) if isinstance(args, tuple) else rawmode))
    im.tile = new
    return True


def _reopen(fh: BinaryIO, path: str, fmt: str) -> Image.Image:
    fh.seek(0)
    return open_pillow(fh, path, fmt)


def read_16bit_colour(
    fh: BinaryIO, path: str, fmt: str, im: Image.Image, rawmodes: list[str], frames: int
) -> tuple[np.ndarray | None, bool]:
    """Full-precision samples of a 16-bit colour PNG/TIFF (see the module docstring).

    ``im`` must already be loaded normally (so truncation has been reported);
    ``rawmodes`` are its tile raw modes captured before loading.  The extra
    decodes use fresh ``Image.open`` calls on the same handle.

    Returns
    -------
    samples : numpy.ndarray or None
        uint16 ``(H, W, C)`` (C = 2 grey + alpha, 3 RGB, 4 RGBA) on success;
        ``None`` when the image is not 16-bit colour or its layout is not one
        we can recover (then Pillow's 8-bit decode in ``im`` is used).
    is_16bit_colour : bool
        Whether the source is 16-bit colour (``precision_reduced`` when
        ``samples`` is None).
    """
    raws = rawmodes
    if im.mode not in ("RGB", "RGBA") or not raws or not all(";16" in r for r in raws):
        return None, False
    raw = raws[0]
    if fmt not in ("png", "tiff") or (fmt == "png" and frames > 1) or len(set(raws)) != 1:
        return None, True
    if raw == "LA;16B":  # 16-bit grey + alpha PNG: one pass as big-endian uint32
        with _reopen(fh, path, fmt) as im_la:
            try:
                im_la._mode = "I"  # noqa: SLF001 (documented trick, verified by tests)
            except AttributeError:
                return None, True
            if im_la.mode != "I" or not _retile(im_la, "I;32B"):
                return None, True
            load(im_la, path)
            packed = np.asarray(im_la).view(np.uint32)
        return np.stack([packed >> 16, packed & 0xFFFF], axis=-1).astype(np.uint16), True
    swapped = _swapped_rawmode(raw)
    if swapped is None:
        return None, True
    hi = np.asarray(im)
    try:
        with _reopen(fh, path, fmt) as im_lo:
            if not _retile(im_lo, swapped):
                return None, True
            im_lo.load()
            lo = np.asarray(im_lo)
    except Exception:  # noqa: BLE001 (unexpected decoder refusal: fall back to 8-bit)
        return None, True
    if lo.shape != hi.shape:
        return None, True
    return (hi.astype(np.uint16) << 8) | lo.astype(np.uint16), True
