"""The shader end to end: geometry of the shadow copy, ink guard, thicken, parity, determinism."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from fastshade import ShadeOptions
from fastshade.demo import demo_image
from fastshade.pipeline.components import label_components
from fastshade.pipeline.gates import carrier_of
from fastshade.pipeline.paint import shadow_self, thicken
from fastshade.pipeline.results import Analysis
from fastshade.pipeline.shader import analyse, shade, shade_arrays
from fastshade.reference import perpendicular_scatter_loop
from tests.conftest import ROOT, load_rgb

KRYLOV = ShadeOptions(basis="krylov")


def _strokes(h=96, w=96):
    """Synthetic line art: a circle outline, a diagonal and an L, 2 px black strokes."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h * 0.45, xx - w * 0.5)
    ink = (np.abs(r - h * 0.3) < 1.1)
    ink |= (np.abs(yy - xx) < 1) & (xx > 5) & (xx < w // 3)
    ink[h - 20:h - 8, 8:10] = True
    ink[h - 10:h - 8, 8:30] = True
    img = np.ones((h, w, 3))
    img[ink] = 0.0
    return img


def _analysis_for_mask(mask: np.ndarray, void=(0.0, 1.0)) -> Analysis:
    """A hand-built analysis: the mask is the (only) low-gate ink; void direction constant."""
    h, w = mask.shape
    rgb = np.ones((h, w, 3))
    rgb[mask] = [0.8, 0.1, 0.1]
    carrier = rgb.mean(axis=2)
    zeros = np.zeros((h, w))
    comps = label_components(mask, connectivity=8, min_size=1)
    return Analysis(rgb=rgb, carrier=carrier, contours=mask.copy(), basis=None, field=zeros,
                    perp_y=zeros, perp_x=zeros, void_y=np.full((h, w), void[0]),
                    void_x=np.full((h, w), void[1]), high=np.zeros_like(mask), low=mask.copy(),
                    components=comps)


def test_l_shape_shadows_to_its_exact_quarter_turn_at_the_expected_offset():
    h, w = 40, 50
    mask = np.zeros((h, w), dtype=bool)
    # L: vertical bar x=10, y=10..19 and horizontal foot y=19, x=10..15 (15 px)
    mask[10:20, 10] = True
    mask[19, 10:16] = True
    an = _analysis_for_mask(mask, void=(0.0, 1.0))  # push +x
    opts = ShadeOptions(shadow_distance=15.0, hue_angle=1.0)
    out = an.rgb.copy()
    (p,) = shadow_self(out, an, opts)
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    # By hand: (dy, dx) -> (-dx, dy) about the centroid, then +15 px in x, round half up.
    exp_y = np.floor(cy - (xs - cx) + 0.5).astype(int)
    exp_x = np.floor(cx + (ys - cy) + 15.0 + 0.5).astype(int)
    expected = set(zip(exp_y.tolist(), exp_x.tolist()))
    got = set(zip(p.dst_y[p.written].tolist(), p.dst_x[p.written].tolist()))
    assert got == expected
    # The written colour is the hue-rotated ink colour (0.8, 0.1, 0.1).
    m = 0.333 * 1.0
    r = m + np.cos(1.0) * (0.8 - m) - np.sin(1.0) * (0.1 - m)
    g = m + np.sin(1.0) * (0.8 - m) + np.cos(1.0) * (0.1 - m)
    for y, x in expected:
        np.testing.assert_allclose(out[y, x], np.clip([r, g, 0.1], 0, 1), atol=1e-12)
    # nothing else changed
    changed = np.any(out != an.rgb, axis=2)
    assert set(zip(*np.nonzero(changed))) == expected


def test_shadow_never_paints_ink_or_out_of_bounds():
    mask = np.zeros((20, 20), dtype=bool)
    mask[2:12, 17] = True  # will be pushed off the right edge
    mask[5, 3:8] = True
    an = _analysis_for_mask(mask, void=(0.0, 1.0))
    an.carrier[mask] = 0.0  # dark ink (the helper's red ink is lighter than the guard)
    for placement in ("fixed", "free"):
        out = an.rgb.copy()
        placements = shadow_self(out, an, ShadeOptions(shadow_distance=6.0,
                                                       shadow_placement=placement))
        written = sum(p.written.sum() for p in placements)
        if placement == "fixed":  # pushed off the right edge: clipped
            assert written < sum(p.source_flat.size for p in placements)
        np.testing.assert_array_equal(out[mask], an.rgb[mask])


def _quarter_turn_pushed(mask, shift):
    """Destinations (set of (y, x)) of the 90° copy of ``mask`` about its centroid, by hand."""
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    dy = np.floor(cy - (xs - cx) + shift[0] + 0.5).astype(int)
    dx = np.floor(cx + (ys - cy) + shift[1] + 0.5).astype(int)
    return list(zip(dy.tolist(), dx.tolist()))


def _first_free_push(mask, ink, occupied, distance, void):
    """Reference of shadow_placement="free": pushes 1, 1.5, 2, 2.5, 3, 4 (x distance) along
    the void direction, then against it; the first with >= 98 % of the copy inside, on paper,
    unoccupied, else the one with the most such pixels."""
    h, w = mask.shape
    best, best_free = None, -1
    for sign in (1.0, -1.0):
        for f in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0):
            shift = (sign * f * distance * void[0], sign * f * distance * void[1])
            free = sum(1 for y, x in _quarter_turn_pushed(mask, shift)
                       if 0 <= y < h and 0 <= x < w and not ink[y, x] and not occupied[y, x])
            if free > best_free:
                best, best_free = shift, free
            if free >= 0.98 * mask.sum():
                return shift
    return best


