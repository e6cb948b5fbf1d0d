"""Cross strategies (fastshade/cross.py): scores, gate, geometry, colours, parity with self.

References are plain NumPy/SciPy loops written here (no kernels of this area).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from fastshade import ShadeOptions
from fastshade.pipeline.components import label_components
from fastshade.pipeline.cross import (
    STRATEGIES,
    affinity_keep,
    component_signatures,
    match_scores,
    parse_affinity_threshold,
    principal_frame,
    procrustes_align,
    quantile_recolour,
    resample_affine,
    score_margin,
    segment_signatures,
    shadow_cross,
    warp_matrix,
    znormalise,
)
from fastshade.pipeline.metrics import owner_map, parity, result_metrics
from fastshade.pipeline.paint import shadow_self
from fastshade.pipeline.results import Analysis, ShadeResult
from fastshade.pipeline.shader import shade_arrays
from tests.conftest import load_rgb
from tests.test_shader import _strokes  # the shared synthetic line art

KRYLOV = ShadeOptions(basis="krylov")


# ----------------------------------------------------------------------------- helpers



def _hand_analysis(mask: np.ndarray, colour=(0.8, 0.1, 0.1), phi: np.ndarray | None = None,
                   void=(0.0, 1.0)) -> Analysis:
    """An analysis whose low gate is ``mask`` (8-connected components of any size), constant
    void direction and a given (or constant) basis."""
    h, w = mask.shape
    rgb = np.ones((h, w, 3))
    rgb[mask] = colour
    zeros = np.zeros((h, w))
    phi = np.ones((h * w, 2)) if phi is None else phi
    field = phi[:, 0].reshape(h, w).copy()
    return Analysis(rgb=rgb, carrier=rgb.mean(axis=2), contours=mask.copy(),
                    basis=SimpleNamespace(vectors=phi), field=field, perp_y=zeros, perp_x=zeros,
                    void_y=np.full((h, w), void[0]), void_x=np.full((h, w), void[1]),
                    high=np.zeros_like(mask), low=mask.copy(),
                    components=label_components(mask, connectivity=8, min_size=1))


def _run(an_t, an_s, opts):
    out = an_t.rgb.copy()
    placements, info = shadow_cross(out, an_t, an_s, opts)
    res = ShadeResult(out, {}, placements, an_t, an_s, owner_map(placements, an_t.shape))
    return out, placements, info, result_metrics(res)


# ----------------------------------------------------------------------------- options


def test_parse_affinity_threshold():
    assert parse_affinity_threshold("mean")[0] == "mean"
    assert parse_affinity_threshold("none")[0] == "none"
    assert parse_affinity_threshold("calibrated")[0] == "calibrated"
    assert parse_affinity_threshold("quantile:0.25") == ("quantile", 0.25)
    for bad in ("median", "quantile:x", "quantile:1.5", "", "quantile:"):
        with pytest.raises(ValueError, match="affinity_threshold"):
            parse_affinity_threshold(bad)


def test_options_reject_unknown_strategy_score_and_gate():
    with pytest.raises(ValueError, match="cross_strategy"):
        ShadeOptions().replace(cross_strategy="magic")
    with pytest.raises(ValueError, match="score"):
        ShadeOptions().replace(score="l1")
    with pytest.raises(ValueError, match="affinity_threshold"):
        ShadeOptions().replace(affinity_threshold="quantile:2")
    for s in STRATEGIES:
        assert ShadeOptions().replace(cross_strategy=s).cross_strategy == s


# ----------------------------------------------------------------------------- scores


def test_procrustes_recovers_a_rotation_and_is_identity_on_equal_bases():
    rng = np.random.default_rng(3)
    phi_t = rng.normal(size=(20 * 30, 4))
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    aligned = procrustes_align(phi_t, phi_t @ q, (20, 30), (20, 30), samples=200, seed=1)
    np.testing.assert_allclose(aligned, phi_t, atol=1e-10)
    np.testing.assert_allclose(procrustes_align(phi_t, phi_t, (20, 30), (20, 30)), phi_t, atol=1e-10)


def test_component_and_segment_signatures_match_loops():
    rng = np.random.default_rng(5)
    mask = rng.random((24, 31)) < 0.35
    comps = label_components(mask, connectivity=8, min_size=1)
    phi = rng.normal(size=(24 * 31, 3))
    field = rng.normal(size=(24, 31))
    sig = component_signatures(phi, comps)
    seg = segment_signatures(field, comps)
    for i in range(comps.n):
        pix = comps.pixels_of(i)
        np.testing.assert_allclose(sig[i], phi[pix].mean(axis=0), atol=1e-12)
        ys, xs = np.divmod(pix, 31)
        vals = field.ravel()[pix]
        std = vals.std(ddof=1) if pix.size > 1 else 0.0
        aspect = (xs.max() + 1 - xs.min()) / max(ys.max() + 1 - ys.min(), 1)
        np.testing.assert_allclose(seg[i], [vals.mean(), std + 1e-8, np.log(pix.size + 1), aspect],
                                   atol=1e-12)


def test_znormalise_edge_cases():
    z = znormalise(np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]]))
    np.testing.assert_allclose(z[:, 0], [-1, 0, 1])
    np.testing.assert_allclose(z[:, 1], 0)  # zero spread: centred, no NaN
    np.testing.assert_allclose(znormalise(np.array([[2.0, 3.0]])), [[0.0, 0.0]])
    assert znormalise(np.zeros((0, 4))).shape == (0, 4)


def test_match_scores_and_the_dot_product_norm_bias():
    # H5: a small component's mean vector has a large norm; |dot| prefers it even though
    # another candidate points the same way as the query.
    query = np.array([[1.0, 0.0]])
    cands = np.array([[0.1, 0.0], [3.0, 3.0]])  # same direction but short / other direction, long
    assert np.argmax(match_scores(query, cands, "dot")[0]) == 1
    assert np.argmax(match_scores(query, cands, "cosine")[0]) == 0
    np.testing.assert_allclose(match_scores(query, cands, "cosine")[0], [1.0, np.sqrt(0.5)])
    d = match_scores(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0], [1.0, 0.0]]), "signature")
    np.testing.assert_allclose(d, [[-25.0, -1.0]])
    with pytest.raises(ValueError, match="score"):
        match_scores(query, cands, "l1")


def test_score_margin():
    assert score_margin(np.array([0.0, 1.0, 0.5])) == pytest.approx(0.5)
    assert score_margin(np.array([2.0, 2.0])) == 0.0
    assert np.isnan(score_margin(np.array([1.0])))


# ----------------------------------------------------------------------------- the gate


def test_affinity_keep_modes():
    aff = np.array([1.0, 2.0, 3.0, 4.0, np.nan, 10.0])
    inside = np.array([1, 1, 1, 1, 0, 1], dtype=bool)
    np.testing.assert_array_equal(affinity_keep(aff, inside, "none"), inside)
    np.testing.assert_array_equal(affinity_keep(aff, inside, "mean"), [0, 0, 0, 0, 0, 1])  # mean 4
    np.testing.assert_array_equal(affinity_keep(aff, inside, "quantile:0.5"), [0, 0, 0, 1, 0, 1])
    np.testing.assert_array_equal(affinity_keep(aff, inside, "calibrated", 0.6), [0, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(affinity_keep(aff, inside, "calibrated", 0.0), [0] * 6)
    np.testing.assert_array_equal(affinity_keep(aff, inside, "calibrated", 1.0), inside)
    assert not affinity_keep(aff, np.zeros(6, bool), "mean").any()
    with pytest.raises(ValueError, match="keep_fraction"):
        affinity_keep(aff, inside, "calibrated")


@settings(deadline=None, max_examples=40)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=40))
def test_calibrated_gate_on_self_affinities_equals_the_mean_gate(values):
    aff = np.asarray(values)
    inside = np.ones(aff.size, dtype=bool)
    mean_keep = affinity_keep(aff, inside, "mean")
    frac = mean_keep.mean()
    np.testing.assert_array_equal(affinity_keep(aff, inside, "calibrated", frac), mean_keep)


# ----------------------------------------------------------------------------- geometry


def test_principal_frame_of_a_horizontal_line():
    c, f, e = principal_frame(np.full(9, 4), np.arange(9))
    np.testing.assert_allclose(c, [4, 4])
    np.testing.assert_allclose(np.abs(f[0]), [0, 1], atol=1e-12)
    assert np.linalg.det(f) == pytest.approx(1.0)
    np.testing.assert_allclose(e, [9, 1])


def test_warp_turns_a_vertical_sample_onto_a_horizontal_target_and_stretches_it():
    sample = principal_frame(np.arange(10, 20), np.full(10, 3))  # vertical, 10 px
    target = principal_frame(np.full(30, 7), np.arange(40, 70))  # horizontal, 30 px
    a, b = warp_matrix(sample, target)
    vy, vx, idx = resample_affine(np.arange(10, 20), np.full(10, 3), a, b)
    assert set(vy.tolist()) == {7}
    assert sorted(vx.tolist()) == list(range(40, 70))  # no holes, target's extent
    assert idx.min() >= 0 and idx.max() < 10
    a_iso, _ = warp_matrix(sample, target, isotropic=True)
    np.testing.assert_allclose(a_iso, 3.0 * np.eye(2))


def _resample_reference(ys, xs, a, b):
    """Loop reference of resample_affine's pixel set."""
    src = set(zip(ys.tolist(), xs.tolist()))
    fwd = {tuple(np.rint(a @ [y, x] + b).astype(int).tolist()) for y, x in src}
    arr = np.array(sorted(fwd))
    inv = np.linalg.inv(a)
    got = set(fwd)
    for y in range(arr[:, 0].min() - 1, arr[:, 0].max() + 2):
        for x in range(arr[:, 1].min() - 1, arr[:, 1].max() + 2):
            p = tuple(np.rint(inv @ (np.array([y, x], float) - b)).astype(int).tolist())
            if p in src:
                got.add((y, x))
    return got


