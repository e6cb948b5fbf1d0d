"""Before/after sheets: the input and the output side by side, one PNG under a size budget."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

MAX_BYTES = 300 * 1024
"""Largest gallery PNG (the README shows them inline)."""
GAP = 8
LABEL_HEIGHT = 18


def side_by_side(panels: list[np.ndarray], labels: list[str]) -> Image.Image:
    """One RGB image: ``panels`` ((H, W, 3|4) float in [0, 1], same height) left to right, each with
    its label above it, on white.
    """
    h = max(p.shape[0] for p in panels)
    w = sum(p.shape[1] for p in panels) + GAP * (len(panels) - 1)
    sheet = Image.new("RGB", (w, h + LABEL_HEIGHT), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for panel, label in zip(panels, labels):
        rgb = panel[:, :, :3]
        if panel.shape[2] == 4:  # composited over white, as a viewer shows it
            a = panel[:, :, 3:4]
            rgb = rgb * a + (1 - a)
        sheet.paste(Image.fromarray(np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)), (x, LABEL_HEIGHT))
        draw.text((x + 2, 2), label, fill=(0, 0, 0))
        x += panel.shape[1] + GAP
    return sheet


def png_under_budget(sheet: Image.Image, max_width: int = 1200, max_bytes: int = MAX_BYTES) -> bytes:
    """PNG bytes of ``sheet``, shrunk (Lanczos) until at most ``max_width`` wide and ``max_bytes`` long."""
    scale = min(1.0, max_width / sheet.width)
    while True:
        img = sheet if scale == 1.0 else sheet.resize(
            (max(1, int(sheet.width * scale)), max(1, int(sheet.height * scale))), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "PNG", optimize=True)
        if buf.tell() <= max_bytes or scale < 0.1:
            return buf.getvalue()
        scale *= 0.85
