"""The printed report and the Markdown summary of a result file (one clock's view of it)."""

from __future__ import annotations

from typing import Any

from fastshade.bench.schema import BASELINES, ORIGINAL_STYLE_SECONDS, STAGES, SUMMARY_FIGURES
from fastshade.bench.tables import fmt_load, fmt_mb, fmt_ratio, fmt_seconds, md_table, text_table


def baseline_note(e: dict[str, Any]) -> str:
    """Write the notes column of a baseline: iterations, residual, disagreement, our time with the same push."""
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
        notes.append(f"ours with the same push: {fmt_seconds(e['ours_same_push'])}")
    return ", ".join(notes)


CLOCK_TEXT: dict[str, str] = {
    "wall": "wall-clock seconds (--clock wall)",
    "cpu": "CPU seconds of the worker process (--clock cpu; not inflated by other processes on the machine)",
}


def style_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per style case: style, passes, shader median, ratio to v12 1 pass and to its own 1 pass."""
    cases = [c for c in results["cases"] if c["kind"] == "style"]
    shader = {(c["options"]["style"], c["options"]["passes"]): c["stages"]["shader"]["median"] for c in cases}
    rows = []
    for c in cases:
        style, passes = c["options"]["style"], c["options"]["passes"]
        t = shader[(style, passes)]
        ref, own = shader.get(("v12", 1)), shader.get((style, 1))
        original = ORIGINAL_STYLE_SECONDS.get((style, passes)) if c.get("files", [""])[0] == "toof.png" else None
        rows.append([style, str(passes), fmt_seconds(t), f"{t / ref:.2f}x" if ref else "-",
                     f"{t / own:.2f}x" if own else "-", str(c["stats"].get("changed_pixels", "-")),
                     f"{original:.2f} s" if original else "-", fmt_ratio(original / t) if original else "-"])
    return rows


def bytes_per_pixel(case: dict[str, Any]) -> int:
    """Peak RSS over the RSS before the shader call, per pixel of the case (bytes, rounded)."""
    return round(case["peak_rss_increase_bytes"] / max(case["pixels"], 1))


def format_report(results: dict[str, Any]) -> str:
    """Format the printed report: per-case stage tables, growth exponents, ratios to the original."""
    m = results["machine"]
    cfg = results["config"]
    lines = [
        f"fastshade bench: {m['cpu']}, {m['cores']} cores, {fmt_mb(m['ram_bytes'])} RAM, {m['os']}",
        f"python {m['python']}, " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v),
        f"threads {cfg['threads']} (numba {m.get('numba_threads')}), repeat {cfg['repeat']}, "
        f"basis {cfg['options']['basis']}; peak memory: {m.get('memory_method')}",
        f"cold start (JIT compile or cache load, 64x64 warm-up): {fmt_seconds(m.get('compile_seconds'))}; "
        f"load average before {fmt_load(m, 'before')}, after {fmt_load(m, 'after')}",
        f"times below: {CLOCK_TEXT[results.get('clock', 'wall')]}",
    ]
    for c in results["cases"]:
        st = c["stages"]
        h, w = c["shape"]
        lines += ["", f"== {c['name']}  ({w}x{h} WxH, {c['mode']}, {c['pixels']:,} px): shader "
                  f"{fmt_seconds(st['shader']['median'])}, {c['pixels_per_second'] / 1e6:.2f} Mpx/s, peak RSS "
                  f"{fmt_mb(c['peak_rss_bytes'])} (+{fmt_mb(c['peak_rss_increase_bytes'])}, "
                  f"{bytes_per_pixel(c)} B/px), first call "
                  f"{fmt_seconds(c['first_call_seconds'])}; {c['stats']['shadow_components']} shadow components"]
        rows = []
        for stage in STAGES + SUMMARY_FIGURES:
            s = st[stage]
            base = c.get("baselines", {}).get(stage, [])
            first = [stage, fmt_seconds(s["median"]), fmt_seconds(s["min"]), fmt_seconds(s["max"])]
            if not base:
                rows.append(first + ["", "", "", ""])
            for i, e in enumerate(base):
                cells = first if i == 0 else ["", "", "", ""]
                if e.get("skipped"):
                    rows.append(cells + [e["label"], "skipped", "", e["skipped"]])
                else:
                    rows.append(cells + [e["label"], fmt_seconds(e["median"]),
                                         fmt_ratio(e.get("speedup")), baseline_note(e)])
        lines.append(text_table(["stage", "median", "min", "max", "baseline", "its median", "ours faster",
                             "notes"], rows, "lrrrlrrl"))
        if c["mode"] == "cross":
            lines.append("cross: stage times add up the target's and the sample's analysis (the sample's "
                         "stages are timed apart from 'shadow', under the same stage names)")
        bo = c.get("baselines", {}).get("basis_ours")
        if bo:
            it = f", {bo['iterations']} it" if bo.get("iterations") is not None else ""
            lines.append(f"ours basis: {bo['method']}, tolerance {bo['tolerance']:.0e}, residual "
                         f"{bo['residual_max']:.1e}{it}")
    srows = style_rows(results)
    if srows:
        lines += ["", "== styles (shader median; ratio to v12's 1 pass on the same image, same run)",
                  text_table(["style", "passes", "shader", "x v12 p1", "x own p1", "changed px", "original",
                              "ours faster"], srows, "lrrrrrrr")]
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
        lines.append(text_table(["figure", "b", "sizes", ""], rows, "lrrl"))
    if results.get("original"):
        lines += ["", "== against the original research code (our end-to-end = load + shader + save)"]
        rows = [[r["label"], r["case"], f"{r['original_seconds']:.2f} s", fmt_seconds(r["ours_seconds"]),
                 fmt_ratio(r['speedup'])] for r in results["original"]]
        lines.append(text_table(["reference", "our case", "original", "ours", "ours faster"], rows, "llrrr"))
    return "\n".join(lines)


def format_markdown(results: dict[str, Any]) -> str:
    """Markdown "Performance" section: stages per demo size, growth, baselines, the original, images."""
    m, cfg = results["machine"], results["config"]
    demo = sorted((c for c in results["cases"] if c["kind"] == "demo"), key=lambda c: c["pixels"])
    growth = results.get("growth", {})
    label = {c["name"]: f"{c['shape'][1]}x{c['shape'][0]}" for c in demo}
    out = [
        "## Performance",
        "",
        f"`fastshade bench` on {m['cpu']} ({m['cores']} cores, {fmt_mb(m['ram_bytes'])} RAM), "
        f"{cfg['threads']} thread(s), basis `{cfg['options']['basis']}`, median of {cfg['repeat']} runs after a "
        f"warm-up, {CLOCK_TEXT[results.get('clock', 'wall')]}; Python {m['python']}, "
        f"NumPy {m['versions'].get('numpy')}, SciPy {m['versions'].get('scipy')}, "
        f"Numba {m['versions'].get('numba')}, PyAMG {m['versions'].get('pyamg')}.  Load average during the run: "
        f"{fmt_load(m, 'before')} before, {fmt_load(m, 'after')} after.  Sizes are W x H of the built-in demo "
        "line art; growth `b` is the exponent of a log-log least-squares fit `t ~ pixels^b` over those sizes "
        "(1 = linear).",
        "",
    ]
    if demo:
        rows = []
        for stage in STAGES + ("shader", "end_to_end"):
            g = growth.get(stage, {}).get("exponent")
            rows.append([stage.replace("_", "-")] + [fmt_seconds(c["stages"][stage]["median"]) for c in demo]
                        + [f"{g:.2f}" if g is not None else "-"])
        rows.append(["Mpx/s (shader)"] + [f"{c['pixels_per_second'] / 1e6:.3f}" for c in demo] + [""])
        rows.append(["peak RSS"] + [fmt_mb(c["peak_rss_bytes"]) for c in demo] + [""])
        rows.append(["peak RSS increase, B/px"] + [str(bytes_per_pixel(c)) for c in demo] + [""])
        rows.append(["shadow components"] + [str(c["stats"]["shadow_components"]) for c in demo] + [""])
        clock = "CPU seconds" if results.get("clock") == "cpu" else "wall-clock seconds"
        out += [f"### Per stage (median, {clock})", "",
                md_table(["stage"] + [label[c["name"]] for c in demo] + ["growth b"], rows), ""]
        brows = []
        for c in demo:
            for stage in BASELINES:
                for e in c.get("baselines", {}).get(stage, []):
                    ours = e.get("ours_same_push", c["stages"][stage]["median"])
                    if e.get("skipped"):
                        brows.append([stage, e["label"], label[c["name"]], fmt_seconds(ours), "skipped", "-",
                                      e["skipped"]])
                    else:
                        brows.append([stage, e["label"], label[c["name"]], fmt_seconds(ours), fmt_seconds(e["median"]),
                                      fmt_ratio(e.get('speedup')), baseline_note(e)])
        if brows:
            out += ["### Against plain NumPy/SciPy (same inputs, same run)", "",
                    md_table(["stage", "baseline", "size", "ours", "baseline", "ours faster", "notes"], brows,
                              "llrrrrl"),
                    ""]
    if results.get("original"):
        rows = [[r["label"], r["case"], f"{r['original_seconds']:.2f} s", fmt_seconds(r["ours_seconds"]),
                 fmt_ratio(r['speedup'])] for r in results["original"]]
        out += ["### Against the original research code", "",
                "Our time is end to end (load + shader + save), one process, after warm-up.", "",
                md_table(["reference", "our case", "original", "ours", "ours faster"], rows, "llrrr"), ""]
    dither = [c for c in results["cases"] if c["kind"] == "dither"]
    if dither:
        rows = [[f"{c['shape'][1]}x{c['shape'][0]}"] + [fmt_seconds(c["stages"][s]["median"]) for s in
                                                       ("laplacian", "basis", "fields", "shader", "end_to_end")]
                + [fmt_mb(c["peak_rss_bytes"]), str(c["stats"]["shadow_components"])] for c in dither]
        out += ["### The dither operator (`--laplacian dither`, demo line art)", "",
                md_table(["size", "laplacian", "basis", "fields", "shader", "end to end", "peak RSS",
                          "shadow comps"], rows), ""]
    srows = style_rows(results)
    if srows:
        out += ["### Styles (toof, or the 512x512 demo; shader median, same run)", "",
                md_table(["style", "passes", "shader", "x v12 1 pass", "x its 1 pass", "changed px",
                          "the original's (toof, wall, 1 thread)", "ours faster"], srows, "lrrrrrrr"), ""]
    images = [c for c in results["cases"] if c["kind"] == "image"]
    if images:
        rows = [[c["name"], f"{c['shape'][1]}x{c['shape'][0]}", fmt_seconds(c["stages"]["basis"]["median"]),
                 fmt_seconds(c["stages"]["shader"]["median"]), fmt_seconds(c["stages"]["end_to_end"]["median"]),
                 f"{c['pixels_per_second'] / 1e6:.3f}", fmt_mb(c["peak_rss_bytes"]),
                 str(c["stats"]["shadow_components"])] for c in images]
        out += ["### Real images", "",
                md_table(["case", "size", "basis", "shader", "end to end", "Mpx/s", "peak RSS", "shadow comps"],
                          rows), ""]
    return "\n".join(out)


