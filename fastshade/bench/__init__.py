"""Performance run: time the shader and each stage, fit how the cost grows, compare.

Times load, Laplacian, basis, fields, gates, thicken, components, shadow and
save, plus the whole shader, on the built-in demo image at each --sizes (and
at 1152x832 when a size >= 1024 is asked for, the size of the original
benchmark image) and on every image of --images.  Prints median/min/max per
stage, peak memory and pixels per second; the growth exponent of every stage
(log-log least-squares fit over the demo sizes: 1.0 = linear in the pixel
count); plain NumPy/SciPy baselines side by side (eigsh shift-invert and
LOBPCG without preconditioner for the basis, scipy.ndimage.label, SciPy
COO->CSR, vectorised NumPy thicken and shadow), and the speed-up over the
original research code (one thread: toof self 7.05 s, toof x snek-heavy cross
19.4 s, 1152x832 self 315 s; its GPU pipeline 1.24 s per pair).

How it measures:
  * A fresh worker process does all the timing, with OMP/OpenBLAS/MKL/Numba
    threads set to --threads before NumPy is imported.  The honest comparison
    with the original's figures is --threads 1 (the default); the kernels are
    serial anyway, only BLAS/LAPACK inside the eigensolvers uses threads.
  * The worker first shades a 64x64 demo image: JIT compile or cache load,
    reported as "cold start" and never timed with the stages.  Each case then
    gets one untimed run ("first call"; skipped with --quick) and --repeat
    timed runs.  Stage times come from the shader's own per-stage timer, so
    they are the stages of a real run, each after a warm-up.
  * Peak memory: on Linux the worker resets its peak RSS before each shader
    run (/proc/self/clear_refs) and reports VmHWM, i.e. the true peak of the
    NumPy + Numba + SciPy process (tracemalloc misses Numba and SuperLU
    allocations); elsewhere ru_maxrss of the worker (a lifetime peak).
  * Wall-clock and CPU seconds are both recorded for every figure; --clock
    picks the one the report, fits and --compare use.  On a busy machine use
    --clock cpu: with one thread it is what the wall time of an idle machine
    would be (the CPU figures of the shader stages come from a subclass of the
    shader's timer installed in the worker).
  * Baselines get the same inputs as the stage (from the same run) and their
    output is checked against ours ("DIFFERS" in the notes otherwise).  The
    basis baselines run only up to --baseline-max-size (default 512) squared
    pixels, at our solver's residual tolerance; eigsh factorises with SuperLU
    (MMD_AT_PLUS_A ordering); unpreconditioned LOBPCG gets --baseline-budget
    seconds (its iteration cap comes from a 3-iteration probe) and is marked
    "not converged" when it stops early.

Exit status: 0; with --compare, 1 when any stage is slower than --tolerance
times the earlier run (stages under --min-seconds in both runs are not
judged: timer noise); 2 on bad arguments.

examples:
  fastshade bench --quick                              # < 30 s smoke run
  fastshade bench --sizes 256,512,1024 --images ../shared/images --json bench.json
  fastshade bench --quick --json new.json --compare bench.json   # regression gate
  fastshade bench --results new.json --compare bench.json --plot new.png  # no re-run
  fastshade bench --results new.json --clock cpu --markdown perf.md        # README tables
  fastshade bench --sizes 256,512 --basis krylov --plot scaling.png
  fastshade bench --sizes 512 --threads 2               # BLAS/Numba threads
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from fastshade.cli_args import add_shade_options, options_from_args

SCHEMA = "fastshade-bench/1"

STAGES: tuple[str, ...] = ("load", "laplacian", "basis", "fields", "gates", "thicken", "components",
                           "shadow", "save")
"""Stages in the order they are printed."""
SHADER_STAGES: tuple[str, ...] = ("laplacian", "basis", "fields", "gates", "thicken", "components", "shadow")
"""Stages timed by :class:`fastshade.pipeline.shader.Timer` inside :func:`fastshade.pipeline.shader.shade_arrays`."""
SUMMARY_FIGURES: tuple[str, ...] = ("shader", "other", "end_to_end")
"""``shader`` = whole ``shade_arrays`` call; ``other`` = shader minus its stages;
``end_to_end`` = load + shader + save."""
COMPARED: tuple[str, ...] = STAGES + ("shader", "end_to_end")
"""Figures judged by ``--compare``."""

ORIGINAL_SIZE = (1152, 832)
"""(H, W) of the original's largest benchmark image (dinnerneglectingsocials.png, 832 W x 1152 H)."""

ORIGINAL_REFERENCE: dict[str, dict[str, Any]] = {
    "toof_self": {"seconds": 7.05, "label": "original, toof self (1 thread)", "case": "image:toof"},
    "toof_snek_cross": {"seconds": 19.4, "label": "original, toof x snek-heavy cross (1 thread)",
                        "case": "cross:toof:snek-heavy"},
    "large_self": {"seconds": 315.0, "label": "original, 1152x832 self (1 thread)",
                   "case": f"demo-{ORIGINAL_SIZE[0]}x{ORIGINAL_SIZE[1]}"},
    "gpu_pair": {"seconds": 1.24, "label": "original GPU pipeline, per cross pair",
                 "case": "cross:toof:snek-heavy"},
}
"""Wall-clock seconds of the original research code (SQCU/itten) on this machine
class; the GPU figure is its nn.Module float32 pipeline (1243 ms/pair, its
README).  Compared with our end-to-end time (load + shader + save)."""

BASELINES: dict[str, tuple[tuple[str, str], ...]] = {
    "laplacian": (("scipy_coo", "SciPy COO->CSR"),),
    "basis": (("eigsh", "eigsh shift-invert"), ("lobpcg_plain", "lobpcg, no precond."),
              ("lobpcg_scipy_amg", "scipy lobpcg, our AMG cascade")),
    "components": (("ndimage_label", "ndimage.label+bincount"),),
    "thicken": (("numpy", "NumPy vectorised"),),
    "shadow": (("numpy", "NumPy per component"),),
}
"""Baselines per stage: (key, label).  Implementations in :mod:`fastshade.reference`."""

CLOCKS = ("wall", "cpu")
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
"""Figure formats of ``--plot``."""
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"}
QUICK_SIZES = (128, 256)
QUICK_REPEAT = 2
DEFAULT_SIZES = (256, 512, 1024, 2048)
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS")
SLOW_BASELINE_SECONDS = 2.0
"""A baseline whose first timed run takes longer than this is not repeated."""


