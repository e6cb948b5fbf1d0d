"""Make the ``final`` style's sheets and agreement table of docs/looks-final.md.

    python docs/looks/make_final_sheets.py [--images ../shared/images] [--reference ../shared/reference]

Shades each case with the real command (``python -m fastshade shade ... --style final --passes 4
--save-passes``), writes ``docs/looks/final-<case>.png`` (top row: input and our passes 1-4;
bottom row: the original's passes 1-4, every panel at half size) and prints the markdown table:
``docs/look_agreement.py`` against the original's pass, and ``look_metrics.py`` of our output.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES = [  # (case name, target, sample, extra flags)
    ("toof-self", "toof", None, []),
    ("snek-heavy-self", "snek-heavy", None, []),
    ("red-tonegraph-self", "red-tonegraph", None, []),
    ("toof-x-snek-heavy", "toof", "snek-heavy", []),
    ("red-tonegraph-self-noguard", "red-tonegraph", None, ["--ink-guard", "0"]),
]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def panel(path: Path, label: str, size: tuple[int, int]) -> Image.Image:
    """The image at half size with a label in its top-left corner."""
    img = Image.open(path).convert("RGB")
    img = img.resize(size, Image.Resampling.LANCZOS)
    ImageDraw.Draw(img).text((4, 2), label, fill=(90, 90, 90))
    return img


def sheet(top: list[tuple[Path, str]], bottom: list[tuple[Path, str]], out: Path) -> None:
    """Two rows of half-size panels (the bottom row shifted right by one panel)."""
    w, h = Image.open(top[0][0]).size
    size = (w // 2, h // 2)
    gap = 4
    canvas = Image.new("RGB", (5 * size[0] + 4 * gap, 2 * size[1] + gap), (128, 128, 128))
    for i, (path, label) in enumerate(top):
        canvas.paste(panel(path, label, size), (i * (size[0] + gap), 0))
    for i, (path, label) in enumerate(bottom):
        canvas.paste(panel(path, label, size), ((i + 1) * (size[0] + gap), size[1] + gap))
    # a 256-colour palette keeps every sheet under 300 KB (a viewing aid; the figures are measured
    # on the full-colour outputs)
    canvas.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)


def main() -> int:
    """Shade every case, write the sheets, print the table (the figures as JSON on stderr)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images")
    parser.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference")
    parser.add_argument("--tools", type=Path, default=ROOT.parent / "shared" / "tools")
    args = parser.parse_args()
    agreement = _load(ROOT / "docs" / "look_agreement.py", "look_agreement").agreement
    metrics = _load(args.tools / "look_metrics.py", "look_metrics").metrics
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case, target, sample, flags in CASES:
            src = args.images / f"{target}.png"
            out = Path(tmp) / f"{case}.png"
            cmd = [sys.executable, "-m", "fastshade", "shade", str(src), "-o", str(out), "--style", "final",
                   "--passes", "4", "--save-passes", *flags]
            if sample:
                cmd[5:5] = ["--sample", str(args.images / f"{sample}.png")]
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            ref_case = case.replace("-noguard", "")
            ours = [Path(tmp) / f"{case}.pass{p}.png" for p in range(1, 5)]
            refs = [args.reference / "original" / f"final-{ref_case}-p{p}.png" for p in range(1, 5)]
            sheet([(src, "input")] + [(o, f"ours p{p}") for p, o in enumerate(ours, 1)],
                  [(r, f"original p{p}") for p, r in enumerate(refs, 1)], HERE / f"final-{case}.png")
            for p in range(1, 5):
                a = agreement(str(src), str(ours[p - 1]), str(refs[p - 1]))
                m = metrics(str(src), str(ours[p - 1]))
                rows.append((case, p, a, m))
    print("| case | pass | changed ours | changed original | count ratio | IoU | hue distance "
          "| hue ours | hue original | gap | ink_hit | speck | tint |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for case, p, a, m in rows:
        def deg(v):
            return "-" if v is None else f"{v:.0f}°"
        print(f"| {case} | {p} | {a['changed_ours']} | {a['changed_original']} | {a['count_ratio']:.2f} "
              f"| {a['iou']:.2f} | {a['hue_distance']:.2f} | {deg(a['hue_ours'])} | {deg(a['hue_original'])} "
              f"| {deg(a['hue_gap'])} | {m['ink_hit']:.4f} | {m['speck']:.3f} | {m['tint']:.3f} |")
    json.dump([[c, p, a, m] for c, p, a, m in rows], sys.stderr, default=lambda o: np.asarray(o).tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main())
