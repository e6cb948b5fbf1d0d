"""Image input/output: sniff, probe, read to float RGB, validate and write atomically.

Everything the shader and the batch driver need to turn a file on disk into
``(H, W, 3)`` float64 RGB in [0, 1] (plus optional alpha) and back, with every
failure reported as one :class:`ImageError` carrying a manifest reason code
and a one-line message (never a traceback).

Decisions (see ``shared/spec/batch.md`` §4.1, §4.2, §4.5)
-----------------------------------------------------------
* **One decoder, pinned.**  Every format (PNG/APNG, JPEG, GIF, TIFF, BMP,
  WebP) is decoded by Pillow, opened with ``Image.open(fh, formats=[fmt])``
  where ``fmt`` comes from our own magic-byte sniff.  tifffile is *not* used,
  even if installed, so behaviour never depends on the environment (imageio
  would pick tifffile for TIFF when present and return every page stacked).
  Garbage is rejected by the sniff before Pillow is called: no slow
  try-every-plugin fallback.
* **Size before decode.**  The header size is checked against ``max_pixels``
  (default :data:`DEFAULT_MAX_PIXELS`, from :func:`estimate_bytes`) before any
  pixel is decoded; Pillow's ``DecompressionBombError`` also maps to
  ``too_large``.  ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never set: truncated
  data raises ``decode_truncated``.
* **16-bit colour at full precision.**  Pillow has no 16-bit multichannel
  mode and returns 16-bit RGB(A) PNG/TIFF as 8-bit.  We decode such files
  twice with Pillow's own decoders: once with the normal raw mode (high bytes)
  and once with the byte order of the raw mode swapped (``RGB;16B`` <->
  ``RGB;16L``), which yields the low bytes; unfiltering/decompression is the
  same in both passes because the bits per pixel are unchanged.  16-bit grey +
  alpha PNG is decoded once as 32-bit big-endian integers (``I;32B``: grey in
  the high half, alpha in the low half).  If a file's raw mode is not one of
  these known layouts (premultiplied or padded TIFF variants, animated PNG),
  the 8-bit result is used and the warning ``precision_reduced`` is added.
  The trick is verified in ``tests/test_io.py`` against independently encoded
  PNGs with every filter type and Adam7 interlacing, and against raw and
  deflate TIFFs.
* **Conversions.**  1-bit → {0, 1}; grey replicated to three channels; palette
  → RGB, or RGB + alpha when the palette has transparency (tRNS); LA/RGBA
  alpha kept; 16-bit grey divided by 65535; CMYK (JPEG/TIFF) converted to RGB
  with Pillow's naive formula (Adobe-inverted CMYK is handled by Pillow; no ICC
  colour management) and warning ``cmyk_converted``; single-channel float TIFF
  accepted when every value is finite and inside [0, 1], otherwise
  ``unsupported_dtype``; any NaN/inf is ``unsupported_dtype``.
* **EXIF orientation** is applied by default (tags 2-8, like
  ``ImageOps.exif_transpose``) with warning ``exif_rotated``; ``exif="ignore"``
  skips it.
* **Multi-frame** files (animated GIF/APNG, multi-page TIFF, MPO) give the
  first frame with warning ``first_frame_of_N``; ``frames="reject"`` raises
  ``multi_frame``.  No 4-D array ever leaves this module.

Reading suppresses Pillow's ``DecompressionBombWarning`` with
``warnings.catch_warnings`` (our own limit replaces it); on Python < 3.14 that
context manager swaps process-global filters, so run one reader per process
(the batch driver's model) rather than many reader threads if warning
filters matter to you.

Writing: values are quantised with round-half-to-even of ``value * 255`` (or
``* 65535``) after clipping to [0, 1], encoded into a temporary file
``.{name}.{pid}.{random}.tmp`` in the destination directory, flushed,
``fsync``-ed and moved onto the final name with ``os.replace``.  Every writer
used embeds no timestamp, so the same input gives byte-identical files.
8-bit PNG/TIFF/JPEG/WebP are written by Pillow; 16-bit PNG and TIFF (grey,
grey + alpha, RGB, RGBA) by the small zlib encoders in this module, because
Pillow cannot hold 16-bit colour.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import stat
import struct
import sys
import tempfile
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, BinaryIO, Callable, Literal

import numpy as np
from PIL import Image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ERROR_CODES",
    "MEMORY_BUDGET_BYTES",
    "OUTPUT_FORMATS",
    "ImageError",
    "ImageInfo",
    "LoadedImage",
    "estimate_bytes",
    "probe_image",
    "probe_output",
    "read_image",
    "sniff_format",
    "sweep_stale_temps",
    "validate_output",
    "check_writable",
    "write_atomic",
    "write_file",
    "write_image",
]

# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------

ERROR_CODES: frozenset[str] = frozenset(
    {
        "not_found",
        "permission",
        "not_an_image",
        "decode_truncated",
        "decode_error",
        "too_large",
        "unsupported_dtype",
        "degenerate",
        "multi_frame",
        "write_error",
        "unsupported_output",
    }
)
"""Manifest reason codes an :class:`ImageError` can carry.

