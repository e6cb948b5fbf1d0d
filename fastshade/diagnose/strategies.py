"""The cross configurations diagnose compares: the preset ladder, strategy specs, the option grid, labels."""

from __future__ import annotations

import itertools
from typing import Any

from fastshade.options import ShadeOptions
from fastshade.pipeline.cross import SCORES, STRATEGIES

__all__ = ["BASELINE", "CROSS_FIELDS", "GRID_AFFINITY", "PRESETS", "config_label", "grid_strategies",
           "parse_strategy", "preset_strategies"]

CROSS_FIELDS = ("cross_strategy", "score", "affinity_threshold", "procrustes", "scale_normalise")
"""The ShadeOptions fields a strategy spec sets."""

BASELINE: dict[str, Any] = {"cross_strategy": "unified", "score": "dot", "affinity_threshold": "mean",
                            "procrustes": True, "scale_normalise": False}
"""The handoff's v12 "unified placement" (fastshade/pipeline/cross.py docstring)."""

PRESETS: list[tuple[str, dict[str, Any]]] = [
    ("baseline", {}),
    ("H5 cosine", {"score": "cosine"}),
    ("H5 signature", {"score": "signature"}),
    ("H1 gate none", {"affinity_threshold": "none"}),
    ("D gate calibrated", {"affinity_threshold": "calibrated"}),
    ("self geom + gate", {"cross_strategy": "recolor", "score": "signature"}),
    ("H3 Procrustes off", {"procrustes": False}),
    ("H4 scale-normalise", {"scale_normalise": True}),
    ("unified+fixes", {"score": "signature", "affinity_threshold": "none", "scale_normalise": True}),
    ("A recolor", {"cross_strategy": "recolor", "score": "signature", "affinity_threshold": "none"}),
    ("B warp", {"cross_strategy": "warp", "score": "signature", "affinity_threshold": "none"}),
    ("C gate-only", {"cross_strategy": "gate-only", "score": "signature", "affinity_threshold": "none"}),
]
"""The default ladder: the baseline, one hypothesis toggled at a time, then the fixes.

Each entry overrides :data:`BASELINE`.  "self geom + gate" copies the target's own
components (recolor, matched by signature) through the baseline's ``mean`` affinity
gate: self-mode geometry with the cross path's gate, the control for H1."""

GRID_AFFINITY = ("mean", "none", "calibrated", "quantile:0.25")
"""The affinity gates of :func:`grid_strategies`."""


_KEY_ALIASES = {"strategy": "cross_strategy", "cross-strategy": "cross_strategy", "score": "score",
                "affinity": "affinity_threshold", "affinity-threshold": "affinity_threshold",
                "affinity_threshold": "affinity_threshold", "procrustes": "procrustes",
                "scale": "scale_normalise", "scale-normalise": "scale_normalise",
                "scale_normalise": "scale_normalise"}
"""Spec key -> ShadeOptions field."""


def config_label(opts: ShadeOptions) -> str:
    """Compact name of the five cross toggles, e.g. ``unified/dot/mean/P+/S-``."""
    return (f"{opts.cross_strategy}/{opts.score}/{opts.affinity_threshold}/"
            f"P{'+' if opts.procrustes else '-'}/S{'+' if opts.scale_normalise else '-'}")


def parse_strategy(spec: str, base: ShadeOptions) -> tuple[str, ShadeOptions]:
    """Parse a ``--strategy`` spec ``NAME[,key=value...]`` into ``(label, options)``.

    Keys: ``score``, ``affinity`` (``affinity-threshold``), ``procrustes`` (on/off),
    ``scale`` (``scale-normalise``, on/off), ``strategy``; keys not given keep ``base``'s
    values, and the label is the spec itself.

    Raises
    ------
    ValueError
        An empty spec, an unknown strategy or key, or an on/off key with another value.
    """
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise ValueError("empty --strategy spec")
    changes: dict[str, Any] = {}
    name, rest = parts[0], parts[1:]
    if "=" in name:
        rest, name = parts, base.cross_strategy
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r} in {spec!r}; choose from {', '.join(STRATEGIES)}")
    changes["cross_strategy"] = name
    for item in rest:
        key, sep, value = item.partition("=")
        fieldname = _KEY_ALIASES.get(key.strip().lower())
        if not sep or fieldname is None:
            raise ValueError(f"bad key in strategy spec {spec!r}: {item!r} "
                             "(use score=, affinity=, procrustes=, scale=)")
        value = value.strip()
        if fieldname in ("procrustes", "scale_normalise"):
            if value not in ("on", "off"):
                raise ValueError(f"{key} must be on or off in {spec!r}")
            changes[fieldname] = value == "on"
        else:
            changes[fieldname] = value
    opts = base.replace(**changes)
    return spec, opts


def preset_strategies(base: ShadeOptions) -> list[tuple[str, ShadeOptions]]:
    """:data:`PRESETS` applied to ``base`` (analysis options kept, cross toggles from the preset)."""
    return [(label, base.replace(**{**BASELINE, **over}))
            for label, over in PRESETS]


def grid_strategies(base: ShadeOptions) -> list[tuple[str, ShadeOptions]]:
    """Every strategy × score × affinity gate × Procrustes × scale combination, as ``(label, options)``.

    Exact duplicates are left out: Procrustes is toggled only where the sample basis is
    used, scale-normalise only for ``unified``.  Analysis options come from ``base``.
    """
    out = []
    for strat, score, aff, proc, scale in itertools.product(
            STRATEGIES, SCORES, GRID_AFFINITY, (True, False), (False, True)):
        if scale and strat != "unified":
            continue
        uses_sample_basis = score in ("dot", "cosine") or (aff != "none" and strat in ("unified", "warp"))
        if not proc and not uses_sample_basis:
            continue
        opts = base.replace(
            cross_strategy=strat, score=score, affinity_threshold=aff, procrustes=proc,
            scale_normalise=scale)
        out.append((config_label(opts), opts))
    return out


