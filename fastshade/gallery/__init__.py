"""Make the gallery: before/after pictures of every style on the demo and the shared images.

Writes one PNG per case (the input beside the output, under 300 KB) and an index README.md into
OUT, and a strip of the default style's pictures for the project README.  The shared images are
read from --images (the research repository's line art, ``../shared/images`` in a checkout of the
project's workspace); without them only the built-in demo is shaded.

examples:
  fastshade gallery                                   # docs/gallery from ../shared/images
  fastshade gallery --images ~/drawings --out /tmp/g  # your own drawings (toof.png, ... by name)
"""  # noqa: D405, D406, D407 (the command's --help text)

from __future__ import annotations

import argparse
import os
import sys

from fastshade.gallery.cases import Case, gallery_cases

__all__ = ["configure", "main"]


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``gallery`` arguments."""
    p.add_argument("--images", default=os.path.join("..", "shared", "images"),
                   help="folder of the shared line-art images (default ../shared/images)")
    p.add_argument("--out", default=os.path.join("docs", "gallery"), help="output folder (default docs/gallery)")
    p.add_argument("--styles", default="all", help="comma-separated styles, or all (default all)")


def _load(case_target: str, images: str):  # noqa: ANN202 (an (H, W, 3|4) float array)
    import numpy as np

    from fastshade.demo import demo_image
    from fastshade.io import read_image

    if case_target == "demo":
        return demo_image()
    img = read_image(os.path.join(images, case_target + ".png"))
    return img.rgb if img.alpha is None else np.concatenate([img.rgb, img.alpha[:, :, None]], axis=2)


def shade_case(case: Case, images: str) -> tuple[object, object, dict]:
    """Shade one case; returns (input, output, stats)."""
    from fastshade.options import ShadeOptions
    from fastshade.styles import shade_arrays

    target = _load(case.target, images)
    sample = _load(case.sample, images) if case.sample else None
    res = shade_arrays(target, sample, ShadeOptions(style=case.style, passes=case.passes))
    return target, res.image, res.stats


def main(args: argparse.Namespace) -> int:
    """``fastshade gallery``: write the gallery; returns 0."""
    from fastshade.cli_args import style_list
    from fastshade.gallery.sheet import png_under_budget, side_by_side
    from fastshade.io import write_file
    from fastshade.options import DEFAULT_STYLE, STYLE_NAMES

    styles = style_list(args.styles) or list(STYLE_NAMES)
    if not os.path.isdir(args.images):
        print(f"fastshade: gallery: {args.images}: no such folder, shading the built-in demo only", file=sys.stderr)
    cases = gallery_cases(styles, args.images)
    rows = []
    for case in cases:
        try:
            target, image, stats = shade_case(case, args.images)
        except ValueError as err:  # a style without a cross mode (v6) says so, and the gallery goes on
            print(f"{case.name}: skipped: {str(err).splitlines()[0]}", file=sys.stderr)
            continue
        label = f"{case.style}, {case.passes} pass{'es' if case.passes > 1 else ''}"
        panels, labels = [target, image], ["input", label]
        if case.sample:
            panels.insert(1, _load(case.sample, args.images))
            labels.insert(1, "sample")
        blob = png_under_budget(side_by_side(panels, labels))
        write_file(os.path.join(args.out, case.name + ".png"), blob, "PNG")
        rows.append((case, stats, len(blob)))
        print(f"{case.name}.png: {stats['changed_pixels']} px changed, {len(blob) // 1024} KB", file=sys.stderr)
    lines = ["# Gallery", "", "Made by `fastshade gallery` (from the repository root, with the shared images in",
             "`../shared/images`). Each picture: the input, then the output. Default style: "
             f"`{DEFAULT_STYLE}`.", "", "| picture | style | input | passes | changed px |", "|---|---|---|---|---|"]
    for case, stats, _ in rows:
        what = case.target + (f" × {case.sample}" if case.sample else "")
        lines.append(f"| ![{case.name}]({case.name}.png) | {case.style} | {what} | {case.passes} | "
                     f"{stats['changed_pixels']} |")
    write_file(os.path.join(args.out, "README.md"), "\n".join(lines) + "\n", "Markdown")
    return 0