``multi_frame`` is raised only by ``read_image(..., frames="reject")``."""


class ImageError(Exception):
    """A per-file image problem with a manifest reason code.

    Parameters
    ----------
    path : str or os.PathLike
        The file the problem is about.
    code : str
        One of :data:`ERROR_CODES`.
    message : str
        Human-readable description, collapsed to one line.

    Notes
    -----
    ``str(err)`` is exactly one line, ``"<path>: <message>"``.  Instances
    pickle (they cross process boundaries in the batch driver).
    """

    path: str
    code: str
    message: str

    def __init__(self, path: str | os.PathLike[str], code: str, message: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown ImageError code {code!r}; expected one of {sorted(ERROR_CODES)}")
        self.path = os.fspath(path)
        self.code = code
        self.message = " ".join(str(message).split())
        super().__init__(self.path, self.code, self.message)

    def __str__(self) -> str:
        shown = self.path.replace("\r", "\\r").replace("\n", "\\n")
        return f"{shown}: {self.message}"

    def __reduce__(self) -> tuple[type[ImageError], tuple[str, str, str]]:
        return (type(self), (self.path, self.code, self.message))


# --------------------------------------------------------------------------------------
# Memory model and the default pixel limit
# --------------------------------------------------------------------------------------

MEMORY_BUDGET_BYTES: int = 4 * 2**30
"""Working-memory budget of one worker used to derive :data:`DEFAULT_MAX_PIXELS` (4 GiB)."""

_LAPLACIAN_NNZ_PER_PIXEL = 5  # 4-connected grid: 4 neighbours + diagonal
_CSR_BYTES_PER_NNZ = 12  # float64 value + int32 column index
_AMG_OPERATOR_FACTOR = 2  # smoothed-aggregation hierarchy ~ 2x the fine operator
_LOBPCG_BLOCKS = 3  # X, R, P (and their products) in LOBPCG
_BASIS_VECTORS = 8  # k
_WORKING_PLANES = 20  # float64 images alive at once in the pipeline


def estimate_bytes(height: int, width: int) -> int:
    """Estimate the peak working memory of shading one ``height x width`` image.

    Parameters
    ----------
    height, width : int
        Image size in pixels (non-negative).

    Returns
    -------
    int
        Estimated bytes: Laplacian CSR (5 nnz/px x 12 B = 60 B/px) + AMG
        hierarchy (2x the operator = 120 B/px) + LOBPCG blocks
        (3 x k x 8 B with k = 8: 192 B/px) + 20 float64 working planes
        (160 B/px) = **532 B per pixel**.

    Notes
    -----
    A model, not a measurement; it errs on the generous side for the 4-connected
    operator.  With the 4 GiB :data:`MEMORY_BUDGET_BYTES` it gives
    :data:`DEFAULT_MAX_PIXELS` = 8,073,246 px (about 2841 x 2841).
    """
    if height < 0 or width < 0:
        raise ValueError(f"height and width must be non-negative, got {height}x{width}")
    n = int(height) * int(width)
    operator = n * _LAPLACIAN_NNZ_PER_PIXEL * _CSR_BYTES_PER_NNZ
    hierarchy = _AMG_OPERATOR_FACTOR * operator
    lobpcg = _LOBPCG_BLOCKS * _BASIS_VECTORS * n * 8
    planes = _WORKING_PLANES * n * 8
    return operator + hierarchy + lobpcg + planes


DEFAULT_MAX_PIXELS: int = MEMORY_BUDGET_BYTES // estimate_bytes(1, 1)
"""Default pixel limit: 4 GiB / 532 B per pixel = 8,073,246 px (about 2841 x 2841)."""


# --------------------------------------------------------------------------------------
# Sniffing and probing
# --------------------------------------------------------------------------------------

_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "tiff": "TIFF", "bmp": "BMP", "webp": "WEBP"}
_BMP_DIB_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_SNIFF_BYTES = 32


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


def _os_error(path: str, exc: OSError) -> ImageError:
    """Map an ``OSError`` from opening/reading ``path`` to an :class:`ImageError`."""
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return ImageError(path, "not_found", f"no such file ({reason})")
    if isinstance(exc, PermissionError):
        return ImageError(path, "permission", f"cannot read file: permission denied ({reason})")
    if isinstance(exc, IsADirectoryError):
        return ImageError(path, "not_an_image", "is a directory, not an image file")
    return ImageError(path, "decode_error", f"cannot read file: {reason}")


@contextmanager
def _open_source(path: str) -> Iterator[tuple[BinaryIO, str | None, bytes, int]]:
    """Open ``path`` for reading and sniff it: yields ``(fh, fmt, head, size)``."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise _os_error(path, exc) from None
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        # opening a FIFO would block until a writer appears; a device never ends
        raise ImageError(path, "not_an_image", "not a regular file (FIFO, device or socket)")
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise _os_error(path, exc) from None
    try:
        try:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(_SNIFF_BYTES)
            fh.seek(0)
        except OSError as exc:
            raise _os_error(path, exc) from None
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
    with _open_source(os.fspath(path)) as (_fh, fmt, _head, _size):
        return fmt


