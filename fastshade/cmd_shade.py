"""Shade one image.

In self mode the image shades itself; with --sample a second image supplies the
shadow shapes (cross mode).  Nothing is written when an input cannot be read.

examples:
  fastshade shade --demo -o shaded.png             # built-in demo line art
  fastshade shade toof.png -o toof-shaded.png --stats stats.json
  fastshade shade toof.png --sample snek.png -o cross.png
  fastshade shade toof.png -o toof-krylov.png --basis krylov
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fastshade.cliutil import add_shade_options, options_from_args


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", help="image to shade (omit with --demo)")
    p.add_argument("--demo", action="store_true", help="shade the built-in demo line-art image")
    p.add_argument("--sample", help="sample image for cross mode")
    p.add_argument("-o", "--output", required=True, help="output image path (.png, .tif, .jpg)")
    p.add_argument("--stats", help="write the statistics as JSON to this path")
    p.add_argument("--depth", type=int, choices=[8, 16], default=None,
                   help="output bit depth (default: that of the input)")
    add_shade_options(p)


def main(args: argparse.Namespace) -> int:
    from fastshade.io import read_image, validate_output, write_image
    from fastshade.shader import shade_arrays

    opts = options_from_args(args)
    if args.demo == bool(args.target):
        raise ValueError("give exactly one of TARGET or --demo")
    if args.demo:
        from fastshade.demo import demo_image

        rgb, alpha, depth, name = demo_image(), None, 8, "demo"
    else:
        img = read_image(args.target)
        rgb, alpha, depth, name = img.rgb, img.alpha, img.bit_depth, args.target
    depth = args.depth or depth
    fmt = validate_output(args.output, has_alpha=alpha is not None, bit_depth=depth)
    sample = read_image(args.sample).rgb if args.sample else None
    target = rgb if alpha is None else __import__("numpy").concatenate([rgb, alpha[:, :, None]], axis=2)
    res = shade_arrays(target, sample, opts)
    out = res.image
    write_image(args.output, out[:, :, :3], out[:, :, 3] if out.shape[2] == 4 else None,
                bit_depth=depth, fmt=fmt)
    st = res.stats
    if args.stats:
        Path(args.stats).write_text(json.dumps(st, indent=1, sort_keys=True))
    print(f"{name} -> {args.output}: {st['mode']}, {len(st['placements'])} shadow components, "
          f"{st['high_gate_pixels']} high / {st['low_gate_pixels']} low gate px, "
          f"{st['timings']['total']:.3f} s", file=sys.stderr)
    return 0