@settings(deadline=None, max_examples=30)
@given(st.integers(0, 10_000), st.floats(0.3, 3.0), st.floats(0.3, 3.0), st.floats(-3.2, 3.2))
def test_resample_affine_matches_loop_reference(seed, su, sv, angle):
    rng = np.random.default_rng(seed)
    mask = rng.random((7, 9)) < 0.5
    mask[3, 4] = True
    ys, xs = np.nonzero(mask)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    a = rot @ np.diag([su, sv])
    b = np.array([20.3, -4.7])
    vy, vx, idx = resample_affine(ys, xs, a, b)
    got = set(zip(vy.tolist(), vx.tolist()))
    assert len(got) == vy.size  # distinct
    assert got == _resample_reference(ys, xs, a, b)
    assert idx.min() >= 0 and idx.max() < ys.size


def test_resample_identity_and_stretch_keep_a_stroke_connected():
    ys, xs = np.arange(12), np.arange(12)  # diagonal stroke
    vy, vx, idx = resample_affine(ys, xs, np.eye(2), np.zeros(2))
    np.testing.assert_array_equal(vy, ys)
    np.testing.assert_array_equal(vx, xs)
    np.testing.assert_array_equal(idx, np.arange(12))
    for s in (0.4, 2.5):
        vy, vx, _ = resample_affine(ys, xs, s * np.eye(2), np.zeros(2))
        m = np.zeros((vy.max() - vy.min() + 1, vx.max() - vx.min() + 1), bool)
        m[vy - vy.min(), vx - vx.min()] = True
        assert ndimage.label(m, structure=np.ones((3, 3)))[1] == 1
    assert resample_affine(np.zeros(0, int), np.zeros(0, int), np.eye(2), np.zeros(2))[0].size == 0


