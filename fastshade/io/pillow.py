"""The Pillow boundary: open a sniffed file with its one pinned plugin and load its pixels.

Every format (PNG/APNG, JPEG, GIF, TIFF, BMP, WebP) is decoded by Pillow,
opened with ``Image.open(fh, formats=[fmt])`` where ``fmt`` comes from our own
magic-byte sniff (:mod:`fastshade.io.sniff`).  tifffile is *not* used for
reading, even if installed, so behaviour never depends on the environment
(imageio would pick tifffile for TIFF when present and return every page
stacked).  Every exception Pillow raises here becomes an
:class:`~fastshade.io.errors.ImageError`.

Pillow's ``DecompressionBombWarning`` is suppressed with
``warnings.catch_warnings`` (our own limit replaces it); on Python < 3.14 that
context manager swaps process-global filters, so run one reader per process
(the batch driver's model) rather than many reader threads if warning filters
matter to you.  ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never set: truncated
data raises ``decode_truncated``.
"""

from __future__ import annotations

import struct
import warnings
from typing import BinaryIO

from PIL import Image

from fastshade.io.errors import ImageError, decode_exception, os_error
from fastshade.io.sniff import PIL_FORMAT, SNIFF_BYTES

__all__ = ["load", "open_pillow", "tile_rawmodes"]


def tile_rawmodes(im: Image.Image) -> list[str]:
    """Return the raw modes of the tiles of a not-yet-loaded Pillow image (e.g. ``RGB;16B``)."""
    modes = []
    for tile in getattr(im, "tile", None) or []:
        args = tile.args if hasattr(tile, "args") else tile[3]
        raw = args[0] if isinstance(args, tuple) else args
        if isinstance(raw, str):
            modes.append(raw)
    return modes


def _declared_size(fmt: str, head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG/GIF/BMP header, else None."""
    if fmt == "png" and len(head) >= 24 and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    if fmt == "gif" and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    if fmt == "bmp" and len(head) >= 26 and head[14:18] != b"\x0c\x00\x00\x00":
        width, height = struct.unpack("<ii", head[18:26])
        return width, abs(height)
    return None


def _explain_unidentified(fh: BinaryIO, path: str, fmt: str) -> ImageError:
    """Ask the format's own plugin why Pillow could not identify a sniffed file."""
    fh.seek(0)
    size = _declared_size(fmt, fh.read(SNIFF_BYTES))
    if size is not None and min(size) <= 0:
        return ImageError(path, "degenerate", f"image has no pixels (header declares {size[0]}x{size[1]})")
    factory = Image.OPEN[PIL_FORMAT[fmt]][0]
    reason = "unreadable header"
    try:
        fh.seek(0)
        factory(fh, path)  # type: ignore[call-arg]
    except Exception as exc:  # noqa: BLE001 (we only want the message)
        reason = str(exc) or type(exc).__name__
    if fmt == "tiff" and "unknown pixel mode" in reason:
        return ImageError(
            path,
            "unsupported_dtype",
            "TIFF sample layout not supported (e.g. multi-channel float or signed samples)",
        )
    if "truncat" in reason.lower() or "eof" in reason.lower():
        return ImageError(path, "decode_truncated", f"{fmt.upper()} header is truncated ({reason})")
    return ImageError(path, "decode_error", f"{fmt.upper()} signature but unreadable header ({reason})")


def open_pillow(fh: BinaryIO, path: str, fmt: str) -> Image.Image:
    """``Image.open`` restricted to the sniffed format, errors mapped to ImageError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fh, formats=[PIL_FORMAT[fmt]])
    except Image.DecompressionBombError as exc:
        raise ImageError(path, "too_large", f"decompression bomb, not decoded: {exc}") from None
    except Image.UnidentifiedImageError:
        raise _explain_unidentified(fh, path, fmt) from None
    except OSError as exc:
        raise os_error(path, exc) from None
    except Exception as exc:  # noqa: BLE001 (plugins raise ValueError, struct.error, ...)
        raise ImageError(path, "decode_error", f"unreadable {fmt.upper()} header ({exc})") from None
    return im


def load(im: Image.Image, path: str) -> None:
    """Decode the pixel data of an opened image in place, errors mapped to ImageError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im.load()
    except Exception as exc:  # noqa: BLE001 (Pillow decoders raise OSError, SyntaxError, ValueError, zlib.error ...)
        raise decode_exception(path, exc) from None