# ========================================================================================
# command line
# ========================================================================================


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``bench`` flags (and every shader option) to ``p``."""
    p.add_argument("--sizes", default=None, metavar="S,S,...",
                   help=f"edge lengths of the square demo image (default {','.join(map(str, DEFAULT_SIZES))}; "
                        f"--quick: {','.join(map(str, QUICK_SIZES))})")
    p.add_argument("--images", metavar="DIR", help="also time every image in DIR (self mode; plus "
                   "toof x snek-heavy cross when both are there)")
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help=f"timed runs per case after the warm-up (default 3; --quick: {QUICK_REPEAT})")
    p.add_argument("--threads", type=int, default=1, metavar="T",
                   help="Numba and BLAS threads of the worker (default 1, the honest comparison)")
    p.add_argument("--json", metavar="OUT.json", help="write every figure, the machine and the options")
    p.add_argument("--compare", metavar="OLD.json", help="print per-stage ratios to an earlier --json run; "
                   "exit 1 if any stage is slower than --tolerance")
    p.add_argument("--tolerance", type=float, default=1.25, metavar="X",
                   help="slow-down factor that fails --compare (default 1.25)")
    p.add_argument("--min-seconds", type=float, default=0.005, metavar="S",
                   help="--compare does not judge stages under S seconds in both runs (default 0.005)")
    p.add_argument("--plot", metavar="OUT.png", help="draw the scaling curves (needs fastshade[plots])")
    p.add_argument("--clock", choices=CLOCKS, default="wall",
                   help="clock of the report, ratios, growth fits and --compare (both are always measured and "
                        "saved): wall (default) or cpu = CPU seconds of the worker, robust on a busy machine "
                        "(with --threads 1 it equals the wall time of an idle machine)")
    p.add_argument("--markdown", metavar="OUT.md", help="write the summary as Markdown tables (for a README)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run under 30 s: sizes 128,256, repeat 2, baselines at the smallest size only")
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
    p.add_argument("--results", metavar="IN.json",
                   help="measure nothing: print, --plot and --compare the results of an earlier --json run")
    add_shade_options(p)


def parse_sizes(text: str) -> list[int]:
    """``"256,512"`` -> ``[256, 512]``; each size in [16, 16384], duplicates dropped, order kept."""
    sizes: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            s = int(part)
        except ValueError:
            raise ValueError(f"--sizes: {part!r} is not an integer") from None
        if not 16 <= s <= 16384:
            raise ValueError(f"--sizes: {s} is outside [16, 16384]")
        if s not in sizes:
            sizes.append(s)
    if not sizes:
        raise ValueError("--sizes: no size given")
    return sizes


def _image_files(directory: Path) -> list[Path]:
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


def build_cases(sizes: list[int], images: list[Path], *, original_size: bool) -> list[dict[str, Any]]:
    """The benchmark cases: demo sizes, the original's size, each image, the toof x snek cross."""
    cases: list[dict[str, Any]] = []
    for s in sizes:
        cases.append({"name": f"demo-{s}x{s}", "kind": "demo", "mode": "self", "shape": [s, s]})
    if original_size:
        h, w = ORIGINAL_SIZE
        cases.append({"name": f"demo-{h}x{w}", "kind": "demo", "mode": "self", "shape": [h, w]})
    by_stem = {p.stem: p for p in images}
    for p in images:
        cases.append({"name": f"image:{p.stem}", "kind": "image", "mode": "self", "files": [str(p)]})
    if "toof" in by_stem and "snek-heavy" in by_stem:
        cases.append({"name": "cross:toof:snek-heavy", "kind": "image", "mode": "cross",
                      "files": [str(by_stem["toof"]), str(by_stem["snek-heavy"])]})
    return cases


def main(args: argparse.Namespace) -> int:
    """Run the benchmark in a worker process, print the report, write/compare/plot."""
    from fastshade.cli_args import fail

    sizes = parse_sizes(args.sizes) if args.sizes is not None else list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    repeat = args.repeat if args.repeat is not None else (QUICK_REPEAT if args.quick else 3)
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
        return report(load_results(args.results, "--results"), args, old)
    images = _image_files(Path(args.images)) if args.images else []
    original = args.original_sizes or any(s >= 1024 for s in sizes)
    cases = build_cases(sizes, images, original_size=original)
    config = {
        "sizes": sizes,
        "images": str(Path(args.images).resolve()) if args.images else None,
        "repeat": repeat,
        "threads": args.threads,
        "quick": bool(args.quick),
        "baselines": not args.no_baselines,
        "baseline_max_size": args.baseline_max_size,
        "lobpcg_maxiter": args.lobpcg_maxiter,
        "baseline_budget": budget,
        "options": opts.to_dict(),
        "cases": cases,
    }
    try:
        results = run_worker(config)
    except RuntimeError as err:  # the worker printed its own traceback
        return fail(str(err))
    results["machine"] = dict(machine_info(), **results.pop("worker", {}))
    return report(finish(results), args, old)


def report(results: dict[str, Any], args: argparse.Namespace, old: dict[str, Any] | None) -> int:
    """Print ``results``, write ``--json``, draw ``--plot``, judge ``--compare`` (exit code)."""
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


# ========================================================================================
# worker process
# ========================================================================================


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[1])


def run_worker(config: dict[str, Any]) -> dict[str, Any]:
    """Run the measurements in a fresh interpreter with the thread count set before imports."""
    threads = str(config["threads"])
    env = dict(os.environ)
    for key in THREAD_ENV:
        env[key] = threads
    root = _package_root()
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with tempfile.TemporaryDirectory(prefix="fastshade-bench-") as tmp:
        cfg_path = Path(tmp) / "config.json"
        out_path = Path(tmp) / "results.json"
        cfg_path.write_text(json.dumps(config))
        proc = subprocess.run([sys.executable, "-m", "fastshade.bench", "--worker", str(cfg_path), str(out_path)],
                              env=env)
        if proc.returncode != 0 or not out_path.is_file():
            raise RuntimeError(f"benchmark worker failed with exit code {proc.returncode}")
        return json.loads(out_path.read_text())


