"""End to end on the real images: component statistics of the gating field (issue 3, point 5).

Bands: ``--basis lobpcg`` (default) toof self gives 8-30 shadow components of >= 10 px (the
handoff's "fewer, larger segments"); ``--basis krylov`` falls where the original does over
different start vectors: toof 12-26, snek-heavy 90-130, red-tonegraph 15-30.
"""

from __future__ import annotations

import functools

import pytest

from fastshade import ShadeOptions, shade
from tests.conftest import load_rgb

BANDS = {
    ("toof.png", "lobpcg"): (8, 30),
    ("toof.png", "krylov"): (12, 26),
    ("snek-heavy.png", "krylov"): (90, 130),
    ("red-tonegraph.png", "krylov"): (15, 30),
}


@functools.cache
def _stats(name: str, basis: str) -> dict:
    return shade(load_rgb(name), options=ShadeOptions(basis=basis, style="v12"))[1]


@pytest.mark.parametrize(("name", "basis"), list(BANDS), ids=[f"{n}-{b}" for n, b in BANDS])
def test_shadow_component_counts_fall_in_the_original_bands(name, basis):
    lo, hi = BANDS[(name, basis)]
    stats = _stats(name, basis)
    comps = stats["components"]
    assert lo <= len(comps) <= hi, f"{name} {basis}: {len(comps)} components"
    assert all(c >= 10 for c in comps)
    assert stats["basis"]["method"].startswith(basis if basis == "krylov" else "lobpcg")
    # every placement painted something and the gates split the contours roughly in half
    assert stats["high_gate_pixels"] > 0 and stats["low_gate_pixels"] > 0
    assert stats["high_gate_pixels"] + stats["low_gate_pixels"] <= stats["contour_pixels"]


def test_default_lobpcg_components_are_long_pieces_on_toof():
    stats = _stats("toof.png", "lobpcg")
    comps = sorted(stats["components"])
    assert comps[len(comps) // 2] >= 12  # median piece is a stroke segment, not a speck
    assert stats["basis"]["field"] == "heat"
