"""Style ``v12``: the handoff's v12 pass, byte for byte (original-system.md §3).

The faithful reference: carrier, contours, the spectral basis and the heat gating field, the
high/low gates, the thicken scatter under the basis-energy budget, and shadow copies of the
low-gate components pushed along the void direction with a hue rotation.  With more than one
pass, each pass's effect ``e`` (:mod:`fastshade.styles.envelope`) scales the shadow push and the
thicken reach (``shadow_distance * e``, ``max(1, round(thick_radius * e))``); pass 1 of every
envelope has ``e = 1`` and is the single pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from fastshade.options import ShadeOptions
from fastshade.pipeline.results import ShadeResult
from fastshade.pipeline.shader import shade_pinned
from fastshade.styles.base import PassStep, Style


def scaled_options(opts: ShadeOptions, effect: float) -> ShadeOptions:
    """``opts`` with v12's lengths scaled by ``effect`` (unchanged at 1)."""
    if effect == 1.0:
        return opts
    radius = opts.thick_radius and max(1, int(round(opts.thick_radius * effect)))
    return dataclasses.replace(opts, shadow_distance=opts.shadow_distance * effect, thick_radius=radius)


def paint_pass(target: Any, sample: Any, opts: ShadeOptions, step: PassStep, *,
               force_cross: bool, clock: Callable[[], float]) -> ShadeResult:
    """One v12 pass of ``target`` (with ``sample`` in cross mode), lengths scaled by ``step.effect``."""
    return shade_pinned(target, sample, scaled_options(opts, step.effect), force_cross, clock, lean=step.lean)


STYLE = Style(
    name="v12",
    description="the handoff's v12 pass, byte for byte: spectral-gated thickening and hue-rotated "
                "shadow copies (the faithful reference)",
    envelope="flat",
    paint_pass=paint_pass,
)