class PeakMemory:
    """Peak resident memory of this process around a block of code.

    Linux: writes ``5`` to ``/proc/self/clear_refs`` (resets the peak to the
    current RSS) and reads ``VmHWM`` afterwards; ``increase`` is the peak minus
    the RSS before.  Elsewhere ``peak`` is ``ru_maxrss`` (lifetime peak) and
    ``increase`` its growth during the block.
    """

    method = "unset"

    def __init__(self) -> None:
        self.before = 0
        self.peak = 0

    @staticmethod
    def _status(key: str) -> int | None:
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith(key + ":"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    @staticmethod
    def _maxrss() -> int:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)

    def __enter__(self) -> "PeakMemory":
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            rss = self._status("VmRSS")
            if rss is None:
                raise OSError
            PeakMemory.method = "VmHWM after /proc/self/clear_refs reset (per run)"
            self.before = rss
            self._reset = True
        except OSError:
            PeakMemory.method = "ru_maxrss (process lifetime peak)"
            self.before = self._maxrss()
            self._reset = False
        return self

    def __exit__(self, *exc: object) -> None:
        peak = self._status("VmHWM") if self._reset else None
        self.peak = peak if peak is not None else self._maxrss()

    @property
    def increase(self) -> int:
        return max(self.peak - self.before, 0)


def _summary(runs: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs), "runs": runs}


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], list[float], Any]:
    """Run ``fn`` untimed once (its result is returned), then time it ``repeat`` times
    (only once when that run is slower than ``SLOW_BASELINE_SECONDS``): (wall runs, CPU runs, result)."""
    result = fn()
    runs: list[float] = []
    cpu: list[float] = []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if runs[-1] > SLOW_BASELINE_SECONDS:
            break
    return runs, cpu, result


def install_cpu_timer() -> Any:
    """Make the shader's stage timer also record CPU seconds (benchmark worker only).

    :class:`fastshade.pipeline.shader.Timer` records wall-clock seconds; on a shared
    machine those include time the process spent waiting for a core.  The
    worker swaps in a subclass that adds ``time.process_time()`` per stage
    (with one thread, CPU seconds = the wall time of an idle machine).  Every
    instance since the caller last cleared ``CpuTimer.created`` is listed there (a
    cross-mode call creates two: the target's and the sample's).
    """
    from contextlib import contextmanager

    from fastshade.pipeline import shader

    base = shader.Timer

    class CpuTimer(base):  # type: ignore[misc, valid-type]
        created: "list[CpuTimer]" = []

        def __init__(self) -> None:
            super().__init__()
            self.cpu_seconds: dict[str, float] = {}
            CpuTimer.created.append(self)

        @contextmanager
        def stage(self, name: str) -> Any:
            c0 = time.process_time()
            try:
                with base.stage(self, name):
                    yield
            finally:
                self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + time.process_time() - c0

    shader.Timer = CpuTimer
    return CpuTimer


def _case_steps(case: dict[str, Any], cfg: dict[str, Any], with_baselines: bool) -> int:
    steps = 2 + cfg["repeat"] + (0 if cfg["quick"] else 1)  # load, [warm-up], repeats, save
    if with_baselines and case["mode"] == "self":
        steps += sum(len(v) for v in BASELINES.values())
    return steps


def _baselines_wanted(case: dict[str, Any], cfg: dict[str, Any], smallest: int) -> bool:
    if not cfg["baselines"] or case["mode"] != "self":
        return False
    if cfg["quick"]:
        return case["kind"] == "demo" and case["shape"][0] * case["shape"][1] == smallest
    return True


def _worker_main(argv: list[str]) -> int:
    cfg_path, out_path = argv
    cfg = json.loads(Path(cfg_path).read_text())
    import numba

    numba.set_num_threads(min(cfg["threads"], numba.config.NUMBA_NUM_THREADS))
    from tqdm import tqdm

    from fastshade.options import ShadeOptions

    opts = ShadeOptions(**cfg["options"])
    cpu_timer = install_cpu_timer()
    demo_px = [c["shape"][0] * c["shape"][1] for c in cfg["cases"] if c["kind"] == "demo"]
    smallest = min(demo_px) if demo_px else -1
    plan = [(c, _baselines_wanted(c, cfg, smallest)) for c in cfg["cases"]]
    total = 1 + sum(_case_steps(c, cfg, b) for c, b in plan)
    cases = []
    load_before = _load_average()
    with tempfile.TemporaryDirectory(prefix="fastshade-bench-io-") as tmp, \
            tqdm(total=total, desc="bench", unit="step", file=sys.stderr, dynamic_ncols=True,
                 disable=None) as bar:
        bar.set_description("warm-up (JIT compile or cache load)")
        compile_seconds = warm_up(opts, cross=any(c["mode"] == "cross" for c in cfg["cases"]))
        bar.update(1)
        for case, with_baselines in plan:
            cases.append(measure_case(case, cfg, opts, Path(tmp), bar, with_baselines, cpu_timer))
    worker = {
        "compile_seconds": compile_seconds,
        "load_average": {"before": load_before, "after": _load_average()},
        "numba_threads": int(numba.get_num_threads()),
        "thread_env": {k: os.environ.get(k) for k in THREAD_ENV},
        "memory_method": PeakMemory.method,
    }
    Path(out_path).write_text(json.dumps({"schema": SCHEMA, "config": {k: v for k, v in cfg.items() if k != "cases"},
                                          "cases": cases, "worker": worker}, allow_nan=False))
    return 0


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def warm_up(opts: Any, *, cross: bool) -> float:
    """Run the shader once on a 64 x 64 demo image (and cross mode if needed); seconds taken.

    Numba compiles per argument type, not per size, so this compiles (or loads
    from the cache) every kernel the timed runs use; its time is the cold
    start of a fresh process.
    """
    from fastshade.demo import demo_image
    from fastshade.pipeline.shader import shade_arrays

    small = demo_image(64, 64)
    t0 = time.perf_counter()
    shade_arrays(small, None, opts)
    if cross:
        shade_arrays(small, small, opts)
    return time.perf_counter() - t0