def test_free_placement_moves_blocked_shadows_to_the_first_free_push():
    h, w = 60, 90
    mask = np.zeros((h, w), dtype=bool)
    mask[10:20, 10] = True  # the L of the test above
    mask[19, 10:16] = True
    an = _analysis_for_mask(mask, void=(0.0, 1.0))
    blocker = np.zeros((h, w), dtype=bool)
    blocker[:, 28:31] = True  # an ink bar across the fixed push (+15 px) and the 1.5x push
    an.carrier[blocker] = 0.0
    ink = an.carrier <= 0.3
    fixed = shadow_self(an.rgb.copy(), an, ShadeOptions(shadow_placement="fixed"))[0]
    assert fixed.written.sum() < mask.sum()  # clipped on the bar
    out = an.rgb.copy()
    (p,) = shadow_self(out, an, ShadeOptions())  # default: free
    expected_shift = _first_free_push(mask, ink, np.zeros((h, w), dtype=bool), 15.0, (0.0, 1.0))
    assert expected_shift[1] > 15.0 * 1.5  # the bar blocks the first two pushes
    np.testing.assert_allclose(p.shift, expected_shift, atol=1e-12)
    got = set(zip(p.dst_y[p.written].tolist(), p.dst_x[p.written].tolist()))
    assert got == set(_quarter_turn_pushed(mask, expected_shift))  # whole: nothing clipped
    assert not any(ink[y, x] for y, x in got)


def test_free_placement_avoids_earlier_shadows_and_the_image_edge():
    h, w = 40, 60
    mask = np.zeros((h, w), dtype=bool)
    mask[5:15, 20] = True  # two parallel bars: their fixed pushes would overlap
    mask[5:15, 22] = True
    mask[25:35, 55] = True  # near the right edge: pushed +x it falls off the image
    an = _analysis_for_mask(mask, void=(0.0, 1.0))
    opts = ShadeOptions(shadow_distance=8.0)
    out = an.rgb.copy()
    placements = shadow_self(out, an, opts)
    ink = an.carrier <= 0.3
    occupied = np.zeros((h, w), dtype=bool)
    labels = an.components
    for i, p in enumerate(placements):
        comp = np.zeros(h * w, dtype=bool)
        comp[labels.pixels_of(i)] = True
        expected = _first_free_push(comp.reshape(h, w), ink, occupied, 8.0, (0.0, 1.0))
        np.testing.assert_allclose(p.shift, expected, atol=1e-12)
        dst = list(zip(p.dst_y[p.written].tolist(), p.dst_x[p.written].tolist()))
        assert len(dst) == p.source_flat.size  # every copy is whole
        assert not any(occupied[y, x] for y, x in dst)  # and overwrites no earlier shadow
        for y, x in dst:
            occupied[y, x] = True
    assert placements[2].shift[1] < 0  # the edge bar went the other way
    fixed = shadow_self(an.rgb.copy(), an, opts.replace(shadow_placement="fixed"))
    assert fixed[2].written.sum() < fixed[2].source_flat.size


