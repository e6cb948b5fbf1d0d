"""The whole agreement table of issue 18 in one command (docs/looks.md "Summary").

    python docs/look_table.py [--out DIR] [--guards default,0] [--cases v6,final,cross] [--json FILE]
                              [--flags "--basis krylov"]

Shades every case with the real command (``python -m fastshade shade ... --passes 4
--save-passes``, once per ink-guard setting: ``default`` = the style's guard, ``0`` =
``--ink-guard 0``) and compares passes 1, 2 and 4 with the original's outputs in
``../shared/reference/original/`` through :func:`look_agreement.agreement` (count ratio, IoU,
hue-histogram distance, dominant-hue gap).  The cases are the issue's: v6 and final self on toof,
snek-heavy and red-tonegraph, and final cross toof x snek-heavy.  Prints one Markdown table with
the targets marked (count ratio 0.67-1.5, hue gap <= 30 degrees); ``--json`` also writes the rows.
The shaded files stay in ``--out`` (default: a temporary folder) for looking at them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
IMAGES = ("toof", "snek-heavy", "red-tonegraph")
PASSES = (1, 2, 4)
COUNT_BAND = (0.67, 1.5)
HUE_LIMIT = 30.0


def _agreement_module():
    spec = importlib.util.spec_from_file_location("look_agreement", HERE / "look_agreement.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cases(kinds: list[str]) -> list[tuple[str, str, str | None, str]]:
    """``(label, target, sample, original file stem without -pK)`` of the requested kinds."""
    out = []
    if "v6" in kinds:
        out += [(f"v6 {n}", n, None, f"v6-{n}") for n in IMAGES]
    if "final" in kinds:
        out += [(f"final {n} self", n, None, f"final-{n}-self") for n in IMAGES]
    if "cross" in kinds:
        out.append(("final toof x snek-heavy", "toof", "snek-heavy", "final-toof-x-snek-heavy"))
    return out


def shade(label: str, target: str, sample: str | None, guard: str, out: Path,
          extra: list[str] | None = None) -> dict[int, Path]:
    """Run the 4-pass command for one case and guard (plus ``extra`` flags); the pass files by pass number."""
    style = label.split()[0]
    stem = f"{label.replace(' ', '_')}-guard_{guard}"
    dest = out / f"{stem}.png"
    cmd = [sys.executable, "-m", "fastshade", "shade", str(SHARED / "images" / f"{target}.png"), "-o", str(dest),
           "--style", style, "--passes", "4", "--save-passes"]
    if sample is not None:
        cmd += ["--sample", str(SHARED / "images" / f"{sample}.png")]
    if guard != "default":
        cmd += ["--ink-guard", guard]
    cmd += extra or []
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    return {p: out / f"{stem}.pass{p}.png" for p in PASSES}


def mark(value: float | None, ok: bool, fmt: str) -> str:
    """``value`` formatted, bold when it meets its target."""
    if value is None:
        return "-"
    text = fmt.format(value)
    return f"**{text}**" if ok else text


def main(argv: list[str] | None = None) -> int:
    """Shade, compare, print the table (exit status 0)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--guards", default="default,0")
    p.add_argument("--cases", default="v6,final,cross")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--flags", default="", help="extra shade flags for every case, e.g. '--basis krylov'")
    args = p.parse_args(argv)
    agreement = _agreement_module().agreement
    tmp = tempfile.TemporaryDirectory() if args.out is None else None
    out = Path(tmp.name) if tmp else args.out
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    print("| case | guard | pass | changed ours / original | count ratio | IoU | hue dist. "
          "| hue ours / original | hue gap |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, target, sample, ref in cases(args.cases.split(",")):
        for guard in args.guards.split(","):
            files = shade(label, target, sample, guard, out, args.flags.split())
            for k in PASSES:
                a = agreement(str(SHARED / "images" / f"{target}.png"), str(files[k]),
                              str(SHARED / "reference" / "original" / f"{ref}-p{k}.png"))
                rows.append({"case": label, "guard": guard, "pass": k, **a})
                ratio, gap = a["count_ratio"], a["hue_gap"]
                hue = " / ".join("grey" if v is None else f"{v:.0f}°" for v in (a["hue_ours"], a["hue_original"]))
                print(f"| {label} | {guard} | {k} | {a['changed_ours']} / {a['changed_original']} | "
                      f"{mark(ratio, ratio is not None and COUNT_BAND[0] <= ratio <= COUNT_BAND[1], '{:.2f}')} | "
                      f"{a['iou']:.2f} | {a['hue_distance']:.2f} | {hue} | "
                      f"{mark(gap, gap is not None and gap <= HUE_LIMIT, '{:.0f}°')} |", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