def measure_case(case: dict[str, Any], cfg: dict[str, Any], opts: Any, tmp: Path, bar: Any,
                 with_baselines: bool, cpu_timer: Any = None) -> dict[str, Any]:
    """Time one case: load, a warm-up run (not with --quick), ``repeat`` shader runs, save, baselines."""
    import numpy as np

    from fastshade.demo import demo_image
    from fastshade.io import read_image, write_image
    from fastshade.pipeline.shader import shade_arrays

    repeat = cfg["repeat"]
    name = case["name"]
    bar.set_description(name)
    if case["kind"] == "demo":
        h, w = case["shape"]
        path = tmp / f"{name}.png"
        write_image(path, np.clip(demo_image(h, w), 0.0, 1.0), bit_depth=8)
        files = [str(path)]
    else:
        files = case["files"]

    def load() -> list[np.ndarray]:
        return [read_image(f).rgb for f in files]

    bar.set_postfix_str("load")
    load_runs, load_cpu, rgbs = _timed(load, repeat)
    bar.update(1)
    target = rgbs[0]
    sample = rgbs[1] if case["mode"] == "cross" else None
    h, w = target.shape[:2]

    first_call = None
    if not cfg["quick"]:  # --quick relies on the 64 x 64 warm-up alone
        bar.set_postfix_str("warm-up")
        t0 = time.perf_counter()
        shade_arrays(target, sample, opts)
        first_call = time.perf_counter() - t0
        bar.update(1)

    stage_runs: dict[str, list[float]] = {s: [] for s in SHADER_STAGES + ("shader", "other")}
    cpu_runs: dict[str, list[float]] = {s: [] for s in stage_runs}
    cpu_source = "shader timer"
    peaks, increases = [], []
    for i in range(repeat):
        bar.set_postfix_str(f"run {i + 1}/{repeat}")
        if cpu_timer is not None:
            cpu_timer.created.clear()
        with PeakMemory() as mem:
            c0 = time.process_time()
            res = shade_arrays(target, sample, opts)
            cpu_total = time.process_time() - c0
        peaks.append(mem.peak)
        increases.append(mem.increase)
        timings = res.stats["timings"]
        # cross mode: a stage is the target's plus the sample's ("sample_" timings)
        wall = {s: float(timings.get(s, 0.0)) + float(timings.get("sample_" + s, 0.0))
                for s in SHADER_STAGES}
        wall["shader"] = float(timings["total"])
        timers = list(cpu_timer.created) if cpu_timer is not None else []
        if timers:
            cpu = {s: float(sum(t.cpu_seconds.get(s, 0.0) for t in timers)) for s in SHADER_STAGES}
        else:  # the shader no longer uses fastshade.pipeline.shader.Timer: no per-stage CPU figures
            cpu_source = "wall (no CPU timer hook)"
            cpu = dict(wall)
        cpu["shader"] = cpu_total
        for figures, runs in ((wall, stage_runs), (cpu, cpu_runs)):
            figures["other"] = max(figures["shader"] - sum(figures[s] for s in SHADER_STAGES), 0.0)
            for key, value in figures.items():
                runs[key].append(value)
        bar.update(1)

    out_path = tmp / f"{name}-out.png"
    image = np.clip(res.image[:, :, :3], 0.0, 1.0)
    bar.set_postfix_str("save")
    save_runs, save_cpu, _ = _timed(lambda: write_image(out_path, image, bit_depth=8), repeat)
    bar.update(1)

    def summarise(load_r: list[float], save_r: list[float], runs: dict[str, list[float]]) -> dict[str, Any]:
        stages: dict[str, Any] = {"load": _summary(load_r), "save": _summary(save_r)}
        for s, r in runs.items():
            stages[s] = _summary(r)
        stages["end_to_end"] = {q: stages["load"][q] + stages["shader"][q] + stages["save"][q]
                                for q in ("median", "min", "max")}
        return stages

    stages = summarise(load_runs, save_runs, stage_runs)
    pixels = h * w + (rgbs[1].shape[0] * rgbs[1].shape[1] if sample is not None else 0)
    record: dict[str, Any] = {
        "name": name,
        "kind": case["kind"],
        "mode": case["mode"],
        "shape": [int(h), int(w)],
        "pixels": int(pixels),
        "files": [Path(f).name for f in files] if case["kind"] == "image" else [],
        "first_call_seconds": first_call,
        "stages": stages,
        "stages_cpu": summarise(load_cpu, save_cpu, cpu_runs),
        "cpu_stage_source": cpu_source,
        "pixels_per_second": pixels / stages["shader"]["median"],
        "peak_rss_bytes": int(max(peaks)),
        "peak_rss_increase_bytes": int(max(increases)),
        "stats": {
            "contour_pixels": int(res.stats["contour_pixels"]),
            "high_gate_pixels": int(res.stats["high_gate_pixels"]),
            "low_gate_pixels": int(res.stats["low_gate_pixels"]),
            "shadow_components": len(res.stats["placements"]),
            "basis_method": res.stats["basis"].get("method"),
        },
        "baselines": {},
    }
    if with_baselines:
        record["baselines"] = run_baselines(res, record, cfg, opts, bar)
    return record


# ----------------------------------------------------------------------------------------
# baselines
# ----------------------------------------------------------------------------------------


def _baseline_entry(key: str, label: str, ours: tuple[float, float], runs: list[float] | None = None,
                    cpu_runs: list[float] | None = None, *, skipped: str | None = None,
                    **extra: Any) -> dict[str, Any]:
    """One baseline's figures: wall median/min/max/runs and ``speedup`` (baseline / ours), the
    same in CPU seconds under ``cpu`` and ``speedup_cpu``; ``ours`` = (wall, CPU) median of our stage."""
    entry: dict[str, Any] = {"key": key, "label": label, "skipped": skipped}
    if runs and cpu_runs:
        entry.update(_summary(runs))
        entry["speedup"] = entry["median"] / ours[0] if ours[0] > 0 else None
        entry["cpu"] = _summary(cpu_runs)
        entry["speedup_cpu"] = entry["cpu"]["median"] / ours[1] if ours[1] > 0 else None
    entry.update(extra)
    return entry


def _shadowed(shadow_self: Callable[..., Any], image: Any, an: Any, opts: Any) -> Any:
    """A copy of ``image`` with the self-mode shadow painted in."""
    out = image.copy()
    shadow_self(out, an, opts)
    return out


