"""The ``fastshade bench`` command: its flags, the checks before the run, and what is done with the results."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fastshade.bench.cases import (
    DEFAULT_REPEAT,
    DEFAULT_SIZES,
    DITHER_SIZES,
    QUICK_REPEAT,
    QUICK_SIZES,
    build_cases,
    image_files,
    parse_sizes,
    size_shape,
)
from fastshade.bench.compare import compare_results, format_comparison
from fastshade.bench.machine import machine_info
from fastshade.bench.plot import PLOT_SUFFIXES, plot_scaling
from fastshade.bench.report import format_markdown, format_report
from fastshade.bench.results import clock_view, finish, load_results
from fastshade.bench.scan import SCAN_SHAPE, SCAN_THREADS, format_scan, run_scan
from fastshade.bench.schema import CLOCKS, ORIGINAL_SIZE
from fastshade.bench.worker import run_worker
from fastshade.cli_args import add_shade_options, fail, option_changes, options_from_args, style_list


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``bench`` flags (and every shader option) to ``p``."""
    p.add_argument("--sizes", default=None, metavar="S,WxH,...",
                   help=f"demo image sizes: a square edge or WxH, up to 16384 (e.g. 4960x7016, A4 at 600 dpi; "
                        f"default {','.join(map(str, DEFAULT_SIZES))}; --quick: {','.join(map(str, QUICK_SIZES))})")
    p.add_argument("--dither-sizes", default=None, metavar="S,S,...|none",
                   help=f"also shade the demo image at these sizes with --laplacian dither (default "
                        f"{','.join(map(str, DITHER_SIZES))}; --quick: none)")
    p.add_argument("--images", metavar="DIR", help="also time every image in DIR (self mode; plus "
                   "toof x snek-heavy cross when both are there)")
    p.add_argument("--styles", default=None, metavar="S,S,...|all",
                   help="add a row per style and pass count (--style-passes) on toof from --images, else the "
                        "512x512 demo, each in its own envelope; the report gives each row's ratio to v12's 1 pass")
    p.add_argument("--style-passes", default="1,4", metavar="N,N,...",
                   help="pass counts of the --styles rows (default 1,4)")
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help=f"timed runs per case after the warm-up (default {DEFAULT_REPEAT}; --quick: {QUICK_REPEAT})")
    p.add_argument("--threads", type=int, default=1, metavar="T",
                   help="Numba and BLAS threads of the worker (default 1, the honest comparison)")
    p.add_argument("--json", metavar="OUT.json", help="write every figure, the machine and the options")
    p.add_argument("--compare", metavar="OLD.json", help="print per-stage ratios of the minima to an earlier --json "
                   "run; exit 1 if any stage is slower than --tolerance widened by both runs' noise")
    p.add_argument("--tolerance", type=float, default=1.25, metavar="X",
                   help="slow-down factor that fails --compare when both runs are steady (default 1.25)")
    p.add_argument("--min-seconds", type=float, default=0.005, metavar="S",
                   help="--compare does not judge stages under S seconds in both runs (default 0.005)")
    p.add_argument("--plot", metavar="OUT.png", help="draw the scaling curves (needs fastshade[plots])")
    p.add_argument("--clock", choices=CLOCKS, default="wall",
                   help="clock of the report, ratios, growth fits and --compare (both are always measured and "
                        "saved): wall (default) or cpu = CPU seconds of the worker, robust on a busy machine "
                        "(with --threads 1 it equals the wall time of an idle machine)")
    p.add_argument("--markdown", metavar="OUT.md", help="write the summary as Markdown tables (for a README)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run under 30 s: sizes {','.join(map(str, QUICK_SIZES))}, repeat {QUICK_REPEAT}, "
                        "baselines at the smallest size only")
    p.add_argument("--original-sizes", action="store_true",
                   help=f"add the {ORIGINAL_SIZE[1]}x{ORIGINAL_SIZE[0]} (WxH) demo case even when no size >= 1024")
    p.add_argument("--baseline-max-size", type=int, default=512, metavar="S",
                   help="run the eigsh/LOBPCG basis baselines only up to S*S pixels (default 512)")
    p.add_argument("--baseline-budget", type=float, default=None, metavar="S",
                   help="seconds the unpreconditioned LOBPCG baseline may take per case; its iteration cap "
                        "is set from a 3-iteration probe (default 30; --quick: 3)")
    p.add_argument("--lobpcg-maxiter", type=int, default=1000, metavar="N",
                   help="hard iteration cap of the unpreconditioned LOBPCG baseline (default 1000)")
    p.add_argument("--no-baselines", action="store_true", help="skip every baseline")
    p.add_argument("--scan", nargs="?", const=f"{SCAN_SHAPE[1]}x{SCAN_SHAPE[0]}", default=None, metavar="WxH",
                   help="measure only the big-scan case: one `fastshade shade` job on the generated line drawing "
                        f"of WxH (default {SCAN_SHAPE[1]}x{SCAN_SHAPE[0]}, A4 at 600 dpi) per --scan-threads, "
                        "reporting wall and CPU seconds, peak RSS and bytes per pixel; with `fastshade shade`'s "
                        "defaults (style brush) and the shade flags given (--style v12, --connectivity 8, ...)")
    p.add_argument("--scan-threads", default=",".join(map(str, SCAN_THREADS)), metavar="T,T",
                   help="thread counts of --scan, one fresh worker each (default "
                        f"{','.join(map(str, SCAN_THREADS))})")
    p.add_argument("--results", metavar="IN.json",
                   help="measure nothing: print, --plot and --compare the results of an earlier --json run")
    add_shade_options(p, style="v12")  # the v12 pass: its baselines and studies
    p.set_defaults(style=None)  # (v12 unless given; --scan shades as `fastshade shade` does: brush)