def _describe_non_image(head: bytes, size: int) -> str:
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


@contextmanager
def _unexpected_as_image_error(path: str) -> Iterator[None]:
    """Last line of defence: no exception other than ImageError leaves the readers.

    Anything unforeseen (a Pillow plugin bug, a NumPy error on odd data) becomes
    ``decode_error`` naming the exception type, ``MemoryError`` becomes
    ``too_large``; ``KeyboardInterrupt``/``SystemExit`` pass through.
    """
    try:
        yield
    except ImageError:
        raise
    except MemoryError:
        raise ImageError(path, "too_large", "out of memory while reading") from None
    except Exception as exc:  # noqa: BLE001 (contract: one ImageError per bad file)
        raise ImageError(path, "decode_error", f"unexpected {type(exc).__name__}: {exc}") from None


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


def _tile_rawmodes(im: Image.Image) -> list[str]:
    modes = []
    for tile in getattr(im, "tile", None) or []:
        args = tile.args if hasattr(tile, "args") else tile[3]
        raw = args[0] if isinstance(args, tuple) else args
        if isinstance(raw, str):
            modes.append(raw)
    return modes


def _source_bit_depth(im: Image.Image) -> int:
    mode = im.mode
    if mode == "1":
        return 1
    if mode.startswith("I;16"):
        return 16
    if any(";16" in raw for raw in _tile_rawmodes(im)):
        return 16
    if mode in ("I", "F"):
        return 32
    return 8


def _frame_count(im: Image.Image, path: str) -> int:
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception as exc:  # noqa: BLE001 (a broken later frame; Pillow raises many types)
        raise _decode_exception(path, exc) from None


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
    size = _declared_size(fmt, fh.read(_SNIFF_BYTES))
    if size is not None and min(size) <= 0:
        return ImageError(path, "degenerate", f"image has no pixels (header declares {size[0]}x{size[1]})")
    factory = Image.OPEN[_PIL_FORMAT[fmt]][0]
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