def run_baselines(res: Any, record: dict[str, Any], cfg: dict[str, Any], opts: Any, bar: Any) -> dict[str, Any]:
    """Time the NumPy/SciPy baselines on the analysis of ``res`` (a self-mode result)."""
    import numpy as np

    from fastshade import reference as bl
    from fastshade.pipeline.graph import image_laplacian
    from fastshade.pipeline.shader import shadow_self, thicken

    repeat = cfg["repeat"]
    an = res.target
    ours = {s: (record["stages"][s]["median"], record["stages_cpu"][s]["median"]) for s in SHADER_STAGES}
    out: dict[str, Any] = {}
    if an is None or an.basis is None:
        for stage, specs in BASELINES.items():
            out[stage] = [_baseline_entry(k, lab, ours[stage], skipped="no contours: nothing to compute")
                          for k, lab in specs]
        bar.update(sum(len(v) for v in BASELINES.values()))
        return out
    h, w = an.shape
    lap_kw = dict(connectivity=opts.connectivity, kind=opts.laplacian, tau=opts.tau,
                  weight_floor=opts.weight_floor)

    # Laplacian: SciPy COO -> CSR
    bar.set_postfix_str("baseline laplacian")
    L = image_laplacian(an.carrier, **lap_kw)
    runs, cpu, Lb = _timed(lambda: bl.laplacian_coo(an.carrier, **lap_kw), repeat)
    diff = abs(L - Lb).max() if L.nnz else 0.0
    out["laplacian"] = [_baseline_entry("scipy_coo", "SciPy COO->CSR", ours["laplacian"], runs, cpu,
                                        agrees=bool(diff <= 1e-12), max_abs_diff=float(diff))]
    bar.update(1)

    # Basis: eigsh shift-invert, unpreconditioned LOBPCG (same tolerance as ours)
    ours_res = bl.eigen_residuals(L, np.asarray(an.basis.values), np.asarray(an.basis.vectors))
    tol = _basis_tolerance(an.basis)
    k = int(an.basis.vectors.shape[1])
    basis_entries = []
    limit = int(cfg["baseline_max_size"]) ** 2
    for key, label in BASELINES["basis"]:
        bar.set_postfix_str(f"baseline basis {key}")
        if h * w > limit:
            basis_entries.append(_baseline_entry(key, label, ours["basis"],
                                                 skipped=f"> {cfg['baseline_max_size']}^2 px (--baseline-max-size)"))
        elif k + 1 >= h * w:
            basis_entries.append(_baseline_entry(key, label, ours["basis"], skipped="image too small"))
        else:
            extra: dict[str, Any] = {}
            if key == "lobpcg_plain":  # cap the iterations so the run fits the time budget
                probe = bl.lobpcg_basis(L, k, tol=tol, maxiter=3, seed=opts.seed)
                per_iteration = probe.seconds / 3
                maxiter = max(3, min(cfg["lobpcg_maxiter"], int(cfg["baseline_budget"] / per_iteration)))
                extra = {"maxiter": maxiter, "seconds_per_iteration": per_iteration}
            with PeakMemory() as mem:
                c0 = time.process_time()
                if key == "eigsh":
                    r = bl.eigsh_basis(L, k, tol=tol, seed=opts.seed)
                elif key == "lobpcg_scipy_amg":
                    r = bl.scipy_cascade_basis(L, k, tol=tol, seed=opts.seed)
                else:
                    r = bl.lobpcg_basis(L, k, tol=tol, maxiter=extra["maxiter"], seed=opts.seed)
                cpu_seconds = time.process_time() - c0
            basis_entries.append(_baseline_entry(
                key, label, ours["basis"], [r.seconds], [cpu_seconds], converged=r.converged,
                iterations=r.iterations,
                tolerance=tol, residual_max=float(r.residuals.max(initial=0.0)),
                peak_rss_increase_bytes=int(mem.increase), **extra))
        bar.update(1)
    out["basis"] = basis_entries
    out["basis_ours"] = {"method": an.basis.method, "tolerance": tol,
                         "residual_max": float(ours_res.max(initial=0.0)),
                         "iterations": _info_int(an.basis.info, ("iterations", "iters", "n_iter"))}

    # Components: scipy.ndimage.label + bincount statistics
    bar.set_postfix_str("baseline components")
    runs, cpu, lab = _timed(lambda: bl.label_components_scipy(an.low, connectivity=8,
                                                              min_size=opts.min_component), repeat)
    comps = an.components
    agrees = (lab.n == comps.n and np.array_equal(lab.sizes, np.asarray(comps.sizes))
              and np.allclose(lab.centroids, np.asarray(comps.centroids), rtol=0, atol=1e-9))
    out["components"] = [_baseline_entry("ndimage_label", "ndimage.label+bincount", ours["components"], runs, cpu,
                                         agrees=bool(agrees))]
    bar.update(1)

    # Thicken: vectorised NumPy scatter
    bar.set_postfix_str("baseline thicken")
    ref_img, ref_written = thicken(an, opts)
    runs, cpu, (img, written) = _timed(lambda: bl.thicken_numpy(
        an.rgb, an.high, an.perp_y, an.perp_x, an.basis.vectors, an.contours, opts.thick_radius,
        opts.budget_attenuation), repeat)
    mismatched = int(np.count_nonzero(np.any(img != ref_img, axis=2) | (written != ref_written)))
    out["thicken"] = [_baseline_entry("numpy", "NumPy vectorised", ours["thicken"], runs, cpu,
                                      agrees=mismatched == 0, mismatched_pixels=mismatched)]
    bar.update(1)

    # Shadow: NumPy, one vectorised step per component, against our shadow with the same
    # fixed push (the baseline has no free-placement search; ours is timed here for that)
    bar.set_postfix_str("baseline shadow")
    pixel_lists = [comps.pixels_of(i) for i in range(comps.n)]
    fixed = opts.replace(shadow_placement="fixed")
    ours_runs, ours_cpu, ref = _timed(lambda: _shadowed(shadow_self, ref_img, an, fixed), repeat)
    ours_fixed = (float(np.median(ours_runs)), float(np.median(ours_cpu)))

    def shadow_numpy() -> np.ndarray:
        return bl.shadow_self_numpy(ref_img.copy(), pixel_lists, np.asarray(comps.centroids), an.void_y,
                                    an.void_x, an.carrier, distance=opts.shadow_distance,
                                    hue_angle=opts.hue_angle, ink_guard=opts.ink_guard)

    runs, cpu, got = _timed(shadow_numpy, repeat)
    diff = float(np.abs(got - ref).max()) if got.size else 0.0
    entry = _baseline_entry("numpy", "NumPy per component (fixed push)", ours_fixed, runs, cpu,
                            agrees=bool(diff <= 1e-9), max_abs_diff=diff, ours_same_push=ours_fixed[0])
    entry["cpu"]["ours_same_push"] = ours_fixed[1]  # the ratio: our shadow with the same push
    out["shadow"] = [entry]
    bar.update(1)
    return out


def _info_int(info: Any, keys: tuple[str, ...]) -> int | None:
    if isinstance(info, dict):
        for key in keys:
            v = info.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                return int(v)
    return None


def _basis_tolerance(basis: Any) -> float:
    """The residual tolerance our solver used (from ``basis.info``), else 1e-5."""
    info = basis.info if isinstance(basis.info, dict) else {}
    for key in ("tol", "tolerance", "residual_tol"):
        v = info.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 and math.isfinite(v):
            return float(v)
    return 1e-5


