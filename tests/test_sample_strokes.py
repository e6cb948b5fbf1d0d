"""Cross mode with any sample (issue 20, point 5): stroke candidates and the paste bound (opt-in)."""

from __future__ import annotations

import numpy as np
import pytest

from fastshade.options import ShadeOptions
from fastshade.pipeline.components import label_components
from fastshade.pipeline.cross import shadow_cross
from fastshade.pipeline.paint import thicken
from fastshade.pipeline.paper import paper_ink_model
from fastshade.pipeline.sample_strokes import PASTE_BOUND, nearest_pixels, stroke_candidates, stroke_pixels
from fastshade.pipeline.shader import analyse
from tests.conftest import load_rgb


def test_nearest_pixels_keeps_the_cap_nearest_in_index_order():
    ys = np.array([0.0, 5.0, 1.0, 9.0, 2.0])
    xs = np.zeros(5)
    np.testing.assert_array_equal(nearest_pixels(ys, xs, (0.0, 0.0), 3.7), [0, 2, 4])
    assert nearest_pixels(ys, xs, (0.0, 0.0), 5) is None
    np.testing.assert_array_equal(nearest_pixels(np.zeros(4), np.zeros(4), (1.0, 1.0), 2), [0, 1])  # ties


def test_stroke_candidates_and_pixels():
    low = np.zeros((10, 12), dtype=bool)
    low[1:3, 1:5] = True
    low[6:9, 6:11] = True
    comps = label_components(low, connectivity=8, min_size=1)
    strokes = np.zeros_like(low)
    strokes[1, 1:3] = True
    has = stroke_candidates(comps, strokes)
    assert has.tolist() == [True, False]
    np.testing.assert_array_equal(stroke_pixels(comps.pixels_of(0), strokes), [13, 14])


@pytest.fixture(scope="module")
def toof_analysis():
    opts = ShadeOptions()
    return opts, analyse(load_rgb("toof.png"), opts, cross=True)


@pytest.mark.parametrize("invert", [False, True])
def test_a_sample_with_fills_pastes_strokes_within_the_bound(toof_analysis, invert):
    opts, an_t = toof_analysis
    sample = load_rgb("offhand_pleometric.png")
    sample = 1.0 - sample if invert else sample
    an_s = analyse(sample, opts, directions=False, with_basis=False, cross=True)
    model = paper_ink_model(sample)

    def run(**kw):
        out, _ = thicken(an_t, opts)
        return shadow_cross(np.ascontiguousarray(out), an_t, an_s, opts, **kw)[0]

    def ratios(placements):
        return [p.written.sum() / an_t.components.sizes[p.target_component] for p in placements]

    off = run()
    assert max(ratios(off)) > 2 * PASTE_BOUND  # the premise: v12's path pastes large pieces of fills
    on = run(sample_strokes=model.strokes, paste_bound=PASTE_BOUND)
    assert on and max(ratios(on)) <= PASTE_BOUND
    for p in on:
        src = p.source_flat
        assert src.size <= PASTE_BOUND * an_t.components.sizes[p.target_component]
        assert model.strokes.ravel()[src].all()  # never a fill's inside, never the paper
    assert sum(p.written.sum() for p in on) < sum(p.written.sum() for p in off)
