"""Metric functions on synthetic placements with known answers (original-system.md §7)."""

from __future__ import annotations

import numpy as np
import pytest

from fastshade.metrics import (
    fragments,
    longest_run,
    placement_records,
    principal_axis,
    run_length_ratio,
    summarise,
    usage_entropy,
)
from fastshade.shader import Placement


def _placement(ys, xs, written, target=0, source=0, margin=0.5):
    ys = np.asarray(ys, dtype=np.int64)
    xs = np.asarray(xs, dtype=np.int64)
    inside = np.ones(ys.size, dtype=bool)
    return Placement(target_component=target, source_component=source,
                     source_flat=np.arange(ys.size), dst_flat=ys * 100 + xs, attempted=inside,
                     kept=np.asarray(written, dtype=bool), written=np.asarray(written, dtype=bool),
                     dst_y=ys, dst_x=xs, centroid=(0.0, 0.0), shift=(0.0, 0.0), score_margin=margin)


def _owner_for(placements, shape=(100, 100)):
    owner = np.full(shape, -1, dtype=np.int32)
    for i, p in enumerate(placements):
        owner[p.dst_y[p.written], p.dst_x[p.written]] = i
    return owner


def test_straight_stroke_fully_kept_is_one_fragment_with_run_ratio_one():
    xs = np.arange(10, 50)
    ys = np.full(40, 20)
    p = _placement(ys, xs, np.ones(40, bool))
    (rec,) = placement_records([p], _owner_for([p]), np.array([40]))
    assert rec["fragments"] == 1
    assert rec["run_ratio"] == pytest.approx(1.0)
    assert rec["retention"] == 1.0


def test_every_other_pixel_masked_breaks_the_stroke():
    xs = np.arange(10, 50)
    ys = np.full(40, 20)
    keep = np.arange(40) % 2 == 0
    p = _placement(ys, xs, keep)
    (rec,) = placement_records([p], _owner_for([p]), np.array([40]))
    assert rec["run_ratio"] <= 0.05
    assert rec["fragments"] == 20
    assert rec["retention"] == 0.5


def test_diagonal_stroke_is_one_fragment_and_full_run():
    t = np.arange(30)
    p = _placement(t + 5, t + 7, np.ones(30, bool))
    (rec,) = placement_records([p], _owner_for([p]), np.array([30]))
    assert rec["fragments"] == 1
    assert rec["run_ratio"] == pytest.approx(1.0, abs=0.05)


def test_overwritten_pixels_are_not_visible():
    xs = np.arange(0, 20)
    a = _placement(np.full(20, 5), xs, np.ones(20, bool), target=0, source=0)
    b = _placement(np.full(10, 5), np.arange(5, 15), np.ones(10, bool), target=1, source=1)
    recs = placement_records([a, b], _owner_for([a, b]), np.array([20, 10]))
    assert recs[0]["visible_pixels"] == 10
    assert recs[0]["fragments"] == 2
    assert recs[1]["visible_pixels"] == 10


def test_helpers():
    assert longest_run(np.array([5, 3, 4, 9, 10, 4])) == 3
    assert longest_run(np.array([], dtype=np.int64)) == 0
    np.testing.assert_allclose(np.abs(principal_axis(np.zeros(5), np.arange(5.0))), [0, 1])
    assert fragments(np.array([0, 0, 5]), np.array([0, 1, 5])) == 2
    assert usage_entropy([1, 1, 1, 1]) == 0.0
    assert usage_entropy([0, 1, 2, 3]) == pytest.approx(2.0)
    assert run_length_ratio(np.zeros(4), np.arange(4.0), np.zeros(0), np.zeros(0)) == 0.0


def test_summary_reuse_and_collapse():
    ps = [_placement([1, 1], [i * 3, i * 3 + 1], [True, True], target=i, source=0) for i in range(4)]
    s = summarise(placement_records(ps, _owner_for(ps), np.full(4, 2)), n_candidates=5)
    assert s["distinct_sources"] == 1
    assert s["max_source_share"] == 1.0
    assert s["usage_entropy_bits"] == 0.0
    assert s["mean_fragments"] == 1.0