def main(args: argparse.Namespace) -> int:
    """Run the benchmark in a worker process, print the report, write/compare/plot (exit status)."""
    sizes = parse_sizes(args.sizes) if args.sizes is not None else list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.dither_sizes is not None:
        dither_sizes = parse_sizes(args.dither_sizes, "--dither-sizes")
    else:
        dither_sizes = [] if args.quick else list(DITHER_SIZES)
    repeat = args.repeat if args.repeat is not None else (QUICK_REPEAT if args.quick else DEFAULT_REPEAT)
    if repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {repeat}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if not args.tolerance >= 1.0:
        raise ValueError(f"--tolerance must be >= 1, got {args.tolerance}")
    if args.lobpcg_maxiter < 1:
        raise ValueError(f"--lobpcg-maxiter must be >= 1, got {args.lobpcg_maxiter}")
    budget = args.baseline_budget if args.baseline_budget is not None else (3.0 if args.quick else 30.0)
    if not budget > 0:
        raise ValueError(f"--baseline-budget must be > 0, got {budget}")
    scan_changes = option_changes(args)  # --scan: the flags given, over `fastshade shade`'s defaults
    if args.style is None:
        args.style = "v12"
    opts = options_from_args(args)
    old = load_results(args.compare, "--compare") if args.compare else None
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return fail("--plot needs matplotlib: pip install 'fastshade[plots]'")
    from fastshade.io import check_writable

    for flag, path in (("--json", args.json), ("--markdown", args.markdown), ("--plot", args.plot)):
        if path:
            check_writable(path, flag)  # before the run, not after it
    if args.plot and Path(args.plot).suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"{args.plot}: --plot must end in {', '.join(PLOT_SUFFIXES)}")
    if args.results:
        return report_results(load_results(args.results, "--results"), args, old)
    if args.scan is not None:
        return scan(args, scan_changes)
    images = image_files(Path(args.images)) if args.images else []
    original = args.original_sizes or any(max(size_shape(s)) >= 1024 for s in sizes)
    styles = style_names(args.styles)
    style_passes = parse_counts(args.style_passes, "--style-passes")
    cases = build_cases(sizes, images, original_size=original, dither_sizes=dither_sizes, styles=styles,
                        style_passes=style_passes)
    config = {
        "sizes": sizes,
        "dither_sizes": dither_sizes,
        "images": str(Path(args.images).resolve()) if args.images else None,
        "repeat": repeat,
        "threads": args.threads,
        "quick": bool(args.quick),
        "baselines": not args.no_baselines,
        "baseline_max_size": args.baseline_max_size,
        "lobpcg_maxiter": args.lobpcg_maxiter,
        "baseline_budget": budget,
        "options": opts.to_dict(),
        "explicit": list(opts.explicit or ()),
        "cases": cases,
    }
    try:
        results = run_worker(config)
    except RuntimeError as err:  # the worker printed its own traceback
        return fail(str(err))
    results["machine"] = dict(machine_info(), **results.pop("worker", {}))
    return report_results(finish(results), args, old)