# ========================================================================================
# derived figures, report, compare, plot
# ========================================================================================


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, OS and library versions of this machine."""
    from importlib import metadata

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    versions = {}
    for dist in ("numpy", "scipy", "numba", "llvmlite", "pyamg", "imageio", "pillow", "tqdm"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    from fastshade import __version__

    versions["fastshade"] = __version__
    return {
        "cpu": cpu or platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_bytes": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def growth_exponents(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Exponent ``b`` of ``t ~ a * pixels**b`` per figure, least squares on log-log over the demo cases."""
    import numpy as np

    demo = [c for c in cases if c["kind"] == "demo"]
    series: dict[str, list[tuple[int, float]]] = {}
    for c in demo:
        for stage in STAGES + SUMMARY_FIGURES:
            t = c["stages"].get(stage, {}).get("median")
            if t is not None and t > 0:
                series.setdefault(stage, []).append((c["pixels"], t))
        for stage, entries in c.get("baselines", {}).items():
            if stage not in BASELINES:
                continue
            for e in entries:
                if e.get("median") and e["median"] > 0:
                    series.setdefault(f"{stage}:{e['key']}", []).append((c["pixels"], e["median"]))
    out: dict[str, Any] = {}
    for name, points in series.items():
        px = sorted({p for p, _ in points})
        if len(px) < 2:
            continue
        x = np.log([p for p, _ in points])
        y = np.log([t for _, t in points])
        slope, intercept = np.polyfit(x, y, 1)
        out[name] = {"exponent": float(slope), "pixels": [int(p) for p, _ in points],
                     "coefficient": float(math.exp(intercept))}
    return out


def original_ratios(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Speed-up over the original's figures for the cases that were run."""
    by_name = {c["name"]: c for c in cases}
    rows = []
    for key, ref in ORIGINAL_REFERENCE.items():
        c = by_name.get(ref["case"])
        if c is None:
            continue
        ours = c["stages"]["end_to_end"]["median"]
        rows.append({"reference": key, "label": ref["label"], "case": c["name"], "original_seconds": ref["seconds"],
                     "ours_seconds": ours, "speedup": ref["seconds"] / ours})
    return rows


def clock_view(results: dict[str, Any], clock: str) -> dict[str, Any]:
    """A copy of ``results`` whose ``stages``/baseline figures, ``growth`` and ``original`` are
    those of ``clock`` ("wall" or "cpu"), for the report, plots and comparisons."""
    view = copy.deepcopy(results)
    view["clock"] = clock
    if clock == "cpu":
        for c in view["cases"]:
            if "stages_cpu" not in c:
                raise ValueError("--clock cpu: this result file has no CPU figures")
            c["stages"] = c["stages_cpu"]
            c["pixels_per_second"] = c["pixels"] / c["stages"]["shader"]["median"]
            for stage, entries in c.get("baselines", {}).items():
                if stage in BASELINES:
                    for e in entries:
                        if e.get("cpu"):
                            e.update(e["cpu"])
                            e["speedup"] = e.get("speedup_cpu")
    view["growth"] = growth_exponents(view["cases"])
    view["original"] = original_ratios(view["cases"])
    return view


def finish(results: dict[str, Any]) -> dict[str, Any]:
    """Add the derived figures of both clocks (growth exponents, ratios to the original) in place."""
    views = {clock: clock_view(results, clock) for clock in CLOCKS}
    results["growth"] = {clock: v["growth"] for clock, v in views.items()}
    results["original"] = {clock: v["original"] for clock, v in views.items()}
    results.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return results


def load_results(path: str | os.PathLike[str], flag: str = "--compare") -> dict[str, Any]:
    """Read a ``--json`` file of an earlier run (``ValueError`` if it is not one)."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{flag}: {p} is a folder, not a result file")
    if not p.is_file():
        raise FileNotFoundError(f"{flag}: {p} not found")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{flag}: {p} is not JSON ({err})") from None
    if (not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("cases"), list)
            or not isinstance(data.get("machine"), dict)):
        raise ValueError(f"{flag}: {p} is not a 'fastshade bench --json' file")
    try:  # everything the report and the comparison read, once per clock, so a damaged file fails here
        finish(json.loads(json.dumps(data)))  # both clocks' derived figures, on a copy
        for clock in CLOCKS:
            view = clock_view(data, clock)
            format_report(view)
            format_markdown(view)
            compare_results(view, view)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as err:
        raise ValueError(f"{flag}: {p} is a damaged 'fastshade bench --json' file "
                         f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    return data


def compare_results(new: dict[str, Any], old: dict[str, Any], *, tolerance: float = 1.25,
                    min_seconds: float = 0.005) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per-case, per-stage ratio new/old of the median times.

    Returns ``(rows, slower)``: every compared figure, and those judged slower
    than ``tolerance`` (figures under ``min_seconds`` in both runs are reported
    with ``judged=False``).  ``ValueError`` when no case is in both runs.
    """
    old_cases = {c["name"]: c for c in old["cases"]}
    rows = []
    for c in new["cases"]:
        o = old_cases.get(c["name"])
        if o is None:
            continue
        for stage in COMPARED:
            a = o.get("stages", {}).get(stage, {}).get("median")
            b = c["stages"].get(stage, {}).get("median")
            if a is None or b is None:
                continue
            judged = max(a, b) >= min_seconds
            ratio = b / a if a > 0 else math.inf
            rows.append({"case": c["name"], "stage": stage, "old": a, "new": b, "ratio": ratio,
                         "judged": judged, "slower": judged and ratio > tolerance})
    if not rows:
        raise ValueError("--compare: no case of the earlier run was run now (different --sizes/--images?)")
    return rows, [r for r in rows if r["slower"]]


def _fmt_t(t: float | None) -> str:
    if t is None:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    if t < 1.0:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def _fmt_ratio(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}x" if x >= 10 else (f"{x:.1f}x" if x >= 1 else f"{x:.2f}x")


def _fmt_load(machine: dict[str, Any], when: str) -> str:
    load = (machine.get("load_average") or {}).get(when)
    return "/".join(f"{x:.2f}" for x in load) if load else "-"


def _fmt_mb(b: int | None) -> str:
    return "-" if b is None else f"{b / 2**20:.0f} MB"


def _table(header: list[str], rows: list[list[str]], align: str) -> str:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i])
              for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(wd) if a == "l" else c.rjust(wd) for c, wd, a in zip(cells, widths, align))

    return "\n".join([line(header), line(["-" * wd for wd in widths])] + [line(r) for r in rows])


