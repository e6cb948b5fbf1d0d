"""The swung shadows' edge and owner map against the whole-image SciPy forms they crop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from fastshade.pipeline.castshadow import mask_window, swing_segment, swung_shadows
from fastshade.pipeline.components import label_components


def _segments(shape: tuple[int, int], count: int, seed: int) -> np.ndarray:
    """Random short strokes (some at the border, some crossing): a low gate."""
    rng = np.random.default_rng(seed)
    low = np.zeros(shape, dtype=bool)
    h, w = shape
    for _ in range(count):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        dy, dx = rng.integers(-1, 2, size=2)
        for t in range(int(rng.integers(3, 25))):
            yy, xx = y + t * dy, x + t * dx
            if 0 <= yy < h and 0 <= xx < w:
                low[yy, xx] = True
    return low


def _reference(components, field, spread, away, width):
    """swung_shadows' edge and owner map over the whole image (dilation and feature transform)."""
    fill, _, swings, owner = swung_shadows(components, field, spread, away, width)
    h, w = field.shape
    last = np.zeros((h, w), dtype=bool)
    last_owner = np.full((h, w), -1, dtype=np.int32)
    owner = np.full((h, w), -1, dtype=np.int32)
    # the same swings, painted again
    means = np.array([field.ravel()[components.pixels_of(i)].mean() for i in range(components.n)])
    order = np.argsort(np.argsort(-means, kind="stable"), kind="stable")
    rank = order / max(components.n - 1, 1)
    for i in range(components.n):
        ys, xs = np.divmod(components.pixels_of(i), w)
        yy, xx, _, _ = swing_segment(ys, xs, field, spread * (0.5 + 0.5 * rank[i]), away)
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        owner[yy[inside], xx[inside]] = i
        end = inside[-1]
        last[yy[-1][end], xx[-1][end]] = True
        last_owner[yy[-1][end], xx[-1][end]] = i
    edge = ndi.binary_dilation(last, ndi.generate_binary_structure(2, 1), iterations=width - 1) if width > 1 else last
    if last.any():
        _, (iy, ix) = ndi.distance_transform_edt(~last, return_indices=True)
        owner[edge] = last_owner[iy[edge], ix[edge]]
    return fill, edge, owner


@pytest.mark.parametrize("shape", [(1, 1), (5, 40), (64, 64), (120, 90)])
@pytest.mark.parametrize("width", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_swung_shadows_edge_and_owners_are_the_whole_image_forms(shape, width, seed):
    low = _segments(shape, count=3 + 2 * seed, seed=seed + 10 * width)
    components = label_components(low, connectivity=8, min_size=1)
    field = np.random.default_rng(seed).standard_normal(shape)
    for spread in (0.0, 4.0, 14.0):
        fill, edge, swings, owner = swung_shadows(components, field, spread, (0.6, 0.8), width)
        ref_fill, ref_edge, ref_owner = _reference(components, field, spread, (0.6, 0.8), width)
        if spread == 0.0 or components.n == 0:
            assert not edge.any() and (owner == -1).all() and not swings
            continue
        np.testing.assert_array_equal(fill, ref_fill)
        np.testing.assert_array_equal(edge, ref_edge)
        np.testing.assert_array_equal(owner, ref_owner)


def test_mask_window_is_the_grown_bounding_box():
    mask = np.zeros((10, 12), dtype=bool)
    mask[3, 4] = mask[6, 9] = True
    assert mask_window(mask, 0) == (slice(3, 7), slice(4, 10))
    assert mask_window(mask, 2) == (slice(1, 9), slice(2, 12))
    assert mask_window(mask, 50) == (slice(0, 10), slice(0, 12))
