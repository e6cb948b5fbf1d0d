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
