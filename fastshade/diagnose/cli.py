"""The ``fastshade diagnose`` command: its arguments and what it runs (the help text is the package docstring)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fastshade.cli_args import add_shade_options, options_from_args, style_list
from fastshade.diagnose import figures
from fastshade.diagnose.outputs import make_output_folder, write_outputs
from fastshade.diagnose.runner import diagnose_arrays
from fastshade.diagnose.strategies import grid_strategies, parse_strategy, preset_strategies
from fastshade.diagnose.study import run_study
from fastshade.diagnose.tables import fmt, format_table
from fastshade.io import check_writable, read_image
from fastshade.pipeline.cross import parse_affinity_threshold
from fastshade.pipeline.shading import ROUNDINGS

__all__ = ["configure", "main"]


def configure(p: argparse.ArgumentParser) -> None:
    """Add the arguments of ``fastshade diagnose`` (and the shader's options) to ``p``."""
    p.add_argument("target", nargs="?", help="target image")
    p.add_argument("sample", nargs="?", help="sample image (omit: the target is its own sample, parity)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--strategy", action="append", metavar="SPEC",
                   help="NAME[,key=value...] (repeatable); default: the built-in ladder "
                        "(baseline, H1-H5 toggles, fixes A-D)")
    p.add_argument("--grid", action="store_true",
                   help="also run every strategy × score × gate × Procrustes × scale combination "
                        "(summaries in report.json, rows in the table)")
    p.add_argument("--no-plots", action="store_true",
                   help="write no figures (report.json; with --study, study.json and study.md)")
    p.add_argument("--study", metavar="IMAGES_DIR",
                   help="run the docs/cross-attention.md study on a folder holding the shared images "
                        "(both bases; writes per-pair reports, figures and study.json into DIR)")
    p.add_argument("--study-bases", default="krylov,lobpcg", metavar="LIST",
                   help="bases of --study, comma-separated (default krylov,lobpcg)")
    p.add_argument("--rounding", choices=ROUNDINGS, default="half-up",
                   help="shadow destination rounding: half-up (the pipeline's floor(v + 0.5)) or "
                        "half-even (rint, the original's torch.round; the experiment of docs/cross-attention.md) "
                        "(default half-up)")
    p.add_argument("--study-rounding", default="half-up", metavar="LIST",
                   help="roundings of --study, comma-separated (default half-up; e.g. half-up,half-even)")
    p.add_argument("--study-reports", action="store_true",
                   help="--study: also write every run's full report.json under DIR/reports/")
    p.add_argument("--styles", default=None, metavar="S,S,...|all",
                   help="also shade the pair in cross mode in each style and print pixel metrics per style "
                        "(changed px, pieces, median piece, specks, ink hit); written to DIR/styles.json")
    add_shade_options(p, style="v12")  # the v12 pass: its baselines and studies



def main(args: argparse.Namespace) -> int:
    """Run ``fastshade diagnose`` (one pair, or ``--study``); 0 on success.

    Bad arguments, images or output paths raise ``ValueError``/``OSError`` (one-line errors
    of the command line, exit code 2) before anything is computed or written.
    """
    opts = options_from_args(args)
    outdir = Path(args.output)
    if args.study:
        if args.target:
            raise ValueError("give either TARGET [SAMPLE] or --study, not both")
        bases = [b.strip() for b in args.study_bases.split(",") if b.strip()]
        if not args.no_plots and not figures.have_matplotlib():
            print("fastshade: note: matplotlib is not installed, so the study writes no figures "
                  "(pip install 'fastshade[plots]')", file=sys.stderr)
        roundings = [r.strip() for r in args.study_rounding.split(",") if r.strip()]
        study = run_study(Path(args.study), outdir, opts, bases=bases, roundings=roundings,
                          reports=args.study_reports, progress=True, plots=not args.no_plots)
        for group, rows in study["ranking"].items():
            print(f"[{group}] best configurations (parity, goal relative to self, absolute passes, fragments):")
            for r in rows[:5]:
                print(f"  {r['config']:<34} parity={r['parity_exact_every_image']} "
                      f"relative={r['goal_relative_to_self_every_pair']} "
                      f"absolute={r['pairs_passing_absolute_goal']}/{r['pairs']} "
                      f"frag={fmt(r['mean_fragments'], '.3f')}")
        return 0
    if not args.target:
        raise ValueError("give TARGET [SAMPLE] (or --study IMAGES_DIR)")
    styles = style_list(args.styles)
    parse_affinity_threshold(opts.affinity_threshold)
    target = read_image(args.target).rgb
    sample = read_image(args.sample).rgb if args.sample else None
    strategies = ([parse_strategy(s, opts) for s in args.strategy] if args.strategy
                  else preset_strategies(opts))
    grid = grid_strategies(opts) if args.grid else ()
    make_output_folder(outdir)  # inputs and strategies are valid: fail on the folder before computing
    for name in ("report.json", *(() if args.no_plots else ("affinity.png", "strategies.png"))):
        check_writable(outdir / name, "diagnose output")
    diag = diagnose_arrays(target, sample, opts, strategies, grid=grid, rounding=args.rounding, progress=True)
    title = (f"{Path(args.target).name} × {Path(args.sample).name if args.sample else 'itself'} ({opts.basis}"
             + (f", {args.rounding})" if args.rounding != "half-up" else ")"))
    write_outputs(diag, outdir, title=title, plots=not args.no_plots)
    print(format_table(diag.report, include_grid=bool(grid)))
    print(f"wrote {outdir / 'report.json'}", file=sys.stderr)
    if styles:
        from fastshade.diagnose.styles import format_styles_table, styles_cross_table
        from fastshade.io import write_file

        rows = styles_cross_table(target, sample, opts, styles)
        print(format_styles_table(rows))
        write_file(outdir / "styles.json", json.dumps(rows, indent=1) + "\n", "JSON")
    return 0