# ----------------------------------------------------------------------------- colours


def test_quantile_recolour():
    rng = np.random.default_rng(2)
    c = rng.random((17, 3))
    np.testing.assert_array_equal(quantile_recolour(c, c), c)  # a set matched to itself
    flat = quantile_recolour(c, np.tile([0.2, 0.4, 0.6], (5, 1)))
    np.testing.assert_allclose(flat, np.tile([0.2, 0.4, 0.6], (17, 1)))
    pal = rng.random((40, 3))
    out = quantile_recolour(c, pal)
    for ch in range(3):  # monotone per channel, within the palette's range
        order = np.argsort(c[:, ch])
        assert np.all(np.diff(out[order, ch]) >= 0)
        assert out[:, ch].min() >= pal[:, ch].min() and out[:, ch].max() <= pal[:, ch].max()
    np.testing.assert_allclose(quantile_recolour(c[:1], pal), [np.median(pal, axis=0)])


# ----------------------------------------------------------------------------- end to end


def test_strategies_on_hand_built_shapes():
    # target: one horizontal 21-px stroke; sample: one vertical 9-px stroke (blue).  Odd
    # lengths keep the centroids on integers (a half-integer centroid with an axis-aligned
    # shift puts every destination on a .5 tie; see the half-pixel test below).
    t_mask = np.zeros((60, 80), bool)
    t_mask[30, 20:41] = True
    s_mask = np.zeros((40, 40), bool)
    s_mask[10:19, 5] = True
    an_t = _hand_analysis(t_mask, colour=(0.8, 0.1, 0.1))
    an_s = _hand_analysis(s_mask, colour=(0.1, 0.1, 0.9))
    base = ShadeOptions(shadow_distance=10.0, hue_angle=0.0, affinity_threshold="none", score="cosine",
                        scale_normalise=False)
    # unified: the sample's 9 px, a quarter turn (-> horizontal) about the target centroid (30, 30),
    # pushed 10 px along +x
    _, (p,), _, m = _run(an_t, an_s, base.replace(cross_strategy="unified"))
    assert set(zip(p.dst_y[p.written].tolist(), p.dst_x[p.written].tolist())) == {(30, x) for x in range(36, 45)}
    assert m["summary"]["mean_fragments"] == 1.0
    # warp: stretched onto the target's 21-px extent, then the quarter turn -> vertical 21 px at x = 40
    out, (p,), _, m = _run(an_t, an_s, base.replace(cross_strategy="warp"))
    assert set(zip(p.dst_y[p.written].tolist(), p.dst_x[p.written].tolist())) == {(y, 40) for y in range(20, 41)}
    assert m["summary"]["mean_fragments"] == 1.0 and m["summary"]["median_run_ratio"] == 1.0
    np.testing.assert_allclose(out[p.dst_y[p.written], p.dst_x[p.written]], [[0.1, 0.1, 0.9]] * 21)
    # scale-normalise: isotropic 21/9 of the 1-px-wide sample -> a 21 x 2..3 px bar
    _, (p,), _, m = _run(an_t, an_s, base.replace(cross_strategy="unified", scale_normalise=True))
    assert 21 * 2 <= p.written.sum() <= 21 * 3 and m["summary"]["mean_fragments"] == 1.0
    # recolor and gate-only: the target's own geometry (= self), the sample's colour
    self_out = an_t.rgb.copy()
    (ps,) = shadow_self(self_out, an_t, base)
    for strat in ("recolor", "gate-only"):
        out, (p,), _, _ = _run(an_t, an_s, base.replace(cross_strategy=strat))
        np.testing.assert_array_equal(p.dst_flat, ps.dst_flat)
        np.testing.assert_allclose(out[p.dst_y, p.dst_x], [[0.1, 0.1, 0.9]] * 21)


