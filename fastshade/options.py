"""All shader options in one frozen dataclass (defaults = the handoff's v12)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from fastshade.checks import check_integer, check_real, check_scale

Basis = Literal["lobpcg", "krylov"]
CrossStrategy = Literal["unified", "recolor", "warp", "gate-only"]
CrossScore = Literal["dot", "cosine", "signature"]
CROSS_STRATEGIES: tuple[str, ...] = typing.get_args(CrossStrategy)
CROSS_SCORES: tuple[str, ...] = typing.get_args(CrossScore)
ShadowPlacement = Literal["fixed", "free", "fit", "fit-dirs", "fit-diag", "fit-whole"]
SHADOW_PLACEMENTS: tuple[str, ...] = typing.get_args(ShadowPlacement)
StyleName = Literal["brush", "v12", "v6", "final"]
STYLE_NAMES: tuple[str, ...] = typing.get_args(StyleName)
"""The named styles (one module each in :mod:`fastshade.styles`, which checks that the two lists agree)."""
DEFAULT_STYLE = "brush"
Envelope = Literal["auto", "adsr", "decay", "flat"]
PaletteName = Literal["dusk", "ember", "complement"]
PALETTE_NAMES: tuple[str, ...] = typing.get_args(PaletteName)
"""The mark palettes of the styles that derive their colours from the drawing (:mod:`fastshade.pipeline.palette`)."""
ENVELOPES: tuple[str, ...] = typing.get_args(Envelope)
MIN_SCALE, MAX_SCALE = 0.25, 64.0
"""Range of a numeric ``scale``."""
MAX_PASSES = 64
"""Largest ``passes`` (each pass is one full shade of the previous pass's output)."""
STYLE_CONTROLS = frozenset({"style", "passes", "envelope", "explicit"})
"""Fields that choose the style and its passes: never a style's default, never in ``explicit``."""


def affinity_threshold_mode(spec: str) -> tuple[str, float]:
    """Parse ``mean | none | calibrated | quantile:Q`` into ``(mode, Q)`` (Q = nan unless
    quantile); one-line ``ValueError`` otherwise or for ``Q`` outside ``[0, 1]``.
    """
    if not isinstance(spec, str):
        raise ValueError(f"affinity_threshold must be a string, got {spec!r}")
    if spec in ("mean", "none", "calibrated"):
        return spec, float("nan")
    if spec.startswith("quantile:"):
        try:
            q = float(spec.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"affinity_threshold quantile must be a number, got {spec!r}") from None
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"affinity_threshold quantile must be in [0, 1], got {q}")
        return "quantile", q
    raise ValueError(f"affinity_threshold must be mean, none, calibrated or quantile:Q, got {spec!r}")


OUTPUT_VERSION = 5
"""Version of what the pipeline computes from given options.  Bumped whenever the same input
and options give different output bytes (2: the default pixel-level solve became SciPy's
float32 ``lobpcg``; 3: fastshade's block LOBPCG is the only solver again, same bytes at the
default options, a few pixels differ with ``--tile-size`` or ``--field column`` at loose
``--tol``; 4: the thicken budget is normalised over the high-gate sources as the original's,
the dither fields come from a Chebyshev series; 5: named styles and passes, the style's
name and pass schedule are options, and the dither basis comes from the guided AMG hierarchy,
grid outputs unchanged).  Part of ``fastshade run``'s params, so
``--resume`` redoes outputs that an earlier build made."""

MAX_K = 256
"""Largest basis size ``k`` (the shader reads 8; more only costs memory and time)."""
MAX_STEPS = 100_000
"""Largest ``krylov_steps`` / ``heat_steps``."""
MAX_SMOOTHING = 10_000.0
"""Largest ``field_smoothing`` (``alpha*T``: 100 000 heat steps at alpha 0.1)."""
MAX_RADIUS = 64
"""Largest ``thick_radius`` (the scatter loops over +-R for every high-gate pixel)."""
MAX_DISTANCE = 1e6
"""Largest ``shadow_distance`` in pixels."""