def _open_pillow(fh: BinaryIO, path: str, fmt: str) -> Image.Image:
    """``Image.open`` restricted to the sniffed format, errors mapped to ImageError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fh, formats=[_PIL_FORMAT[fmt]])
    except Image.DecompressionBombError as exc:
        raise ImageError(path, "too_large", f"decompression bomb, not decoded: {exc}") from None
    except Image.UnidentifiedImageError:
        raise _explain_unidentified(fh, path, fmt) from None
    except OSError as exc:
        raise _os_error(path, exc) from None
    except Exception as exc:  # noqa: BLE001 (plugins raise ValueError, struct.error, ...)
        raise ImageError(path, "decode_error", f"unreadable {fmt.upper()} header ({exc})") from None
    return im


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


def _check_size(info: ImageInfo, max_pixels: int | None) -> None:
    if info.width <= 0 or info.height <= 0:
        raise ImageError(info.path, "degenerate", f"image has no pixels ({info.width}x{info.height})")
    n = info.width * info.height
    if max_pixels is not None and n > max_pixels:
        gib = estimate_bytes(info.height, info.width) / 2**30
        raise ImageError(
            info.path,
            "too_large",
            f"{info.width}x{info.height} px ({n / 1e6:.1f} Mpx) exceeds max_pixels={max_pixels:,} "
            f"(estimated {gib:.1f} GiB working memory); not decoded",
        )


@contextmanager
def _open_checked(path: str, max_pixels: int | None) -> Iterator[tuple[BinaryIO, str, Image.Image, ImageInfo]]:
    """Sniff, open with Pillow (header only) and size-check; the shared prologue of
    :func:`probe_image` and :func:`read_image`. Yields ``(fh, fmt, im, info)``."""
    with _open_source(path) as (fh, fmt, head, size):
        if fmt is None:
            raise ImageError(path, "not_an_image", _describe_non_image(head, size))
        with _open_pillow(fh, path, fmt) as im:
            info = _info(im, path, fmt)
            _check_size(info, max_pixels)
            yield fh, fmt, im, info


def probe_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Read an image's header (size, frames, mode, bit depth) without decoding pixels.

    Parameters
    ----------
    path : str or os.PathLike
        Image file.
    max_pixels : int or None, optional
        Raise ``too_large`` when width x height exceeds this
        (default :data:`DEFAULT_MAX_PIXELS`); ``None`` keeps only Pillow's
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
    with _unexpected_as_image_error(spath):
        with _open_checked(spath, max_pixels) as (_fh, _fmt, _im, info):
            pass
    return info


_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _payload_complete(fh: BinaryIO, fmt: str, im: Image.Image, size: int) -> bool:
    """Whether the image data of an opened file of ``size`` bytes is all there: its end marker
    (PNG, JPEG), the RIFF length (WebP), every strip/tile (TIFF); True when the format gives
    no cheap answer."""
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
                return max(o + c for o, c in zip(offsets, counts))
    return None


def probe_output(path: str | os.PathLike[str]) -> ImageInfo:
    """:func:`probe_image` plus a cheap completeness check, for outputs found on disk: a
    PNG must end with its IEND chunk, a JPEG with its EOI marker, a WebP must be as long as
    its RIFF header says, a TIFF's strips/tiles must lie inside the file.  A truncated file
    raises ``ImageError`` (``decode_truncated``) without decoding any pixel."""
    spath = os.fspath(path)
    with _unexpected_as_image_error(spath), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _open_checked(spath, None) as (fh, fmt, im, info):
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


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


@dataclass(eq=False)
class LoadedImage:
    """A decoded image ready for the shader.

    Attributes
    ----------
    rgb : numpy.ndarray
        ``(H, W, 3)`` float64 in [0, 1], C-contiguous (grey sources replicated).
    alpha : numpy.ndarray or None
        ``(H, W)`` float64 in [0, 1], C-contiguous, or ``None`` when the source
        has no transparency.
    bit_depth : int
        Precision of the source samples: 8 (1-bit, palette and 8-bit sources)
        or 16 (16-bit, and float/32-bit sources).
    format : str
        Sniffed format of the file.
    warnings : list of str
        Short codes: ``precision_reduced``, ``first_frame_of_<N>``,
        ``exif_rotated``, ``exif_unreadable``, ``cmyk_converted``.
    path : str
        The file that was read.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    format: str
    warnings: list[str] = field(default_factory=list)
    path: str = ""

    @property
    def height(self) -> int:
        """Image height in pixels."""
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return int(self.rgb.shape[1])