def test_half_pixel_centroids_keep_the_stroke_whole_in_self_mode():
    # the documented rounding effect: even-length stroke, axis-aligned shift; every
    # destination row y = 59.5 - x (x = 20..39) is a k + 0.5 tie
    mask = np.zeros((60, 80), bool)
    mask[30, 20:40] = True
    an = _hand_analysis(mask)

    def shade(rounding="half-up"):
        out = an.rgb.copy()
        (p,) = shadow_self(out, an, ShadeOptions(shadow_distance=10.0), rounding=rounding)
        cells = set(zip(p.dst_y[p.written].tolist(), p.dst_x[p.written].tolist()))
        return cells, result_metrics(ShadeResult(out, {}, [p], an, None, owner_map([p], an.shape)))

    # the pipeline rounds half up: floor(60 - x) = 60 - x, the whole 20-px stroke in rows 21..40
    cells, m = shade()
    assert {y for y, _ in cells} == set(range(21, 41)) and len(cells) == 20
    assert m["summary"]["mean_fragments"] == 1.0
    # the original's half to even (the experiment): every .5 goes to an even row, pairs collapse
    cells, m = shade("half-even")
    assert {y for y, _ in cells} == set(range(20, 41, 2))
    assert m["summary"]["mean_fragments"] == 11.0


def test_gates_break_strokes_and_stages_nest():
    img = _strokes()
    for strat in STRATEGIES:
        for gate in ("mean", "none", "calibrated", "quantile:0.3"):
            opts = KRYLOV.replace(cross_strategy=strat, affinity_threshold=gate, score="signature")
            res = shade_arrays(img, np.ascontiguousarray(img[::-1]), opts)
            for p in res.placements:
                assert not (p.written & ~p.kept).any() and not (p.kept & ~p.attempted).any()
            ink = img.mean(axis=2) <= opts.ink_guard
            assert (res.image[ink][:, :3] <= 1.0).all()
            if gate == "none":
                assert all((p.kept == p.attempted).all() for p in res.placements)


def test_unknown_strategy_raises_in_shadow_cross():
    an = _hand_analysis(np.eye(12, dtype=bool))
    opts = ShadeOptions()
    object.__setattr__(opts, "cross_strategy", "magic")  # bypass validation on purpose
    with pytest.raises(ValueError, match="cross_strategy"):
        shadow_cross(an.rgb.copy(), an, an, opts)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("score", ["cosine", "signature"])
