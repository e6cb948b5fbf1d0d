"""What is benchmarked: demo sizes, the original's size, dither rows, the images of ``--images``, their files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fastshade.bench.schema import ORIGINAL_SIZE

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"}
"""File suffixes ``--images`` picks up."""
QUICK_SIZES = (128, 256)
"""Demo sizes of ``--quick``."""
DEFAULT_SIZES = (256, 512, 1024, 2048)
"""Demo sizes without ``--sizes``."""
DITHER_SIZES = (512, 1024)
"""Demo sizes shaded with ``--laplacian dither`` without ``--dither-sizes`` (none with ``--quick``)."""
DITHER_OPTIONS = {"laplacian": "dither"}
"""Options of the dither rows over the run's own options."""
QUICK_REPEAT = 5
"""Timed repeats of ``--quick``: enough for the minimum that ``--compare`` judges on."""
DEFAULT_REPEAT = 3
"""Timed repeats without ``--repeat``."""


def parse_sizes(text: str, flag: str = "--sizes") -> list[int | tuple[int, int]]:
    """``"256,512,4960x7016"`` -> ``[256, 512, (7016, 4960)]``: a square edge, or ``WxH`` as an
    ``(H, W)`` shape; each edge in [16, 16384], duplicates dropped, order kept (``flag`` names the
    option in the messages; ``--dither-sizes`` also takes ``none``).
    """
    if flag == "--dither-sizes" and text.strip().lower() == "none":
        return []
    sizes: list[int | tuple[int, int]] = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        edges = part.split("x")
        try:
            values = [int(e) for e in edges]
        except ValueError:
            raise ValueError(f"{flag}: {part!r} is not an integer or WxH") from None
        if len(values) > 2:
            raise ValueError(f"{flag}: {part!r} is not an integer or WxH")
        for s in values:
            if not 16 <= s <= 16384:
                raise ValueError(f"{flag}: {s} is outside [16, 16384]")
        size: int | tuple[int, int] = values[0] if len(values) == 1 else (values[1], values[0])
        if size not in sizes:
            sizes.append(size)
    if not sizes:
        raise ValueError(f"{flag}: no size given")
    return sizes


def size_shape(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``(H, W)`` of a :func:`parse_sizes` entry (a square edge or an ``(H, W)`` pair)."""
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def image_files(directory: Path) -> list[Path]:
    """List the readable images of ``directory``, sorted; skip an unreadable one with a one-line warning.

    ``FileNotFoundError`` when ``directory`` is not a folder, ``ValueError`` when it has no readable image.
    """
    if not directory.is_dir():
        raise FileNotFoundError(f"--images: {directory} is not a directory")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not p.name.startswith("."))
    if not files:
        raise ValueError(f"--images: no image files in {directory}")
    from fastshade.io import ImageError, read_image

    readable = []
    for f in files:  # a bad file is skipped with one line, never the whole benchmark
        try:
            read_image(f)
        except ImageError as err:
            print(f"fastshade: warning: --images: skipping {err}", file=sys.stderr)
            continue
        readable.append(f)
    if not readable:
        raise ValueError(f"--images: no readable image in {directory}")
    return readable


STYLE_PASSES = (1, 4)
"""Pass counts of the style rows without ``--style-passes``."""
STYLE_DEMO_SIZE = 512
"""Demo size of the style rows when ``--images`` has no toof."""


def build_cases(sizes: list[int | tuple[int, int]], images: list[Path], *, original_size: bool,
                dither_sizes: list[int | tuple[int, int]] | tuple[int, ...] = (),
                styles: list[str] | tuple[str, ...] = (),
                style_passes: list[int] | tuple[int, ...] = STYLE_PASSES) -> list[dict[str, Any]]:
    """List the benchmark cases: demo sizes, the original's size, the dither rows, each image, the toof x snek cross.

    A dither row (``kind`` ``"dither"``) shades the demo image of its size with
    :data:`DITHER_OPTIONS` over the run's options; it has no baselines and no growth fit.
    A style row (``kind`` ``"style"``) shades toof (from ``images``; else the 512² demo) in one of
    ``styles`` with each of ``style_passes`` passes, the style's own envelope.
    """
    cases: list[dict[str, Any]] = []
    for s in sizes:
        h, w = size_shape(s)
        cases.append({"name": f"demo-{w}x{h}", "kind": "demo", "mode": "self", "shape": [h, w]})
    if original_size:
        h, w = ORIGINAL_SIZE
        cases.append({"name": f"demo-{h}x{w}", "kind": "demo", "mode": "self", "shape": [h, w]})
    for s in dither_sizes:
        h, w = size_shape(s)
        cases.append({"name": f"dither-{w}x{h}", "kind": "dither", "mode": "self", "shape": [h, w],
                      "options": dict(DITHER_OPTIONS)})
    by_stem = {p.stem: p for p in images}
    for style in styles:
        for passes in style_passes:
            row: dict[str, Any] = {"name": f"style:{style}:p{passes}", "kind": "style", "mode": "self",
                                   "options": {"style": style, "passes": passes, "envelope": "auto"}}
            if "toof" in by_stem:
                row["files"] = [str(by_stem["toof"])]
            else:
                row["shape"] = [STYLE_DEMO_SIZE, STYLE_DEMO_SIZE]
            cases.append(row)
    for p in images:
        cases.append({"name": f"image:{p.stem}", "kind": "image", "mode": "self", "files": [str(p)]})
    if "toof" in by_stem and "snek-heavy" in by_stem:
        cases.append({"name": "cross:toof:snek-heavy", "kind": "image", "mode": "cross",
                      "files": [str(by_stem["toof"]), str(by_stem["snek-heavy"])]})
    return cases


def case_files(case: dict[str, Any], folder: Path) -> list[str]:
    """Return the image files of ``case``: its own, or its demo image written as 8-bit PNG into ``folder``."""
    if "files" in case:
        return list(case["files"])
    import numpy as np

    from fastshade.demo import demo_image
    from fastshade.io import write_image

    h, w = case["shape"]
    path = folder / f"{case['name']}.png"
    write_image(path, np.clip(demo_image(h, w), 0.0, 1.0), bit_depth=8)
    return [str(path)]
