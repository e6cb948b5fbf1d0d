"""Make the v6 side-by-side sheets and the agreement table of docs/looks-v6.md.

    python docs/looks/make_v6_sheets.py OUT_DIR [NAME[:noguard] ...]

For each NAME (default: toof snek-heavy red-tonegraph offhand_pleometric red-tonegraph:noguard;
``:noguard`` adds ``--ink-guard 0`` and writes ``v6-NAME-noguard.png``), shades
``../shared/images/NAME.png`` with ``fastshade shade --style v6 --passes 4 --save-passes`` into
OUT_DIR (pass k of the 4-pass run is the k-pass output: the decay schedule depends on the pass
index only), writes ``docs/looks/v6-NAME.png`` (rows: passes 1, 2, 4; columns: input | ours | the
original's ``reference/original/v6-NAME-pK.png``; half size) and prints one Markdown row per pass
with ``docs/look_agreement.py`` and ``../shared/tools/look_metrics.py`` figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
NAMES = ("toof", "snek-heavy", "red-tonegraph", "offhand_pleometric", "red-tonegraph:noguard")
PASSES = (1, 2, 4)


def _run(*args: str) -> str:
    return subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def sheet(name: str, ours: dict[int, Path], dest: Path) -> None:
    """Rows = passes, columns = input | ours | original, each tile at half size, 4-px grey gutters."""
    src = Image.open(SHARED / "images" / f"{name}.png").convert("RGB")
    w, h = src.size[0] // 2, src.size[1] // 2
    gap = 4
    canvas = Image.new("RGB", (3 * w + 2 * gap, len(PASSES) * h + (len(PASSES) - 1) * gap), (160, 160, 160))
    for row, p in enumerate(PASSES):
        tiles = [src, Image.open(ours[p]).convert("RGB"),
                 Image.open(SHARED / "reference" / "original" / f"v6-{name}-p{p}.png").convert("RGB")]
        for col, tile in enumerate(tiles):
            canvas.paste(tile.resize((w, h), Image.LANCZOS), (col * (w + gap), row * (h + gap)))
    # a 128-colour palette (no dithering) keeps each sheet under 300 KB
    canvas.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(dest, optimize=True)


def main(argv: list[str]) -> int:
    """Shade, draw the sheets, print the table rows (exit status 0)."""
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for case in argv[1:] or NAMES:
        name, _, variant = case.partition(":")
        label = f"{name}-{variant}" if variant else name
        flags = ["--ink-guard", "0"] if variant == "noguard" else []
        target = out / f"v6-{label}.png"
        _run("-m", "fastshade", "shade", str(SHARED / "images" / f"{name}.png"), "-o", str(target),
             "--style", "v6", "--passes", "4", "--save-passes", "--stats", str(out / f"v6-{label}.json"), *flags)
        ours = {p: out / f"v6-{label}.pass{p}.png" for p in PASSES}
        sheet(name, ours, ROOT / "docs" / "looks" / f"v6-{label}.png")
        src = str(SHARED / "images" / f"{name}.png")
        for p in PASSES:
            orig = str(SHARED / "reference" / "original" / f"v6-{name}-p{p}.png")
            a = json.loads(_run("docs/look_agreement.py", src, str(ours[p]), orig, "--json"))
            metrics = _run(str(SHARED / "tools" / "look_metrics.py"), src, str(ours[p]), src, orig)
            m_ours, m_orig = (json.loads(line) for line in metrics.splitlines())
            hue = lambda v: "grey" if v is None else f"{v:.0f}°"  # noqa: E731
            gap = "-" if a["hue_gap"] is None else f"{a['hue_gap']:.0f}°"
            print(f"| {label} | {p} | {a['changed_ours']} / {a['changed_original']} | {a['count_ratio']:.2f} | "
                  f"{a['iou']:.2f} | {a['hue_distance']:.2f} | {hue(a['hue_ours'])} / {hue(a['hue_original'])} | "
                  f"{gap} | "
                  f"{m_ours['ink_hit']:.3f} / {m_orig['ink_hit']:.3f} | {m_ours['tint']:.3f} / {m_orig['tint']:.3f} | "
                  f"{m_ours['pieces']} / {m_orig['pieces']} | {m_ours['piece_median']} / {m_orig['piece_median']} | "
                  f"{m_ours['speck']:.3f} / {m_orig['speck']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