def test_parity_sample_equal_target_reproduces_self_exactly(strategy, score):
    img = _strokes()
    opts = KRYLOV.replace(cross_strategy=strategy, score=score, affinity_threshold="none",
                          scale_normalise=strategy == "unified")
    self_res = shade_arrays(img, None, opts)
    for cross_res in (shade_arrays(img, None, opts, force_cross=True), shade_arrays(img, img.copy(), opts)):
        assert cross_res.stats["mode"] == "cross" and len(cross_res.placements) > 0
        par = parity(result_metrics(self_res), result_metrics(cross_res))
        assert par["exact"], par
        np.testing.assert_array_equal(self_res.image, cross_res.image)


@pytest.mark.parametrize("placement", ["fit", "fit-whole"])
def test_parity_holds_when_fit_placements_skip_shadows(placement):
    img = load_rgb("offhand_pleometric.png")  # dense: filled components with no free spot
    opts = KRYLOV.replace(shadow_placement=placement)
    self_res = shade_arrays(img, None, opts)
    assert self_res.stats["skipped_shadows"] > 0
    assert len(self_res.placements) + self_res.stats["skipped_shadows"] == self_res.target.components.n
    cross_res = shade_arrays(img, None, opts, force_cross=True)
    assert cross_res.stats["skipped_shadows"] == self_res.stats["skipped_shadows"]
    par = parity(result_metrics(self_res), result_metrics(cross_res))
    assert par["exact"], par
    np.testing.assert_array_equal(self_res.image, cross_res.image)


def test_parity_fails_for_the_baseline_and_says_why():
    img = _strokes()
    opts = KRYLOV.replace(cross_strategy="unified", score="dot", affinity_threshold="mean")
    self_m = result_metrics(shade_arrays(img, None, opts))
    cross = shade_arrays(img, None, opts, force_cross=True)
    par = parity(self_m, result_metrics(cross))
    assert not par["exact"]
    assert any(p.kept.sum() < p.attempted.sum() for p in cross.placements)  # the gate drops pixels


# ----------------------------------------------------------------------------------------
# the sample's eigensolve is skipped when the configuration does not read it
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("score,gate,strategy,expected", [
    ("signature", "none", "unified", False),
    ("signature", "none", "warp", False),
    ("signature", "mean", "recolor", False),   # recolor/gate-only gate on the target's basis
    ("signature", "calibrated", "gate-only", False),
    ("signature", "mean", "unified", True),
    ("signature", "quantile:0.3", "warp", True),
    ("dot", "none", "unified", True),
    ("cosine", "none", "recolor", True),
])
def test_reads_sample_basis(score, gate, strategy, expected):
    from fastshade.pipeline.cross import reads_sample_basis

    opts = ShadeOptions(score=score, affinity_threshold=gate, cross_strategy=strategy)
    assert reads_sample_basis(opts) is expected


def _sample_art() -> np.ndarray:
    img = _strokes(80, 88)
    img[10:14, 20:70] = 0.0  # a bar and a box outline: other shapes than the target's
    img[40:60, 50:52] = 0.0
    img[40:42, 50:70] = 0.0
    return img


@pytest.mark.parametrize("overrides", [{}, {"cross_strategy": "warp"}, {"cross_strategy": "recolor"},
                                       {"cross_strategy": "gate-only", "scale_normalise": False}])
def test_skipping_the_sample_basis_changes_no_pixel(monkeypatch, overrides):
    import fastshade.pipeline.shader as shader_mod

    opts = ShadeOptions(**overrides)
    target, sample = _strokes(), _sample_art()
    skipped = shade_arrays(target, sample, opts)
    assert skipped.stats["sample_basis"]["method"] == "none"
    assert "not read" in skipped.stats["sample_basis"]["reason"]
    assert skipped.sample.basis is None
    assert len(skipped.placements) > 0
    monkeypatch.setattr(shader_mod, "reads_sample_basis", lambda o: True)  # force the eigensolve
    full = shade_arrays(target, sample, opts)
    assert full.sample.basis is not None
    assert full.stats["sample_basis"]["method"] != "none"
    np.testing.assert_array_equal(skipped.image, full.image)
    assert [p.written.tolist() for p in skipped.placements] == [p.written.tolist() for p in full.placements]


def test_configurations_that_read_the_sample_basis_compute_it():
    res = shade_arrays(_strokes(), _sample_art(), ShadeOptions(score="dot"))
    assert res.sample.basis is not None
    assert res.stats["sample_basis"]["method"] != "none"
    assert all(p.affinity is not None for p in res.placements)