FIT_PLACEMENTS = ("fit", "fit-dirs", "fit-diag", "fit-whole")


def test_fit_placements_skip_a_shadow_with_no_free_spot():
    mask = np.zeros((40, 40), dtype=bool)
    mask[15:25, 20] = True
    an = _analysis_for_mask(mask, void=(0.0, 1.0))
    an.carrier[:] = 0.0  # all ink: no push lands on paper
    assert len(shadow_self(an.rgb.copy(), an, ShadeOptions(shadow_placement="free"))) == 1
    for placement in FIT_PLACEMENTS:
        out = an.rgb.copy()
        assert shadow_self(out, an, ShadeOptions(shadow_placement=placement)) == []
        np.testing.assert_array_equal(out, an.rgb)


def test_fit_dirs_tries_the_perpendicular_before_skipping():
    h, w = 80, 80
    mask = np.zeros((h, w), dtype=bool)
    mask[35:46, 40] = True  # its quarter turn is a horizontal bar on row 40
    an = _analysis_for_mask(mask, void=(0.0, 1.0))
    an.carrier[32:49, :] = 0.0  # an ink band along the void line: +-x pushes all land on ink
    assert shadow_self(an.rgb.copy(), an, ShadeOptions(shadow_placement="fit")) == []
    for placement in ("fit-dirs", "fit-diag", "fit-whole"):
        out = an.rgb.copy()
        (p,) = shadow_self(out, an, ShadeOptions(shadow_placement=placement))
        np.testing.assert_allclose(p.shift, (15.0, 0.0), atol=1e-12)  # first perpendicular push
        got = set(zip(p.dst_y[p.written].tolist(), p.dst_x[p.written].tolist()))
        assert got == set(_quarter_turn_pushed(mask, (15.0, 0.0)))


@pytest.mark.parametrize("hole, drawn", [(0, True), (10, False)], ids=["end", "middle"])
def test_fit_whole_keeps_a_nearly_free_copy_only_in_one_piece(hole, drawn):
    h, w = 60, 80
    mask = np.zeros((h, w), dtype=bool)
    mask[20:40, 30] = True  # 20 px; quarter turn: 20 px on one row
    an = _analysis_for_mask(mask, void=(0.0, 1.0))
    an.carrier[:] = 0.0
    dst = sorted(_quarter_turn_pushed(mask, (0.0, 15.0)), key=lambda t: t[1])
    for k, (y, x) in enumerate(dst):
        if k != hole:
            an.carrier[y, x] = 1.0  # paper exactly under the first push, one pixel missing (95 %)
    assert shadow_self(an.rgb.copy(), an, ShadeOptions(shadow_placement="fit-diag")) == []
    placements = shadow_self(an.rgb.copy(), an, ShadeOptions(shadow_placement="fit-whole"))
    assert len(placements) == int(drawn)
    if drawn:
        np.testing.assert_allclose(placements[0].shift, (0.0, 15.0), atol=1e-12)
        assert placements[0].written.sum() == 19


def test_fit_placements_agree_with_free_when_every_shadow_fits():
    img = _strokes()
    free = shade_arrays(img, None, KRYLOV)
    assert free.stats["skipped_shadows"] == 0
    for placement in FIT_PLACEMENTS:
        res = shade_arrays(img, None, KRYLOV.replace(shadow_placement=placement))
        assert res.stats["skipped_shadows"] == 0
        np.testing.assert_array_equal(res.image, free.image)


