"""The basis tolerance study: solve time and subspace accuracy per image, per tolerance.

Not a test and not a pytest-benchmark file: a script that regenerates the tables of
``docs/tolerance.md``.  For every image of ``/work/shared/images`` (native size) and the
built-in demo at 512² and 1024², it

1. solves a tight reference (ARPACK shift-invert, :func:`fastshade.reference.eigsh_basis`,
   ``tol=1e-10``, the 12 lowest non-trivial pairs), cached under ``CACHE`` so reruns are cheap;
2. times :func:`fastshade.spectral.spectral_basis` (the Laplacian given, as the shader does) at
   every tolerance of ``TOLS`` (CPU seconds, warm, one thread: run it with
   ``OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``) and measures the
   principal angles between the returned 8-vector span and the reference's lowest 8, together
   with the subspace contract of :mod:`fastshade.spectral.contract` (its bound and verdict);
   a cell is skipped when the looser one took more than ``SKIP_AFTER`` seconds (it would take
   more than 120 s);
3. (``trace``) runs the pixel-level LOBPCG with ``tol=0`` for ``TRACE_ITERS`` iterations
   and records, per iteration, the residuals, the Ritz values of the whole block and the
   principal angles to the reference, so a contract's bound can be checked against the
   measured angle at every iterate, not only where a tolerance happened to stop.

Usage::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        python bench/tolerance_study.py [refs|cells|trace|report|all] [--only NAME]

Results are JSON files in ``CACHE``; ``report`` prints the Markdown tables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from fastshade.demo import demo_image
from fastshade.io import read_image
from fastshade.options import ShadeOptions
from fastshade.pipeline.gates import carrier_of
from fastshade.pipeline.graph import image_laplacian
from fastshade.pipeline.shader import analyse
from fastshade.pipeline.shading import thickening_budget
from fastshade.reference import eigsh_basis, principal_angles
from fastshade.spectral import spectral_basis
from fastshade.spectral.amg import SHIFT_REL
from fastshade.spectral.cascade import cascade_solve
from fastshade.spectral.contract import DEFAULT_SUBSPACE_TOL, subspace_error_bound
from fastshade.spectral.lobpcg import block_lobpcg

CACHE = Path("/tmp/fastshade-tolerance")
IMAGES = Path("/work/shared/images")
TOLS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
ENFORCE_TOLS = (1e-2, 1e-4)
K = 8
REF_K = 12
REF_TOL = 1e-10
SKIP_AFTER = 50.0
REPEAT_BELOW = 4.0
TRACE_ITERS = 80
TRACE_TOL = 1e-9
SHORT = {
    "toof.png": "toof",
    "snek-heavy.png": "snek-heavy",
    "red-tonegraph.png": "red-tonegraph",
    "1bit redraw.png": "1bit redraw",
    "mspaint-enso-i-couldnt-forget.png": "enso",
    "mspaint-enso-i-couldnt-forget-ii.png": "enso-ii",
    "offhand_pleometric.png": "offhand",
}


def cases() -> dict[str, Callable[[], np.ndarray]]:
    """Case name -> a function returning its RGB image (H, W, 3) float64 in [0, 1]."""
    out: dict[str, Callable[[], np.ndarray]] = {}
    for file, name in SHORT.items():
        out[name] = lambda file=file: read_image(IMAGES / file).rgb
    for side in (512, 1024):
        out[f"demo {side}"] = lambda side=side: demo_image(side, side)
    return out


def laplacian_of(carrier: np.ndarray) -> sp.csr_matrix:
    """The default graph (4-connected grid, tau 0.1), as the shader builds it."""
    return image_laplacian(carrier).tocsr()


def reach(vectors: np.ndarray) -> np.ndarray:
    """Whole offsets a high-gate pixel may thicken to (the shader's default budget)."""
    o = ShadeOptions()
    budget = thickening_budget(vectors, o.thick_radius, o.budget_attenuation)
    return np.minimum(np.floor(budget), o.thick_radius).astype(np.int64)


def _key(name: str, L: sp.csr_matrix) -> str:
    h = hashlib.sha1(L.data.tobytes() + L.indices.tobytes()).hexdigest()[:12]
    return f"{name.replace(' ', '_')}-{h}"


def reference(name: str, L: sp.csr_matrix) -> dict[str, np.ndarray]:
    """ARPACK shift-invert reference (cached): values (12,), vectors (n, 12), residuals."""
    path = CACHE / f"ref-{_key(name, L)}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    t0 = time.process_time()
    ref = eigsh_basis(L, k=REF_K, tol=REF_TOL)
    out = dict(values=ref.values, vectors=ref.vectors, residuals=ref.residuals,
               seconds=np.array(time.process_time() - t0))
    np.savez(path, **out)
    return out


def angles_to(ref: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between span(X) and span(ref), ascending."""
    return np.sort(np.cos(principal_angles(X, ref)))


def _save(kind: str, name: str, data: Any) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / f"{kind}-{name.replace(' ', '_')}.json").write_text(json.dumps(data, indent=1))


def _load(kind: str, name: str) -> Any:
    path = CACHE / f"{kind}-{name.replace(' ', '_')}.json"
    return json.loads(path.read_text()) if path.exists() else None


def run_refs(names: list[str]) -> None:
    """Solve (or load) every reference and print its spectrum."""
    for name in names:
        c = carrier_of(cases()[name]())
        L = laplacian_of(c)
        ref = reference(name, L)
        print(f"{name}: n={L.shape[0]} ref {float(ref['seconds']):.1f} s, λ = "
              + " ".join(f"{v:.3e}" for v in ref["values"])
              + f", max residual {ref['residuals'].max():.1e}", flush=True)


def _cell(c: np.ndarray, L: sp.csr_matrix, U: np.ndarray, target: tuple[np.ndarray, np.ndarray],
          **kw: Any) -> dict[str, Any]:
    """One timed solve (CPU seconds, the least of two runs when it is quick) and its accuracy.

    Accuracy against the reference span ``U`` (principal angles) and, on the high-gate pixels
    ``target[0]``, the thicken reach against the reference's ``target[1]``.
    """
    runs = []
    for _ in range(2):
        t0 = time.process_time()
        b = spectral_basis(c, laplacian=L, **kw)
        runs.append(time.process_time() - t0)
        if runs[0] > REPEAT_BELOW:
            break
    seconds = min(runs)
    cos = angles_to(U, b.vectors)
    info = b.info
    high, reach_ref = target
    return dict(
        kw=kw, seconds=seconds, contract_seconds=info.get("contract_seconds", 0.0),
        reach_agreement=float(np.mean(reach(b.vectors)[high] == reach_ref)),
        cos=cos.tolist(), cos_min=float(cos[0]),
        sin=float(np.sqrt(max(0.0, 1.0 - cos[0] ** 2))), iterations=info.get("iterations"),
        residuals=info.get("residuals"), values=b.values.tolist(),
        guard_values=info.get("guard_values"), converged=info.get("converged"),
        bound=info.get("subspace_error_bound"), contract=info.get("contract"),
        warnings=info.get("warnings"))


def _show(name: str, r: dict[str, Any]) -> None:
    bound = "-" if r["bound"] is None else f"{r['bound']:.3g}"
    print(f"{name:14s} {r['kw']!s:45s} {r['seconds']:7.2f} s  it {r['iterations']!s:>3}  "
          f"cos_min {r['cos_min']:.5f}  sin {r['sin']:.2e}  bound {bound:>8s}  "
          f"reach {r['reach_agreement']:.4f}  "
          f"converged {r['converged']}", flush=True)


def run_cells(names: list[str]) -> None:
    """Time every (image, tolerance) cell and measure its subspace accuracy.

    The tolerance rows stop on the residual alone (``contract="check"``: the bound of the
    returned span is formed once and reported); the ``enforce`` rows are the library default
    (the contract keeps LOBPCG iterating) at two residual tolerances.
    """
    for name in names:
        rgb = cases()[name]()
        c = carrier_of(rgb)
        L = laplacian_of(c)
        ref = reference(name, L)
        U = ref["vectors"][:, :K]
        high = analyse(rgb, ShadeOptions()).high.ravel()  # the gates do not read the basis
        target = (high, reach(ref["vectors"][:, :K])[high])
        spectral_basis(c, laplacian=L, tol=TOLS[0], contract="check")  # warm (kernels, caches)
        rows = []
        last = 0.0
        for tol in TOLS:
            if last > SKIP_AFTER:
                rows.append(dict(kw=dict(tol=tol, contract="check"), skipped=True))
                continue
            r = _cell(c, L, U, target, tol=tol, contract="check")
            last = r["seconds"]
            rows.append(r)
            _show(name, r)
        enforce = []
        for tol in ENFORCE_TOLS:
            r = _cell(c, L, U, target, tol=tol, contract="enforce")
            enforce.append(r)
            _show(name, r)
        _save("cells", name, dict(name=name, n=int(L.shape[0]), shape=list(c.shape),
                                  ref_values=ref["values"].tolist(),
                                  ref_seconds=float(ref["seconds"]), rows=rows, enforce=enforce))


def _trace_case(name: str) -> dict[str, Any]:
    """Every pixel-level iterate of one case's tight solve (see :func:`run_trace`)."""
    c = carrier_of(cases()[name]())
    L = laplacian_of(c)
    ref = reference(name, L)
    U = ref["vectors"][:, :K]
    n = L.shape[0]
    shift = SHIFT_REL * float(L.diagonal().mean())
    lu = splu((L + shift * sp.identity(n, format="csr")).tocsc(), permc_spec="MMD_AT_PLUS_A")
    steps: list[dict[str, Any]] = []
    prev: list[np.ndarray] = []
    pixel_precond: list[Callable[[np.ndarray], np.ndarray]] = []

    def monitor(it: int, lam: np.ndarray, X: np.ndarray, rn: np.ndarray) -> None:
        Xk = X[:, :K]
        cos = angles_to(U, Xk)
        step = None
        if prev:
            step = float(np.sqrt(max(0.0, 1.0 - angles_to(prev[0], Xk)[0] ** 2)))
        prev[:] = [Xk.copy()]
        cos_block = angles_to(U, X)  # the whole block (k + guard) against the lowest k
        R = L @ Xk - Xk * lam[None, :K]
        exact = np.column_stack([lu.solve(R[:, j].copy()) for j in range(K)])
        vc = pixel_precond[0](R)
        bound = subspace_error_bound(lam, K, shift, float(np.linalg.norm(vc)))
        steps.append(dict(
            it=it, values=lam.tolist(), residuals=rn.tolist(), cos=cos.tolist(),
            cos_min=float(cos[0]), step_sin=step, block_cos_min=float(cos_block[-K]),
            R_F=float(np.linalg.norm(R)), AinvR_F=float(np.linalg.norm(exact)),
            TR_F=float(np.linalg.norm(vc)), bound=bound))

    def solver(Lm, B, X, Y, precond, tol, maxiter, k, dense_updates=False):  # noqa: ANN001, ANN202
        if B is None:  # the pixel level
            pixel_precond[:] = [precond]
            return block_lobpcg(Lm, B, X, Y, precond, TRACE_TOL, TRACE_ITERS, k, dense_updates,
                                monitor=monitor)
        return block_lobpcg(Lm, B, X, Y, precond, tol, maxiter, k, dense_updates)

    cascade_solve(L, K, tol=TRACE_TOL, seed=42, guard=4, coarse_iters=3, maxiter=TRACE_ITERS,
                  solver=solver)
    return dict(name=name, shift=shift, ref_values=ref["values"].tolist(), steps=steps)


def run_trace(names: list[str]) -> None:
    """Record every pixel-level LOBPCG iterate of a tight solve against the reference.

    Per iterate: Ritz values and residual norms of the whole block, the principal-angle
    cosines of the wanted span to the reference, the span's step from the previous iterate,
    the Frobenius norms of ``R`` (the wanted columns' residual block), of ``A^-1 R`` (exact,
    one sparse LU of ``A = L + s I`` with the AMG shift ``s``) and of ``T R`` (one V-cycle, the
    LOBPCG preconditioner), and the contract's bound.
    """
    for name in names:
        t0 = time.process_time()
        data = _trace_case(name)
        print(f"{name}: traced {len(data['steps'])} iterates in {time.process_time() - t0:.1f} s",
              flush=True)
        _save("trace", name, data)


def _fmt_cos(c: float) -> str:
    return "1.00000" if c > 0.999995 else f"{c:.5f}"


def report(names: list[str]) -> None:
    """Print the Markdown tables of docs/tolerance.md from the saved cells and traces."""
    cells = {n: d for n in names if (d := _load("cells", n)) is not None}
    traces = {n: d for n in names if (d := _load("trace", n)) is not None}
    print("Spectra (ARPACK shift-invert, tol 1e-10)\n")
    print("| image | pixels | λ₈ | λ₉ − λ₈ | reference CPU s |")
    print("|---|---:|---:|---:|---:|")
    for n, d in cells.items():
        lam = d["ref_values"]
        print(f"| {n} | {d['n']} | {lam[K - 1]:.3e} | {lam[K] - lam[K - 1]:.2e} | {d['ref_seconds']:.1f} |")
    head = " | ".join(f"tol {t:.0e}" for t in TOLS)
    print("\nResidual stop (`contract=\"check\"`): CPU s / smallest principal-angle cosine\n")
    print(f"| image | {head} |")
    print("|---|" + "---:|" * len(TOLS))
    for n, d in cells.items():
        row = ["skipped (> 120 s)" if r.get("skipped") else f"{r['seconds']:.2f} / {_fmt_cos(r['cos_min'])}"
               for r in d["rows"]]
        print(f"| {n} | " + " | ".join(row) + " |")
    print("\nThe contract at those stops: bound on sin θ_max (✓ converged) / measured sin θ_max\n")
    print(f"| image | {head} |")
    print("|---|" + "---:|" * len(TOLS))
    for n, d in cells.items():
        row = []
        for r in d["rows"]:
            if r.get("skipped"):
                row.append("–")
                continue
            b = "none" if r["bound"] is None else f"{r['bound']:.2g}"
            row.append(f"{b} {'✓' if r['converged'] else '✗'} / {r['sin']:.1e}")
        print(f"| {n} | " + " | ".join(row) + " |")
    print("\nThicken reach agreement with the reference on the high-gate pixels (the shader's use)\n")
    print(f"| image | {head} |")
    print("|---|" + "---:|" * len(TOLS))
    for n, d in cells.items():
        row = ["–" if r.get("skipped") else f"{r['reach_agreement']:.4f}" for r in d["rows"]]
        print(f"| {n} | " + " | ".join(row) + " |")
    print(f"\nLibrary default (`contract=\"enforce\"`, subspace_tol {DEFAULT_SUBSPACE_TOL}): "
          "iterations, CPU s, cosine, bound\n")
    print("| image | " + " | ".join(f"tol {r['kw']['tol']:.0e}" for r in next(iter(cells.values()))["enforce"]) + " |")
    print("|---|" + "---:|" * len(ENFORCE_TOLS))
    for n, d in cells.items():
        row = [f"{r['iterations']} it, {r['seconds']:.2f} s, {_fmt_cos(r['cos_min'])}, "
               f"{r['bound']:.3f}{' ✓' if r['converged'] else ' ✗'}" for r in d["enforce"]]
        print(f"| {n} | " + " | ".join(row) + " |")
    print("\nValidation on every pixel-level iterate (tight solve, `bench/tolerance_study.py trace`)\n")
    print("| image | iterates | bound / measured sin θ_max: min | median | max | "
          f"first iterate with bound ≤ {DEFAULT_SUBSPACE_TOL}: it, sin θ_max, max residual |")
    print("|---|---:|---:|---:|---:|---|")
    every = []
    for n, d in traces.items():
        ratios, first = [], None
        for st in d["steps"]:
            sine = float(np.sqrt(max(0.0, 1.0 - st["cos_min"] ** 2)))
            b = subspace_error_bound(np.array(st["values"]), K, d["shift"], st["TR_F"])
            if first is None and b is not None and b <= DEFAULT_SUBSPACE_TOL:
                first = (st["it"], sine, max(st["residuals"][:K]))
            if sine > 1e-7:  # below: rounding of the reference
                ratios.append(np.inf if b is None else b / sine)
        every += ratios
        r = np.array(ratios)
        f = "–" if first is None else f"{first[0]}, {first[1]:.1e}, {first[2]:.0e}"
        print(f"| {n} | {len(r)} | {r.min():.2f} | {np.median(r):.1f} | {r.max():.3g} | {f} |")
    if every:
        e = np.array(every)
        print(f"\nall: {e.size} iterates, ratio min {e.min():.2f}, median {np.median(e):.1f}")


def main(argv: list[str] | None = None) -> int:
    """Run the stages named on the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("stage", nargs="?", default="all", choices=["refs", "cells", "trace", "report", "all"])
    p.add_argument("--only", action="append", help="case name (repeatable); default: all")
    a = p.parse_args(argv)
    names = a.only or list(cases())
    stages = ["refs", "cells", "trace", "report"] if a.stage == "all" else [a.stage]
    for stage in stages:
        dict(refs=run_refs, cells=run_cells, trace=run_trace, report=report)[stage](names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
