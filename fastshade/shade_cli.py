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
from fastshade.compile_plan import end_early
from fastshade.options import ShadeOptions
from fastshade.stage_progress import StageProgress
from fastshade.warmup import (
    PARALLEL_KERNELS,
    cold_kernels,
    compile_notice,
    start_background_compile,
    stop_background_compile,
)


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``shade`` arguments (and every shader option) to ``p``."""
    p.usage = "fastshade shade (TARGET | --demo) -o OUTPUT [--sample SAMPLE] [options]"
    io = p.add_argument_group("input and output")
    io.add_argument("target", nargs="?", metavar="TARGET", help="image to shade (omit with --demo)")
    io.add_argument("--demo", action="store_true", help="shade the built-in demo line-art image")
    io.add_argument("-o", "--output", required=True, help="output image path (.png, .tif, .jpg)")
    io.add_argument("--sample", help="cross mode: this image supplies the shadow shapes")
    io.add_argument("--stats", help="write the statistics (gates, placements, timings) as JSON here")
    io.add_argument("--depth", type=int, choices=[8, 16], default=None,
                    help="output bit depth (default: that of the input)")
    io.add_argument("--save-passes", action="store_true", help="also write each pass: NAME.pass1.png, ...")
    io.add_argument("--layers", action="store_true",
                    help="also write each stage's marks (NAME.shadow.png, ...) and NAME.ora for Krita/GIMP")
    io.add_argument("--max-pixels", type=int, default=None, metavar="N",
                    help="refuse images over N pixels (default: what fits the memory available)")
    io.add_argument("--strict", action="store_true",
                    help="fail (exit 1) a target that is not line art instead of warning")
    add_shade_options(p)
    performance = next(g for g in p._action_groups if (g.title or "").startswith("performance"))
    performance.add_argument("--threads", type=int, default=None, metavar="N",
                             help="threads for this image's kernels (default: every core); the output "
                                  "bytes are the same for any N")


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
    """``fastshade shade``: shade one image (or the demo); returns the exit status (0, 2 on a file error,
    1 when ``--strict`` refuses a target that is not line art).
    """
    from fastshade.threads import image_threads, limit_threads

    opts = options_from_args(args)
    if args.max_pixels is not None and args.max_pixels < 1:
        raise ValueError(f"--max-pixels must be >= 1, got {args.max_pixels}")
    if args.demo == bool(args.target):
        raise ValueError("give exactly one of TARGET or --demo")
    threads = image_threads(args.threads)
    _check_destinations(args)
    cold = cold_kernels()
    twins = cold_kernels(PARALLEL_KERNELS) if threads > 1 and _runs_parallel_twins(args) else []
    helper = start_background_compile(opts) if cold else None  # compiles the kernels after the basis
    end_early()  # the second process the command line started at once, when not adopted just now
    notice = compile_notice(cold, shared=helper is not None, cold_twins=twins)
    if notice:
        print(notice, file=sys.stderr, flush=True)
    try:
        with limit_threads(numba_threads=threads):
            return _shade(args, opts)
    finally:
        stop_background_compile(helper)


def _runs_parallel_twins(args: argparse.Namespace) -> bool:
    """Whether the target is big enough for the kernels' parallel twins (header only; an
    unreadable target is reported by the job).
    """
    from fastshade.io import ImageError, probe_image
    from fastshade.threads import PARALLEL_MIN_ROWS

    if not args.target:
        return False
    try:
        info = probe_image(args.target, max_pixels=None)
    except (ImageError, OSError, ValueError):
        return False
    return info.width * info.height >= PARALLEL_MIN_ROWS


def _shade(args: argparse.Namespace, opts: ShadeOptions) -> int:
    """The body of :func:`main` once the arguments are checked and the threads set."""
    from fastshade.io import ImageError, validate_output, write_file, write_image

    if args.demo:
        from fastshade.demo import demo_image
        from fastshade.job import pass_path, write_layers
        from fastshade.styles import shade_arrays

        depth = args.depth or 8
        fmt = validate_output(args.output, has_alpha=False, bit_depth=depth)
        images: list = []
        demo = demo_image()
        with StageProgress("demo", sys.stderr) as progress:
            res = shade_arrays(demo, args.sample, opts, clock=progress.clock,
                               on_pass=(lambda step, r: images.append(r.image)) if args.save_passes else None)
        if args.strict and "not_line_art" in res.stats["warning_codes"]:
            print(f"fastshade: error: demo: {res.stats['warnings'][0]}", file=sys.stderr)
            return 1
        write_image(args.output, res.image, bit_depth=depth, fmt=fmt)
        for index, image in enumerate(images, start=1):
            write_image(pass_path(args.output, index), image, bit_depth=depth, fmt=fmt)
        if args.layers:
            write_layers(args.output, demo, res)
        stats, name = res.stats, "demo"
    else:
        # The same per-file job as `fastshade run`, so both write identical bytes.
        from fastshade.job import is_written, shade_file

        with StageProgress(os.path.basename(args.target), sys.stderr) as progress:
            job = shade_file(args.target, args.output, args.sample, opts, None, args.depth, keep_stats=True,
                             clock=progress.clock, save_passes=args.save_passes, layers=args.layers,
                             strict=args.strict, max_pixels="auto" if args.max_pixels is None else args.max_pixels)
        if not is_written(job.status):
            where = args.output if job.reason == "write_error" else args.target
            print(f"fastshade: error: {where}: {job.message or job.reason}", file=sys.stderr)
            return 1 if job.reason == "not_line_art" else 2
        shader_codes = (job.stats or {}).get("warning_codes", [])
        for code in [c for c in job.warnings if c not in shader_codes]:  # the reader's (the shader's below)
            print(f"fastshade: warning: {args.target}: {code}", file=sys.stderr)
        stats, name = job.stats, args.target
    for text in stats.get("warnings", []):  # the shader's own, one line each (drawing_checks, basis)
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
