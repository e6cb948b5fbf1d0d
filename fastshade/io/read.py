"""Reading: decode frame 0 of an image file to float64 RGB in [0, 1] plus optional alpha.

Conversions
-----------
* 1-bit → {0, 1}; grey replicated to three channels; palette → RGB, or RGB +
  alpha when the palette has transparency (tRNS); LA/RGBA alpha kept; 16-bit
  grey divided by 65535; 16-bit colour at full precision
  (:mod:`fastshade.io.decode16`).
* CMYK (JPEG/TIFF) converted to RGB with Pillow's naive formula
  (Adobe-inverted CMYK is handled by Pillow; no ICC colour management) and
  warning ``cmyk_converted``.
* Single-channel float TIFF accepted when every value is finite and inside
  [0, 1], otherwise ``unsupported_dtype``; any NaN/inf is ``unsupported_dtype``.
* **EXIF orientation** is applied by default (tags 2-8, like
  ``ImageOps.exif_transpose``) with warning ``exif_rotated``;
  ``exif="ignore"`` skips it.
* **Resolution and ICC profile** are kept (``dpi``, ``icc_profile``; see
  :mod:`fastshade.io.metadata`), the resolution swapped by a transposing
  EXIF orientation.
* **Multi-frame** files (animated GIF/APNG, multi-page TIFF, MPO) give the
  first frame with warning ``first_frame_of_N``; ``frames="reject"`` raises
  ``multi_frame``.  No 4-D array ever leaves this module.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

import numpy as np
from PIL import Image

from fastshade.io.decode16 import read_16bit_colour
from fastshade.io.errors import ImageError, unexpected_as_image_error
from fastshade.io.memory import DEFAULT_MAX_PIXELS, MaxPixels, pixel_limit
from fastshade.io.metadata import Dpi, orient_dpi, read_dpi, read_icc_profile
from fastshade.io.pillow import load, tile_rawmodes
from fastshade.io.probe import open_checked
from fastshade.threads import image_parts, run_slabs

__all__ = ["LoadedImage", "read_image"]


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
    dpi : (float, float) or None
        Resolution (x, y) in dots per inch from the file's header (after EXIF
        orientation), or None when it records none.
    icc_profile : bytes or None
        The embedded ICC profile, or None.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    format: str
    warnings: list[str] = field(default_factory=list)
    path: str = ""
    dpi: Dpi | None = None
    icc_profile: bytes | None = None

    @property
    def height(self) -> int:
        """Image height in pixels."""
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return int(self.rgb.shape[1])


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
        return _unit_samples(arr), None, notes
    if arr.shape[2] in (2, 4):
        return _unit_samples(arr[..., :-1]), _unit_samples(arr[..., -1]), notes
    return _unit_samples(arr), None, notes


def _unit_samples(arr: np.ndarray) -> np.ndarray:
    """``arr / 255.0`` (float64, C order) of 8-bit samples (H, W[, C]), a big image's rows split
    among its threads (:func:`fastshade.threads.image_parts`; NumPy's division releases the GIL,
    and its first writes fault the fresh pages on every thread): the same values.
    """
    parts = min(image_parts(arr.shape[0] * arr.shape[1]), arr.shape[0])
    if parts <= 1:
        return arr / 255.0
    out = np.empty(arr.shape)
    run_slabs(arr, out, 1, parts, lambda src, dst: np.divide(src, 255.0, out=dst))  # slabs of rows
    return out


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
    rawmodes = tile_rawmodes(im)
    load(im, path)
    orientation, exif_ok = _exif_orientation(im) if exif == "apply" else (1, True)
    if not exif_ok:
        notes.append("exif_unreadable")
    samples16, is_16bit_colour = read_16bit_colour(fh, path, fmt, im, rawmodes, frames)
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
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    frames: Literal["first", "reject"] = "first",
    exif: Literal["apply", "ignore"] = "apply",
) -> LoadedImage:
    """Decode an image file to float64 RGB in [0, 1] plus optional alpha.

    Parameters
    ----------
    path : str or os.PathLike
        Image file; the format is sniffed from its magic bytes, never taken
        from the extension.
    max_pixels : int, None or "auto", optional
        Header-size limit checked before decoding; ``"auto"`` (default) is
        what the memory available fits with the default options; ``None``
        keeps only Pillow's bomb guard.
    frames : {"first", "reject"}, optional
        Multi-frame files: decode frame 0 and add warning
        ``first_frame_of_<N>`` (default), or raise ``multi_frame``.
    exif : {"apply", "ignore"}, optional
        Apply the EXIF orientation tag (default, warning ``exif_rotated``) or not.

    Returns
    -------
    LoadedImage
        ``rgb`` (H, W, 3) float64 C-contiguous, ``alpha`` (H, W) float64 or
        ``None``; the arrays are newly allocated; ``dpi`` and ``icc_profile``
        from the header.

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
    pixel_limit(max_pixels, available=1)  # ValueError for a bad argument (no memory measured)
    spath = os.fspath(path)
    notes: list[str] = []
    with unexpected_as_image_error(spath):
        with open_checked(spath, max_pixels) as (fh, fmt, im, info):
            if info.frames > 1:
                if frames == "reject":
                    raise ImageError(
                        spath, "multi_frame", f"{info.frames} frames/pages and frames='reject'"
                    )
                notes.append(f"first_frame_of_{info.frames}")
            samples, alpha, orientation = _decode(fh, spath, fmt, im, info.frames, exif, notes)
            dpi, icc_profile = orient_dpi(read_dpi(im), orientation), read_icc_profile(im)
        rgb, alpha = _to_rgb(samples, alpha, orientation, notes)
    bit_depth = 16 if info.bit_depth > 8 else 8
    return LoadedImage(rgb=rgb, alpha=alpha, bit_depth=bit_depth, format=fmt, warnings=notes, path=spath,
                       dpi=dpi, icc_profile=icc_profile)


