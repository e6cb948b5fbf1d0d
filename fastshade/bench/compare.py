"""``--compare``: flag the figures slower than in an earlier run, beyond the noise both runs show.

Each figure is judged on its minimum over the timed repeats (the repeat least disturbed by
the rest of the machine), not on the median.  The noise is measured from the runs themselves:

* the spread of a run: the relative gap between its fastest repeat and its lower quartile
  (the second fastest of up to five repeats), for the old and the new run;
* on the wall clock, how much more the new run waited for a core (or the disk) than the old
  one in this figure: its wall-clock minimum over its CPU minimum (about 1.0 on an idle machine
  with one thread), new over old.  CPU seconds do not include the waiting, so a slow-down of
  the work itself still shows.

A figure is flagged as slower when

    new minimum / old minimum > tolerance * (1 + spread old + spread new + extra waiting)

and at least one of the two minima reaches ``min_seconds`` (shorter figures are not judged:
a single preemption can double them).  A run compared with a rerun of itself passes on a busy
machine, where both runs are noisy; a genuine 2x slow-down of steady figures fails.
"""

from __future__ import annotations

import math
from typing import Any

from fastshade.bench.schema import COMPARED
from fastshade.bench.tables import fmt_seconds, text_table

NOISE_QUANTILE = 0.25
"""The repeat the noise of a run is measured at: its lower quartile (rounded up to a repeat)."""

END_TO_END_PARTS = ("load", "shader", "save")
"""``end_to_end`` is the sum of these figures (its minimum and quartile too)."""


def floor_and_quartile(summary: dict[str, Any]) -> tuple[float, float]:
    """Return the minimum of a figure's runs and its lower quartile (the same when there is one run)."""
    runs = summary.get("runs")
    if not runs:  # an entry without its runs: no noise measured
        floor = float(summary["min"])
        return floor, floor
    ordered = sorted(float(r) for r in runs)
    return ordered[0], ordered[math.ceil(NOISE_QUANTILE * (len(ordered) - 1))]


def figure_floor(stages: dict[str, Any], name: str) -> tuple[float, float] | None:
    """Return ``(minimum, lower quartile)`` of figure ``name`` of a case's ``stages`` (``None`` if absent)."""
    if name == "end_to_end" and all(part in stages for part in END_TO_END_PARTS):
        parts = [floor_and_quartile(stages[part]) for part in END_TO_END_PARTS]
        return sum(p[0] for p in parts), sum(p[1] for p in parts)
    if name not in stages:
        return None
    return floor_and_quartile(stages[name])


def relative_noise(floor: float, quartile: float) -> float:
    """Return how far the lower quartile sits above the minimum, relative to the minimum (0 for a zero minimum)."""
    return (quartile - floor) / floor if floor > 0 else 0.0


def waiting(case: dict[str, Any], name: str) -> float:
    """Return the wall-clock over the CPU minimum of figure ``name`` of a case (>= 1; 1.0 when unknown).

    With one thread this is how much longer the figure took than its own work: the time it
    waited for a core or the disk.  Read from the wall-clock figures (``stages`` of the wall
    view) and ``stages_cpu``.
    """
    wall = figure_floor(case["stages"], name)
    cpu = figure_floor(case.get("stages_cpu", {}), name)
    if wall is None or cpu is None or cpu[0] <= 0:
        return 1.0
    return max(wall[0] / cpu[0], 1.0)


def compare_results(new: dict[str, Any], old: dict[str, Any], *, tolerance: float = 1.25,
                    min_seconds: float = 0.005) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per-case, per-figure ratio new/old of the minima, judged against a noise-widened tolerance.

    ``new`` and ``old`` are views in one clock (:func:`fastshade.bench.results.clock_view`;
    without a ``clock`` key, wall).  Returns ``(rows, slower)``: every compared figure
    (``old``/``new`` minima, ``ratio``, ``noise`` = both runs' spread plus, on the wall clock,
    the new run's extra waiting, ``limit`` = ``tolerance * (1 + noise)``,
    ``judged``, ``slower``) and those judged slower than their limit.  Figures whose minima
    are under ``min_seconds`` in both runs are reported with ``judged=False``.  ``ValueError``
    when no case is in both runs.
    """
    wall = new.get("clock", "wall") == "wall"
    old_cases = {c["name"]: c for c in old["cases"]}
    rows = []
    for c in new["cases"]:
        o = old_cases.get(c["name"])
        if o is None:
            continue
        for stage in COMPARED:
            before = figure_floor(o.get("stages", {}), stage)
            after = figure_floor(c["stages"], stage)
            if before is None or after is None:
                continue
            a, b = before[0], after[0]
            waited = max(waiting(c, stage) / waiting(o, stage) - 1.0, 0.0) if wall else 0.0
            noise = relative_noise(*before) + relative_noise(*after) + waited
            limit = tolerance * (1.0 + noise)
            judged = max(a, b) >= min_seconds
            ratio = b / a if a > 0 else math.inf
            rows.append({"case": c["name"], "stage": stage, "old": a, "new": b, "ratio": ratio, "noise": noise,
                         "limit": limit, "judged": judged, "slower": judged and ratio > limit})
    if not rows:
        raise ValueError("--compare: no case of the earlier run was run now (different --sizes/--images?)")
    return rows, [r for r in rows if r["slower"]]


def format_comparison(rows: list[dict[str, Any]], old: dict[str, Any], new: dict[str, Any], tolerance: float,
                      min_seconds: float) -> str:
    """Table of new/old ratios of the minima with each figure's limit; a verdict line at the end."""
    lines = [f"== compared with the run of {old.get('created', '?')}: minimum of each figure's runs; slower = "
             f"new/old above {tolerance:.2f}x widened by both runs' noise (the limit: their spread and, on the wall "
             f"clock, the new run's extra waiting for a core or the disk); stages under "
             f"{fmt_seconds(min_seconds)} not judged"]
    om, nm = old.get("machine", {}), new.get("machine", {})
    for key in ("cpu", "cores"):
        if om.get(key) != nm.get(key):
            lines.append(f"warning: {key} differs: {om.get(key)} then, {nm.get(key)} now")
    if old.get("config", {}).get("threads") != new["config"]["threads"]:
        lines.append(f"warning: threads differ: {old.get('config', {}).get('threads')} then, "
                     f"{new['config']['threads']} now")
    if new.get("clock", "wall") == "wall":
        waited = max(waiting(c, "shader") for c in [*old["cases"], *new["cases"]])
        if waited > 1.25:
            lines.append(f"note: the shader waited for a core (wall clock up to {waited:.1f}x its CPU time): "
                         "--clock cpu judges the work itself")
    table = []
    for r in rows:
        verdict = "SLOWER" if r["slower"] else ("" if r["judged"] else "(not judged)")
        table.append([r["case"], r["stage"], fmt_seconds(r["old"]), fmt_seconds(r["new"]), f"{r['ratio']:.2f}",
                      f"{r['limit']:.2f}", verdict])
    lines.append(text_table(["case", "stage", "old min", "new min", "new/old", "limit", ""], table, "llrrrrl"))
    slower = [r for r in rows if r["slower"]]
    if slower:
        lines.append(f"{len(slower)} figure(s) slower than their limit: "
                     + ", ".join(f"{r['case']}/{r['stage']} {r['ratio']:.2f}x (limit {r['limit']:.2f}x)"
                                 for r in slower))
    else:
        lines.append(f"no figure slower than its limit ({sum(r['judged'] for r in rows)} judged)")
    return "\n".join(lines)