def _decode_exception(path: str, exc: BaseException) -> ImageError:
    """Map an exception raised while decoding pixel data to an ImageError."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if isinstance(exc, MemoryError):
        return ImageError(path, "too_large", "out of memory while decoding")
    if isinstance(exc, EOFError) or "truncat" in low or "premature end" in low:
        return ImageError(path, "decode_truncated", f"file is truncated ({text})")
    return ImageError(path, "decode_error", f"cannot decode image data ({type(exc).__name__}: {text})")


def _load(im: Image.Image, path: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im.load()
    except Exception as exc:  # noqa: BLE001 (Pillow decoders raise OSError, SyntaxError, ValueError, zlib.error ...)
        raise _decode_exception(path, exc) from None


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
    return _open_pillow(fh, path, fmt)


def _read_16bit_colour(
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
            _load(im_la, path)
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


def _has_transparency(im: Image.Image) -> bool:
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    if "transparency" in im.info:
        return True
    palette = getattr(im, "palette", None)
    return im.mode == "P" and palette is not None and palette.mode == "RGBA"


_GREY16_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})


def _pixels(
    im: Image.Image, path: str, rawmodes: list[str]
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Convert a loaded Pillow image to float64 (H, W, C) samples in [0, 1] and alpha.

    ``rawmodes`` are the image's tile raw modes captured before loading.
    """
    notes: list[str] = []
    mode = im.mode
    if mode == "1":
        return np.asarray(im).astype(np.float64), None, notes
    unsigned16_as_int32 = mode == "I" and bool(rawmodes) and set(rawmodes) <= _GREY16_MODES
    if mode in _GREY16_MODES or unsigned16_as_int32:
        grey16 = np.asarray(im).astype(np.uint16)
        alpha = None
        trns = im.info.get("transparency")
        if isinstance(trns, int):
            alpha = (grey16 != trns).astype(np.float64)
        return grey16 / 65535.0, alpha, notes
    if mode == "I":
        raise ImageError(path, "unsupported_dtype", "32-bit or signed integer samples (range unknown)")
    if mode == "F":
        values = np.asarray(im, dtype=np.float64)
        if not np.isfinite(values).all():
            bad = int(np.count_nonzero(~np.isfinite(values)))
            raise ImageError(path, "unsupported_dtype", f"float image contains {bad} NaN/inf value(s)")
        lo, hi = float(values.min()), float(values.max())
        if lo < 0.0 or hi > 1.0:
            raise ImageError(
                path, "unsupported_dtype", f"float values outside [0, 1] (min {lo:.6g}, max {hi:.6g})"
            )
        return values, None, notes
    if mode in ("CMYK",):
        notes.append("cmyk_converted")
        im = im.convert("RGB")
    elif mode in ("L", "RGB") and "transparency" in im.info:
        im = im.convert("RGBA")
    elif mode in ("P", "PA"):
        im = im.convert("RGBA" if _has_transparency(im) else "RGB")
    elif mode in ("RGBa",):
        im = im.convert("RGBA")
    elif mode in ("La",):
        im = im.convert("LA")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        try:
            im = im.convert("RGB")
        except (ValueError, OSError) as exc:
            raise ImageError(path, "unsupported_dtype", f"Pillow mode {mode} not supported ({exc})") from None
    arr = np.asarray(im)
    if arr.ndim == 2:
        return arr / 255.0, None, notes
    if arr.shape[2] in (2, 4):
        return arr[..., :-1] / 255.0, arr[..., -1] / 255.0, notes
    return arr / 255.0, None, notes


_EXIF_ORIENTATION = 0x0112


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF orientation ``orientation`` (2..8) to an (H, W, ...) array."""
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return a.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(a, -1)
    if orientation == 7:
        return a[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(a, 1)
    return a


def _exif_orientation(im: Image.Image) -> tuple[int, bool]:
    """(orientation tag or 1, readable?)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = im.getexif().get(_EXIF_ORIENTATION, 1)
        value = int(value)
    except Exception:  # noqa: BLE001 (corrupt EXIF raises many types)
        return 1, False
    return (value if 1 <= value <= 8 else 1), True