def _baseline_note(e: dict[str, Any]) -> str:
    notes = []
    if e.get("converged") is False:
        notes.append(f"not converged in {e.get('iterations')} it")
    elif e.get("iterations") is not None:
        notes.append(f"{e['iterations']} it")
    if e.get("residual_max") is not None:
        notes.append(f"res {e['residual_max']:.1e}")
    if e.get("agrees") is False:
        notes.append("DIFFERS from ours")
    if e.get("ours_same_push") is not None:
        notes.append(f"ours with the same push: {_fmt_t(e['ours_same_push'])}")
    return ", ".join(notes)


_CLOCK_TEXT = {
    "wall": "wall-clock seconds (--clock wall)",
    "cpu": "CPU seconds of the worker process (--clock cpu; not inflated by other processes on the machine)",
}


def format_report(results: dict[str, Any]) -> str:
    """The printed report: per-case stage tables, growth exponents, ratios to the original."""
    m = results["machine"]
    cfg = results["config"]
    lines = [
        f"fastshade bench: {m['cpu']}, {m['cores']} cores, {_fmt_mb(m['ram_bytes'])} RAM, {m['os']}",
        f"python {m['python']}, " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v),
        f"threads {cfg['threads']} (numba {m.get('numba_threads')}), repeat {cfg['repeat']}, "
        f"basis {cfg['options']['basis']}; peak memory: {m.get('memory_method')}",
        f"cold start (JIT compile or cache load, 64x64 warm-up): {_fmt_t(m.get('compile_seconds'))}; "
        f"load average before {_fmt_load(m, 'before')}, after {_fmt_load(m, 'after')}",
        f"times below: {_CLOCK_TEXT[results.get('clock', 'wall')]}",
    ]
    for c in results["cases"]:
        st = c["stages"]
        h, w = c["shape"]
        lines += ["", f"== {c['name']}  ({w}x{h} WxH, {c['mode']}, {c['pixels']:,} px): shader "
                  f"{_fmt_t(st['shader']['median'])}, {c['pixels_per_second'] / 1e6:.2f} Mpx/s, peak RSS "
                  f"{_fmt_mb(c['peak_rss_bytes'])} (+{_fmt_mb(c['peak_rss_increase_bytes'])}), first call "
                  f"{_fmt_t(c['first_call_seconds'])}; {c['stats']['shadow_components']} shadow components"]
        rows = []
        for stage in STAGES + SUMMARY_FIGURES:
            s = st[stage]
            base = c.get("baselines", {}).get(stage, [])
            first = [stage, _fmt_t(s["median"]), _fmt_t(s["min"]), _fmt_t(s["max"])]
            if not base:
                rows.append(first + ["", "", "", ""])
            for i, e in enumerate(base):
                cells = first if i == 0 else ["", "", "", ""]
                if e.get("skipped"):
                    rows.append(cells + [e["label"], "skipped", "", e["skipped"]])
                else:
                    rows.append(cells + [e["label"], _fmt_t(e["median"]),
                                         _fmt_ratio(e.get("speedup")), _baseline_note(e)])
        lines.append(_table(["stage", "median", "min", "max", "baseline", "its median", "ours faster",
                             "notes"], rows, "lrrrlrrl"))
        if c["mode"] == "cross":
            lines.append("cross: stage times add up the target's and the sample's analysis; the sample is "
                         "analysed inside the shader's 'shadow' stage, so 'shadow' includes it too")
        bo = c.get("baselines", {}).get("basis_ours")
        if bo:
            it = f", {bo['iterations']} it" if bo.get("iterations") is not None else ""
            lines.append(f"ours basis: {bo['method']}, tolerance {bo['tolerance']:.0e}, residual "
                         f"{bo['residual_max']:.1e}{it}")
    growth = results.get("growth", {})
    if growth:
        lines += ["", "== growth with the pixel count: t ~ pixels^b (1.0 = linear; > 1.15 flagged)"]
        rows = []
        for name in list(STAGES + SUMMARY_FIGURES) + sorted(k for k in growth if ":" in k):
            g = growth.get(name)
            if g is None:
                continue
            flag = "worse than linear" if g["exponent"] > 1.15 else ""
            rows.append([name, f"{g['exponent']:.2f}", str(len(g["pixels"])), flag])
        lines.append(_table(["figure", "b", "sizes", ""], rows, "lrrl"))
    if results.get("original"):
        lines += ["", "== against the original research code (our end-to-end = load + shader + save)"]
        rows = [[r["label"], r["case"], f"{r['original_seconds']:.2f} s", _fmt_t(r["ours_seconds"]),
                 _fmt_ratio(r['speedup'])] for r in results["original"]]
        lines.append(_table(["reference", "our case", "original", "ours", "ours faster"], rows, "llrrr"))
    return "\n".join(lines)


def _md_table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """Markdown table; ``align`` has one letter per column, ``l`` or ``r`` (default: first l, rest r)."""
    align = align or "l" + "r" * (len(header) - 1)
    align = ["---" if a == "l" else "---:" for a in align]
    return "\n".join("| " + " | ".join(r) + " |" for r in [header, align] + rows)


