"""The text tables of diagnose: the per-run table it prints, and the Markdown tables of a study."""

from __future__ import annotations

import math
from typing import Any

from fastshade.diagnose.strategies import config_label
from fastshade.options import ShadeOptions

__all__ = ["fmt", "format_table", "study_markdown"]


def fmt(v: Any, spec: str) -> str:
    """``format(v, spec)``, or ``-`` for ``None`` and non-finite floats."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, spec)


def format_table(report: dict[str, Any], *, include_grid: bool = False) -> str:
    """Plain-text table of self and every strategy (one row each)."""
    head = (f"{'strategy':<22} {'config':<34} {'place':>5} {'run':>5} {'Δrun':>6} {'frag':>5} "
            f"{'ret':>5} {'gate':>5} {'share':>5} {'H':>5} {'size':>5} {'margin':>6} {'goal':<5} parity")
    lines = [head, "-" * len(head)]
    notes = ("goal: PASS = all four bars; as-self:X = bar X missed but within 10 % of self's "
             "figure (inherited from the target); fail:X = missed")

    def row(label: str, config: str, s: dict[str, Any], goal: dict[str, Any] | None,
            par: dict[str, Any] | None) -> str:
        rel = goal.get("run_ratio_rel") if goal else None
        if goal is None:
            g = "ref"
        elif goal["passed"]:
            g = "PASS"
        else:
            failed = ",".join(k for k, ok in goal["checks"].items() if not ok)
            g = ("as-self:" if goal.get("passed_relative_to_self") else "fail:") + failed
        p = "" if par is None else ("exact" if par["exact"] else "differs")
        return (f"{label[:22]:<22} {config[:34]:<34} {s['placements']:>5} {fmt(s['median_run_ratio'], '.3f'):>5} "
                f"{fmt(None if rel is None else 100 * rel, '+.0f') + ('%' if rel is not None else ''):>6} "
                f"{fmt(s['mean_fragments'], '.2f'):>5} {fmt(s['mean_retention'], '.3f'):>5} "
                f"{fmt(s['mean_gate_retention'], '.2f'):>5} {fmt(s['max_source_share'], '.2f'):>5} "
                f"{fmt(s['usage_entropy_bits'], '.2f'):>5} {fmt(s['median_size_ratio'], '.2f'):>5} "
                f"{fmt(s['median_score_margin'], '.3f'):>6} {g:<5} {p}")

    lines.append(row("self", "self", report["self"]["summary"], None, None))
    for e in report["strategies"]:
        lines.append(row(e["label"], e["config"], e["summary"], e["goal"], e.get("parity")))
    if include_grid and report.get("grid"):
        lines.append("-" * len(head))
        for e in report["grid"]:
            lines.append(row("grid", e["config"], e["summary"], e["goal"], e.get("parity")))
    lines.append(notes)
    return "\n".join(lines)


def study_markdown(study: dict[str, Any]) -> str:
    """Markdown tables of a study (``study.md``).

    The default configuration against the goal on every cross pair, then per group
    (basis / rounding) the ladder on every cross pair, parity on every image and the
    ranking of every configuration.  ``study`` is the JSON form of a study.
    """
    out = []
    default = config_label(ShadeOptions())
    out.append(f"## The default cross configuration `{default}` against the goal\n")
    out.append("| basis / rounding | pair | self run | self frag | self retention | run | Δrun | frag "
               "| retention | max share | goal |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in study["runs"]:
        e = next((e for e in r["ladder"] if e["config"] == default), None)
        if e is None or not r["cross_pair"]:
            continue
        s = r["self"]
        rel = e["run_ratio_rel"]
        goal = ("PASS" if e["passed"] else
                ("as self: " if e["passed_relative_to_self"] else "fail: ") + ", ".join(e["failed"]))
        out.append(f"| {r.get('group', r['basis'])} | {r['target']} × {r['sample']} | "
                   f"{fmt(s['median_run_ratio'], '.3f')} | {fmt(s['mean_fragments'], '.2f')} | "
                   f"{fmt(s['mean_retention'], '.3f')} | {fmt(e['median_run_ratio'], '.3f')} | "
                   f"{fmt(None if rel is None else 100 * rel, '+.0f')}{'%' if rel is not None else ''} | "
                   f"{fmt(e['mean_fragments'], '.2f')} | {fmt(e['mean_retention'], '.3f')} | "
                   f"{fmt(e['max_source_share'], '.2f')} | {goal} |")
    out.append("")
    for group in study.get("groups", study["bases"]):
        runs = [r for r in study["runs"] if r.get("group", r["basis"]) == group]
        basis = group
        out.append(f"## `{group}` (basis / destination rounding)\n")
        out.append("| image | analysis s | low-gate components |\n|---|---:|---:|")
        for r in runs:
            if not r["cross_pair"]:
                out.append(f"| {r['target']} | {r['analysis_seconds']:.1f} | {r['target_components']} |")
        out.append("")
        for r in runs:
            if not r["cross_pair"]:
                continue
            s = r["self"]
            aff = r["affinity"]
            out.append(f"### {r['target']} × {r['sample']} ({basis}): {r['target_components']} target "
                       f"components, {r['sample_candidates']} sample candidates\n")
            out.append("| strategy | config | run | Δrun vs self | frag | kept frag | retention | gate kept "
                       "| guard kept | max share | entropy | size ratio | margin | goal |")
            out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
            out.append(f"| **self** | self | {fmt(s['median_run_ratio'], '.3f')} | | "
                       f"{fmt(s['mean_fragments'], '.2f')} | {fmt(s['mean_kept_fragments'], '.2f')} | "
                       f"{fmt(s['mean_retention'], '.3f')} | {fmt(s['mean_gate_retention'], '.2f')} | "
                       f"{fmt(s['mean_guard_retention'], '.2f')} | {fmt(s['max_source_share'], '.2f')} | "
                       f"{fmt(s['usage_entropy_bits'], '.2f')} | 1 | | ref |")
            for e in r["ladder"]:
                goal = ("PASS" if e["passed"] else
                        ("as self: " if e["passed_relative_to_self"] else "fail: ") + ", ".join(e["failed"]))
                rel = e["run_ratio_rel"]
                out.append(f"| {e['label']} | `{e['config']}` | {fmt(e['median_run_ratio'], '.3f')} | "
                           f"{fmt(None if rel is None else 100 * rel, '+.0f')}{'%' if rel is not None else ''} | "
                           f"{fmt(e['mean_fragments'], '.2f')} | {fmt(e['mean_kept_fragments'], '.2f')} | "
                           f"{fmt(e['mean_retention'], '.3f')} | {fmt(e['mean_gate_retention'], '.2f')} | "
                           f"{fmt(e['mean_guard_retention'], '.2f')} | {fmt(e['max_source_share'], '.2f')} | "
                           f"{fmt(e['usage_entropy_bits'], '.2f')} | {fmt(e['median_size_ratio'], '.2f')} | "
                           f"{fmt(e['median_score_margin'], '.3f')} | {goal} |")
            out.append(f"\nAffinity (test D): self mean {fmt(aff['self'].get('mean'), '.2e')}, "
                       f"share > 0 {fmt(aff['self'].get('share_positive'), '.2f')}, mean gate keeps "
                       f"{fmt(aff['self'].get('mean_gate_keep_fraction'), '.2f')}; cross (baseline) mean "
                       f"{fmt(aff['cross_baseline'].get('mean'), '.2e')}, share > 0 "
                       f"{fmt(aff['cross_baseline'].get('share_positive'), '.2f')}, mean gate keeps "
                       f"{fmt(aff['cross_baseline'].get('mean_gate_keep_fraction'), '.2f')}.\n")
        selfs = [r for r in runs if not r["cross_pair"]]
        if selfs:
            labels = [e["label"] for e in selfs[0]["ladder"]]
            out.append(f"### Parity ({basis}): cross path with sample = target, exact match of §7 metrics 1-6\n")
            out.append("| image | self frag | self retention | " + " | ".join(labels) + " |")
            out.append("|---|---:|---:|" + "---|" * len(labels))
            for r in selfs:
                cells = ["exact" if e.get("parity_exact") else "differs" for e in r["ladder"]]
                out.append(f"| {r['target']} | {fmt(r['self']['mean_fragments'], '.2f')} | "
                           f"{fmt(r['self']['mean_retention'], '.3f')} | " + " | ".join(cells) + " |")
            out.append("")
            for lab in labels:
                why = [(r["target"], e["parity_reasons"]) for r in selfs for e in r["ladder"]
                       if e["label"] == lab and e.get("parity_reasons")]
                if why:
                    out.append(f"- {lab}: e.g. {why[0][0]}: " + "; ".join(why[0][1]))
            out.append("")
        rank = study.get("ranking", {}).get(group, [])
        if rank:
            out.append(f"### Ranking of every configuration ({basis})\n")
            out.append("Order: exact parity on every image, goal met on every cross pair relative to self "
                       "(absolute bars, or within 10 % of self where self itself misses them), number of "
                       "pairs meeting the absolute goal, mean fragments.\n")
            out.append("| # | config | parity | goal vs self, every pair | absolute goal | mean frag "
                       "| mean retention |")
            out.append("|---:|---|---|---|---:|---:|---:|")
            for k, r in enumerate(rank[:15], 1):
                out.append(f"| {k} | `{r['config']}` | {'exact' if r['parity_exact_every_image'] else 'differs'} | "
                           f"{'yes' if r['goal_relative_to_self_every_pair'] else 'no'} | "
                           f"{r['pairs_passing_absolute_goal']}/{r['pairs']} | {fmt(r['mean_fragments'], '.3f')} | "
                           f"{fmt(r['mean_retention'], '.3f')} |")
            out.append("")
    return "\n".join(out) + "\n"