@pytest.mark.parametrize("opts", [ShadeOptions(), KRYLOV], ids=["lobpcg", "krylov"])
def test_ink_is_never_overwritten_by_shadows(opts):
    img = _strokes()
    res = shade_arrays(img, None, opts)
    carrier = carrier_of(img)
    thick, _ = thicken(res.target, opts)
    ink = carrier <= opts.ink_guard
    np.testing.assert_array_equal(res.image[ink], thick[ink])
    assert res.stats["mode"] == "self"


def _check_thicken_against_reference(img):
    """Shader thicken stage == NumPy reference on the real fields; never on contours."""
    from fastshade.reference import thickening_budget_numpy

    opts = KRYLOV
    an = analyse(img, opts)
    out, written = thicken(an, opts)
    h, w = an.shape
    sources = np.flatnonzero(an.high)
    # the original's budget: the energy normalised over the high-gate sources (§3.5)
    budget = thickening_budget_numpy(an.basis.vectors, opts.thick_radius, opts.budget_attenuation,
                                     sources).reshape(h, w)
    ref_out, ref_written, _ = perpendicular_scatter_loop(
        img, sources, an.perp_y, an.perp_x, budget, an.contours, opts.thick_radius)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(written, np.asarray(ref_written, dtype=bool))
    assert not (written & an.contours).any()
    return written


def test_thicken_stage_matches_numpy_reference_on_synthetic_strokes():
    assert _check_thicken_against_reference(_strokes(128, 128)).sum() > 20


def test_thicken_on_toof_matches_reference_and_respects_the_perpendicular():
    assert _check_thicken_against_reference(load_rgb("toof.png")).sum() > 100


def test_cross_with_sample_equal_target_reproduces_self_placements():
    img = _strokes()
    for opts in (ShadeOptions(basis="krylov", score="cosine", affinity_threshold="none"),
                 ShadeOptions(score="cosine", affinity_threshold="none")):
        self_res = shade_arrays(img, None, opts)
        cross_res = shade_arrays(img, None, opts, force_cross=True)
        assert self_res.stats["mode"] == "self" and cross_res.stats["mode"] == "cross"
        assert len(self_res.placements) == len(cross_res.placements) > 0
        for a, b in zip(self_res.placements, cross_res.placements):
            assert b.source_component == b.target_component == a.target_component
            np.testing.assert_array_equal(a.dst_flat, b.dst_flat)
            np.testing.assert_array_equal(a.written, b.written)
        np.testing.assert_array_equal(self_res.image, cross_res.image)


def test_cross_mode_with_a_different_sample_runs_and_reports():
    a = _strokes(96, 96)
    b = np.ones((80, 70, 3))
    b[20:60, 30:32] = 0.0
    b[40:42, 10:60] = 0.0
    img, stats = shade(a, b, ShadeOptions(basis="krylov"))
    assert img.shape == a.shape
    assert stats["mode"] == "cross"
    json.dumps(stats)
    for p in stats["placements"]:
        assert p["written_pixels"] <= p["kept_pixels"] <= p["attempted_pixels"] <= p["source_pixels"]


def test_stats_contract_and_json():
    img, stats = shade(_strokes(), options=KRYLOV)
    for key in ("high_gate_pixels", "low_gate_pixels", "components", "placements", "basis", "timings"):
        assert key in stats
    assert isinstance(stats["high_gate_pixels"], int) and isinstance(stats["low_gate_pixels"], int)
    assert stats["components"] == [p["source_pixels"] for p in stats["placements"]]
    assert all(c >= 10 for c in stats["components"])
    for p in stats["placements"]:
        assert set(p) >= {"source_pixels", "written_pixels"}
    assert stats["basis"]["method"] == "krylov"
    assert all(v >= 0 for v in stats["timings"].values())
    json.loads(json.dumps(stats))


