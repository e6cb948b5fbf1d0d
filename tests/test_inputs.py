"""The image arguments of the library calls: conversions and the one-line refusals."""

from __future__ import annotations

import numpy as np
import pytest

from fastshade.pipeline.inputs import as_rgb_alpha


@pytest.mark.parametrize(("bad", "message"), [
    (np.nan, "contains NaN or inf"), (np.inf, "contains NaN or inf"), (-np.inf, "contains NaN or inf"),
    (-0.25, r"must lie in \[0, 1\]"), (1.5, r"must lie in \[0, 1\]"),
])
@pytest.mark.parametrize("channels", [None, 3, 4])
def test_float_images_with_bad_values_are_refused(bad, message, channels):
    img = np.random.default_rng(1).random((5, 6) if channels is None else (5, 6, channels))
    img[(2, 3) if channels is None else (2, 3, channels - 1)] = bad
    with pytest.raises(ValueError, match="target: .*" + message):
        as_rgb_alpha(img, "target")
    if np.isfinite(bad):  # NaN or inf beside an out-of-range value: the NaN/inf is named
        img[0, 0] = np.inf
        with pytest.raises(ValueError, match="contains NaN or inf"):
            as_rgb_alpha(img, "target")


def test_conversions():
    u8 = np.arange(60, dtype=np.uint8).reshape(4, 5, 3) * 4
    rgb, alpha = as_rgb_alpha(u8, "t")
    np.testing.assert_array_equal(rgb, u8 / 255.0)
    assert alpha is None and rgb.dtype == np.float64 and rgb.flags.c_contiguous
    u16 = (np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000)
    rgb, _ = as_rgb_alpha(u16, "t")
    np.testing.assert_array_equal(rgb, np.repeat((u16 / 65535.0)[:, :, None], 3, axis=2))
    rgb, alpha = as_rgb_alpha(np.ones((3, 4, 2), dtype=bool), "t")
    assert (rgb == 1.0).all() and (alpha == 1.0).all()
    f = np.random.default_rng(2).random((6, 7, 3))
    assert as_rgb_alpha(f, "t")[0] is f  # a C-contiguous float64 image is not copied
    rgb, alpha = as_rgb_alpha(np.concatenate([f, f[:, :, :1]], axis=2), "t")
    np.testing.assert_array_equal(rgb, f)
    np.testing.assert_array_equal(alpha, f[:, :, 0])
    with pytest.raises(ValueError, match=r"integer image values must lie in \[0, 255\]"):
        as_rgb_alpha(np.full((2, 2, 3), 256, dtype=np.int32), "t")
    with pytest.raises(ValueError, match="empty image"):
        as_rgb_alpha(np.zeros((0, 3, 3)), "t")
