"""Metric functions on synthetic placements with known answers (original-system.md §7)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from fastshade import ShadeOptions
from fastshade.pipeline.metrics import (
    fragments,
    goal_check,
    longest_covered_span,
    longest_run,
    owner_map,
    parity,
    placement_records,
    principal_axis,
    result_metrics,
    run_length_ratio,
    summarise,
    usage_entropy,
)
from fastshade.pipeline.results import Placement
from fastshade.pipeline.shader import shade_arrays


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


# ----------------------------------------------------------------------------- footprint runs


def test_diagonal_stroke_every_other_pixel_masked():
    t = np.arange(40)
    keep = t % 2 == 0
    p = _placement(t + 5, t + 7, keep)
    (rec,) = placement_records([p], _owner_for([p]), np.array([40]))
    assert rec["run_ratio"] <= 0.05
    assert rec["fragments"] == 20


def test_knight_move_line_is_one_run():
    xs = np.arange(30)
    ys = xs // 2  # slope 1/2, 8-connected
    p = _placement(ys + 10, xs + 10, np.ones(30, bool))
    (rec,) = placement_records([p], _owner_for([p]), np.array([30]))
    assert rec["fragments"] == 1
    assert rec["run_ratio"] == pytest.approx(1.0)


def _bresenham(y0, x0, y1, x1):
    n = max(abs(y1 - y0), abs(x1 - x0)) + 1
    ys = np.rint(np.linspace(y0, y1, n)).astype(np.int64)
    xs = np.rint(np.linspace(x0, x1, n)).astype(np.int64)
    return ys, xs


@settings(deadline=None, max_examples=60)
@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60), st.integers(0, 60), st.data())
def test_any_straight_stroke_fully_kept_is_one_run_and_breaks_when_cut(y0, x0, y1, x1, data):
    ys, xs = _bresenham(y0, x0, y1, x1)
    assume(ys.size >= 3)
    p = _placement(ys, xs, np.ones(ys.size, bool))
    (rec,) = placement_records([p], _owner_for([p]), np.array([ys.size]))
    assert rec["fragments"] == 1
    assert rec["run_ratio"] == pytest.approx(1.0)
    cut = data.draw(st.integers(1, ys.size - 2))
    keep = np.ones(ys.size, bool)
    keep[cut] = False
    p = _placement(ys, xs, keep)
    (rec,) = placement_records([p], _owner_for([p]), np.array([ys.size]))
    assert rec["fragments"] == 2
    assert rec["run_ratio"] < 1.0


@settings(deadline=None, max_examples=40)
@given(st.integers(0, 10_000), st.integers(1, 12), st.integers(1, 12))
def test_fragments_match_scipy_label(seed, h, w):
    rng = np.random.default_rng(seed)
    mask = rng.random((h, w)) < 0.4
    ys, xs = np.nonzero(mask)
    expected = ndimage.label(mask, structure=np.ones((3, 3)))[1]
    assert fragments(ys, xs) == expected


def test_longest_covered_span():
    assert longest_covered_span(np.array([0.0, 1.0, 2.0, 5.0]), 1.0) == 3.0
    assert longest_covered_span(np.array([0.0, 1.4, 2.8]), np.sqrt(2)) == pytest.approx(2.8 + np.sqrt(2))
    assert longest_covered_span(np.array([]), 1.0) == 0.0


# ----------------------------------------------------------------------------- stages


def test_stage_metrics_separate_gate_from_guard():
    xs = np.arange(10, 30)
    ys = np.full(20, 20)
    kept = np.ones(20, bool)
    kept[5] = False  # the gate cuts once
    written = kept.copy()
    written[12] = False  # the ink guard cuts once more
    p = Placement(target_component=0, source_component=0, source_flat=np.arange(20),
                  dst_flat=ys * 100 + xs, attempted=np.ones(20, bool), kept=kept, written=written,
                  dst_y=ys, dst_x=xs, centroid=(0.0, 0.0), shift=(0.0, 0.0))
    (rec,) = placement_records([p], _owner_for([p]), np.array([20]))
    assert rec["kept_fragments"] == 2 and rec["fragments"] == 3
    assert rec["gate_retention"] == pytest.approx(19 / 20)
    assert rec["guard_retention"] == pytest.approx(18 / 19)
    assert rec["survival"] == 1.0
    assert rec["kept_run_ratio"] == pytest.approx(14 / 20)
    assert rec["run_ratio"] == pytest.approx(7 / 20)


def test_owner_map_matches_the_shader():
    from tests.test_shader import _strokes

    res = shade_arrays(_strokes(), None, ShadeOptions(basis="krylov"))
    np.testing.assert_array_equal(owner_map(res.placements, res.target.shape), res.owner)
    visible = [p["visible_pixels"] for p in res.stats["placements"]]
    recs = result_metrics(res)["placements"]
    assert [r["visible_pixels"] for r in recs] == visible


def test_summary_of_nothing_is_defined():
    s = summarise([], n_candidates=0)
    assert s["placements"] == 0 and s["median_run_ratio"] is None and s["mean_fragments"] is None
    json.dumps(s)


# ----------------------------------------------------------------------------- goal and parity


def _summary(run=1.0, frag=1.0, ret=1.0, share=0.2, cand=10, n=10):
    return {"median_run_ratio": run, "mean_fragments": frag, "mean_retention": ret,
            "max_source_share": share, "candidates": cand, "placements": n}


def test_goal_check():
    self_s = _summary(run=0.9)
    assert goal_check(_summary(run=0.81), self_s)["passed"]  # exactly 10 % below
    g = goal_check(_summary(run=0.80), self_s)
    assert not g["passed"] and g["checks"] == {"run_ratio": False, "fragments": True,
                                                "retention": True, "reuse": True}
    assert g["run_ratio_rel"] == pytest.approx(0.8 / 0.9 - 1)
    assert goal_check(_summary(run=1.5), self_s)["passed"]  # longer runs never fail
    assert not goal_check(_summary(frag=1.21), self_s)["checks"]["fragments"]
    assert not goal_check(_summary(ret=0.89), self_s)["checks"]["retention"]
    assert not goal_check(_summary(share=0.51), self_s)["checks"]["reuse"]
    assert goal_check(_summary(share=1.0, cand=3), self_s)["checks"]["reuse"]  # < 4 candidates
    assert goal_check(_summary(share=1.0, n=1), self_s)["checks"]["reuse"]  # a single placement
    assert not goal_check(_summary(share=1.0, n=2), self_s)["checks"]["reuse"]
    g = goal_check(_summary(frag=2.1, ret=0.80), _summary(frag=2.0, ret=0.85))
    assert not g["passed"] and g["passed_relative_to_self"]  # within 10 % of a self that misses too
    g = goal_check(_summary(frag=2.3, ret=0.80), _summary(frag=2.0, ret=0.85))
    assert not g["passed_relative_to_self"] and not g["relative_checks"]["fragments"]
    assert not goal_check(_summary(run=None, frag=None, ret=None), self_s)["passed"]


def test_parity_compares_summaries_and_records():
    ps = [_placement([1, 1], [i * 3, i * 3 + 1], [True, True], target=i, source=i) for i in range(3)]
    m = {"summary": summarise(placement_records(ps, _owner_for(ps), np.full(3, 2)), 3),
         "placements": placement_records(ps, _owner_for(ps), np.full(3, 2))}
    assert parity(m, m)["exact"]
    qs = ps[:2] + [_placement([1, 1], [6, 7], [True, False], target=2, source=0)]
    m2 = {"summary": summarise(placement_records(qs, _owner_for(qs), np.full(3, 2)), 3),
          "placements": placement_records(qs, _owner_for(qs), np.full(3, 2))}
    par = parity(m, m2)
    assert not par["exact"] and par["placements_differ"] == 1
    assert "mean_retention" in par["differences"] and "distinct_sources" in par["differences"]