def test_blank_and_tiny_images_give_defined_output():
    for img in (np.ones((32, 32, 3)), np.zeros((32, 32, 3)), np.ones((1, 1, 3)), np.zeros((1, 7, 3))):
        out, stats = shade(img)
        np.testing.assert_array_equal(out, img)
        assert stats["placements"] == []
        assert stats["basis"]["method"] == "none"


def test_alpha_is_carried_through():
    rgba = np.concatenate([_strokes(64, 64), np.linspace(0, 1, 64 * 64).reshape(64, 64, 1)], axis=2)
    out, _ = shade(rgba, options=KRYLOV)
    assert out.shape == (64, 64, 4)
    np.testing.assert_array_equal(out[:, :, 3], rgba[:, :, 3])


def test_bad_arguments_raise_one_line_value_errors():
    with pytest.raises(ValueError, match="shape"):
        shade(np.zeros((4, 4, 5)))
    with pytest.raises(ValueError, match="NaN"):
        shade(np.full((4, 4, 3), np.nan))
    with pytest.raises(ValueError, match="basis"):
        shade(_strokes(), basis="magic")


@pytest.mark.parametrize(("changes", "match"), [
    (dict(k=20000), "k must be an integer in"),          # would allocate an (n, 20000) basis
    (dict(k="8"), "k must be an integer"),
    (dict(k=True), "k must be an integer"),
    (dict(heat_alpha=-0.1), "heat_alpha"),               # would diffuse backwards
    (dict(heat_alpha=float("nan")), "heat_alpha must be finite"),
    (dict(field_smoothing=float("inf")), "field_smoothing must be finite"),
    (dict(field_smoothing=1e9), "field_smoothing"),      # 1e10 heat steps
    (dict(heat_steps=10**9), "heat_steps"),
    (dict(krylov_steps=10**7), "krylov_steps"),
    (dict(gate_gain=float("nan")), "gate_gain must be finite"),
    (dict(contour_sigma=float("nan")), "contour_sigma must be finite"),
    (dict(ink_guard=float("nan")), "ink_guard must be finite"),
    (dict(ink_guard=1.5), "ink_guard"),
    (dict(thick_radius=10**12), "thick_radius"),         # the scatter loops +-R per pixel
    (dict(budget_attenuation=2.0), "budget_attenuation"),
    (dict(shadow_distance=-5.0), "shadow_distance"),
    (dict(tau=1e-310), "tau is too small"),
    (dict(seed=-1), "seed"),
    (dict(field_column=8), "field_column"),
    (dict(tile_size=32, tile_overlap=32), "tile_overlap"),
    (dict(procrustes="yes"), "procrustes must be True or False"),
    (dict(tau=10**400), "tau must be finite"),  # an int beyond the float range
    (dict(procrustes_samples=0), "procrustes_samples"),
    (dict(tol=float("nan")), "tol must be finite"),
    (dict(tol=-1e-3), "tol must be"),
    (dict(kk=8), "unknown option"),
])
def test_options_out_of_range_raise_one_line_value_errors(changes, match):
    with pytest.raises(ValueError, match=match) as info:
        ShadeOptions().replace(**changes)
    assert "\n" not in str(info.value)


def test_options_accept_numpy_scalars_and_store_python_numbers():
    for opts in (ShadeOptions().replace(k=np.int64(6), tau=np.float32(0.25), seed=np.uint32(7)),
                 ShadeOptions(k=np.int64(6), tau=np.float32(0.25), seed=np.uint32(7))):
        assert (opts.k, opts.tau, opts.seed) == (6, 0.25, 7)
        assert type(opts.k) is int and type(opts.tau) is float and type(opts.seed) is int
        json.dumps(opts.to_dict())  # the stats and the manifests carry the options
        assert opts.digest() == ShadeOptions(k=6, tau=0.25, seed=7).digest()


def test_options_store_numpy_bools_as_bools():
    opts = ShadeOptions(procrustes=np.True_, scale_normalise=np.False_)
    assert opts.procrustes is True and opts.scale_normalise is False


