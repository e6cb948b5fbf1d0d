"""The shader: analyse an image (basis, fields, gates, components), then paint (thicken, shadow).

Public entry points: :func:`shade` and :func:`shade_arrays`.  Everything heavy runs in
the Numba kernels of :mod:`fastshade.kernels` (through the validated wrappers of this
subpackage) or in the eigensolver (:mod:`fastshade.spectral`); this module only
orchestrates and records.  The stages, in order: :func:`analyse` →
:func:`fastshade.pipeline.paint.thicken` → :func:`fastshade.pipeline.paint.shadow_self`
or :func:`fastshade.pipeline.cross.shadow_cross`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from fastshade.heap import pool_up_to_peak
from fastshade.options import ShadeOptions, as_options
from fastshade.pipeline.components import Components, label_components
from fastshade.pipeline.cross import parse_affinity_threshold, reads_sample_basis, shadow_cross
from fastshade.pipeline.fields import HeatOperator, contour_heat, field_kind, gating_field
from fastshade.pipeline.gates import carrier_of, contour_gates, contour_mask
from fastshade.pipeline.graph import diagonal_storage, forward_gradient, image_laplacian, unit_vectors
from fastshade.pipeline.inputs import as_rgb_alpha
from fastshade.pipeline.paint import shadow_self, thicken
from fastshade.pipeline.resolution import auto_scale, coarse_analysis, scaled_lengths
from fastshade.pipeline.results import Analysis, ShadeResult, Timer
from fastshade.pipeline.stagelog import StageLog
from fastshade.spectral import SpectralBasis, spectral_basis
from fastshade.threads import limit_threads


def _empty_components(shape: tuple[int, int]) -> Components:
    return label_components(np.zeros(shape, dtype=bool), connectivity=8, min_size=1)


def basis_use(opts: ShadeOptions, cross: bool = False) -> str | None:
    """What reads the LOBPCG basis *as eigenvectors*, or None when only the thicken budget does.

    A basis-column gating field (``field="column"``) and, in cross mode, the ``dot``/``cosine``
    scores (and the Procrustes alignment before them) and the affinity gates read the vectors
    themselves: the basis is then solved with the subspace contract checked
    (:mod:`fastshade.spectral.contract`), and an unmet contract is a warning.  The thicken
    budget needs less (``ShadeOptions.tol``, docs/tolerance.md).  None for ``basis="krylov"``
    (a Ritz field by design, not eigenvectors).
    """
    if opts.basis != "lobpcg":
        return None
    uses = []
    if field_kind(opts) == "column":
        uses.append(f"the gating field (basis column {opts.field_column})")
    if cross:
        gate_kind, _ = parse_affinity_threshold(opts.affinity_threshold)
        if opts.score != "signature":
            uses.append(f"the cross score {opts.score!r}")
        if gate_kind != "none":
            uses.append(f"the affinity gate {opts.affinity_threshold!r}")
    return " and ".join(uses) or None


def analyse(rgb: np.ndarray, opts: ShadeOptions, timer: Timer | None = None, *,
            directions: bool = True, with_basis: bool = True, cross: bool = False,
            energy_only: bool = False) -> Analysis:
    """Basis, fields, gates and low-gate components of one image ((H,W,3) float64 in [0,1]).

    For a cross-mode sample (only its field, gates, components and, for some
    configurations, basis are read): ``directions=False`` skips the thicken and void
    directions and the void diffusion (``perp_*`` and ``void_*`` are then zero);
    ``with_basis=False`` skips the eigensolve when the gating field does not need it
    (``Analysis.basis`` is then None; see :func:`fastshade.pipeline.cross.reads_sample_basis`).
    ``cross``: the image takes part in a cross-mode run (decides :func:`basis_use`, whether the
    basis's subspace contract is checked).  ``energy_only``: when nothing but the thicken budget
    reads the basis (:func:`basis_use` None), it returns the budget's row energy alone
    (``SpectralBasis.energy``, its vectors (H*W, 0): the same budget, 8 B a pixel per column less).
    """
    timer = timer or Timer()
    h, w = rgb.shape[:2]
    with timer.stage("fields"):
        carrier = carrier_of(rgb)
        contours = contour_mask(carrier, opts.contour_sigma)
    zeros = np.zeros((h, w), dtype=np.float64)
    if not contours.any() or h * w < 4:
        # Blank, flat or degenerate image: nothing to gate; never call the eigensolver
        # on an operator that has no structure to find.
        none = np.zeros((h, w), dtype=bool)
        return Analysis(rgb, carrier, contours, None, zeros, zeros, zeros, zeros, zeros,
                        none, none.copy(), _empty_components((h, w)))
    graph = opts.graph()
    with timer.stage("laplacian"):
        lap = image_laplacian(carrier, **graph)
    # diagonal storage, once: the Lanczos mat-vecs, both diffusions (dither: too wide); formed
    # after an LOBPCG basis, which does not read it (not alive at the basis's memory peak)
    grid = opts.laplacian == "grid"
    diagonals = None
    if grid and opts.basis == "krylov":
        with timer.stage("fields"):
            diagonals = diagonal_storage(lap)
    basis: SpectralBasis | None = None
    if with_basis or field_kind(opts) != "heat":
        with timer.stage("basis"):
            basis = spectral_basis(
                carrier,
                method=opts.basis,
                k=opts.k,
                **graph,
                tile_size=opts.tile_size,
                tile_overlap=opts.tile_overlap,
                seed=opts.seed,
                krylov_steps=opts.krylov_steps,
                tol=opts.tol,
                laplacian=lap,
                laplacian_reform=partial(image_laplacian, carrier, **graph),
                diagonals=diagonals,
                contract="check" if basis_use(opts, cross) else "off",
                energy_only=energy_only and basis_use(opts, cross) is None,
            )
        pool_up_to_peak()  # (the stages after the basis need less memory than it did)
    with timer.stage("fields"):  # gating field, its unit gradient, and the void direction
        if grid and diagonals is None:
            diagonals = diagonal_storage(lap)
        heat_op = HeatOperator(lap, opts, diagonals)
        del lap  # (a grid's heat steps read the diagonal storage alone: not alive through them)
        f = gating_field(None, basis, (h, w), opts, operator=heat_op)
        perp_y = perp_x = void_y = void_x = zeros
        if directions:
            gy, gx = forward_gradient(f)
            ty, tx = unit_vectors(gy, gx)
            perp_y, perp_x = -tx, ty  # (-t_x, t_y) in (y, x) order, original-system.md §3.5
            heat = contour_heat(heat_op, contours, opts)
            hy, hx = forward_gradient(heat)
            void_y, void_x = unit_vectors(hy, hx)  # then negated in place: the same bits as
            np.negative(void_y, out=void_y)         # unit_vectors(-hy, -hx), two fewer arrays
            np.negative(void_x, out=void_x)
    with timer.stage("gates"):
        high, low = contour_gates(f, contours, opts.gate_gain, opts.gamma_h, opts.bias_h,
                                  opts.gamma_l, opts.bias_l)
    with timer.stage("components"):
        comps = label_components(low, connectivity=8, min_size=opts.min_component)
    return Analysis(rgb, carrier, contours, basis, f, perp_y, perp_x, void_y, void_x, high, low, comps)


def shade_arrays(
    target: Any,
    sample: Any = None,
    options: ShadeOptions | None = None,
    *,
    force_cross: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> ShadeResult:
    """Shade ``target`` (self mode) or ``target`` with ``sample`` (cross mode).

    Returns the full :class:`ShadeResult` (image, stats, placement log, analyses).
    ``force_cross`` runs the cross code path even when ``sample`` is None (the
    target is then its own sample): the self/cross parity diagnostic.  ``clock`` reads
    the seconds of ``stats["timings"]`` (wall clock by default; ``time.process_time``
    for CPU seconds).  BLAS/OpenMP run on one thread for the duration of the call
    (:func:`fastshade.threads.limit_threads`), so the bytes are the command line's whatever
    the caller's environment.
    """
    with limit_threads():
        return shade_pinned(target, sample, as_options(options), force_cross, clock)


def drawing_scale(rgb: np.ndarray, opts: ShadeOptions) -> float:
    """The numeric scale of ``opts`` for this drawing (``"auto"``: from its stroke width; the styles
    runner resolves ``"auto"`` first, with the file's DPI).
    """
    if opts.scale != "auto":
        return float(opts.scale)
    from fastshade.pipeline.paper import paper_ink_model

    return auto_scale(paper_ink_model(rgb).ink)[0]


def analyse_at_scale(rgb: np.ndarray, opts: ShadeOptions, scale: float, timer: Timer, *,
                     directions: bool = True, with_basis: bool = True, cross: bool = False,
                     energy_only: bool = False) -> Analysis:
    """:func:`analyse` at ``scale`` 1 or below (``energy_only`` as there); above, the coarse
    analysis interpolated back (:func:`fastshade.pipeline.resolution.coarse_analysis`, which reads
    the coarse basis's columns; ``with_basis=False`` skips the coarse eigensolve when the field
    does not need it, and the thicken budget's energy with it).
    """
    if scale <= 1.0:
        return analyse(rgb, opts, timer, directions=directions, with_basis=with_basis, cross=cross,
                       energy_only=energy_only)

    def coarse(small: np.ndarray, o: ShadeOptions, t: Timer, *, directions: bool, cross: bool) -> Analysis:
        return analyse(small, o, t, directions=directions, with_basis=with_basis, cross=cross)

    return coarse_analysis(rgb, opts, scale, coarse, timer, directions=directions, cross=cross)


def shade_pinned(target: Any, sample: Any, opts: ShadeOptions, force_cross: bool,
                 clock: Callable[[], float], *, lean: bool = False) -> ShadeResult:
    """One v12 pass: :func:`shade_arrays` once BLAS is pinned (``opts`` validated when made).

    Reads the v12 options only (``style``, ``passes`` and ``envelope`` are the caller's:
    :mod:`fastshade.styles`).  ``lean``: the caller reads the image and the stats only, so a
    self-mode target's basis may be the thicken budget's energy alone (:func:`analyse`'s
    ``energy_only``; the same image and stats).
    """
    timer = Timer(clock)
    t_total = clock()
    rgb_t, alpha_t = as_rgb_alpha(target, "target")
    cross = sample is not None or force_cross
    scale = drawing_scale(rgb_t, opts)
    if scale > 1.0 and (basis_use(opts, cross) or (cross and reads_sample_basis(opts))):
        reader = basis_use(opts, cross) or "the cross score"
        raise ValueError(f"--scale {scale:g} computes the basis on a coarser grid, but {reader} reads it "
                         "at full resolution: use --scale 1 with these options")
    an_t = analyse_at_scale(rgb_t, opts, scale, timer, cross=cross, energy_only=lean and not cross)
    paint = scaled_lengths(opts, scale)
    with timer.stage("thicken"):
        out, thick_mask = thicken(an_t, paint)
    log = StageLog(rgb_t)
    log.record("thicken", out)
    an_s: Analysis | None = None
    cross_info: dict[str, Any] = {}
    if cross:
        if sample is None:
            an_s = an_t
        else:
            # The sample's own analysis is timed under the same stage names with a
            # "sample_" prefix, so the target's stages and "shadow" do not overlap.
            rgb_s, _ = as_rgb_alpha(sample, "sample")
            sample_timer = Timer(clock)
            an_s = analyse_at_scale(rgb_s, opts, scale, sample_timer, directions=False,
                                    with_basis=reads_sample_basis(opts), cross=True)
            for name, sec in sample_timer.seconds.items():
                timer.seconds["sample_" + name] = sec
    with timer.stage("shadow"):
        if cross:
            placements, cross_info = shadow_cross(out, an_t, an_s, paint)
        else:
            placements = shadow_self(out, an_t, paint)
    log.record("shadow", out)
    h, w = an_t.shape
    owner = np.full(h * w, -1, dtype=np.int32)
    for idx, p in enumerate(placements):
        flat = (p.dst_y * w + p.dst_x)[p.written]
        owner[flat] = idx
    visible = [int(np.count_nonzero(owner[(p.dst_y * w + p.dst_x)[p.written]] == i))
               for i, p in enumerate(placements)]
    image = out if alpha_t is None else np.concatenate([out, alpha_t[:, :, None]], axis=2)
    timer.seconds["total"] = clock() - t_total
    stats: dict[str, Any] = {
        "mode": "cross" if cross else "self",
        "scale": scale,
        "shape": [int(h), int(w)],
        "contour_pixels": int(an_t.contours.sum()),
        "high_gate_pixels": int(an_t.high.sum()),
        "low_gate_pixels": int(an_t.low.sum()),
        "thickened_pixels": int(thick_mask.sum()),
        "skipped_shadows": (int(cross_info.get("active_components", 0)) if cross else an_t.components.n)
        - len(placements),
        "components": [int(p.source_flat.size) if not cross else int(an_t.components.sizes[p.target_component])
                       for p in placements],
        "placements": [dict(p.summary(), visible_pixels=v) for p, v in zip(placements, visible)],
        "basis": _basis_stats(an_t.basis, opts, cross),
        "timings": {k: round(v, 6) for k, v in timer.seconds.items()},
        "options": opts.to_dict(),
    }
    if cross:
        stats["cross"] = cross_info
        sample_basis = _basis_stats(an_s.basis if an_s else None, opts, cross)
        if an_s is not None and an_s.basis is None and an_s.contours.any():
            sample_basis["reason"] = ("not read by this cross configuration "
                                      "(fastshade.pipeline.cross.reads_sample_basis)")
        stats["sample_basis"] = sample_basis
    stats["warnings"] = basis_warnings(an_t.basis, an_s.basis if an_s is not None and an_s is not an_t else None,
                                       opts, cross)
    return ShadeResult(np.ascontiguousarray(image), stats, placements, an_t, an_s, owner.reshape(h, w),
                       log.stage_of, tuple(log.names))


def _basis_stats(basis: SpectralBasis | None, opts: ShadeOptions, cross: bool = False) -> dict[str, Any]:
    if basis is None:
        return {"method": "none", "reason": "no contour pixels", "requested": opts.basis}
    use = basis_use(opts, cross)
    if basis.method == "krylov":
        purpose = "the original's Krylov field: a Ritz field by design, not eigenvectors"
    elif basis.method == "lobpcg-tiled":
        purpose = "a tiled basis: per-tile eigenvectors blended, not an eigenspace of the image"
    elif use is None:
        purpose = (f"thicken budget only: not a converged eigenspace, and it need not be (tol "
                   f"{opts.tol:g}; at the default 1e-2 the thicken reach of 94-100 % of high-gate "
                   "pixels equals a tight ARPACK solve's on the shared images, docs/tolerance.md); "
                   "the subspace contract is not checked")
    else:
        purpose = f"eigenvectors, read by {use}: the subspace contract is checked"
    return {
        "method": basis.method,
        "requested": opts.basis,
        "k": basis.k,
        "field": field_kind(opts),
        "field_column": int(opts.field_column) if field_kind(opts) == "column" else None,
        "purpose": purpose,
        "values": [float(v) for v in basis.values],
        "info": basis.info,
    }


def basis_warnings(target: SpectralBasis | None, sample: SpectralBasis | None, opts: ShadeOptions,
                   cross: bool = False) -> list[str]:
    """The top-level ``stats["warnings"]`` of the spectral bases: at most one line.

    Every warning of the bases' ``info`` (an unmet subspace contract is one only where
    :func:`basis_use` reads the vectors as eigenvectors: the thicken budget's by-design loose
    tolerance is not a warning), joined into one line for the CLI's one stderr line.
    """
    unmet, other = [], []
    for label, basis in (("target", target), ("sample", sample)):
        if basis is None:
            continue
        contract = basis.info.get("contract", {})
        for text in basis.info.get("warnings", []):
            if text == contract.get("warning"):  # the unmet contract: said once, in the CLI's terms
                bound = basis.info.get("subspace_error_bound")
                detail = "none (gap not resolved)" if bound is None else f"{bound:.3g}"
                unmet.append((f"{label} " if sample is not None else "") + detail)
                tol_bound = contract.get("subspace_tol", 0.0)
            else:
                other.append(f"{label} basis: {text}" if sample is not None else f"basis: {text}")
    parts = []
    if unmet:
        parts.append(f"the spectral basis is not a converged eigenspace at --tol {opts.tol:g} "
                     f"(subspace error bound {', '.join(unmet)}; the contract needs <= {tol_bound:g}), "
                     "but it is read as "
                     f"eigenvectors by {basis_use(opts, cross)}; --tol 1e-6 meets the contract on "
                     "the shared images (docs/tolerance.md)")
    parts += other
    return ["; ".join(parts)] if parts else []


def shade(target: Any, sample: Any = None, options: ShadeOptions | None = None,
          **overrides: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply the spectral shader.

    Parameters
    ----------
    target, sample
        Images: (H,W), (H,W,2) grey+alpha, (H,W,3) or (H,W,4) arrays (uint8 and other integers in 0..255,
        uint16 at full 16-bit scale, bool, or float in [0,1]) or paths. ``sample=None``
        is self mode.
    options
        A :class:`~fastshade.ShadeOptions`; keyword ``overrides`` replace fields of it.

    Returns
    -------
    image : (H, W, 3) or (H, W, 4) float64 in [0, 1] (alpha carried through)
    stats : JSON-serialisable dict (gate sizes, components, placements, basis, timings)
    """
    opts = as_options(options)
    if overrides:
        opts = opts.replace(**overrides)
    res = shade_arrays(target, sample, opts)
    return res.image, res.stats