@dataclass(frozen=True)
class ShadeOptions:
    """Every knob of :func:`fastshade.shade`.

    Defaults follow ``original-system.md`` §3.1 (v12) except where the README
    documents a measured departure (the gating field, the cross path).
    """

    # --- style and passes -----------------------------------------------------------
    style: StyleName = DEFAULT_STYLE
    """The look: a named set of defaults and stage choices (:mod:`fastshade.styles`; ``v12`` is
    the handoff's v12 pass, byte for byte).  A style's defaults apply to every field that was not
    given explicitly (see ``explicit``)."""
    passes: int = 1
    """Number of passes; each pass shades the previous pass's output, as the originals do."""
    envelope: Envelope = "auto"
    """Per-pass effect schedule: ``adsr`` (the final pipeline's table), ``decay`` (x0.75 per pass),
    ``flat``; ``auto`` = the style's own."""
    scale: float | str = 1.0
    """The drawing's resolution relative to the drawings the looks were tuned on (about 512 px,
    strokes 1-3.5 px): lengths grow by ``scale``, areas by ``scale²``, and the smooth fields and the
    basis are computed on a grid ``scale`` times coarser (:mod:`fastshade.pipeline.resolution`).
    ``"auto"``: from the input's DPI or its measured stroke width.  1 keeps v12's pixels."""
    explicit: tuple[str, ...] | None = dataclasses.field(default=None, compare=False, repr=False)
    """Names of the fields set explicitly, which the style's defaults never replace.  None (the
    default) means: every field that differs from the v12 default.  :meth:`replace` adds the names
    it is given (so ``ShadeOptions(style="v6").replace(shadow_distance=15.0)`` keeps 15 px even
    where v6 would push further).  Not part of :meth:`to_dict` or :meth:`digest`."""

    # --- graph and spectral basis -------------------------------------------------
    basis: Basis = "lobpcg"
    """``lobpcg`` (exact eigenvectors, PyAMG-preconditioned LOBPCG) or ``krylov``
    (the original's 50-step Lanczos field)."""
    k: int = 8
    """Number of non-trivial basis vectors."""
    tol: float = 1e-2
    """Residual tolerance ``||L v - λ v||`` of the ``lobpcg`` eigensolve; the shader's solve stops
    there (it does not enforce the library's subspace contract).  1e-2 is enough for what the
    default pipeline reads, the thicken budget (the reach of 94-100 % of high-gate pixels equals
    a tight ARPACK solve's on the shared images; 1e-3 gives >= 99 % at 1.3-2.5x the basis time),
    but the basis is then not a converged eigenspace, and ``stats["basis"]`` says so
    (``purpose``; ``info["converged"]`` False).  Where the vectors are read as eigenvectors
    (``field="column"``, cross ``dot``/``cosine`` scores, affinity gates) the contract is
    checked and an unmet one is a warning: tighten ``tol`` to 1e-6 there, where it holds on every
    shared image (docs/tolerance.md; 1e-8 for column gates that equal ARPACK's, README "The
    gating field")."""
    connectivity: int = 4
    """Pixel-graph connectivity of the Laplacian: 4 or 8."""
    laplacian: Literal["grid", "dither"] = "grid"
    """``grid`` (4/8-neighbour) or the multi-radius ``dither`` operator."""
    tau: float = 0.1
    """Edge weight ``exp(-|dc|/tau)``."""
    weight_floor: float = 0.0
    """Lower bound on every edge weight (0 = none)."""
    field: Literal["auto", "heat", "column"] = "auto"
    """The gating field f.  ``heat``: seeded heat random field ``(I - aL)^T xi`` on the
    image's own Laplacian (a*T = ``field_smoothing``); ``column``: basis column
    ``field_column``; ``auto``: ``heat`` for ``basis=lobpcg``, ``column`` for ``krylov``
    (see README, "The gating field", and docs/gating-field.md for the measurements)."""
    field_smoothing: float = 15.0
    """Heat-field smoothing ``alpha*T`` (alpha = min(0.1, 1/(2 max degree)))."""
    field_column: int = 1
    """Which basis column is the gating field f when ``field=column`` (v12 uses column 1)."""
    seed: int = 42
    """Seed of every pseudo-random draw: the heat field's noise (the default gating field),
    the Krylov start vector, LOBPCG start/padding columns, tile signs."""
    tile_size: int = 0
    """``lobpcg`` only: tile edge in px for the tiled basis, 0 = global solve."""
    tile_overlap: int = 16
    krylov_steps: int = 50

    # --- fields and gates ---------------------------------------------------------
    contour_sigma: float = 0.5
    heat_alpha: float = 0.1
    heat_steps: int = 30
    gate_gain: float = 10.0
    gamma_h: float = 1.3
    bias_h: float = -0.15
    gamma_l: float = 1.5
    bias_l: float = -0.08

    # --- thicken ------------------------------------------------------------------
    thick_radius: int = 3
    budget_attenuation: float = 0.7

    # --- shadow -------------------------------------------------------------------
    min_component: int = 10
    shadow_distance: float = 15.0
    hue_angle: float = 1.0
    palette: PaletteName = "dusk"
    """Colours of the shadow marks of the ``brush`` style, derived from the drawing's ink and paper:
    ``dusk`` blue-violet, ``ember`` terracotta, ``complement`` the hue opposite the ink's (v12
    ignores it: its shadows are hue-rotated copies)."""
    shadow_placement: ShadowPlacement = "fit-whole"
    """``fixed``: the original's push of ``shadow_distance`` along the void direction (§3.8).
    ``free``: the first push, of the distances ``shadow_distance`` x (1, 1.5, 2, 2.5, 3, 4)
    along the void direction and then against it, whose copy lands >= 98 % inside the
    image, on paper and on no earlier shadow; the best of them when none does.  On sparse
    line art the first push is usually free (toof: 14 of 17 shadows); on dense art ``free`` keeps shadows
    whole instead of clipping them on ink (docs/cross-attention.md, "The ink guard").
    ``fit``: as ``free``, but a shadow with no such push is not drawn (skipped).
    ``fit-dirs``: as ``fit``, also trying the two perpendiculars of the void direction;
    ``fit-diag``: also the four diagonals.  ``fit-whole``: as ``fit-diag``, but a shadow
    with no such push is still drawn at its best push when >= 90 % of it lands free in one
    8-connected piece.  Skipped shadows are no placements (``stats["skipped_shadows"]``)."""
    ink_guard: float = 0.3

    # --- cross mode ---------------------------------------------------------------
    # Defaults = the winner of docs/cross-attention.md (unified placement, 4-D segment
    # signature, no affinity gate, sample resized to the target's extent).  The handoff's
    # baseline is cross_strategy="unified", score="dot", affinity_threshold="mean",
    # procrustes=True, scale_normalise=False.
    cross_strategy: CrossStrategy = "unified"
    affinity_threshold: str = "none"
    procrustes: bool = True
    procrustes_samples: int = 1000
    scale_normalise: bool = True
    score: CrossScore = "signature"

    def __post_init__(self) -> None:
        # validated when made; NumPy scalars stored as Python numbers (JSON, digest)
        for name, value in _checked_numbers(self).items():
            object.__setattr__(self, name, value)
        if self.explicit is None:
            given = {f.name for f in dataclasses.fields(self) if getattr(self, f.name) != f.default}
        else:
            given = set(self.explicit)
            unknown = given - {f.name for f in dataclasses.fields(self)}
            if unknown:
                raise ValueError(f"explicit names unknown option(s): {', '.join(sorted(unknown))}")
        object.__setattr__(self, "explicit", tuple(sorted(given - STYLE_CONTROLS)))

    def replace(self, **changes: Any) -> ShadeOptions:
        """Return a copy with ``changes`` applied (validated when made; an unknown name is a
        one-line ``ValueError``).
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(unknown)}")
        explicit = tuple(sorted((set(self.explicit or ()) | set(changes)) - STYLE_CONTROLS))
        return dataclasses.replace(self, **{"explicit": explicit, **changes})

    def graph(self) -> dict[str, Any]:
        """The pixel graph's keyword arguments (``connectivity``, ``kind``, ``tau``,
        ``weight_floor``) of ``image_laplacian`` and ``spectral_basis``.
        """
        return dict(connectivity=self.connectivity, kind=self.laplacian, tau=self.tau,
                    weight_floor=self.weight_floor)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of every option (``explicit`` left out)."""
        out = dataclasses.asdict(self)
        del out["explicit"]
        return out

    def digest(self) -> str:
        """Short stable hash of the options (used in manifests and caches)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _checked_numbers(opts: ShadeOptions) -> dict[str, Any]:
    """Check every field (one-line ``ValueError``); return the numeric ones as plain Python
    ``int``/``float`` (NumPy scalars in, JSON-serialisable values out).
    """
    out: dict[str, Any] = {}

    def integer(name: str, lo: int | None = None, hi: int | None = None, **kw: Any) -> int:
        out[name] = check_integer(name, getattr(opts, name), lo, hi, **kw)
        return out[name]

    def real(name: str, lo: float | None = None, hi: float | None = None, **kw: Any) -> float:
        out[name] = check_real(name, getattr(opts, name), lo, hi, **kw)
        return out[name]

    if opts.style not in STYLE_NAMES:
        raise ValueError(f"style must be one of {', '.join(STYLE_NAMES)}, got {opts.style!r}")
    integer("passes", 1, MAX_PASSES)
    if opts.envelope not in ENVELOPES:
        raise ValueError(f"envelope must be one of {', '.join(ENVELOPES)}, got {opts.envelope!r}")
    if opts.explicit is not None and (not isinstance(opts.explicit, (tuple, list, set, frozenset)) or not all(
            isinstance(n, str) for n in opts.explicit)):
        raise ValueError(f"explicit must be a tuple of option names, got {opts.explicit!r}")
    if opts.scale != "auto":
        real("scale", MIN_SCALE, MAX_SCALE)
    if opts.basis not in ("lobpcg", "krylov"):
        raise ValueError(f"basis must be 'lobpcg' or 'krylov', got {opts.basis!r}")
    integer("connectivity", allowed=(4, 8))
    if opts.laplacian not in ("grid", "dither"):
        raise ValueError(f"laplacian must be 'grid' or 'dither', got {opts.laplacian!r}")
    out["tau"] = check_scale("tau", opts.tau)
    real("weight_floor", 0.0, 1.0)
    k = integer("k", 1, MAX_K)
    real("tol", 0.0)
    if opts.field not in ("auto", "heat", "column"):
        raise ValueError(f"field must be auto, heat or column, got {opts.field!r}")
    real("field_smoothing", 0.0, MAX_SMOOTHING, lo_open=True)
    integer("field_column", 0, k - 1)
    integer("seed", 0, 2**63 - 1)
    tile_size = integer("tile_size", 0)
    if 0 < tile_size < 8:
        raise ValueError(f"tile_size must be 0 (global) or >= 8, got {tile_size}")
    if tile_size:
        integer("tile_overlap", 0, tile_size - 1)
    else:
        integer("tile_overlap", 0)
    integer("krylov_steps", 0, MAX_STEPS)
    real("contour_sigma", 0.0)
    real("heat_alpha", 0.0, lo_open=True)
    integer("heat_steps", 0, MAX_STEPS)
    for name in ("gate_gain", "gamma_h", "bias_h", "gamma_l", "bias_l", "hue_angle"):
        real(name)
    integer("thick_radius", 0, MAX_RADIUS)
    real("budget_attenuation", 0.0, 1.0)
    integer("min_component", 1)
    real("shadow_distance", 0.0, MAX_DISTANCE)
    real("ink_guard", 0.0, 1.0)
    if opts.palette not in PALETTE_NAMES:
        raise ValueError(f"palette must be one of {', '.join(PALETTE_NAMES)}, got {opts.palette!r}")
    if opts.cross_strategy not in CROSS_STRATEGIES:
        raise ValueError(f"cross_strategy must be one of {', '.join(CROSS_STRATEGIES)}, got {opts.cross_strategy!r}")
    if opts.score not in CROSS_SCORES:
        raise ValueError(f"score must be one of {', '.join(CROSS_SCORES)}, got {opts.score!r}")
    if opts.shadow_placement not in SHADOW_PLACEMENTS:
        raise ValueError(f"shadow_placement must be one of {', '.join(SHADOW_PLACEMENTS)}, "
                         f"got {opts.shadow_placement!r}")
    for name in ("procrustes", "scale_normalise"):
        flag = getattr(opts, name)
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
        out[name] = bool(flag)
    integer("procrustes_samples", 1)
    affinity_threshold_mode(opts.affinity_threshold)
    return out


def validate_options(opts: ShadeOptions) -> ShadeOptions:
    """Check types, ranges and enums; raise ``ValueError`` with one clear line.

    Integers must be integers (not ``bool`` or ``str``), reals finite; sizes that set the
    amount of work (``k``, steps, radii, smoothing) have upper bounds so that a typo fails
    at once instead of exhausting memory or running for days.  Every ``ShadeOptions`` is
    validated when it is made (``__post_init__``), so this is a no-op check for them.
    """
    _checked_numbers(opts)
    return opts


def as_options(options: ShadeOptions | dict[str, Any] | None) -> ShadeOptions:
    """``options`` as :class:`ShadeOptions`: None gives the defaults, a dict its fields."""
    if options is None:
        return ShadeOptions()
    if isinstance(options, ShadeOptions):
        return options
    if isinstance(options, dict):
        return ShadeOptions().replace(**options)
    raise ValueError(f"options must be a ShadeOptions or a dict, got {type(options).__name__}")
