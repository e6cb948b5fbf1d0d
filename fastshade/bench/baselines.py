"""Plain NumPy/SciPy baselines timed beside our stages, on the same inputs, checked against our output.

The implementations live in :mod:`fastshade.reference` (imported as ``bl``); this module
times them, checks their output against ours and records one entry per baseline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from fastshade.bench.memory import PeakMemory
from fastshade.bench.schema import BASELINES, SHADER_STAGES
from fastshade.bench.scipy_cascade import scipy_cascade_basis
from fastshade.bench.timing import summary, timed


def baseline_entry(key: str, label: str, ours: tuple[float, float], runs: list[float] | None = None,
                   cpu_runs: list[float] | None = None, *, skipped: str | None = None,
                   **extra: Any) -> dict[str, Any]:
    """One baseline's figures.

    Wall median/min/max/runs and ``speedup`` (baseline / ours), the same in CPU seconds under
    ``cpu`` and ``speedup_cpu``; ``ours`` = (wall, CPU) median of our stage.
    """
    entry: dict[str, Any] = {"key": key, "label": label, "skipped": skipped}
    if runs and cpu_runs:
        entry.update(summary(runs))
        entry["speedup"] = entry["median"] / ours[0] if ours[0] > 0 else None
        entry["cpu"] = summary(cpu_runs)
        entry["speedup_cpu"] = entry["cpu"]["median"] / ours[1] if ours[1] > 0 else None
    entry.update(extra)
    return entry


def _shadowed(shadow_self: Callable[..., Any], image: Any, an: Any, opts: Any) -> Any:
    """Return a copy of ``image`` with the self-mode shadow painted in."""
    out = image.copy()
    shadow_self(out, an, opts)
    return out


def _info_int(info: Any, keys: tuple[str, ...]) -> int | None:
    if isinstance(info, dict):
        for key in keys:
            v = info.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                return int(v)
    return None


def basis_tolerance(basis: Any) -> float:
    """Return the residual tolerance our solver used (from ``basis.info``), else 1e-5."""
    info = basis.info if isinstance(basis.info, dict) else {}
    for key in ("tol", "tolerance", "residual_tol"):
        v = info.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 and math.isfinite(v):
            return float(v)
    return 1e-5


def run_baselines(res: Any, record: dict[str, Any], cfg: dict[str, Any], opts: Any, bar: Any) -> dict[str, Any]:
    """Time the NumPy/SciPy baselines on the analysis of ``res`` (a self-mode result).

    ``record`` is the case's record (our stage medians are read from it), ``cfg`` the worker's
    configuration, ``bar`` the progress bar (one step per baseline).  Returns the baseline
    entries per stage, plus ``basis_ours`` (our solver's method, tolerance and residual).
    """
    import numpy as np

    from fastshade import reference as bl
    from fastshade.pipeline.graph import image_laplacian
    from fastshade.pipeline.paint import shadow_self, thicken

    repeat = cfg["repeat"]
    an = res.target
    ours = {s: (record["stages"][s]["median"], record["stages_cpu"][s]["median"]) for s in SHADER_STAGES}
    out: dict[str, Any] = {}
    if an is None or an.basis is None:
        for stage, specs in BASELINES.items():
            out[stage] = [baseline_entry(k, lab, ours[stage], skipped="no contours: nothing to compute")
                          for k, lab in specs]
        bar.update(sum(len(v) for v in BASELINES.values()))
        return out
    h, w = an.shape
    lap_kw = opts.graph()

    # Laplacian: SciPy COO -> CSR
    bar.set_postfix_str("baseline laplacian")
    L = image_laplacian(an.carrier, **lap_kw)
    runs, cpu, Lb = timed(lambda: bl.laplacian_coo(an.carrier, **lap_kw), repeat)
    diff = abs(L - Lb).max() if L.nnz else 0.0
    out["laplacian"] = [baseline_entry("scipy_coo", "SciPy COO->CSR", ours["laplacian"], runs, cpu,
                                       agrees=bool(diff <= 1e-12), max_abs_diff=float(diff))]
    bar.update(1)

    # Basis: eigsh shift-invert, unpreconditioned LOBPCG (same tolerance as ours), our cascade's variants
    ours_res = bl.eigen_residuals(L, np.asarray(an.basis.values), np.asarray(an.basis.vectors))
    tol = basis_tolerance(an.basis)
    k = int(an.basis.vectors.shape[1])
    basis_entries = []
    limit = int(cfg["baseline_max_size"]) ** 2
    for key, label in BASELINES["basis"]:
        bar.set_postfix_str(f"baseline basis {key}")
        if h * w > limit:
            basis_entries.append(baseline_entry(key, label, ours["basis"],
                                                skipped=f"> {cfg['baseline_max_size']}^2 px (--baseline-max-size)"))
        elif k + 1 >= h * w:
            basis_entries.append(baseline_entry(key, label, ours["basis"], skipped="image too small"))
        else:
            extra: dict[str, Any] = {}
            if key == "lobpcg_plain":  # cap the iterations so the run fits the time budget
                probe = bl.lobpcg_basis(L, k, tol=tol, maxiter=3, seed=opts.seed)
                per_iteration = probe.seconds / 3
                maxiter = max(3, min(cfg["lobpcg_maxiter"], int(cfg["baseline_budget"] / per_iteration)))
                extra = {"maxiter": maxiter, "seconds_per_iteration": per_iteration}
            with PeakMemory() as mem:
                c0 = time.process_time()
                if key == "eigsh":
                    r = bl.eigsh_basis(L, k, tol=tol, seed=opts.seed)
                elif key == "lobpcg_scipy_amg":
                    r = scipy_cascade_basis(L, k, tol=tol, seed=opts.seed)
                else:
                    r = bl.lobpcg_basis(L, k, tol=tol, maxiter=extra["maxiter"], seed=opts.seed)
                cpu_seconds = time.process_time() - c0
            basis_entries.append(baseline_entry(
                key, label, ours["basis"], [r.seconds], [cpu_seconds], converged=r.converged,
                iterations=r.iterations,
                tolerance=tol, residual_max=float(r.residuals.max(initial=0.0)),
                peak_rss_increase_bytes=int(mem.increase), **extra))
        bar.update(1)
    out["basis"] = basis_entries
    out["basis_ours"] = {"method": an.basis.method, "tolerance": tol,
                         "residual_max": float(ours_res.max(initial=0.0)),
                         "iterations": _info_int(an.basis.info, ("iterations", "iters", "n_iter"))}

    # Components: scipy.ndimage.label + bincount statistics
    bar.set_postfix_str("baseline components")
    runs, cpu, lab = timed(lambda: bl.label_components_scipy(an.low, connectivity=8,
                                                             min_size=opts.min_component), repeat)
    comps = an.components
    agrees = (lab.n == comps.n and np.array_equal(lab.sizes, np.asarray(comps.sizes))
              and np.allclose(lab.centroids, np.asarray(comps.centroids), rtol=0, atol=1e-9))
    out["components"] = [baseline_entry("ndimage_label", "ndimage.label+bincount", ours["components"], runs, cpu,
                                        agrees=bool(agrees))]
    bar.update(1)

    # Thicken: vectorised NumPy scatter
    bar.set_postfix_str("baseline thicken")
    ref_img, ref_written = thicken(an, opts)
    runs, cpu, (img, written) = timed(lambda: bl.thicken_numpy(
        an.rgb, an.high, an.perp_y, an.perp_x, an.basis.vectors, an.contours, opts.thick_radius,
        opts.budget_attenuation), repeat)
    mismatched = int(np.count_nonzero(np.any(img != ref_img, axis=2) | (written != ref_written)))
    out["thicken"] = [baseline_entry("numpy", "NumPy vectorised", ours["thicken"], runs, cpu,
                                     agrees=mismatched == 0, mismatched_pixels=mismatched)]
    bar.update(1)

    # Shadow: NumPy, one vectorised step per component, against our shadow with the same
    # fixed push (the baseline has no free-placement search; ours is timed here for that)
    bar.set_postfix_str("baseline shadow")
    pixel_lists = [comps.pixels_of(i) for i in range(comps.n)]
    fixed = opts.replace(shadow_placement="fixed")
    ours_runs, ours_cpu, ref = timed(lambda: _shadowed(shadow_self, ref_img, an, fixed), repeat)
    ours_fixed = (float(np.median(ours_runs)), float(np.median(ours_cpu)))

    def shadow_numpy() -> np.ndarray:
        return bl.shadow_self_numpy(ref_img.copy(), pixel_lists, np.asarray(comps.centroids), an.void_y,
                                    an.void_x, an.carrier, distance=opts.shadow_distance,
                                    hue_angle=opts.hue_angle, ink_guard=opts.ink_guard)

    runs, cpu, got = timed(shadow_numpy, repeat)
    diff = float(np.abs(got - ref).max()) if got.size else 0.0
    entry = baseline_entry("numpy", "NumPy per component (fixed push)", ours_fixed, runs, cpu,
                           agrees=bool(diff <= 1e-9), max_abs_diff=diff, ours_same_push=ours_fixed[0])
    entry["cpu"]["ours_same_push"] = ours_fixed[1]  # the ratio: our shadow with the same push
    out["shadow"] = [entry]
    bar.update(1)
    return out