def style_names(text: str | None) -> list[str]:
    """``--styles`` (:func:`fastshade.cli_args.style_list`) with v12 first, the reference of the ratios."""
    names = style_list(text)
    return ["v12"] + [s for s in names if s != "v12"] if names else []


def parse_counts(text: str, flag: str) -> list[int]:
    """``"1,4"`` -> ``[1, 4]``: pass counts in [1, 64]."""
    try:
        counts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"{flag}: {text!r} is not a list of integers") from None
    if not counts or not all(1 <= c <= 64 for c in counts):
        raise ValueError(f"{flag}: pass counts must be in [1, 64], got {text!r}")
    return counts


def report_results(results: dict[str, Any], args: argparse.Namespace, old: dict[str, Any] | None) -> int:
    """Print ``results``, write ``--json``, draw ``--plot``, judge ``--compare`` (exit status)."""
    from fastshade.io import write_file

    finish(results)
    view = clock_view(results, args.clock)
    print(format_report(view))
    if args.json:
        write_file(args.json, json.dumps(results, indent=1, sort_keys=False, allow_nan=False) + "\n", "JSON")
        print(f"\nwrote {args.json}")
    if args.plot:
        plot_scaling(view, args.plot)
        print(f"wrote {args.plot}")
    if args.markdown:
        write_file(args.markdown, format_markdown(view), "Markdown")
        print(f"wrote {args.markdown}")
    if old is not None:
        old_view = clock_view(old, args.clock)
        rows, slower = compare_results(view, old_view, tolerance=args.tolerance, min_seconds=args.min_seconds)
        print()
        print(format_comparison(rows, old_view, view, args.tolerance, args.min_seconds))
        return 1 if slower else 0
    return 0


def scan(args: argparse.Namespace, changes: dict[str, Any]) -> int:
    """``--scan``: the big-scan case per thread count (:mod:`fastshade.bench.scan`) with the shade
    options ``changes`` (the flags given) over ``fastshade shade``'s defaults; exit status.
    """
    shape = parse_sizes(args.scan, "--scan")
    if len(shape) != 1:
        raise ValueError(f"--scan: give one size, got {args.scan!r}")
    try:
        threads = [int(t) for t in args.scan_threads.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--scan-threads: {args.scan_threads!r} is not a list of integers") from None
    if not threads or min(threads) < 1:
        raise ValueError(f"--scan-threads: thread counts must be >= 1, got {args.scan_threads!r}")
    try:
        records = run_scan(size_shape(shape[0]), threads, changes)
    except RuntimeError as err:
        return fail(str(err))
    print(format_scan(records))
    if args.json:
        from fastshade.io import write_file

        write_file(args.json, json.dumps({"schema": "fastshade-bench-scan/1", "machine": machine_info(),
                                          "scan": records}, indent=1, allow_nan=False) + "\n", "JSON")
        print(f"\nwrote {args.json}")
    return 0 if all(r["status"] == "ok" for r in records) else 1