def _decode(
    fh: BinaryIO, path: str, fmt: str, im: Image.Image, frames: int, exif: str, notes: list[str]
) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Decode frame 0 of an opened image: (samples (H, W, C) in [0, 1], alpha or None, EXIF orientation).

    Appends warning codes to ``notes``.
    """
    rawmodes = _tile_rawmodes(im)
    _load(im, path)
    orientation, exif_ok = _exif_orientation(im) if exif == "apply" else (1, True)
    if not exif_ok:
        notes.append("exif_unreadable")
    samples16, is_16bit_colour = _read_16bit_colour(fh, path, fmt, im, rawmodes, frames)
    if samples16 is None:
        if is_16bit_colour:
            notes.append("precision_reduced")
        samples, alpha, conv_notes = _pixels(im, path, rawmodes)
        notes.extend(conv_notes)
        return samples, alpha, orientation
    data = samples16 / 65535.0
    if data.shape[2] in (2, 4):
        return data[..., :-1], data[..., -1], orientation
    trns = im.info.get("transparency")
    alpha = None
    if isinstance(trns, tuple) and len(trns) == 3:  # tRNS colour key on 16-bit RGB
        alpha = (samples16 != np.asarray(trns, np.uint16)).any(axis=-1).astype(np.float64)
    return data, alpha, orientation


def _to_rgb(
    samples: np.ndarray, alpha: np.ndarray | None, orientation: int, notes: list[str]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey -> RGB, EXIF orientation, float64 C-contiguous copies."""
    if samples.ndim == 2:
        samples = samples[..., None]
    if samples.shape[2] == 1:
        samples = np.repeat(samples, 3, axis=2)
    if orientation != 1:
        samples = _orient(samples, orientation)
        alpha = None if alpha is None else _orient(alpha, orientation)
        notes.append("exif_rotated")
    rgb = np.ascontiguousarray(samples, dtype=np.float64)
    if alpha is not None:
        alpha = np.ascontiguousarray(alpha, dtype=np.float64)
    return rgb, alpha


def read_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    frames: Literal["first", "reject"] = "first",
    exif: Literal["apply", "ignore"] = "apply",
) -> LoadedImage:
    """Decode an image file to float64 RGB in [0, 1] plus optional alpha.

    Parameters
    ----------
    path : str or os.PathLike
        Image file; the format is sniffed from its magic bytes, never taken
        from the extension.
    max_pixels : int or None, optional
        Header-size limit checked before decoding (default
        :data:`DEFAULT_MAX_PIXELS`); ``None`` keeps only Pillow's bomb guard.
    frames : {"first", "reject"}, optional
        Multi-frame files: decode frame 0 and add warning
        ``first_frame_of_<N>`` (default), or raise ``multi_frame``.
    exif : {"apply", "ignore"}, optional
        Apply the EXIF orientation tag (default, warning ``exif_rotated``) or not.

    Returns
    -------
    LoadedImage
        ``rgb`` (H, W, 3) float64 C-contiguous, ``alpha`` (H, W) float64 or
        ``None``; the arrays are newly allocated.

    Raises
    ------
    ImageError
        ``not_found``, ``permission``, ``not_an_image``, ``too_large``,
        ``decode_truncated``, ``decode_error``, ``unsupported_dtype``,
        ``degenerate``, ``multi_frame``; the message is one line naming the
        problem.
    ValueError
        For an invalid ``frames``/``exif``/``max_pixels`` argument.
    """
    if frames not in ("first", "reject"):
        raise ValueError(f"frames must be 'first' or 'reject', got {frames!r}")
    if exif not in ("apply", "ignore"):
        raise ValueError(f"exif must be 'apply' or 'ignore', got {exif!r}")
    if max_pixels is not None and max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1 or None, got {max_pixels!r}")
    spath = os.fspath(path)
    notes: list[str] = []
    with _unexpected_as_image_error(spath):
        with _open_checked(spath, max_pixels) as (fh, fmt, im, info):
            if info.frames > 1:
                if frames == "reject":
                    raise ImageError(
                        spath, "multi_frame", f"{info.frames} frames/pages and frames='reject'"
                    )
                notes.append(f"first_frame_of_{info.frames}")
            samples, alpha, orientation = _decode(fh, spath, fmt, im, info.frames, exif, notes)
        rgb, alpha = _to_rgb(samples, alpha, orientation, notes)
    bit_depth = 16 if info.bit_depth > 8 else 8
    return LoadedImage(rgb=rgb, alpha=alpha, bit_depth=bit_depth, format=fmt, warnings=notes, path=spath)


