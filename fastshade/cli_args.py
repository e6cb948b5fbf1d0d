"""Shared command-line plumbing: shade options as flags, one-line errors."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Any

from fastshade.options import STYLE_NAMES, ShadeOptions

# One sentence per shader flag: what it changes in the picture or the run, with its unit (the
# default is appended from the dataclass). tests/test_cli_help.py fails on a flag without one.
_HELP = {
    "style": "the look",
    "passes": "passes, each shading the previous pass's output",
    "envelope": "per-pass strength: adsr (final's table), decay (x0.75 a pass), flat, auto (the style's)",
    "scale": "lengths x X for an X times finer drawing (docs/resolution.md); auto: DPI or stroke width",
    "basis": "spectral basis: lobpcg (exact, PyAMG-preconditioned LOBPCG) or krylov "
             "(the original's 50-step Lanczos field)",
    "k": "basis vectors the eigensolve returns (the shader reads 8)",
    "tol": "lobpcg residual tolerance (1e-6 where the basis is read as eigenvectors, docs/tolerance.md)",
    "connectivity": "Laplacian pixel connectivity, 4 or 8",
    "laplacian": "pixel graph: grid (4/8 neighbours) or dither (multi-radius, radius 6: slower, smoother fields)",
    "tau": "edge weight exp(-|dc|/tau): smaller tau cuts the graph harder at ink edges",
    "weight_floor": "lower bound on every edge weight (0 = none); a floor joins ink fragments to the paper",
    "field": "gating field: heat (seeded heat random field), column (a basis column), auto (heat for "
             "lobpcg, column for krylov)",
    "field_smoothing": "heat gating field's time alpha*T: larger gives longer, fewer shadow pieces",
    "field_column": "basis column used as the gating field with --field column",
    "seed": "seed of every pseudo-random draw (heat-field noise, Krylov start, tile signs)",
    "tile_size": "lobpcg tiled basis: tile edge in px (0 = one global solve)",
    "tile_overlap": "tiled basis: overlap of neighbouring tiles in px",
    "krylov_steps": "Lanczos steps of --basis krylov",
    "contour_sigma": "contours are pixels with |carrier - mean| > this many standard deviations",
    "heat_alpha": "heat step of the void direction's diffusion from the contours (the direction shadows "
                  "are pushed; not the gating field)",
    "heat_steps": "heat steps of the void direction's diffusion from the contours: more steps push "
                  "shadows by a smoother field (not the gating field: that is --field-smoothing)",
    "gate_gain": "steepness of the activation sigmoid(gain * z(field)) the gates compare",
    "gamma_h": "high gate (thickened strokes): gamma_h * a + bias_h > a",
    "bias_h": "high gate (thickened strokes): gamma_h * a + bias_h > a",
    "gamma_l": "low gate (shadowed strokes): gamma_l * a + bias_l < a",
    "bias_l": "low gate (shadowed strokes): gamma_l * a + bias_l < a",
    "thick_radius": "largest thickening reach in px across the stroke (0 = no thickening)",
    "budget_attenuation": "how much the basis energy shortens the reach: reach = R (1 - attenuation * E)",
    "min_component": "smallest low-gate component in px that casts a shadow",
    "shadow_distance": "shadow push in px (brush: a shadow end's swing)",
    "palette": "brush shadow colours (from the ink and paper)",
    "hue_angle": "hue rotation of the shadow colours in radians (v12: 1)",
    "shadow_placement": "fixed (the original's push), free, fit, fit-dirs, fit-diag or fit-whole (draw a "
                        "shadow whole or not at all)",
    "ink_guard": "v12: shadows are written only where the original carrier is above this; v6 and final: "
                 "0 lets marks land on the ink, as the originals did (brush never does)",
    "cross_strategy": "cross mode: what is copied from the sample (unified, warp, recolor, gate-only)",
    "affinity_threshold": "cross copy gate: mean | none | quantile:Q | calibrated",
    "procrustes": "cross mode: rotate the sample's basis onto the target's before comparing",
    "procrustes_samples": "cross mode: pixels sampled for the Procrustes alignment",
    "scale_normalise": "cross mode: resize the sample component to the target component's extent",
    "score": "cross matching score: dot | cosine | signature",
}


FLAG_NAMES = {
    "k": "basis-vectors",
    "heat_alpha": "void-heat-step",
    "heat_steps": "void-heat-steps",
    "gamma_h": "high-gate-gamma",
    "bias_h": "high-gate-bias",
    "gamma_l": "low-gate-gamma",
    "bias_l": "low-gate-bias",
    "thick_radius": "thicken-radius",
    "budget_attenuation": "thicken-attenuation",
    "min_component": "min-shadow-size",
    "hue_angle": "shadow-hue",
}
"""Flags whose name is not the option's (``--void-heat-steps`` sets ``heat_steps``: the void
direction's diffusion, not the heat gating field's, which is ``--field-smoothing``)."""

GROUPS = {
    "look": "look (what the picture looks like)",
    "performance": "performance (speed and memory; the look changes little)",
    "expert": "expert (the graph, the gates and cross mode; defaults follow the handoff's v12)",
}
"""Help groups of the shader flags, in the order ``--help`` lists them."""

FIELD_GROUPS = {
    "style": "look", "passes": "look", "envelope": "look", "scale": "look", "palette": "look",
    "shadow_distance": "look", "thick_radius": "look", "min_component": "look", "field_smoothing": "look",
    "shadow_placement": "expert", "hue_angle": "expert", "seed": "expert", "ink_guard": "expert",
    "basis": "expert",
    "tol": "performance", "tile_size": "performance", "tile_overlap": "performance",
    "krylov_steps": "performance", "k": "performance",
    "connectivity": "expert", "laplacian": "expert", "tau": "expert", "weight_floor": "expert",
    "field": "expert", "field_column": "expert", "contour_sigma": "expert", "heat_alpha": "expert",
    "heat_steps": "expert", "gate_gain": "expert", "gamma_h": "expert", "bias_h": "expert",
    "gamma_l": "expert", "bias_l": "expert", "budget_attenuation": "expert",
    "cross_strategy": "expert", "affinity_threshold": "expert", "procrustes": "expert",
    "procrustes_samples": "expert", "scale_normalise": "expert", "score": "expert",
}
"""The help group of each :class:`ShadeOptions` field; a field not listed goes to
:data:`FALLBACK_GROUP` (``tests/test_cli_help.py`` names any such field)."""

FALLBACK_GROUP = "expert"


def flag_of(name: str) -> str:
    """The command-line flag of the :class:`ShadeOptions` field ``name`` (``--void-heat-steps``)."""
    return "--" + FLAG_NAMES.get(name, name.replace("_", "-"))


def add_shade_options(parser: argparse.ArgumentParser, *, expert_help: bool = True,
                      style: str | None = None) -> None:
    """Add one flag per :class:`ShadeOptions` field (defaults from the dataclass), in the help
    groups of :data:`GROUPS`; each flag's ``dest`` is the field's name.

    ``style``: the driver's own default style, when it is not the library's (``bench`` and
    ``diagnose`` study the v12 pass).

    ``expert_help=False`` accepts the expert flags but leaves their descriptions to
    ``fastshade shade --help`` (one line instead of some 60).
    """
    groups = {key: parser.add_argument_group(title) for key, title in GROUPS.items()}
    if not expert_help:
        groups["expert"].description = ("every expert flag of 'fastshade shade --help' works here too\n"
                                        "(--connectivity, --field, --cross-strategy, ...)")
    hints = typing.get_type_hints(ShadeOptions)
    for f in dataclasses.fields(ShadeOptions):
        if f.name == "explicit":  # filled from the flags given
            continue
        group = groups[FIELD_GROUPS.get(f.name, FALLBACK_GROUP)]
        flag = flag_of(f.name)
        typ = hints[f.name]
        shown = ("on" if f.default else "off") if typ is bool else f.default
        if f.name == "style" and style is not None:
            shown = style
        helptext = f"{_HELP.get(f.name, '')} (default {shown})".strip()
        if f.name == "style":
            helptext += f". Styles: {', '.join(STYLE_NAMES)} (README, \"Styles\")"
        if group is groups["expert"] and not expert_help:
            helptext = argparse.SUPPRESS
        if f.name == "scale":
            group.add_argument(flag, dest=f.name, default=None, type=scale_value, metavar="auto|X", help=helptext)
        elif typ is bool:
            group.add_argument(flag, dest=f.name, default=None, choices=["on", "off"], help=helptext)
        elif typ is int:
            group.add_argument(flag, dest=f.name, default=None, type=int, metavar="N", help=helptext)
        elif typ is float:
            group.add_argument(flag, dest=f.name, default=None, type=float, metavar="X", help=helptext)
        else:
            choices = typing.get_args(typ) or None
            group.add_argument(flag, dest=f.name, default=style if f.name == "style" else None, choices=choices,
                               metavar=None if choices else "SPEC", help=helptext)


def style_list(text: str | None) -> list[str]:
    """``--styles``: ``"v12,v6"`` or ``"all"`` -> style names in that order; [] for None or "";
    a one-line ``ValueError`` naming any unknown style.
    """
    if not text:
        return []
    names = list(STYLE_NAMES) if text.strip() == "all" else [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in STYLE_NAMES]
    if unknown:
        raise ValueError(f"--styles: unknown style(s) {', '.join(unknown)} (styles: {', '.join(STYLE_NAMES)})")
    return names


def scale_value(text: str) -> float | str:
    """``--scale``: ``auto`` or a number."""
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a number, got {text!r}") from None


def options_from_args(args: argparse.Namespace) -> ShadeOptions:
    """Build validated :class:`ShadeOptions` from parsed flags: the flags given are explicit, every
    other field takes the style's default (:func:`fastshade.styles.resolve_options`).
    """
    from fastshade.styles import resolve_options  # (the shader's modules load only when a command runs)

    return resolve_options(ShadeOptions().replace(**option_changes(args)))


def option_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`ShadeOptions` fields the parsed flags set (``on``/``off`` as booleans), by name:
    what :func:`options_from_args` applies over the defaults (JSON-serialisable, for a worker).
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
    return changes


def fail(message: str, code: int = 2) -> int:
    """Print one line ``fastshade: error: ...`` to stderr and return ``code``."""
    print(f"fastshade: error: {message}", file=sys.stderr)
    return code