def format_markdown(results: dict[str, Any]) -> str:
    """Markdown "Performance" section: stages per demo size, growth, baselines, the original, images."""
    m, cfg = results["machine"], results["config"]
    demo = sorted((c for c in results["cases"] if c["kind"] == "demo"), key=lambda c: c["pixels"])
    growth = results.get("growth", {})
    label = {c["name"]: f"{c['shape'][1]}x{c['shape'][0]}" for c in demo}
    out = [
        "## Performance",
        "",
        f"`fastshade bench` on {m['cpu']} ({m['cores']} cores, {_fmt_mb(m['ram_bytes'])} RAM), "
        f"{cfg['threads']} thread(s), basis `{cfg['options']['basis']}`, median of {cfg['repeat']} runs after a "
        f"warm-up, {_CLOCK_TEXT[results.get('clock', 'wall')]}; Python {m['python']}, NumPy {m['versions'].get('numpy')}, SciPy {m['versions'].get('scipy')}, "
        f"Numba {m['versions'].get('numba')}, PyAMG {m['versions'].get('pyamg')}.  Load average during the run: "
        f"{_fmt_load(m, 'before')} before, {_fmt_load(m, 'after')} after.  Sizes are W x H of the built-in demo "
        "line art; growth `b` is the exponent of a log-log least-squares fit `t ~ pixels^b` over those sizes "
        "(1 = linear).",
        "",
    ]
    if demo:
        rows = []
        for stage in STAGES + ("shader", "end_to_end"):
            g = growth.get(stage, {}).get("exponent")
            rows.append([stage.replace("_", "-")] + [_fmt_t(c["stages"][stage]["median"]) for c in demo]
                        + [f"{g:.2f}" if g is not None else "-"])
        rows.append(["Mpx/s (shader)"] + [f"{c['pixels_per_second'] / 1e6:.3f}" for c in demo] + [""])
        rows.append(["peak RSS"] + [_fmt_mb(c["peak_rss_bytes"]) for c in demo] + [""])
        rows.append(["shadow components"] + [str(c["stats"]["shadow_components"]) for c in demo] + [""])
        clock = "CPU seconds" if results.get("clock") == "cpu" else "wall-clock seconds"
        out += [f"### Per stage (median, {clock})", "",
                _md_table(["stage"] + [label[c["name"]] for c in demo] + ["growth b"], rows), ""]
        brows = []
        for c in demo:
            for stage in BASELINES:
                for e in c.get("baselines", {}).get(stage, []):
                    ours = e.get("ours_same_push", c["stages"][stage]["median"])
                    if e.get("skipped"):
                        brows.append([stage, e["label"], label[c["name"]], _fmt_t(ours), "skipped", "-",
                                      e["skipped"]])
                    else:
                        brows.append([stage, e["label"], label[c["name"]], _fmt_t(ours), _fmt_t(e["median"]),
                                      _fmt_ratio(e.get('speedup')), _baseline_note(e)])
        if brows:
            out += ["### Against plain NumPy/SciPy (same inputs, same run)", "",
                    _md_table(["stage", "baseline", "size", "ours", "baseline", "ours faster", "notes"], brows,
                              "llrrrrl"),
                    ""]
    if results.get("original"):
        rows = [[r["label"], r["case"], f"{r['original_seconds']:.2f} s", _fmt_t(r["ours_seconds"]),
                 _fmt_ratio(r['speedup'])] for r in results["original"]]
        out += ["### Against the original research code", "",
                "Our time is end to end (load + shader + save), one process, after warm-up.", "",
                _md_table(["reference", "our case", "original", "ours", "ours faster"], rows, "llrrr"), ""]
    images = [c for c in results["cases"] if c["kind"] == "image"]
    if images:
        rows = [[c["name"], f"{c['shape'][1]}x{c['shape'][0]}", _fmt_t(c["stages"]["basis"]["median"]),
                 _fmt_t(c["stages"]["shader"]["median"]), _fmt_t(c["stages"]["end_to_end"]["median"]),
                 f"{c['pixels_per_second'] / 1e6:.3f}", _fmt_mb(c["peak_rss_bytes"]),
                 str(c["stats"]["shadow_components"])] for c in images]
        out += ["### Real images", "",
                _md_table(["case", "size", "basis", "shader", "end to end", "Mpx/s", "peak RSS", "shadow comps"],
                          rows), ""]
    return "\n".join(out)


def format_comparison(rows: list[dict[str, Any]], old: dict[str, Any], new: dict[str, Any], tolerance: float,
                      min_seconds: float) -> str:
    """Table of new/old ratios; a verdict line at the end."""
    lines = [f"== compared with the run of {old.get('created', '?')} (tolerance {tolerance:.2f}x, stages under "
             f"{_fmt_t(min_seconds)} not judged)"]
    om, nm = old.get("machine", {}), new.get("machine", {})
    for key in ("cpu", "cores"):
        if om.get(key) != nm.get(key):
            lines.append(f"warning: {key} differs: {om.get(key)} then, {nm.get(key)} now")
    if old.get("config", {}).get("threads") != new["config"]["threads"]:
        lines.append(f"warning: threads differ: {old.get('config', {}).get('threads')} then, "
                     f"{new['config']['threads']} now")
    table = []
    for r in rows:
        verdict = "SLOWER" if r["slower"] else ("" if r["judged"] else "(not judged)")
        table.append([r["case"], r["stage"], _fmt_t(r["old"]), _fmt_t(r["new"]), f"{r['ratio']:.2f}", verdict])
    lines.append(_table(["case", "stage", "old", "new", "new/old", ""], table, "llrrrl"))
    slower = [r for r in rows if r["slower"]]
    if slower:
        lines.append(f"{len(slower)} figure(s) slower than {tolerance:.2f}x: "
                     + ", ".join(f"{r['case']}/{r['stage']} {r['ratio']:.2f}x" for r in slower))
    else:
        lines.append(f"no figure slower than {tolerance:.2f}x ({sum(r['judged'] for r in rows)} judged)")
    return "\n".join(lines)


def plot_scaling(results: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Log-log plot of median seconds vs pixels per stage (demo cases) with the baselines dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    demo = sorted((c for c in results["cases"] if c["kind"] == "demo"), key=lambda c: c["pixels"])
    growth = results.get("growth", {})
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    ax = axes[0]
    for stage in STAGES + ("shader",):
        pts = [(c["pixels"], c["stages"][stage]["median"]) for c in demo if c["stages"][stage]["median"] > 0]
        if not pts:
            continue
        b = growth.get(stage, {}).get("exponent")
        label = f"{stage} (b={b:.2f})" if b is not None else stage
        ax.plot(*zip(*pts), marker="o", lw=2.5 if stage == "shader" else 1.2, label=label)
    ax.set(xscale="log", yscale="log", xlabel="pixels", ylabel="median seconds", title="fastshade stages")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    for i, stage in enumerate(BASELINES):
        colour = f"C{i}"
        pts = [(c["pixels"], c["stages"][stage]["median"]) for c in demo]
        ax.plot(*zip(*pts), marker="o", color=colour, label=f"{stage} (ours)")
        for j, (key, lab) in enumerate(BASELINES[stage]):
            bp = []
            for c in demo:
                for e in c.get("baselines", {}).get(stage, []):
                    if e["key"] == key and e.get("median"):
                        bp.append((c["pixels"], e["median"]))
            if bp:
                ax.plot(*zip(*bp), marker="x", ls="--" if j == 0 else ":", color=colour, label=lab)
    ax.set(xscale="log", yscale="log", xlabel="pixels", ylabel="median seconds", title="ours vs NumPy/SciPy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    m = results["machine"]
    fig.suptitle(f"fastshade bench: {m['cpu']}, threads {results['config']['threads']}, "
                 f"{'CPU' if results.get('clock') == 'cpu' else 'wall-clock'} seconds", fontsize=10)
    fig.tight_layout()
    from fastshade.io import write_atomic

    write_atomic(path, lambda fh: fig.savefig(fh, format=Path(path).suffix.lower()[1:], dpi=110), "plot")
    plt.close(fig)

