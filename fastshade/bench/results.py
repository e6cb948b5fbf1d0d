"""A result file in memory: the figures derived from it (growth, the original), clock views, reading it back."""

from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from fastshade.bench.compare import compare_results
from fastshade.bench.report import format_markdown, format_report
from fastshade.bench.schema import BASELINES, CLOCKS, ORIGINAL_REFERENCE, SCHEMA, STAGES, SUMMARY_FIGURES


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
    """Return a copy of ``results`` in one clock, for the report, plots and comparisons.

    Its ``stages``/baseline figures, ``growth`` and ``original`` are those of ``clock``
    ("wall" or "cpu").
    """
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
    """Read a ``--json`` file of an earlier run (``ValueError`` naming ``flag`` if it is not one).

    Everything the report, the Markdown summary and the comparison read is read once per
    clock here, so a damaged file fails now, in one line, not halfway through the output.
    """
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
    try:
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