# --------------------------------------------------------------------------------------
# Output validation
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# Encoders (8-bit via Pillow, 16-bit via zlib)
# --------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


_PNG_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type
_IDAT_CHUNK_BYTES = 1 << 20


def _encode_png16(fh: IO[bytes], samples: np.ndarray) -> None:
    """Write ``samples`` ((H, W, C) uint16, C in 1..4) as a 16-bit PNG (filter Up, zlib 6)."""
    height, width, channels = samples.shape
    rows = np.ascontiguousarray(samples, dtype=">u2").view(np.uint8).reshape(height, width * channels * 2)
    filtered = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = 2  # "Up": row minus the row above (the row above row 0 is zeros)
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # uint8 arithmetic wraps mod 256
    compressed = zlib.compress(filtered.tobytes(), 6)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, _PNG_COLOUR_TYPE[channels], 0, 0, 0)
    fh.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr))
    for start in range(0, max(len(compressed), 1), _IDAT_CHUNK_BYTES):
        fh.write(_png_chunk(b"IDAT", compressed[start : start + _IDAT_CHUNK_BYTES]))
    fh.write(_png_chunk(b"IEND", b""))


def _encode_tiff16(fh: IO[bytes], samples: np.ndarray) -> None:
    """Write ``samples`` ((H, W, C) uint16, C in {1, 3, 4}) as a little-endian Adobe-deflate TIFF."""
    height, width, channels = samples.shape
    data = zlib.compress(np.ascontiguousarray(samples, dtype="<u2").tobytes(), 6)
    bps = struct.pack(f"<{channels}H", *([16] * channels)) if channels > 2 else b""
    data_offset = 8 + len(bps) + (len(bps) & 1)
    ifd_offset = data_offset + len(data) + (len(data) & 1)
    short, long_ = 3, 4
    entries: list[tuple[int, int, int, int]] = [
        (256, long_, 1, width),
        (257, long_, 1, height),
        (258, short, channels, 8) if channels > 2 else (258, short, 1, 16),
        (259, short, 1, 8),  # Adobe deflate
        (262, short, 1, 2 if channels >= 3 else 1),  # RGB / min-is-black
        (273, long_, 1, data_offset),
        (277, short, 1, channels),
        (278, long_, 1, height),
        (279, long_, 1, len(data)),
        (284, short, 1, 1),  # chunky
    ]
    if channels == 4:
        entries.append((338, short, 1, 2))  # unassociated alpha
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset))
    out += bps + b"\x00" * (len(bps) & 1)
    out += data + b"\x00" * (len(data) & 1)
    out += struct.pack("<H", len(entries))
    for tag, kind, count, value in sorted(entries):
        if kind == short and count == 1:
            out += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, kind, count, value)
    out += struct.pack("<I", 0)
    fh.write(out)


def _encode(fh: IO[bytes], fmt: str, samples: np.ndarray, bit_depth: int) -> None:
    """Encode quantised ``samples`` ((H, W, C) uint8/uint16) in ``fmt`` into ``fh``."""
    if bit_depth == 16:
        if fmt == "png":
            _encode_png16(fh, samples)
        else:
            if samples.shape[2] == 2:  # grey + alpha -> RGBA (Pillow reads no 16-bit LA TIFF)
                samples = np.concatenate([np.repeat(samples[..., :1], 3, axis=2), samples[..., 1:]], axis=2)
            _encode_tiff16(fh, samples)
        return
    image = Image.fromarray(samples[..., 0] if samples.shape[2] == 1 else samples)
    buffer = io.BytesIO()  # Pillow encodes in memory (libtiff would otherwise write to the fd behind our back)
    if fmt == "png":
        image.save(buffer, format="PNG", compress_level=6)
    elif fmt == "tiff":
        image.save(buffer, format="TIFF", compression="tiff_deflate")
    elif fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=95, subsampling=0)
    else:
        image.save(buffer, format="WEBP", lossless=True, exact=True)
    fh.write(buffer.getbuffer())


