"""The shader pipeline: basis -> fields -> gates -> thicken -> shadow (self or cross).

Public entry point: :func:`shade`.  Everything heavy runs in the Numba kernels
of :mod:`kernels` (via the validated wrappers in :mod:`fastshade.pipeline.graph`,
:mod:`fastshade.pipeline.components`, :mod:`fastshade.pipeline.shading`) or in the eigensolver
(:mod:`fastshade.spectral`); this module only orchestrates and records.
"""

from __future__ import annotations


import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from fastshade.pipeline.components import Components, label_components
from fastshade.pipeline.gates import carrier_of, contour_gates, contour_mask
from fastshade.pipeline.graph import (diagonal_storage, forward_gradient, heat_diffusion, image_laplacian,
                             unit_vectors)
from fastshade.pipeline.metrics import fragments
from fastshade.options import ShadeOptions
from fastshade.pipeline.shading import (
    gated_copy,
    hue_rotate,
    perpendicular_scatter,
    place_component,
    thickening_budget,
)
from fastshade.spectral import SpectralBasis, spectral_basis

ImageLike = "np.ndarray | str | Path"


class Timer:
    """Collects wall-clock seconds per named stage (``perf_counter``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


@dataclass
class Analysis:
    """Everything the shader derives from one image before painting."""

    rgb: np.ndarray  # (H, W, 3) float64
    carrier: np.ndarray  # (H, W)
    contours: np.ndarray  # (H, W) bool
    basis: SpectralBasis | None
    field: np.ndarray  # (H, W) gating field f
    perp_y: np.ndarray  # thicken direction (perpendicular of the unit gradient of f)
    perp_x: np.ndarray
    void_y: np.ndarray  # -grad(heat), unit length
    void_x: np.ndarray
    high: np.ndarray  # (H, W) bool
    low: np.ndarray  # (H, W) bool
    components: Components  # 8-connected low-gate components >= min_component

    @property
    def shape(self) -> tuple[int, int]:
        return self.carrier.shape  # type: ignore[return-value]


@dataclass
class Placement:
    """One shadow placement (the log that the diagnostics are computed from)."""

    target_component: int
    source_component: int
    source_flat: np.ndarray  # flat source pixel indices (in the source image)
    dst_flat: np.ndarray  # flat destination indices of the in-bounds pixels (target image)
    attempted: np.ndarray  # bool per source pixel: destination inside the image
    kept: np.ndarray  # bool per source pixel: passed the affinity gate (and inside)
    written: np.ndarray  # bool per source pixel: actually written (kept and ink guard)
    dst_y: np.ndarray
    dst_x: np.ndarray
    centroid: tuple[float, float]
    shift: tuple[float, float]
    score: float = float("nan")
    score_margin: float = float("nan")
    affinity: np.ndarray | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "target_component": int(self.target_component),
            "source_component": int(self.source_component),
            "source_pixels": int(self.source_flat.size),
            "attempted_pixels": int(self.attempted.sum()),
            "kept_pixels": int(self.kept.sum()),
            "written_pixels": int(self.written.sum()),
            "centroid": [float(self.centroid[0]), float(self.centroid[1])],
            "shift": [float(self.shift[0]), float(self.shift[1])],
            "score": None if not np.isfinite(self.score) else float(self.score),
            "score_margin": None if not np.isfinite(self.score_margin) else float(self.score_margin),
        }


@dataclass
class ShadeResult:
    """Full result of :func:`shade_arrays`: image, JSON stats and the placement log."""

    image: np.ndarray
    stats: dict[str, Any]
    placements: list[Placement] = field(default_factory=list)
    target: Analysis | None = None
    sample: Analysis | None = None
    owner: np.ndarray | None = None  # (H, W) int32: index of the last placement that wrote a pixel, -1 none


# ----------------------------------------------------------------------------------------
# analysis
# ----------------------------------------------------------------------------------------


def _empty_components(shape: tuple[int, int]) -> Components:
    return label_components(np.zeros(shape, dtype=bool), connectivity=8, min_size=1)


def field_kind(opts: ShadeOptions) -> str:
    """Resolve ``field="auto"``: the heat random field for lobpcg, a basis column for krylov."""
    if opts.field != "auto":
        return opts.field
    return "heat" if opts.basis == "lobpcg" else "column"


def stable_heat_schedule(lap: Any, alpha: float, steps: int) -> tuple[float, int]:
    """Explicit heat steps ``(I - a L)^T`` that stay stable on any graph.

    Keeps the diffusion time ``alpha * steps`` and lowers the step to
    ``a = min(alpha, 1 / (2 max degree))`` (so ``a * lambda_max <= 1``). On the default
    4-connected grid (max degree <= 4) this is exactly ``(alpha, steps)``; on 8-connected or
    multi-radius ("dither") graphs ``alpha = 0.1`` would oscillate or diverge.
    """
    max_degree = float(lap.diagonal().max()) if lap.shape[0] else 0.0
    if max_degree <= 0 or alpha <= 1.0 / (2.0 * max_degree):
        return alpha, steps
    a = 1.0 / (2.0 * max_degree)
    return a, max(1, int(round(alpha * steps / a)))


def heat_random_field(lap: Any, shape: tuple[int, int], smoothing: float, seed: int,
                      diagonals: tuple | None = None) -> np.ndarray:
    """Seeded heat random field ``f = (I - a L)^T xi`` with ``a*T = smoothing``, mean removed.

    ``xi`` ~ N(0, 1) from ``numpy.random.default_rng(seed)``; ``a = min(0.1, 1/(2 max deg))``
    keeps the explicit scheme stable (``a * lambda_max <= 1``). Spectrally this is
    ``sum_j (1 - a lambda_j)^T xi_j phi_j`` over the complete eigenbasis: a seeded,
    band-limited random field that follows the graph (docs/gating-field.md).
    ``diagonals``: ``fastshade.pipeline.graph.diagonal_storage(lap)`` if the caller has it.
    """
    n = shape[0] * shape[1]
    alpha, steps = stable_heat_schedule(lap, 0.1, max(1, int(round(smoothing / 0.1))))
    xi = np.random.default_rng(seed).standard_normal(n)
    f = heat_diffusion(lap, xi, alpha=alpha, steps=steps, diagonals=diagonals)
    f -= f.mean()
    return np.ascontiguousarray(f.reshape(shape))


def gating_field(lap: Any, basis: SpectralBasis | None, shape: tuple[int, int], opts: ShadeOptions,
                 diagonals: tuple | None = None) -> np.ndarray:
    """The gating field f ((H, W) float64) selected by ``opts.field`` (see :func:`field_kind`)."""
    if field_kind(opts) == "heat":
        return heat_random_field(lap, shape, opts.field_smoothing, opts.seed, diagonals)
    col = min(opts.field_column, basis.vectors.shape[1] - 1)
    return np.ascontiguousarray(basis.vectors[:, col].reshape(shape))


def analyse(rgb: np.ndarray, opts: ShadeOptions, timer: Timer | None = None, *,
            directions: bool = True, with_basis: bool = True) -> Analysis:
    """Basis, fields, gates and low-gate components of one image ((H,W,3) float64 in [0,1]).

    For a cross-mode sample (only its field, gates, components and, for some
    configurations, basis are read): ``directions=False`` skips the thicken and void
    directions and the void diffusion (``perp_*`` and ``void_*`` are then zero);
    ``with_basis=False`` skips the eigensolve when the gating field does not need it
    (``Analysis.basis`` is then None; see :func:`fastshade.pipeline.cross.reads_sample_basis`).
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
    graph = dict(connectivity=opts.connectivity, kind=opts.laplacian, tau=opts.tau,
                 weight_floor=opts.weight_floor)
    with timer.stage("laplacian"):
        lap = image_laplacian(carrier, **graph)
    with timer.stage("fields"):  # diagonal storage, once: the Lanczos mat-vecs, both diffusions
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
                diagonals=diagonals,
            )
    with timer.stage("fields"):  # gating field, its unit gradient, and the void direction
        f = gating_field(lap, basis, (h, w), opts, diagonals)
        perp_y = perp_x = void_y = void_x = zeros
        if directions:
            gy, gx = forward_gradient(f)
            ty, tx = unit_vectors(gy, gx)
            perp_y, perp_x = -tx, ty  # (-t_x, t_y) in (y, x) order, original-system.md §3.5
            alpha, steps = stable_heat_schedule(lap, opts.heat_alpha, opts.heat_steps)
            heat = heat_diffusion(lap, contours.ravel().astype(np.float64),
                                  alpha=alpha, steps=steps, diagonals=diagonals).reshape(h, w)
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


