"""Header probing: size, frames, mode and bit depth of an image file, without decoding pixels.

The file is sniffed (:mod:`fastshade.io.sniff`) and opened with its one
pinned Pillow plugin (:mod:`fastshade.io.pillow`).  The header size is
checked against ``max_pixels`` (default ``"auto"``: what the memory available fits,
:data:`~fastshade.io.memory.DEFAULT_MAX_PIXELS`) before any pixel is decoded;
Pillow's ``DecompressionBombError`` also maps to ``too_large``.  :func:`open_checked` is the shared prologue of
:func:`probe_image`, :func:`probe_output` and
:func:`~fastshade.io.read.read_image`.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from fastshade.io.errors import ImageError, decode_exception, unexpected_as_image_error
from fastshade.io.memory import DEFAULT_MAX_PIXELS, MaxPixels, size_refusal
from fastshade.io.pillow import open_pillow, tile_rawmodes
from fastshade.io.sniff import describe_non_image, open_source

__all__ = ["ImageInfo", "open_checked", "probe_image", "probe_output"]


@dataclass(frozen=True)
class ImageInfo:
    """Header facts about an image file, read without decoding its pixels.

    Attributes
    ----------
    path : str
        The file.
    format : str
        Sniffed format (``png``, ``jpeg``, ``gif``, ``tiff``, ``bmp``, ``webp``).
    width, height : int
        Size of the first frame in pixels (before any EXIF rotation).
    frames : int
        Number of frames/pages (1 for still images).
    mode : str
        Pillow mode of the first frame (``1``, ``L``, ``P``, ``LA``, ``RGB``,
        ``RGBA``, ``I;16``, ``CMYK``, ``F``, ...).  16-bit colour PNG/TIFF report
        ``RGB``/``RGBA`` with ``bit_depth`` 16.
    bit_depth : int
        Bits per sample of the source: 1, 8, 16 or 32 (float/int32).
    """

    path: str
    format: str
    width: int
    height: int
    frames: int
    mode: str
    bit_depth: int


def _source_bit_depth(im: Image.Image) -> int:
    mode = im.mode
    if mode == "1":
        return 1
    if mode.startswith("I;16"):
        return 16
    if any(";16" in raw for raw in tile_rawmodes(im)):
        return 16
    if mode in ("I", "F"):
        return 32
    return 8


def _frame_count(im: Image.Image, path: str) -> int:
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception as exc:  # noqa: BLE001 (a broken later frame; Pillow raises many types)
        raise decode_exception(path, exc) from None


def _info(im: Image.Image, path: str, fmt: str) -> ImageInfo:
    width, height = im.size
    return ImageInfo(
        path=path,
        format=fmt,
        width=int(width),
        height=int(height),
        frames=_frame_count(im, path),
        mode=im.mode,
        bit_depth=_source_bit_depth(im),
    )


def _check_size(info: ImageInfo, max_pixels: MaxPixels) -> None:
    if info.width <= 0 or info.height <= 0:
        raise ImageError(info.path, "degenerate", f"image has no pixels ({info.width}x{info.height})")
    refusal = size_refusal(info.width, info.height, max_pixels)
    if refusal is not None:
        raise ImageError(info.path, "too_large", refusal)


@contextmanager
def open_checked(path: str, max_pixels: MaxPixels) -> Iterator[tuple[BinaryIO, str, Image.Image, ImageInfo]]:
    """Sniff, open with Pillow (header only) and size-check; yields ``(fh, fmt, im, info)``.

    The shared prologue of :func:`probe_image` and :func:`~fastshade.io.read.read_image`.
    """
    with open_source(path) as (fh, fmt, head, size):
        if fmt is None:
            raise ImageError(path, "not_an_image", describe_non_image(head, size))
        with open_pillow(fh, path, fmt) as im:
            info = _info(im, path, fmt)
            _check_size(info, max_pixels)
            yield fh, fmt, im, info


def probe_image(path: str | os.PathLike[str], *, max_pixels: MaxPixels = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Read an image's header (size, frames, mode, bit depth) without decoding pixels.

    Parameters
    ----------
    path : str or os.PathLike
        Image file.
    max_pixels : int, None or "auto", optional
        Raise ``too_large`` when width x height exceeds this; ``"auto"``
        (default) is what the memory available fits with the default options
        (:func:`~fastshade.io.memory.pixel_limit`); ``None`` keeps only Pillow's
        decompression-bomb guard.

    Returns
    -------
    ImageInfo

    Raises
    ------
    ImageError
        ``not_found``, ``permission``, ``not_an_image`` (0-byte, garbage, HTML;
        the message gives the size), ``too_large`` (Pillow's
        ``DecompressionBombError`` or over ``max_pixels``), ``decode_error`` /
        ``decode_truncated`` / ``unsupported_dtype`` (unreadable header),
        ``degenerate`` (zero width or height).  Truncated pixel data is *not*
        detected here (only decoding finds it).
    """
    spath = os.fspath(path)
    with unexpected_as_image_error(spath):
        with open_checked(spath, max_pixels) as (_fh, _fmt, _im, info):
            pass
    return info


_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _payload_complete(fh: BinaryIO, fmt: str, im: Image.Image, size: int) -> bool:
    """Whether the image data of an opened file of ``size`` bytes is all there.

    Checks its end marker (PNG, JPEG), the RIFF length (WebP), every strip/tile
    (TIFF); True when the format gives no cheap answer.
    """
    if fmt in ("png", "jpeg"):
        tail = _PNG_IEND if fmt == "png" else b"\xff\xd9"
        fh.seek(max(size - len(tail), 0))
        return fh.read(len(tail)) == tail
    end = _payload_end(fh, fmt, im)
    return end is None or end <= size


def _payload_end(fh: BinaryIO, fmt: str, im: Image.Image) -> int | None:
    """Where the data of a WebP or TIFF must end at least; None for other formats."""
    if fmt == "webp":
        fh.seek(4)
        return struct.unpack("<I", fh.read(4))[0] + 8
    if fmt == "tiff":
        tags = getattr(im, "tag_v2", {})
        for offsets_tag, counts_tag in ((273, 279), (324, 325)):  # strips, tiles
            offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
            if offsets is not None and counts is not None:
                offsets = offsets if isinstance(offsets, tuple) else (offsets,)
                counts = counts if isinstance(counts, tuple) else (counts,)
                return max(o + c for o, c in zip(offsets, counts, strict=False))
    return None


def probe_output(path: str | os.PathLike[str]) -> ImageInfo:
    """:func:`probe_image` plus a cheap completeness check, for outputs found on disk.

    A PNG must end with its IEND chunk, a JPEG with its EOI marker, a WebP must
    be as long as its RIFF header says, a TIFF's strips/tiles must lie inside
    the file.  A truncated file raises ``ImageError`` (``decode_truncated``)
    without decoding any pixel.
    """
    spath = os.fspath(path)
    with unexpected_as_image_error(spath), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_checked(spath, None) as (fh, fmt, im, info):
            size = os.fstat(fh.fileno()).st_size
            complete = _payload_complete(fh, fmt, im, size)
    damaged = [str(w.message) for w in caught if "truncated" in str(w.message).lower()
               or "corrupt" in str(w.message).lower()]
    if damaged:  # e.g. a TIFF whose directory (written after the data) was cut short
        raise ImageError(spath, "decode_truncated", f"damaged {fmt.upper()} header: {damaged[0].strip()}")
    if not complete:
        raise ImageError(spath, "decode_truncated", f"truncated {fmt.upper()}: {size} bytes, its data "
                         "or end marker runs past the end of the file")
    return info
