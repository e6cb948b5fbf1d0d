"""How much v6's look depends on the draw of its random field (docs/looks-v6.md, "The field decides").

    python docs/looks/v6_field_sweep.py [--seeds 1-8] [--images toof,snek-heavy,red-tonegraph]
                                        [--fields heat,heat-raw,lanczos] [--ink-guard 0]

Shades each image with ``--style v6 --passes 4`` once per seed and prints, per pass 1, 2, 4, the
changed-pixel count over the original's (``../shared/reference/original/v6-NAME-pK.png``), then
the median, range and share of seeds inside the 0.67-1.5 band.  The fields:

* ``heat``: the style as shipped (the seeded heat random field, the largest ``|f|`` positive),
  ``seed`` = the option;
* ``heat-raw``: the same field with no sign convention (the seed decides the sign, as the
  original's start vector decides its Ritz vector's: ``original-system.md`` §2.1);
* ``krylov``: the style with ``--basis krylov`` (fastshade's Krylov column, the issue's other
  field), ``seed`` = the option;
* ``lanczos``: the original's own field, re-implemented from §2.1 in NumPy (one unrestarted
  50-step Lanczos run with the constant deflated, Ritz column 1 of the values > 1e-6, no sign
  convention) on v6's Laplacian (4-neighbour, ``tau`` 0.1, grey mean), the start vector drawn
  from ``numpy.random.default_rng(seed)``: the spread of the original procedure over start
  vectors (torch's own start vector cannot be reproduced without torch).

A measurement, not a style: the field is swapped through the style module's ``v6_field`` name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fastshade.options import ShadeOptions  # noqa: E402
from fastshade.pipeline.fields import HeatOperator, gating_field  # noqa: E402
from fastshade.pipeline.graph import diagonal_storage, image_laplacian  # noqa: E402
from fastshade.pipeline.results import Timer  # noqa: E402
from fastshade.pipeline.stagelog import quantised_change  # noqa: E402
from fastshade.styles import shade_arrays  # noqa: E402
from fastshade.styles import v6 as v6_style  # noqa: E402

SHARED = ROOT.parent / "shared"
PASSES = (1, 2, 4)
BAND = (0.67, 1.5)


def lanczos_column1(lap, seed: int, steps: int = 50) -> np.ndarray:
    """Ritz column 1 of §2.1's Lanczos run (float64; the start vector from ``seed``)."""
    n = lap.shape[0]
    v = np.random.default_rng(seed).standard_normal(n)
    v -= v.mean()
    basis = [v / np.linalg.norm(v)]
    alpha: list[float] = []
    beta: list[float] = []
    for t in range(min(steps, n - 1)):
        w = lap @ basis[t]
        a = float(basis[t] @ w)
        w -= a * basis[t]
        if t > 0:
            w -= beta[t - 1] * basis[t - 1]
            vs = np.array(basis)
            w -= vs.T @ (vs @ w)
        w -= w.mean()
        alpha.append(a)
        b = float(np.linalg.norm(w))
        if b < 1e-10:
            break
        beta.append(b)
        basis.append(w / b)
    k = len(alpha)
    tri = np.diag(alpha) + np.diag(beta[:k - 1], 1) + np.diag(beta[:k - 1], -1)
    theta, y = np.linalg.eigh(tri)
    y = y[:, theta > 1e-6]
    return np.array(basis[:k]).T @ y[:, min(1, y.shape[1] - 1)]


def field_of(kind: str):
    """A replacement for :func:`fastshade.pipeline.v6paint.v6_field` (``None`` = the shipped one)."""
    def heat_raw(grey: np.ndarray, opts: ShadeOptions, timer: Timer):
        lap = image_laplacian(grey, connectivity=opts.connectivity, kind=opts.laplacian, tau=opts.tau,
                              weight_floor=opts.weight_floor)
        op = HeatOperator(lap, opts, diagonal_storage(lap))
        return gating_field(lap, None, grey.shape, opts, operator=op), None

    def lanczos(grey: np.ndarray, opts: ShadeOptions, timer: Timer):
        lap = image_laplacian(grey, connectivity=4, kind="grid", tau=0.1, weight_floor=0.0).tocsr()
        return lanczos_column1(lap, opts.seed).reshape(grey.shape), None

    return {"heat": None, "krylov": None, "heat-raw": heat_raw, "lanczos": lanczos}[kind]


def pass_images(img: np.ndarray, options: dict) -> dict[int, np.ndarray]:
    """Every pass's image of one run, by pass number."""
    outs: dict[int, np.ndarray] = {}
    shade_arrays(img, None, options, on_pass=lambda step, res: outs.__setitem__(step.index, res.image.copy()))
    return outs


def main(argv: list[str] | None = None) -> int:
    """Print one row per field, image and seed, then the summary rows."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="1-8")
    p.add_argument("--images", default="toof,snek-heavy,red-tonegraph")
    p.add_argument("--fields", default="heat,krylov,heat-raw,lanczos")
    p.add_argument("--ink-guard", type=float, default=0.0)
    args = p.parse_args(argv)
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    shipped = v6_style.v6_field
    print("| field | image | seeds | pass 1 median (range) in band | pass 2 | pass 4 |")
    print("|---|---|---|---|---|---|")
    for kind in args.fields.split(","):
        v6_style.v6_field = field_of(kind) or shipped
        try:
            for name in args.images.split(","):
                img = iio.imread(SHARED / "images" / f"{name}.png")[..., :3] / 255.0
                ref = [np.count_nonzero((iio.imread(SHARED / "reference" / "original" / f"v6-{name}-p{k}.png")[..., :3]
                                         != np.rint(img * 255)).any(axis=2)) for k in PASSES]
                ratios = []
                for seed in seeds:
                    extra = {"basis": "krylov"} if kind == "krylov" else {}
                    outs = pass_images(img, {"style": "v6", "passes": 4, "seed": seed, "ink_guard": args.ink_guard,
                                             **extra})
                    ratios.append([quantised_change(img, outs[k]).sum() / r for k, r in zip(PASSES, ref)])
                    print(f"<!-- {kind} {name} seed {seed}: " + " ".join(f"{x:.2f}" for x in ratios[-1]) + " -->",
                          flush=True)
                a = np.array(ratios)
                inside = (a >= BAND[0]) & (a <= BAND[1])
                cells = [f"{np.median(a[:, j]):.2f} ({a[:, j].min():.2f}-{a[:, j].max():.2f}) "
                         f"{int(inside[:, j].sum())}/{len(a)}" for j in range(len(PASSES))]
                print(f"| {kind} | {name} | {args.seeds} | " + " | ".join(cells) + " |", flush=True)
        finally:
            v6_style.v6_field = shipped
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