# ----------------------------------------------------------------------------------------
# painting
# ----------------------------------------------------------------------------------------


def thicken(an: Analysis, opts: ShadeOptions) -> tuple[np.ndarray, np.ndarray]:
    """Perpendicular scatter of the high-gate pixels; returns (image, written mask)."""
    h, w = an.shape
    sources = np.flatnonzero(an.high.ravel())
    if an.basis is None or sources.size == 0 or opts.thick_radius == 0:
        return an.rgb.copy(), np.zeros((h, w), dtype=bool)
    budget = thickening_budget(an.basis.vectors, opts.thick_radius, opts.budget_attenuation).reshape(h, w)
    return perpendicular_scatter(an.rgb, sources, an.perp_y, an.perp_x, budget,
                                 an.contours, opts.thick_radius)


def component_shift(an: Analysis, centroid: tuple[float, float], distance: float) -> tuple[float, float]:
    """``distance`` times the void direction at the (truncated, clipped) centroid."""
    h, w = an.shape
    iy = min(max(int(centroid[0]), 0), h - 1)
    ix = min(max(int(centroid[1]), 0), w - 1)
    return float(distance * an.void_y[iy, ix]), float(distance * an.void_x[iy, ix])


FREE_PUSHES: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
"""``shadow_placement="free"``: push distances tried, in units of ``shadow_distance``."""

