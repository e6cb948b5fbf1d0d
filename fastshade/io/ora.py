"""OpenRaster (``.ora``) writing with the standard library: the layered file Krita, GIMP and MyPaint open.

The format (https://www.openraster.org/baseline/file-layout-spec.html): a zip whose first entry is
``mimetype``, stored uncompressed, holding exactly ``image/openraster``; ``stack.xml`` lists the
layers, the first listed being the top one; ``data/*.png`` holds the layers;
``mergedimage.png`` the composite and ``Thumbnails/thumbnail.png`` a copy at most 256 px.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image

from fastshade.io.atomic import write_atomic

MIMETYPE = b"image/openraster"
THUMBNAIL_EDGE = 256


def rgba8(image: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 of an (H, W, 3|4) float image in [0, 1] (``rint``) or of a uint8 one."""
    if image.dtype != np.uint8:
        image = np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    if image.shape[2] == 3:
        image = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(image)


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image, "RGBA").save(buf, "PNG")
    return buf.getvalue()


def stack_xml(width: int, height: int, names: Sequence[str], dpi: tuple[float, float] | None = None) -> str:
    """The ``stack.xml`` of layers ``names`` (top first), each at ``data/<index>-<name>.png``."""
    res = "" if dpi is None else f' xres="{dpi[0]:g}" yres="{dpi[1]:g}"'
    rows = ['<?xml version="1.0" encoding="UTF-8"?>',
            f'<image version="0.0.3" w="{width}" h="{height}"{res}>', "<stack>"]
    for index, name in enumerate(names):
        rows.append(f'<layer name={quoteattr(name)} src="data/{index}-{_slug(name)}.png" x="0" y="0" '
                    'opacity="1.0" visibility="visible" composite-op="svg:src-over"/>')
    rows += ["</stack>", "</image>", ""]
    return "\n".join(rows)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def write_openraster(path: str | os.PathLike[str], layers: Sequence[tuple[str, np.ndarray]], merged: np.ndarray,
                     *, dpi: tuple[float, float] | None = None) -> None:
    """Write ``layers`` (``(name, image)``, top first, (H, W, 3|4) float in [0, 1] or uint8) and their
    composite ``merged`` as one OpenRaster file, atomically (nothing is left on failure).
    """
    merged8 = rgba8(merged)
    height, width = merged8.shape[:2]
    thumb = Image.fromarray(merged8, "RGBA")
    thumb.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
    tbuf = io.BytesIO()
    thumb.save(tbuf, "PNG")

    def write(fh) -> None:  # noqa: ANN001 (a binary file object)
        with zipfile.ZipFile(fh, "w") as z:
            z.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
            z.writestr("stack.xml", stack_xml(width, height, [n for n, _ in layers], dpi),
                       compress_type=zipfile.ZIP_DEFLATED)
            for index, (name, image) in enumerate(layers):
                z.writestr(f"data/{index}-{_slug(name)}.png", _png(rgba8(image)), compress_type=zipfile.ZIP_STORED)
            z.writestr("mergedimage.png", _png(merged8), compress_type=zipfile.ZIP_STORED)
            z.writestr("Thumbnails/thumbnail.png", tbuf.getvalue(), compress_type=zipfile.ZIP_STORED)

    write_atomic(path, write, "OpenRaster file")