# --------------------------------------------------------------------------------------
# Atomic writing
# --------------------------------------------------------------------------------------

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<token>[0-9a-f]{8})\.tmp$")


def _temp_name(final_name: str) -> str:
    return f".{final_name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def check_writable(path: str | os.PathLike[str], what: str) -> None:
    """Fail early, with one line naming ``path`` and ``what`` it is for, when a file cannot be
    written there: ``path`` is a folder, a file stands where a folder is needed, or the
    nearest existing folder cannot take a new file (probed with a temporary file, which works
    for root too, unlike permission bits).  Creates nothing."""
    spath = os.fspath(path)
    if os.path.isdir(spath):
        raise ValueError(f"{spath}: {what} names a folder")
    directory = os.path.dirname(os.path.abspath(spath))
    existing = directory  # nothing is created here: probe the nearest existing ancestor
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{spath}: cannot write {what} there: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ValueError(f"{spath}: cannot write {what} there: {exc.strerror or exc}") from None


def write_file(path: str | os.PathLike[str], data: str | bytes, what: str) -> None:
    """:func:`write_atomic` of ``data`` (text as UTF-8): reports, statistics, figures."""
    blob = data.encode() if isinstance(data, str) else data
    write_atomic(path, lambda fh: fh.write(blob), what)


def write_atomic(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None], what: str) -> None:
    """Write a file all-or-nothing: ``write(fh)`` fills a temp file
    (``.{name}.{pid}.{8 hex}.tmp``) in the destination folder (made if missing), which is
    flushed, fsynced and renamed over ``path``.  On any failure the temp file is removed,
    ``path`` is untouched, and an :class:`ImageError` (``write_error``) names ``path``;
    KeyboardInterrupt / SystemExit propagate unchanged (temp removed)."""
    spath = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(spath))
    if not name or os.path.isdir(spath):
        raise ImageError(spath, "write_error", "output path names a directory")
    tmp = os.path.join(directory, _temp_name(name))
    try:
        os.makedirs(directory, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, spath)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if not isinstance(exc, Exception):
            raise
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise ImageError(spath, "write_error", f"cannot write {what}: {reason}") from exc
    _fsync_directory(directory)


def _quantise(values: np.ndarray, maxval: int, dtype: type[np.unsignedinteger]) -> np.ndarray:
    scaled = np.clip(values, 0.0, 1.0) * maxval
    return np.rint(scaled).astype(dtype)


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

    Raises
    ------
    ImageError
        ``unsupported_output`` for a bad format/depth/alpha combination
        (nothing is written), ``write_error`` when encoding or writing fails;
        neither a partial file under ``path`` nor a temporary file is left.
    ValueError
        For arrays of the wrong dtype or shape, or containing NaN/inf.

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
    out_fmt = validate_output(fmt if fmt is not None else spath, has_alpha=alpha is not None, bit_depth=bit_depth)
    stacked = np.concatenate(planes, axis=2) if len(planes) > 1 else planes[0]
    if bit_depth == 16:
        samples = _quantise(stacked, 65535, np.uint16)
    else:
        samples = _quantise(stacked, 255, np.uint8)

    write_atomic(spath, lambda fh: _encode(fh, out_fmt, samples, bit_depth), out_fmt.upper())


def _fsync_directory(directory: str) -> None:
    """Best-effort fsync of a directory so the rename itself is durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sweep_stale_temps(directory: str | os.PathLike[str], *, recursive: bool = True) -> int:
    """Remove temporary files left by interrupted :func:`write_image` calls.

    Parameters
    ----------
    directory : str or os.PathLike
        Output root to clean (a missing directory counts as clean).
    recursive : bool, optional
        Also clean sub-directories (default), without following symlinks.

    Returns
    -------
    int
        Number of files removed.  Only regular files named exactly like our
        temps (``.{name}.{pid}.{8 hex}.tmp``) are touched, and never those of the
        calling process.  Meant to run at start-up, before any writer.
    """
    removed = 0
    own_pid = str(os.getpid())
    pending = [os.fspath(directory)]
    while pending:
        current = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        pending.append(entry.path)
                    continue
                match = _TEMP_RE.match(entry.name)
                if match and match["pid"] != own_pid and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
    return removed