FREE_FRACTION = 0.98
"""``shadow_placement="free"``: share of a copy's pixels that must land free."""

PUSH_DIRECTIONS = {"free": 2, "fit": 2, "fit-dirs": 4, "fit-diag": 8, "fit-whole": 8}
"""How many of :func:`_push_directions` each searching placement tries; every one but
``free`` drops a shadow with no free spot instead of painting its best try."""

WHOLE_FRACTION = 0.9
"""``shadow_placement="fit-whole"``: a copy with no free spot is still drawn at its best
push when >= this share of it lands free, in one 8-connected piece."""


def free_paper(an: Analysis, opts: ShadeOptions) -> np.ndarray:
    """Where a shadow may land whole: bool (H*W,), paper (``carrier > ink_guard``); the
    shadow passes clear the pixels they write (:func:`shadow_destination`)."""
    return an.carrier.ravel() > opts.ink_guard


def _push_directions(an: Analysis, dst_centroid: tuple[float, float],
                     count: int) -> list[tuple[float, float]]:
    """The first ``count`` unit directions of: the void direction ``v`` at ``dst_centroid``,
    ``-v``, the perpendiculars ``(v_x, -v_y)``, ``(-v_x, v_y)``, the four diagonals
    ``(±v ± v_perp)/sqrt 2``."""
    vy, vx = component_shift(an, dst_centroid, 1.0)
    r = 0.5 ** 0.5
    dirs = [(vy, vx), (-vy, -vx), (vx, -vy), (-vx, vy)]
    dirs += [(r * (a * vy + b * vx), r * (a * vx - b * vy))
             for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
    return dirs[:count]


def shadow_destination(an: Analysis, src_y: np.ndarray, src_x: np.ndarray,
                       src_centroid: tuple[float, float], dst_centroid: tuple[float, float],
                       opts: ShadeOptions, free: np.ndarray
                       ) -> tuple[tuple[float, float], np.ndarray, np.ndarray, np.ndarray] | None:
    """Where a shadow copy goes: ``(shift, dst_y, dst_x, inside)``, or None (skip it).

    The copy of the pixels ``(src_y, src_x)`` is rotated 90° about ``src_centroid`` and
    moved to ``dst_centroid + shift`` (:func:`~fastshade.pipeline.shading.place_component`).
    ``shadow_placement="fixed"``: ``shift`` = ``shadow_distance`` along the void direction at
    ``dst_centroid``.  ``"free"``: the first of :data:`FREE_PUSHES` along the void
    direction, then against it, whose copy has >= :data:`FREE_FRACTION` of its pixels
    inside and ``free`` (bool (H*W,): :func:`free_paper` minus the pixels earlier shadows
    wrote); the one with the most such pixels when none qualifies (first wins ties).
    ``"fit"``: as ``free`` but None when none qualifies; ``"fit-dirs"`` / ``"fit-diag"``
    also try the perpendicular (and diagonal) directions (:func:`_push_directions`);
    ``"fit-whole"``: as ``"fit-diag"`` but the best push is still taken when >=
    :data:`WHOLE_FRACTION` of the copy lands free in one 8-connected piece.
    Deterministic; self and cross share it.
    """
    h, w = an.shape
    if opts.shadow_placement == "fixed":
        shift = component_shift(an, dst_centroid, opts.shadow_distance)
        dy, dx, inside = place_component(src_y, src_x, src_centroid, dst_centroid, (h, w),
                                         quarter_turns=1, shift=shift)
        return shift, dy, dx, inside
    d = opts.shadow_distance
    directions = _push_directions(an, dst_centroid, PUSH_DIRECTIONS[opts.shadow_placement])
    best, best_landed, best_n = None, np.zeros(0, dtype=bool), -1
    for uy, ux in directions:
        for f in FREE_PUSHES:
            shift = (f * d * uy, f * d * ux)
            dy, dx, inside = place_component(src_y, src_x, src_centroid, dst_centroid, (h, w),
                                             quarter_turns=1, shift=shift)
            landed = inside & free[np.where(inside, dy * w + dx, 0)]
            n_landed = int(np.count_nonzero(landed))
            if n_landed >= FREE_FRACTION * src_y.size:
                return shift, dy, dx, inside
            if n_landed > best_n:  # the first wins ties
                best, best_landed, best_n = (shift, dy, dx, inside), landed, n_landed
    if opts.shadow_placement == "free":
        return best
    if (opts.shadow_placement == "fit-whole" and best is not None
            and best_n >= WHOLE_FRACTION * src_y.size
            and fragments(best[1][best_landed], best[2][best_landed]) == 1):
        return best
    return None


def shadow_self(out: np.ndarray, an: Analysis, opts: ShadeOptions) -> list[Placement]:
    """v6-style shadow: each low-gate component, rotated 90° about its centroid,
    pushed along the void direction (:func:`shadow_destination`), hue-rotated, painted
    only on paper."""
    h, w = an.shape
    comps = an.components
    placements: list[Placement] = []
    free = free_paper(an, opts)
    for i in range(comps.n):
        src = comps.pixels_of(i)
        sy, sx = np.divmod(src, w)
        cy, cx = float(comps.centroids[i, 0]), float(comps.centroids[i, 1])
        colours = hue_rotate(out.reshape(-1, 3)[src], opts.hue_angle)
        dest = shadow_destination(an, sy, sx, (cy, cx), (cy, cx), opts, free)
        if dest is None:
            continue
        shift, dy, dx, inside = dest
        written = gated_copy(out, colours, dy, dx, inside, an.carrier, opts.ink_guard)
        free[(dy * w + dx)[written]] = False
        placements.append(Placement(
            target_component=i, source_component=i, source_flat=src,
            dst_flat=(dy * w + dx)[inside], attempted=inside, kept=inside.copy(), written=written,
            dst_y=dy, dst_x=dx, centroid=(cy, cx), shift=shift,
        ))
    return placements


# ----------------------------------------------------------------------------------------
# entry points
# ----------------------------------------------------------------------------------------


def _as_rgb_alpha(image: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Normalise an image argument to ((H,W,3) float64 in [0,1], alpha or None)."""
    if isinstance(image, (str, Path)):
        from fastshade.io import read_image

        loaded = read_image(image)
        return loaded.rgb, loaded.alpha
    arr = np.asarray(image)
    if arr.dtype == bool:
        arr = arr.astype(np.float64)
    elif arr.dtype == np.uint16:  # 16-bit: always full scale, like a 16-bit file
        arr = arr.astype(np.float64) / 65535.0
    elif np.issubdtype(arr.dtype, np.integer):  # uint8, or plain ints (lists) in 0..255
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"{name}: integer image values must lie in [0, 255] "
                             f"(use uint16 for 16-bit data), got dtype {arr.dtype}")
        arr = arr.astype(np.float64) / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    else:
        raise ValueError(f"{name}: unsupported dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"{name}: expected an (H, W), (H, W, 2) grey+alpha, (H, W, 3) or (H, W, 4) image, "
                         f"got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: empty image of shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: image contains NaN or inf")
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise ValueError(f"{name}: float image values must lie in [0, 1]")
    alpha = None
    if arr.shape[2] in (2, 4):
        alpha = np.ascontiguousarray(arr[:, :, -1])
        arr = arr[:, :, :-1]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr), alpha


def as_options(options: ShadeOptions | dict[str, Any] | None) -> ShadeOptions:
    """``options`` as :class:`ShadeOptions`: None gives the defaults, a dict its fields."""
    if options is None:
        return ShadeOptions()
    if isinstance(options, ShadeOptions):
        return options
    if isinstance(options, dict):
        return ShadeOptions().replace(**options)
    raise ValueError(f"options must be a ShadeOptions or a dict, got {type(options).__name__}")


def shade_arrays(
    target: Any,
    sample: Any = None,
    options: ShadeOptions | None = None,
    *,
    force_cross: bool = False,
) -> ShadeResult:
    """Shade ``target`` (self mode) or ``target`` with ``sample`` (cross mode).

    Returns the full :class:`ShadeResult` (image, stats, placement log, analyses).
    ``force_cross`` runs the cross code path even when ``sample`` is None (the
    target is then its own sample): the self/cross parity diagnostic.
    """
    opts = as_options(options)  # validated when made
    timer = Timer()
    t_total = time.perf_counter()
    rgb_t, alpha_t = _as_rgb_alpha(target, "target")
    cross = sample is not None or force_cross
    an_t = analyse(rgb_t, opts, timer)
    with timer.stage("thicken"):
        out, thick_mask = thicken(an_t, opts)
    an_s: Analysis | None = None
    cross_info: dict[str, Any] = {}
    if cross:
        from fastshade.pipeline.cross import reads_sample_basis, shadow_cross

        if sample is None:
            an_s = an_t
        else:
            # The sample's own analysis is timed under the same stage names with a
            # "sample_" prefix, so the target's stages and "shadow" do not overlap.
            rgb_s, _ = _as_rgb_alpha(sample, "sample")
            sample_timer = Timer()
            an_s = analyse(rgb_s, opts, sample_timer, directions=False,
                           with_basis=reads_sample_basis(opts))
            for name, sec in sample_timer.seconds.items():
                timer.seconds["sample_" + name] = sec
    with timer.stage("shadow"):
        if cross:
            placements, cross_info = shadow_cross(out, an_t, an_s, opts)
        else:
            placements = shadow_self(out, an_t, opts)
    h, w = an_t.shape
    owner = np.full(h * w, -1, dtype=np.int32)
    for idx, p in enumerate(placements):
        flat = (p.dst_y * w + p.dst_x)[p.written]
        owner[flat] = idx
    visible = [int(np.count_nonzero(owner[(p.dst_y * w + p.dst_x)[p.written]] == i))
               for i, p in enumerate(placements)]
    image = out if alpha_t is None else np.concatenate([out, alpha_t[:, :, None]], axis=2)
    timer.seconds["total"] = time.perf_counter() - t_total
    stats: dict[str, Any] = {
        "mode": "cross" if cross else "self",
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
        "basis": _basis_stats(an_t.basis, opts),
        "timings": {k: round(v, 6) for k, v in timer.seconds.items()},
        "options": opts.to_dict(),
    }
    if cross:
        stats["cross"] = cross_info
        sample_basis = _basis_stats(an_s.basis if an_s else None, opts)
        if an_s is not None and an_s.basis is None and an_s.contours.any():
            sample_basis["reason"] = ("not read by this cross configuration "
                                      "(fastshade.pipeline.cross.reads_sample_basis)")
        stats["sample_basis"] = sample_basis
    return ShadeResult(np.ascontiguousarray(image), stats, placements, an_t, an_s, owner.reshape(h, w))


def _basis_stats(basis: SpectralBasis | None, opts: ShadeOptions) -> dict[str, Any]:
    if basis is None:
        return {"method": "none", "reason": "no contour pixels", "requested": opts.basis}
    return {
        "method": basis.method,
        "requested": opts.basis,
        "k": int(basis.vectors.shape[1]),
        "field": field_kind(opts),
        "field_column": int(opts.field_column) if field_kind(opts) == "column" else None,
        "values": [float(v) for v in basis.values],
        "info": basis.info,
    }


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
