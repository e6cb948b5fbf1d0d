"""The benchmark worker: a fresh process (``python -m fastshade.bench --worker CONFIG OUT``) that times every case.

The driver (:func:`run_worker`) writes the configuration to a JSON file, starts the worker with
the thread count set in its environment before NumPy is imported, and reads the results back.

Every timed repeat of the shader is a pair of runs: one whose stage timer reads the wall clock
and one whose timer reads the worker's CPU clock (``shade_arrays(..., clock=...)``); the clock
that goes first alternates from one repeat to the next.  Each clock's stage figures, its
``shader`` total and ``other`` therefore come from one and the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastshade.bench.baselines import run_baselines
from fastshade.bench.cases import case_files
from fastshade.bench.machine import load_average
from fastshade.bench.memory import PeakMemory
from fastshade.bench.schema import BASELINES, CLOCKS, SCHEMA, SHADER_STAGES
from fastshade.bench.timing import summary, timed
from fastshade.threads import THREAD_VARIABLES, thread_environment

THREAD_ENV = (*THREAD_VARIABLES, "NUMBA_NUM_THREADS")
"""The worker's thread variables, recorded in the results: BLAS/OpenMP pinned to one thread as in every
fastshade process (:mod:`fastshade.threads`), Numba set to ``--threads``."""

CLOCK_FUNCTIONS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
"""The clock passed to ``shade_arrays`` for each of :data:`~fastshade.bench.schema.CLOCKS`."""


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def run_worker(config: dict[str, Any]) -> dict[str, Any]:
    """Run the measurements of ``config`` in a fresh interpreter with the thread count set before imports.

    Returns the worker's results; ``RuntimeError`` when the worker fails (it prints its own traceback).
    """
    env = dict(os.environ)
    env.update(thread_environment(int(config["threads"])))
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


def worker_main(argv: list[str]) -> int:
    """Entry point of the worker process: ``argv`` = [CONFIG.json, OUT.json]; exit status."""
    cfg_path, out_path = argv
    cfg = json.loads(Path(cfg_path).read_text())
    import numba

    numba.set_num_threads(min(cfg["threads"], numba.config.NUMBA_NUM_THREADS))
    from tqdm import tqdm

    from fastshade.options import ShadeOptions

    opts = ShadeOptions(**cfg["options"], explicit=tuple(cfg.get("explicit", ())))
    demo_px = [c["shape"][0] * c["shape"][1] for c in cfg["cases"] if c["kind"] == "demo"]
    smallest = min(demo_px) if demo_px else -1
    plan = [(c, _baselines_wanted(c, cfg, smallest)) for c in cfg["cases"]]
    total = 1 + sum(_case_steps(c, cfg, b) for c, b in plan)
    cases = []
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="fastshade-bench-io-") as tmp, \
            tqdm(total=total, desc="bench", unit="step", file=sys.stderr, dynamic_ncols=True,
                 disable=None) as bar:
        bar.set_description("warm-up (JIT compile or cache load)")
        compile_seconds = warm_up(opts, cross=any(c["mode"] == "cross" for c in cfg["cases"]))
        bar.update(1)
        for case, with_baselines in plan:
            cases.append(measure_case(case, cfg, opts, Path(tmp), bar, with_baselines))
    worker = {
        "compile_seconds": compile_seconds,
        "load_average": {"before": load_before, "after": load_average()},
        "numba_threads": int(numba.get_num_threads()),
        "thread_env": {k: os.environ.get(k) for k in THREAD_ENV},
        "memory_method": PeakMemory.method,
    }
    Path(out_path).write_text(json.dumps({"schema": SCHEMA, "config": {k: v for k, v in cfg.items() if k != "cases"},
                                          "cases": cases, "worker": worker}, allow_nan=False))
    return 0


def _case_steps(case: dict[str, Any], cfg: dict[str, Any], with_baselines: bool) -> int:
    steps = 2 + cfg["repeat"] + (0 if cfg["quick"] and not case.get("options") else 1)  # load, [warm-up], repeats, save
    if with_baselines and case["mode"] == "self":
        steps += sum(len(v) for v in BASELINES.values())
    return steps


def _baselines_wanted(case: dict[str, Any], cfg: dict[str, Any], smallest: int) -> bool:
    if not cfg["baselines"] or case["mode"] != "self" or case.get("options"):
        return False
    if cfg["quick"]:
        return case["kind"] == "demo" and case["shape"][0] * case["shape"][1] == smallest
    return True


def warm_up(opts: Any, *, cross: bool) -> float:
    """Run the shader once on a 64 x 64 demo image (and cross mode if needed); seconds taken.

    Numba compiles per argument type, not per size, so this compiles (or loads
    from the cache) every kernel the timed runs use; its time is the cold
    start of a fresh process.
    """
    from fastshade.demo import demo_image
    from fastshade.styles import shade_arrays

    small = demo_image(64, 64)
    t0 = time.perf_counter()
    shade_arrays(small, None, opts)
    if cross:
        shade_arrays(small, small, opts)
    return time.perf_counter() - t0


def stage_figures(timings: Mapping[str, float]) -> dict[str, float]:
    """Seconds per shader stage of one ``shade_arrays`` call, from its ``stats["timings"]``.

    A cross call also analyses the sample, timed under ``"sample_<stage>"``: a stage's figure
    is the target's plus the sample's.  Adds ``shader`` (the whole call, ``"total"``) and
    ``other`` (the shader minus its stages, never below 0).  All in the clock the call used.
    """
    figures = {s: float(timings.get(s, 0.0)) + float(timings.get("sample_" + s, 0.0)) for s in SHADER_STAGES}
    figures["shader"] = float(timings["total"])
    figures["other"] = max(figures["shader"] - sum(figures[s] for s in SHADER_STAGES), 0.0)
    return figures


def measure_case(case: dict[str, Any], cfg: dict[str, Any], opts: Any, tmp: Path, bar: Any,
                 with_baselines: bool) -> dict[str, Any]:
    """Time one case: load, a warm-up run (not with --quick), ``repeat`` shader run pairs, save, baselines.

    ``case["options"]`` (the dither rows) override ``opts`` for this case.
    """
    import dataclasses

    import numpy as np

    from fastshade.io import read_image, write_image
    from fastshade.styles import resolve_options, shade_arrays

    opts = resolve_options(dataclasses.replace(opts, **case.get("options", {})))
    repeat = cfg["repeat"]
    name = case["name"]
    bar.set_description(name)
    files = case_files(case, tmp)

    def load() -> list[np.ndarray]:  # sizes the user asked for: no memory-model refusal (the peak is measured)
        return [read_image(f, max_pixels=None).rgb for f in files]

    bar.set_postfix_str("load")
    load_runs, load_cpu, rgbs = timed(load, repeat)
    bar.update(1)
    target = rgbs[0]
    sample = rgbs[1] if case["mode"] == "cross" else None
    h, w = target.shape[:2]

    first_call = None
    if not cfg["quick"] or case.get("options"):  # --quick relies on the 64 x 64 warm-up alone
        bar.set_postfix_str("warm-up")
        t0 = time.perf_counter()
        shade_arrays(target, sample, opts)
        first_call = time.perf_counter() - t0
        bar.update(1)

    runs: dict[str, dict[str, list[float]]] = {
        clock: {s: [] for s in SHADER_STAGES + ("shader", "other")} for clock in CLOCKS}
    peaks, increases = [], []
    for i in range(repeat):
        bar.set_postfix_str(f"run {i + 1}/{repeat}")
        for clock in CLOCKS if i % 2 == 0 else CLOCKS[::-1]:
            with PeakMemory() as mem:
                res = shade_arrays(target, sample, opts, clock=CLOCK_FUNCTIONS[clock])
            peaks.append(mem.peak)
            increases.append(mem.increase)
            for key, value in stage_figures(res.stats["timings"]).items():
                runs[clock][key].append(value)
        bar.update(1)

    out_path = tmp / f"{name}-out.png"
    image = np.clip(res.image[:, :, :3], 0.0, 1.0)
    bar.set_postfix_str("save")
    save_runs, save_cpu, _ = timed(lambda: write_image(out_path, image, bit_depth=8), repeat)
    bar.update(1)

    def summarise(load_r: list[float], save_r: list[float], shader_r: dict[str, list[float]]) -> dict[str, Any]:
        stages: dict[str, Any] = {"load": summary(load_r), "save": summary(save_r)}
        for s, r in shader_r.items():
            stages[s] = summary(r)
        stages["end_to_end"] = {q: stages["load"][q] + stages["shader"][q] + stages["save"][q]
                                for q in ("median", "min", "max")}
        return stages

    stages = summarise(load_runs, save_runs, runs["wall"])
    pixels = h * w + (rgbs[1].shape[0] * rgbs[1].shape[1] if sample is not None else 0)
    record: dict[str, Any] = {
        "name": name,
        "kind": case["kind"],
        "mode": case["mode"],
        "shape": [int(h), int(w)],
        "pixels": int(pixels),
        "files": [Path(f).name for f in files] if "files" in case else [],
        "options": dict(case.get("options", {})),
        "first_call_seconds": first_call,
        "stages": stages,
        "stages_cpu": summarise(load_cpu, save_cpu, runs["cpu"]),
        "cpu_stage_source": "shader timer",
        "pixels_per_second": pixels / stages["shader"]["median"],
        "peak_rss_bytes": int(max(peaks)),
        "peak_rss_increase_bytes": int(max(increases)),
        "stats": {
            "contour_pixels": int(res.stats["contour_pixels"]),
            "high_gate_pixels": int(res.stats["high_gate_pixels"]),
            "low_gate_pixels": int(res.stats["low_gate_pixels"]),
            "shadow_components": len(res.stats["placements"]),
            "changed_pixels": res.stats.get("changed_pixels"),
            "basis_method": res.stats["basis"].get("method"),
        },
        "baselines": {},
    }
    if with_baselines:
        record["baselines"] = run_baselines(res, record, cfg, opts, bar)
    return record
