"""Shared command-line plumbing: shade options as flags, one-line errors."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Any

from fastshade.options import ShadeOptions
from fastshade.styles import resolve_options, style_help

# One sentence per shader flag: what it changes in the picture or the run, with its unit (the
# default is appended from the dataclass). tests/test_cli_help.py fails on a flag without one.
_HELP = {
    "style": "the look, a named set of defaults and stages",
    "passes": "number of passes; each pass shades the previous pass's output",
    "envelope": "per-pass effect: adsr (the final pipeline's table), decay (x0.75 per pass), flat, "
                "auto (the style's own)",
    "basis": "spectral basis: lobpcg (exact, PyAMG-preconditioned LOBPCG) or krylov "
             "(the original's 50-step Lanczos field)",
    "k": "number of non-trivial basis vectors the eigensolve returns (the shader reads 8)",
    "tol": "lobpcg residual tolerance; 1e-2 suffices for the thicken budget, use 1e-6 where the basis "
           "is read as eigenvectors (1e-8 with --field column)",
    "connectivity": "Laplacian pixel connectivity, 4 or 8",
    "laplacian": "pixel graph: grid (4/8 neighbours) or dither (multi-radius, radius 6: slower, smoother fields)",
    "tau": "edge weight exp(-|dc|/tau): smaller tau cuts the graph harder at ink edges",
    "weight_floor": "lower bound on every edge weight (0 = none); a floor joins ink fragments to the paper",
    "field": "gating field: heat (seeded heat random field), column (a basis column), auto (heat for "
             "lobpcg, column for krylov)",
    "field_smoothing": "diffusion time of the heat gating field (heat step x steps): larger gives longer, "
                       "fewer shadow pieces",
    "field_column": "basis column used as the gating field with --field column",
    "seed": "seed of every pseudo-random draw (heat-field noise, Krylov start, tile signs)",
    "tile_size": "lobpcg tiled basis: tile edge in px (0 = one global solve)",
    "tile_overlap": "tiled basis: overlap of neighbouring tiles in px",
    "krylov_steps": "Lanczos steps of --basis krylov",
    "contour_sigma": "contours are pixels with |carrier - mean| > this many standard deviations",
    "heat_alpha": "heat step of the void direction's diffusion from the contours",
    "heat_steps": "heat steps of the void direction's diffusion: more steps push shadows by a smoother field",
    "gate_gain": "steepness of the activation sigmoid(gain * z(field)) the gates compare",
    "gamma_h": "high gate (thickened strokes): gamma_h * a + bias_h > a",
    "bias_h": "high gate (thickened strokes): gamma_h * a + bias_h > a",
    "gamma_l": "low gate (shadowed strokes): gamma_l * a + bias_l < a",
    "bias_l": "low gate (shadowed strokes): gamma_l * a + bias_l < a",
    "thick_radius": "largest thickening reach in px across the stroke (0 = no thickening)",
    "budget_attenuation": "how much the basis energy shortens the reach: reach = R (1 - attenuation * E)",
    "min_component": "smallest low-gate component in px that casts a shadow",
    "shadow_distance": "shadow push in px along the void direction (brush: how far the far end of a "
                       "swung shadow swings)",
    "hue_angle": "hue rotation of the shadow colours in radians (v12: 1)",
    "palette": "colours of the brush style's shadows, derived from the ink and paper: dusk "
               "(blue-violet), ember (terracotta), complement (opposite the ink's hue)",
    "shadow_placement": "fixed (the original's push), free, fit, fit-dirs, fit-diag or fit-whole (draw a "
                        "shadow whole or not at all)",
    "ink_guard": "shadows are written only where the original carrier is above this (never over ink)",
    "cross_strategy": "cross mode: what is copied from the sample (unified, warp, recolor, gate-only)",
    "affinity_threshold": "cross copy gate: mean | none | quantile:Q | calibrated",
    "procrustes": "cross mode: rotate the sample's basis onto the target's before comparing",
    "procrustes_samples": "cross mode: pixels sampled for the Procrustes alignment",
    "scale_normalise": "cross mode: resize the sample component to the target component's extent",
    "score": "cross matching score: dot | cosine | signature",
}


def add_shade_options(parser: argparse.ArgumentParser, style: str | None = None) -> None:
    """Add one ``--flag`` per :class:`ShadeOptions` field (defaults from the dataclass).

    ``style``: the driver's own default style, when it is not the library's (``bench`` and
    ``diagnose`` study the v12 pass).
    """
    group = parser.add_argument_group("shader options (defaults: the handoff's v12 values, where the style sets none)")
    hints = typing.get_type_hints(ShadeOptions)
    for f in dataclasses.fields(ShadeOptions):
        if f.name == "explicit":  # filled from the flags given
            continue
        flag = "--" + f.name.replace("_", "-")
        typ = hints[f.name]
        shown = ("on" if f.default else "off") if typ is bool else f.default
        if f.name == "style" and style is not None:
            shown = style
        helptext = f"{_HELP.get(f.name, '')} (default {shown})".strip()
        if f.name == "style":
            helptext += ". Styles: " + style_help()
        if typ is bool:
            group.add_argument(flag, dest=f.name, default=None, choices=["on", "off"], help=helptext)
        elif typ is int:
            group.add_argument(flag, dest=f.name, default=None, type=int, metavar="N", help=helptext)
        elif typ is float:
            group.add_argument(flag, dest=f.name, default=None, type=float, metavar="X", help=helptext)
        else:
            choices = typing.get_args(typ) or None
            default = style if f.name == "style" else None
            group.add_argument(flag, dest=f.name, default=default, choices=choices, help=helptext)


def options_from_args(args: argparse.Namespace) -> ShadeOptions:
    """Build validated :class:`ShadeOptions` from parsed flags: the flags given are explicit, every
    other field takes the style's default (:func:`fastshade.styles.resolve_options`).
    """
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(ShadeOptions):
        if f.name == "explicit":
            continue
        val = getattr(args, f.name, None)
        if val is None:
            continue
        if isinstance(val, str) and val in ("on", "off") and isinstance(f.default, bool):
            val = val == "on"
        changes[f.name] = val
    return resolve_options(ShadeOptions().replace(**changes))


def fail(message: str, code: int = 2) -> int:
    """Print one line ``fastshade: error: ...`` to stderr and return ``code``."""
    print(f"fastshade: error: {message}", file=sys.stderr)
    return code