def test_options_are_validated_when_made_and_may_be_a_dict():
    with pytest.raises(ValueError, match="k must be an integer"):
        ShadeOptions(k="8")
    img = _strokes(48, 48)
    np.testing.assert_array_equal(shade(img, options={"basis": "krylov", "k": 6})[0],
                                  shade(img, options=ShadeOptions(basis="krylov", k=6))[0])
    with pytest.raises(ValueError, match="unknown option"):
        shade(img, options={"kk": 8})


def test_integer_arrays_scale_by_their_dtype_not_their_content():
    rng = np.random.default_rng(5)
    img8 = (_strokes(48, 48) * 255).astype(np.uint8)
    # uint16 is always 16-bit, even when every value is <= 255 (a dark 16-bit image)
    dark16 = (rng.random((48, 48, 3)) * 200).astype(np.uint16)
    np.testing.assert_array_equal(shade(dark16, options=KRYLOV)[0],
                                  shade(dark16 / 65535.0, options=KRYLOV)[0])
    # plain integers (lists, int64 arrays) are 8-bit values
    np.testing.assert_array_equal(shade(img8.astype(np.int64), options=KRYLOV)[0],
                                  shade(img8, options=KRYLOV)[0])
    with pytest.raises(ValueError, match="0, 255"):
        shade(np.full((4, 4), 300, dtype=np.int32))


def _digest(img: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()


@pytest.mark.parametrize("basis", ["lobpcg", "krylov"])
def test_output_is_byte_identical_across_runs_and_processes(basis):
    img = _strokes(80, 80)
    opts = ShadeOptions(basis=basis)
    d1 = _digest(shade(img, options=opts)[0])
    d2 = _digest(shade(img, options=opts)[0])
    code = (
        "import hashlib, numpy as np, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.test_shader import _strokes\n"
        "from fastshade import shade, ShadeOptions\n"
        f"img = shade(_strokes(80, 80), options=ShadeOptions(basis={basis!r}, style='v12'))[0]\n"
        "print(hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest())\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert d1 == d2 == res.stdout.strip().splitlines()[-1]


def _without_clock(value):
    """``value`` (stats) without what a clock wrote: timings and seconds."""
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k != "timings" and not k.endswith("seconds")}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


@pytest.mark.parametrize("options", [{}, {"passes": 2}, {"thick_radius": 0}, {"field": "column"}],
                         ids=["self", "two-passes", "no-thicken", "column-field"])
def test_a_lean_v12_pass_paints_the_same_from_the_basis_energy(options):
    """``shade_arrays(analyses=False)`` (the job's call): a v12 target whose basis only the thicken
    budget reads keeps the budget's energy, not the (H*W, k) columns; the image and the stats are
    the same as the full analysis's (which the API keeps for its callers)."""
    from fastshade.styles import shade_arrays as styled

    image = np.ascontiguousarray(np.clip(demo_image(120, 150), 0.0, 1.0))
    opts = ShadeOptions(style="v12", **options)
    full = styled(image, options=opts)
    lean = styled(image, options=opts, analyses=False)
    np.testing.assert_array_equal(lean.image, full.image)
    assert _without_clock(lean.stats) == _without_clock(full.stats)
    k = full.target.basis.k
    assert k == opts.k and full.target.basis.vectors.shape == (120 * 150, k) and full.target.basis.energy is None
    if options.get("field") == "column":  # the field reads the columns: kept
        assert lean.target.basis.vectors.shape == (120 * 150, k) and lean.target.basis.energy is None
    else:
        assert lean.target.basis.vectors.shape == (120 * 150, 0) and lean.target.basis.k == k
        energy = np.empty(120 * 150)
        from fastshade.kernels.shading import column_energy

        column_energy(full.target.basis.vectors, 2, energy)
        np.testing.assert_array_equal(lean.target.basis.energy, energy)
    sample = np.ascontiguousarray(image[::-1])  # cross mode reads the columns: kept
    crossed = styled(image, sample, opts, analyses=False)
    assert crossed.target.basis.vectors.shape == (120 * 150, k)
    np.testing.assert_array_equal(crossed.image, styled(image, sample, opts).image)
