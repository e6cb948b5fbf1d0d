"""Format sniffing: which image format a file holds, from its magic bytes only.

Garbage (empty files, HTML, random bytes) is rejected here, before Pillow is
ever asked: no slow try-every-plugin fallback.  The file name and extension
are never consulted.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from fastshade.io.errors import ImageError, os_error

__all__ = ["PIL_FORMAT", "SNIFF_BYTES", "describe_non_image", "open_source", "sniff_format"]

PIL_FORMAT: dict[str, str] = {
    "png": "PNG", "jpeg": "JPEG", "gif": "GIF", "tiff": "TIFF", "bmp": "BMP", "webp": "WEBP",
}
"""Sniffed format -> the name of the one Pillow plugin allowed to open it."""

SNIFF_BYTES = 32
"""How many leading bytes the sniff reads."""

_BMP_DIB_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def _sniff_bytes(head: bytes) -> str | None:
    """Return the format of a file from its first bytes (see :func:`sniff_format`)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and len(head) >= 18:
        (dib_size,) = struct.unpack("<I", head[14:18])
        if dib_size in _BMP_DIB_HEADER_SIZES:
            return "bmp"
    return None


@contextmanager
def open_source(path: str) -> Iterator[tuple[BinaryIO, str | None, bytes, int]]:
    """Open ``path`` for reading and sniff it: yields ``(fh, fmt, head, size)``.

    Refuses FIFOs, devices and sockets before opening (``not_an_image``); an
    ``OSError`` becomes the matching :class:`ImageError`.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise os_error(path, exc) from None
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        # opening a FIFO would block until a writer appears; a device never ends
        raise ImageError(path, "not_an_image", "not a regular file (FIFO, device or socket)")
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise os_error(path, exc) from None
    try:
        try:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(SNIFF_BYTES)
            fh.seek(0)
        except OSError as exc:
            raise os_error(path, exc) from None
        yield fh, _sniff_bytes(head), head, size
    finally:
        fh.close()


def sniff_format(path: str | os.PathLike[str]) -> str | None:
    """Identify an image format from its magic bytes only.

    Parameters
    ----------
    path : str or os.PathLike
        File to inspect (only its first 32 bytes are read).

    Returns
    -------
    str or None
        ``"png"`` (also APNG), ``"jpeg"``, ``"gif"``, ``"tiff"`` (also BigTIFF),
        ``"bmp"`` or ``"webp"``; ``None`` for anything else, including an empty
        file.  The file name and extension are ignored.

    Raises
    ------
    ImageError
        ``not_found`` / ``permission`` / ``not_an_image`` (a directory) when the
        file cannot be opened.
    """
    with open_source(os.fspath(path)) as (_fh, fmt, _head, _size):
        return fmt


def describe_non_image(head: bytes, size: int) -> str:
    """One-line ``not_an_image`` message for a file of ``size`` bytes starting with ``head``."""
    if size == 0:
        return "not an image: empty file (0 bytes)"
    stripped = head.lstrip()
    if stripped[:1] == b"<":
        kind = "looks like HTML/XML text"
    elif all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        kind = "looks like text"
    else:
        kind = f"starts with bytes {head[:8].hex(' ')}"
    return f"not an image: no PNG/JPEG/GIF/TIFF/BMP/WebP signature ({size} bytes, {kind})"
