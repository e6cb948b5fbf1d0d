"""The stage log's per-pixel comparisons against their NumPy expressions (one (H, W, C) reduction)."""

from __future__ import annotations

import numpy as np
import pytest

from fastshade.pipeline.stagelog import StageLog, channels_differ, quantised_change


def _images(shape: tuple[int, int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.random(shape)
    b = a.copy()
    hit = rng.random(shape) < 0.2
    b[hit] = rng.random(int(hit.sum()))
    b[rng.random(shape) < 0.05] += 1e-3 / 255  # below one 8-bit level: quantised the same
    return a, b


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 9, 3), (9, 1, 4), (17, 23, 3), (40, 30, 2)])
def test_channels_differ_is_any_over_the_channels(shape):
    a, b = _images(shape, sum(shape))
    np.testing.assert_array_equal(channels_differ(a, b), (a != b).any(axis=2))
    np.testing.assert_array_equal(channels_differ(a, a.copy()), np.zeros(shape[:2], dtype=bool))
    b[0, 0, -1] = np.nan  # NaN differs from everything, itself included
    a[-1, -1, 0] = np.nan
    np.testing.assert_array_equal(channels_differ(a, b), (a != b).any(axis=2))
    view = a[::-1, :, ::-1]  # non-contiguous views
    np.testing.assert_array_equal(channels_differ(view, b), (view != b).any(axis=2))


@pytest.mark.parametrize("shape", [(1, 1, 3), (17, 23, 3), (12, 8, 4)])
def test_quantised_change_is_the_numpy_expression(shape):
    a, b = _images(shape, shape[0])
    b[0, 0] = [-0.5, 1.5, 0.25][: 1] * shape[2]  # clipped values

    def q(x: np.ndarray) -> np.ndarray:
        return np.rint(np.clip(x, 0.0, 1.0) * 255)

    np.testing.assert_array_equal(quantised_change(a, b), (q(a) != q(b)).any(axis=2))
    rgb = b[:, :, :3]  # an alpha channel added or dropped: RGB only
    np.testing.assert_array_equal(quantised_change(a, rgb), (q(a[:, :, :3]) != q(rgb)).any(axis=2))


def test_stage_log_keeps_the_last_writer():
    a, b = _images((10, 12, 3), 7)
    log = StageLog(a)
    log.record("thicken", b)
    first = (a != b).any(axis=2)
    np.testing.assert_array_equal(log.stage_of, np.where(first, 0, -1))
    c = b.copy()
    c[2:4, 3:9, 1] = 0.5
    log.record("shadow", c)
    second = (b != c).any(axis=2)
    np.testing.assert_array_equal(log.stage_of, np.where(second, 1, np.where(first, 0, -1)))
    assert log.names == ["thicken", "shadow"]


@pytest.mark.parametrize("shape", [(1, 1, 3), (9, 1, 4), (17, 23, 3), (12, 8, 4)])
def test_record_changes_is_the_boolean_mask_copy(shape):
    from fastshade.kernels.changes import record_changes

    a, b = _images(shape, shape[0] + shape[1])
    b[0, 0, 0] = np.nan  # NaN differs from everything
    if shape[2] == 4:
        b[-1, -1, 3] = 0.5  # alpha alone: not a change of the RGB
        b[-1, -1, :3] = a[-1, -1, :3]
    previous = np.ascontiguousarray(a[:, :, :3]).copy()
    stage_of = np.full(shape[:2], -1, dtype=np.int8)
    count = record_changes(np.ascontiguousarray(b), previous, stage_of, 3)
    changed = (b[:, :, :3] != a[:, :, :3]).any(axis=2)
    ref_previous = np.ascontiguousarray(a[:, :, :3]).copy()
    ref_previous[changed] = b[:, :, :3][changed]
    np.testing.assert_array_equal(stage_of, np.where(changed, 3, -1))
    np.testing.assert_array_equal(previous, ref_previous)
    assert count == changed.sum()


def test_quantised_change_clips_and_rounds_as_numpy():
    from fastshade.kernels.changes import quantised_changes

    before = np.array([[[-0.5, 1.5, 0.5 / 255, 1.5 / 255, np.nan, 0.2]]]).reshape(1, 2, 3)
    after = np.array([[[0.0, 1.0, 0.0, 2.0 / 255, np.nan, 0.2 + 1e-6]]]).reshape(1, 2, 3)

    def q(x: np.ndarray) -> np.ndarray:
        return np.rint(np.clip(x, 0.0, 1.0) * 255)

    out = np.empty((1, 2), dtype=bool)
    for channels in (1, 2, 3):
        quantised_changes(before, after, channels, 255.0, out)
        np.testing.assert_array_equal(out, (q(before[:, :, :channels]) != q(after[:, :, :channels])).any(axis=2))
    img = (np.arange(24, dtype=np.uint8).reshape(2, 4, 3) * 10)  # integer images: as NumPy promotes them
    np.testing.assert_array_equal(quantised_change(img, img / 255.0), (q(img) != q(img / 255.0)).any(axis=2))
