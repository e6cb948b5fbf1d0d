"""The paper/ink model on hand-made drawings: polarity, coloured ink, transparency."""

from __future__ import annotations

import numpy as np
import pytest

from fastshade.pipeline.paper import INK_DISTANCE, paper_ink_model


def _drawing(paper, ink, shape=(40, 50)):
    rgb = np.empty((*shape, 3))
    rgb[:] = paper
    rgb[10:12, 5:45] = ink
    rgb[5:35, 20:22] = ink
    return rgb


def test_dark_on_light_and_its_inverse_have_the_same_ink_and_carrier():
    rgb = _drawing((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    a, b = paper_ink_model(rgb), paper_ink_model(1.0 - rgb)
    assert a.polarity == "dark-on-light" and b.polarity == "light-on-dark"
    np.testing.assert_array_equal(a.ink, b.ink)
    np.testing.assert_allclose(a.carrier, b.carrier)
    assert a.ink.sum() == 2 * 40 + 2 * 30 - 4  # the two strokes, their crossing counted once
    assert a.carrier[0, 0] == 1.0 and a.carrier[10, 10] == 0.0


def test_pink_ink_on_grey_paper_is_ink():
    rgb = _drawing((0.93, 0.94, 0.95), (1.0, 0.4, 0.7))
    m = paper_ink_model(rgb)
    np.testing.assert_allclose(m.paper, (0.93, 0.94, 0.95))
    # distance by hand: sqrt((0.07^2 + 0.54^2 + 0.25^2) / 3)
    assert m.distance[10, 10] == pytest.approx(np.sqrt((0.07 ** 2 + 0.54 ** 2 + 0.25 ** 2) / 3))
    assert m.distance[10, 10] > INK_DISTANCE
    assert m.ink.sum() == 136 and not m.ink[0, 0]


def test_transparent_pixels_are_paper_whatever_their_rgb():
    rgb = _drawing((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))  # black hidden RGB everywhere
    alpha = np.zeros(rgb.shape[:2])
    alpha[10:12, 5:45] = 1.0
    alpha[5:35, 20:22] = 1.0
    m = paper_ink_model(rgb, alpha)
    opaque = paper_ink_model(_drawing((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)))
    np.testing.assert_array_equal(m.ink, opaque.ink)  # the strokes, not the transparent paper
    np.testing.assert_allclose(m.carrier, opaque.carrier)
    assert m.stats()["alpha_as_paper"] is True and opaque.stats()["alpha_as_paper"] is False
    hidden_white = paper_ink_model(np.where(alpha[:, :, None] > 0, rgb, 1.0), alpha)
    np.testing.assert_array_equal(hidden_white.ink, m.ink)


# --- the model on the shared images and synthetic drawings (issue 20) ---------------------------

from fastshade.demo import demo_image  # noqa: E402
from fastshade.pipeline.paper import (  # noqa: E402
    EDGE_REACH,
    marks_over_paper,
    over_white,
    paper_colour,
    stroke_mask,
)
from tests.conftest import load_rgb  # noqa: E402

PINK, GREY_PAPER = (1.0, 0.4, 0.7), (0.93, 0.94, 0.95)


def _shared(name):
    return demo_image() if name == "demo" else load_rgb(name)


@pytest.mark.parametrize("name", ["toof.png", "snek-heavy.png", "demo"])
def test_inverse_has_the_same_ink_strokes_and_carrier(name):
    rgb = _shared(name)
    a, b = paper_ink_model(rgb), paper_ink_model(1.0 - rgb)
    assert a.polarity == "dark-on-light" and b.polarity == "light-on-dark"
    assert a.ink.any()
    np.testing.assert_array_equal(a.ink, b.ink)
    np.testing.assert_array_equal(a.strokes, b.strokes)
    np.testing.assert_allclose(a.carrier, b.carrier, atol=1e-12)


@pytest.mark.parametrize("hidden", [0.0, 1.0])
def test_transparent_toof_is_the_opaque_toof(hidden):
    toof = load_rgb("toof.png")
    opaque = paper_ink_model(toof)
    alpha = (toof.mean(axis=2) < 0.5).astype(np.float64)  # the strokes opaque, the paper transparent
    rgb = np.where(alpha[:, :, None] > 0, toof, hidden)
    np.testing.assert_array_equal(over_white(rgb, alpha), toof)  # the premise: composited, it is the toof
    m = paper_ink_model(rgb, alpha)
    np.testing.assert_array_equal(m.ink, opaque.ink)
    np.testing.assert_array_equal(m.strokes, opaque.strokes)
    np.testing.assert_allclose(m.carrier, opaque.carrier)
    assert m.paper == opaque.paper == (1.0, 1.0, 1.0)
    assert m.stats()["alpha_as_paper"] and not opaque.stats()["alpha_as_paper"]


@pytest.mark.parametrize("name", ["toof.png", "demo"])
def test_pink_ink_on_grey_paper_has_the_black_inks_pixels(name):
    rgb = _shared(name)
    coverage = 1.0 - rgb.min(axis=2)  # black ink (and the demo's blue stroke) redrawn in pink
    pink = np.asarray(GREY_PAPER) + coverage[:, :, None] * (np.asarray(PINK) - np.asarray(GREY_PAPER))
    m, black = paper_ink_model(pink), paper_ink_model(rgb)
    np.testing.assert_allclose(m.paper, GREY_PAPER, atol=1e-3)
    assert m.polarity == "dark-on-light"
    # pink's distance from the grey paper is 0.34 of black's 0.94: the strokes' cores are ink in both
    core = coverage > 0.9
    assert m.ink[core].all() and black.ink[core].all()
    assert not m.ink[coverage < 0.1].any()


def _filled_drawing(size=200):
    """A filled black disc and a filled star, plus two thin strokes, on white."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    rgb = np.ones((size, size, 3))
    disc = (yy - 60) ** 2 + (xx - 60) ** 2 < 40 ** 2
    angle = np.arctan2(yy - 130, xx - 130)
    radius = np.hypot(yy - 130, xx - 130)
    star = radius < 25 + 15 * np.cos(5 * angle)
    rgb[disc | star] = 0.0
    rgb[180:182, 10:190] = 0.0
    rgb[10:170, 185:187] = 0.0
    return rgb, disc, star


@pytest.mark.parametrize("invert", [False, True])
def test_fill_interiors_are_not_strokes(invert):
    rgb, disc, star = _filled_drawing()
    m = paper_ink_model(1.0 - rgb if invert else rgb)
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(m.ink)
    assert m.strokes[m.ink & (depth <= EDGE_REACH)].all()  # rims and thin strokes
    assert not m.strokes[m.ink & (depth > EDGE_REACH)].any()  # interiors
    assert m.fill[disc].sum() > 0.7 * disc.sum() and m.fill[star].any()
    assert m.strokes[180:182, 10:190].all() and m.strokes[10:170, 185:187].all()
    assert not m.fill[180:182].any()


def test_stroke_mask_of_a_page_of_ink_is_its_rim():
    ink = np.ones((20, 30), dtype=bool)
    s = stroke_mask(ink, 2)
    assert s[0].all() and s[:, -1].all() and s[1, 1] and not s[5, 5]
    assert not stroke_mask(np.zeros((4, 4), dtype=bool)).any()


def test_uneven_paper_is_followed_per_tile():
    yy, xx = np.mgrid[:300, :400]
    paper = 0.97 - 0.35 * xx / 400  # a scan darkening by 0.35 from left to right
    rgb = np.repeat(paper[:, :, None], 3, axis=2)
    rgb[100:103, 20:380] = 0.1
    rgb[20:280, 200:202] = 0.1
    strokes = np.zeros((300, 400), dtype=bool)
    strokes[100:103, 20:380] = strokes[20:280, 200:202] = True
    m = paper_ink_model(rgb)
    np.testing.assert_array_equal(m.ink, strokes)
    assert m.stats()["paper_varies"] and m.paper_map is not None
    # one global paper would take a side of the page as ink
    glob = paper_colour(rgb, np.ones((300, 400), dtype=bool))
    assert (np.sqrt(((rgb - glob) ** 2).sum(axis=2) / 3) > INK_DISTANCE).sum() > 10 * strokes.sum()


def test_uniform_paper_is_exactly_uniform_and_a_fill_never_becomes_paper():
    rgb, disc, _ = _filled_drawing(400)
    m = paper_ink_model(rgb)
    assert m.paper_map is None
    assert m.ink[disc].all()


@pytest.mark.parametrize("image", [np.ones((32, 32, 3)), np.zeros((32, 32, 3)), np.ones((1, 1, 3)),
                                   np.zeros((1, 1, 3))])
def test_degenerate_pages_have_no_ink(image):
    m = paper_ink_model(image)
    assert not m.ink.any() and m.ink_fraction == 0.0 and (m.carrier == 1.0).all()
    assert m.stats()["stroke_fraction"] == 0.0


def test_a_single_line_is_all_stroke():
    rgb = np.ones((40, 60, 3))
    rgb[20, 5:55] = 0.0
    m = paper_ink_model(rgb)
    assert m.ink.sum() == 50 and m.strokes.sum() == 50 and not m.fill.any()


def test_marks_over_paper_keeps_untouched_pixels_and_shows_the_marks():
    rng = np.random.default_rng(7)
    rgb = rng.random((30, 40, 3))
    alpha = np.where(rng.random((30, 40)) < 0.6, 0.0, rng.random((30, 40)))
    seen = over_white(rgb, alpha)
    shaded = seen.copy()
    marks = rng.random((30, 40)) < 0.3
    shaded[marks] = rng.random((int(marks.sum()), 3))
    out_rgb, out_alpha = marks_over_paper(rgb, alpha, shaded)
    np.testing.assert_array_equal(out_rgb[~marks], rgb[~marks])
    np.testing.assert_array_equal(out_alpha[~marks], alpha[~marks])
    np.testing.assert_allclose(over_white(out_rgb, out_alpha), shaded, atol=1e-12)
    assert (out_alpha >= alpha).all() and (out_rgb >= 0).all() and (out_rgb <= 1).all()
    # a black mark on transparent paper is fully opaque; a mid-grey one half covered
    one = marks_over_paper(np.zeros((1, 2, 3)), np.zeros((1, 2)), np.array([[[0.0] * 3, [0.5] * 3]]))
    np.testing.assert_allclose(one[1], [[1.0, 0.5]])
    np.testing.assert_allclose(one[0], 0.0)


def test_lines_drawn_across_a_fill_are_strokes():
    """White fill, grey lines, black background (issue 20's table): the lines inside the fill are strokes."""
    rgb = np.zeros((120, 160, 3))
    rgb[20:100, 20:140] = 1.0  # a white fill on black paper
    rgb[60, 30:130] = 0.5  # a grey line across it
    rgb[25:95, 80] = 0.5
    m = paper_ink_model(rgb)
    assert m.paper == (0.0, 0.0, 0.0) and m.polarity == "light-on-dark"
    assert m.ink[20:100, 20:140].all()
    assert m.strokes[60, 30:130].all() and m.strokes[25:95, 80].all()
    assert m.fill[40, 40] and m.fill[80, 110]  # the fill's inside away from every line
    assert not m.strokes[40, 40]


def test_the_guard_protects_every_ink_pixel_whatever_its_colour():
    from fastshade.pipeline.shading import gated_copy

    rgb = _drawing(GREY_PAPER, PINK)
    rgb[30:33, 5:45] = (0.7, 0.72, 0.73)  # a faint grey stroke: ink, with a carrier above 0.3
    m = paper_ink_model(rgb)
    assert m.ink[31, 10] and m.carrier[31, 10] > 0.3  # the premise: the plain carrier would not guard it
    out = np.ascontiguousarray(rgb.copy())
    ys, xs = np.nonzero(np.ones(rgb.shape[:2], dtype=bool))
    written = gated_copy(out, np.zeros((ys.size, 3)), ys, xs, None, m.guard, 0.3)
    assert not written.reshape(rgb.shape[:2])[m.ink].any()
    np.testing.assert_array_equal(out[m.ink], rgb[m.ink])
    assert written.reshape(rgb.shape[:2])[~m.ink].all()


def test_a_large_fill_on_uneven_paper_stays_ink():
    yy, xx = np.mgrid[:320, :384]
    paper = 0.95 - 0.3 * yy / 320  # darkening downward
    rgb = np.repeat(paper[:, :, None], 3, axis=2)
    rgb[60:260, 100:300] = (0.15, 0.1, 0.3)  # a fill covering whole 64-px tiles
    rgb[290:292, 20:360] = 0.05
    m = paper_ink_model(rgb)
    assert m.paper_map is not None
    assert m.ink[60:260, 100:300].all() and m.ink[290:292, 20:360].all()
    assert m.ink.sum() == 200 * 200 + 2 * 340
    assert m.fill[150, 200] and m.strokes[60, 150] and not m.fill[291, 50]


def test_paper_from_keeps_the_drawings_paper_under_later_marks():
    # a later pass covered most of the page with a light tint: estimated afresh, the tint would
    # become the paper and the marks would vanish from the ink; kept, the paper is the drawing's
    page = np.ones((40, 40, 3))
    page[18:22, 5:35] = 0.0  # the artist's stroke
    first = paper_ink_model(page)
    painted = page.copy()
    painted[:, :30] = np.where(painted[:, :30] == 1.0, 0.6, painted[:, :30])  # a wide tinted mark
    afresh = paper_ink_model(painted)
    kept = paper_ink_model(painted, paper_from=first)
    assert afresh.paper == pytest.approx((0.6, 0.6, 0.6))
    assert kept.paper == first.paper == (1.0, 1.0, 1.0)
    assert kept.paper_map is first.paper_map
    np.testing.assert_allclose(kept.distance[0, 0], 0.4)  # the tint is 0.4 from the kept paper
    assert kept.ink[0, :30].all() and not kept.ink[0, 30:].any()
    # with the drawing's own image, paper_from changes nothing
    same = paper_ink_model(page, paper_from=first)
    for a, b in ((same.distance, first.distance), (same.ink, first.ink), (same.carrier, first.carrier),
                 (same.strokes, first.strokes)):
        np.testing.assert_array_equal(a, b)
