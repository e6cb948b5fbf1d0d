"""Shade one image.

In self mode the image shades itself; with --sample a second image supplies the
shadow shapes (cross mode).  Nothing is written when an input cannot be read or a
destination cannot be written; the output may not overwrite an input, nor --stats the output.

examples:
  fastshade shade --demo -o shaded.png             # built-in demo line art
  fastshade shade toof.png -o toof-shaded.png --stats stats.json
  fastshade shade toof.png --sample snek.png -o cross.png
  fastshade shade toof.png -o toof-krylov.png --basis krylov
"""  # noqa: D405, D406, D407 (the command's --help text: "examples:" is not a numpydoc section)

from __future__ import annotations

import argparse
import json
import os
import sys

from fastshade.cli_args import add_shade_options, options_from_args
from fastshade.options import ShadeOptions


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``shade`` arguments (and every shader option) to ``p``."""
    p.add_argument("target", nargs="?", help="image to shade (omit with --demo)")
    p.add_argument("--demo", action="store_true", help="shade the built-in demo line-art image")
    p.add_argument("--sample", help="sample image for cross mode")
    p.add_argument("-o", "--output", required=True, help="output image path (.png, .tif, .jpg)")
    p.add_argument("--stats", help="write the statistics as JSON to this path")
    p.add_argument("--depth", type=int, choices=[8, 16], default=None,
                   help="output bit depth (default: that of the input)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads for this image's kernels (default: every core); the output bytes "
                        "are the same for any N")
    add_shade_options(p)


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name the same file (existing or not)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _check_destinations(args: argparse.Namespace) -> None:
    """Refuse destinations that would overwrite an input or each other, before any compute.

    Also refuses an output or ``--stats`` path that cannot be written (one-line ``ValueError``).
    """
    from fastshade.io import check_writable

    check_writable(args.output, "the output")
    inputs = [p for p in (args.target, args.sample) if p]
    for src in inputs:
        if _same_file(args.output, src):
            raise ValueError(f"{args.output}: the output would overwrite the input {src}; "
                             "write it elsewhere")
    if not args.stats:
        return
    for other in [args.output, *inputs]:
        if _same_file(args.stats, other):
            raise ValueError(f"{args.stats}: --stats would overwrite {other}")
    check_writable(args.stats, "--stats")


def main(args: argparse.Namespace) -> int:
    """``fastshade shade``: shade one image (or the demo); returns the exit status (0, or 2 on a file error)."""
    from fastshade.threads import image_threads, limit_threads

    opts = options_from_args(args)
    if args.demo == bool(args.target):
        raise ValueError("give exactly one of TARGET or --demo")
    threads = image_threads(args.threads)
    _check_destinations(args)
    with limit_threads(numba_threads=threads):
        return _shade(args, opts)


def _shade(args: argparse.Namespace, opts: ShadeOptions) -> int:
    """The body of :func:`main` once the arguments are checked and the threads set."""
    from fastshade.io import ImageError, validate_output, write_file, write_image

    if args.demo:
        from fastshade.demo import demo_image
        from fastshade.pipeline.shader import shade_arrays

        depth = args.depth or 8
        fmt = validate_output(args.output, has_alpha=False, bit_depth=depth)
        res = shade_arrays(demo_image(), args.sample, opts)
        write_image(args.output, res.image, bit_depth=depth, fmt=fmt)
        stats, name = res.stats, "demo"
    else:
        # The same per-file job as `fastshade run`, so both write identical bytes.
        from fastshade.job import shade_file

        job = shade_file(args.target, args.output, args.sample, opts, None, args.depth, keep_stats=True)
        if job.status != "ok":
            where = args.output if job.reason == "write_error" else args.target
            print(f"fastshade: error: {where}: {job.message or job.reason}", file=sys.stderr)
            return 2
        for code in job.warnings:
            print(f"fastshade: warning: {args.target}: {code}", file=sys.stderr)
        stats, name = job.stats, args.target
    for text in stats.get("warnings", []):  # the shader's own (one line: an unmet basis contract)
        print(f"fastshade: warning: {name}: {text}", file=sys.stderr)
    if args.stats:
        try:
            write_file(args.stats, json.dumps(stats, indent=1, sort_keys=True), "JSON")
        except ImageError:
            os.unlink(args.output)  # all or nothing: no image without its requested stats
            raise
    print(f"{name} -> {args.output}: {stats['mode']}, {len(stats['placements'])} shadow components, "
          f"{stats['high_gate_pixels']} high / {stats['low_gate_pixels']} low gate px, "
          f"{stats['timings']['total']:.3f} s", file=sys.stderr)
    return 0
