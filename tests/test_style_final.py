"""Style ``final`` (original-system.md §5.3-5.5): every rule against hand-computed cases, and the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from scipy import ndimage

from fastshade.pipeline.finalpaint import (
    complexity,
    cyclic_colours,
    front_colours,
    gaussian_kernel,
    paper_side,
    shadow_colours,
    thicken_resample,
)
from fastshade.pipeline.transplant import (
    Segments,
    extract_segments,
    paint_transplants,
    scatter_layer,
    transplant_points,
)
from fastshade.styles import pass_schedule, shade_arrays
from fastshade.styles.final import MAIN_PASS, SampleCache, pass_parameters

ROOT = Path(__file__).resolve().parents[1]


def cyclic_by_hand(rgb, rho, kappa):
    """The formula of §5.3 step 4, written out per channel with math.sin."""
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    phases = (0.0, 2 * math.pi / 3, 4 * math.pi / 3)
    c = [0.5 + 0.4 * kappa * math.sin(2 * math.pi * rho * lum + p) for p in phases]
    return [min(max((1 - rho) * v + rho * ci, 0.0), 1.0) for v, ci in zip(rgb, c)]


def test_cyclic_transform_of_black_and_white():
    # black, rho 0.3, kappa 0.8: c = 0.5 + 0.32 sin(phi) = (0.5, 0.777128, 0.222872); out = 0.3 c
    np.testing.assert_allclose(cyclic_colours(np.zeros(3), 0.3, 0.8), [0.15, 0.2331384, 0.0668616], atol=1e-6)
    # shadow tweak (0.7 R, G, 0.7 B + 0.3)
    np.testing.assert_allclose(shadow_colours(np.zeros((1, 3)), 1.0), [[0.105, 0.2331384, 0.3468031]], atol=1e-6)
    # white, rho 0.2, kappa 0.6: luminance 1, c = 0.5 + 0.24 sin(72 deg + phi) = (0.728254, 0.450101, 0.321645)
    # out = 0.8 + 0.2 c = (0.945651, 0.890020, 0.864329); front tweak (0.6 R, 0.8 G + 0.2, 0.8 B + 0.15)
    np.testing.assert_allclose(front_colours(np.ones((1, 3)), 1.0), [[0.567390, 0.912016, 0.841463]], atol=1e-6)


@pytest.mark.parametrize("rgb", [(1.0, 0.4, 0.7), (0.2, 0.5, 0.9), (0.93, 0.94, 0.95), (1.0, 0.0, 0.0)])
@pytest.mark.parametrize("rho,kappa", [(0.3, 0.8), (0.2, 0.6), (0.15, 0.3)])
def test_cyclic_transform_matches_the_formula(rgb, rho, kappa):
    np.testing.assert_allclose(cyclic_colours(np.array(rgb), rho, kappa), cyclic_by_hand(rgb, rho, kappa), atol=1e-12)


def complexity_by_loops(f):
    """kappa = sigmoid(z(psi)) with explicit loops: Sobel/8 and the 7x7 variance on reflect padding."""
    h, w = f.shape
    p1, p3 = np.pad(f, 1, mode="reflect"), np.pad(f, 3, mode="reflect")
    psi = np.empty_like(f)
    for y in range(h):
        for x in range(w):
            win = p1[y:y + 3, x:x + 3]
            gx = ((win[:, 2] - win[:, 0]) * [1, 2, 1]).sum() / 8
            gy = ((win[2, :] - win[0, :]) * [1, 2, 1]).sum() / 8
            box = p3[y:y + 7, x:x + 7]
            var = (box ** 2).mean() - box.mean() ** 2
            psi[y, x] = math.sqrt(gx * gx + gy * gy + 1e-8) + math.sqrt(max(var, 0.0) + 1e-8)
    z = (psi - psi.mean()) / (psi.std(ddof=1) + 1e-8)
    return 1 / (1 + np.exp(-z))


def test_complexity_on_a_step_and_a_random_field():
    step = np.zeros((9, 9))
    step[:, 4:] = 1.0
    np.testing.assert_allclose(complexity(step), complexity_by_loops(step), atol=1e-9)
    # on the step's centre: |grad| = 0.5 and var = 4/7 - 16/49 = 12/49, the largest psi of its row
    assert complexity(step)[4, 4] == complexity(step)[4].max() > 0.5
    rnd = np.random.default_rng(3).normal(size=(11, 13))
    np.testing.assert_allclose(complexity(rnd), complexity_by_loops(rnd), atol=1e-9)
    np.testing.assert_allclose(complexity(np.ones((6, 6))), 0.5)  # psi constant: z = 0


def test_gaussian_kernel_and_the_complexity_modulated_fill():
    # K_1 with sigma ratio 0.8: edge exp(-1/1.28) = 0.457833, corner exp(-2/1.28) = 0.209611
    k = gaussian_kernel(1, 0.8)
    assert k[1, 1] == 1.0
    assert k[0, 1] == pytest.approx(0.457833, abs=1e-6) and k[0, 0] == pytest.approx(0.209611, abs=1e-6)
    # one high-gate contour pixel at the centre: without modulation sel > 0.2 on all 8 neighbours;
    # with m = 0.3 its weight 1 - 0.3 kappa drops the corners (0.2096 (1 - 0.3 kappa) < 0.2 once kappa > 0.153)
    f = np.zeros((7, 7))
    f[3, 3] = 1.0
    contours = np.zeros((7, 7), dtype=bool)
    contours[3, 3] = True
    kappa = complexity_by_loops(f)[3, 3]
    assert kappa > 0.153
    no_ink = np.zeros((7, 7), dtype=bool)
    fills = []
    for m in (0.0, 0.3):
        out = np.ones((7, 7, 3))
        out[3, 3] = 0.0
        fills.append(thicken_resample(out, f, 0.5, contours, no_ink, radius=1, sigma_ratio=0.8,
                                      fill_threshold=0.05, modulation=m))
        # each fill pixel samples 1.2 px along the forward-difference gradient of sel, turned 0.03 rad:
        # above the source d = (0.542, -0.248)/0.596, sample (3 + 1.105, 3 - 0.467) -> (3, 3): black;
        # left of it d = (-0.248, 0.542)/0.596, sample (3 - 0.532, 2 + 1.075) -> (2, 3): still white
        assert out[2, 3].tolist() == [0.0] * 3 and out[3, 2].tolist() == [1.0] * 3
    assert fills[0].sum() == 8 and fills[1].sum() == 4
    assert not fills[1][2, 2] and fills[1][2, 3]
    ink = np.zeros((7, 7), dtype=bool)
    ink[2, 3] = True  # the ink guard: never a fill pixel
    out = np.ones((7, 7, 3))
    assert not thicken_resample(out, f, 0.5, contours, ink, radius=1, sigma_ratio=0.8, fill_threshold=0.05,
                                modulation=0.0)[2, 3]


def test_paper_side_moves_the_weight_off_the_ink():
    weight = np.zeros((5, 5))
    ink = np.zeros((5, 5), dtype=bool)
    weight[2, 2], ink[2, 2] = 0.4, True  # an inked contour pixel
    weight[0, 4] = 0.7  # a contour pixel on the paper (light): re-tinted in place, grows no rim
    side = paper_side(weight, ink)
    assert side[2, 2] == 0.0
    assert (side[1:4, 1:4][~ink[1:4, 1:4]] == 0.4).all()
    assert side[0, 4] == 0.7 and side[0, 3] == 0.0 and side[1, 3] == 0.4
    assert side.astype(bool).sum() == 9


def test_transplant_rotates_clockwise_about_the_target_centroid_and_translates():
    src = np.array([[10.0, 5.0], [11.0, 5.0], [12.0, 5.0]])  # (x, y): a horizontal segment
    front, shadow = transplant_points(src, np.array([11.0, 5.0]), np.array([30.0, 40.0]),
                                      (7.5, 10.5), (5.0, 5.0))
    # (u, v) -> (-v, u): the segment turns vertical, +x goes to +y (clockwise as displayed)
    np.testing.assert_allclose(front, [[37.5, 49.5], [37.5, 50.5], [37.5, 51.5]])
    np.testing.assert_allclose(shadow, front + 5.0)
    # round half to even, and a point outside the image is dropped (not clamped to the border)
    pts = np.vstack([front, [[70.0, 3.0]]])
    layer, occ, inside = scatter_layer(pts, np.tile([0.1, 0.2, 0.3], (4, 1)), (60, 60))
    assert inside.tolist() == [True, True, True, False]
    assert sorted(zip(*np.nonzero(occ))) == [(50, 38), (52, 38)]  # 49.5 -> 50, 50.5 -> 50, 51.5 -> 52
    assert not occ[:, -1].any() and not occ[0].any()


def test_scatter_last_write_wins():
    pts = np.array([[2.0, 2.0], [2.0, 2.0], [3.0, 2.0]])
    layer, occ, _ = scatter_layer(pts, np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]), (5, 5))
    assert layer[2, 2].tolist() == [0.0, 1.0, 0.0] and occ.sum() == 2


def _segment(xs, ys, width, f):
    pix = np.array(ys) * width + np.array(xs)
    from fastshade.pipeline.transplant import segment_signatures
    return Segments([pix], np.array([[np.mean(xs), np.mean(ys)]]), segment_signatures(f, [pix], width))


def test_underpaint_mask_and_the_two_layers():
    h = w = 40
    f = np.zeros((h, w))
    source_rgb = np.zeros((h, w, 3))  # black source strokes
    target = _segment([10, 11, 12], [10, 10, 10], w, f)
    source = _segment([20, 21, 22], [30, 30, 30], w, f)
    allowed = np.zeros((h, w), dtype=bool)
    allowed[:, :19] = True  # the underpaint mask: only x < 19 may be written
    out = np.ones((h, w, 3))
    placements = paint_transplants(out, target, source, source_rgb, allowed, effect=1.0,
                                   translation=10.0, shadow_offset=3.0)
    # front at centroid (11, 10) + rotated (0, -1..1) + (5, 7) = x 16, y 16..18; shadow +(3, 3) = x 19: masked
    changed = (out != 1.0).any(axis=2)
    assert sorted(zip(*np.nonzero(changed))) == [(16, 16), (17, 16), (18, 16)]
    np.testing.assert_allclose(out[17, 16], front_colours(np.zeros((1, 3)), 1.0)[0])
    assert len(placements) == 1 and placements[0].written.sum() == 3
    allowed[:] = True
    out = np.ones((h, w, 3))
    paint_transplants(out, target, source, source_rgb, allowed, effect=1.0, translation=10.0, shadow_offset=3.0)
    np.testing.assert_allclose(out[20, 19], shadow_colours(np.zeros((1, 3)), 1.0)[0])  # the shadow, under nothing


def test_segments_are_exact_4_connected_pieces_in_raster_order():
    rng = np.random.default_rng(5)
    contours = rng.random((60, 70)) < 0.55
    f = rng.normal(size=(60, 70))
    gate = 1 / (1 + np.exp(-10 * f))
    segs = extract_segments(contours, f, 0.3, gate, min_pixels=5, max_segments=7)
    lab, n = ndimage.label(contours & (f < 0.3))  # scipy's default structure is 4-connected
    sizes = np.bincount(lab.ravel())[1:]
    keep = [i + 1 for i in range(n) if sizes[i] >= 5][:7]
    assert segs.n == len(keep) == 7
    for pix, label in zip(segs.pixels, keep):
        assert np.array_equal(pix, np.flatnonzero(lab.ravel() == label))


def test_adsr_rows_run_at_effect_one_and_other_envelopes_use_the_main_column():
    for step, row in zip(pass_schedule("adsr", 4), [(3, 0.8, 0.05, 0.2), (2, 0.6, 0.1, 0.3), (2, 0.5, 0.15, 0.5),
                                                     (1, 0.4, 0.2, 0.7)]):
        effect, values = pass_parameters(step)
        assert effect == 1.0
        assert [values[k] for k in ("dilation_radius", "kernel_sigma_ratio", "fill_threshold",
                                    "thicken_modulation")] == list(row)
    effect, values = pass_parameters(pass_schedule("decay", 2)[1])
    assert effect == 0.75 and values == MAIN_PASS


def drawing(pink: bool = False) -> np.ndarray:
    """A 72x80 line drawing: a ring and two strokes, black (or pink) on white (or light grey)."""
    h, w = 72, 80
    y, x = np.mgrid[:h, :w]
    r = np.hypot(y - 36, x - 30)
    ink = (np.abs(r - 20) < 1.3) | ((np.abs(x - 62) < 1.2) & (y > 10) & (y < 60)) | \
          ((np.abs(y - x + 8) < 1.0) & (x > 40) & (x < 75))
    img = np.empty((h, w, 3))
    img[:] = (0.93, 0.94, 0.95) if pink else (1.0, 1.0, 1.0)
    img[ink] = (1.0, 0.4, 0.7) if pink else (0.0, 0.0, 0.0)
    return img


@pytest.mark.parametrize("pink", [False, True])
def test_self_passes_never_touch_the_ink_and_log_every_stage(pink):
    img = drawing(pink)
    res = shade_arrays(img, None, {"style": "final", "passes": 2})
    ink = np.sqrt(((img - img[0, 0]) ** 2).sum(axis=2) / 3) > 0.2
    out8 = np.rint(res.image * 255)
    assert (out8[ink] == np.rint(img[ink] * 255)).all()
    changed = (out8 != np.rint(img * 255)).any(axis=2)
    assert changed.sum() > 0.5 * ink.sum()
    assert res.stats["changed_pixels"] == changed.sum() == sum(res.stats["changed_by_stage"].values())
    assert set(res.stats["changed_by_stage"]) <= {"thicken", "shadow", "front"}
    assert [p["overrides"]["dilation_radius"] for p in res.stats["passes"]] == [3, 2]


def test_sample_field_is_computed_once():
    cache = SampleCache()
    from fastshade.options import ShadeOptions
    from fastshade.pipeline.results import Timer
    timer = Timer()
    a = cache.get(drawing(), ShadeOptions(style="final"), timer)
    b = cache.get(drawing(), ShadeOptions(style="final"), timer)
    assert a is b


@pytest.mark.parametrize("cross", [False, True])
def test_cli_final_two_passes(tmp_path, cross):
    target = tmp_path / "t.png"
    iio.imwrite(target, (drawing() * 255).astype(np.uint8))
    cmd = [sys.executable, "-m", "fastshade", "shade", str(target), "-o", str(tmp_path / "o.png"),
           "--style", "final", "--passes", "2", "--save-passes", "--stats", str(tmp_path / "s.json")]
    if cross:
        sample = tmp_path / "s.png"
        iio.imwrite(sample, (drawing()[:, ::-1] * 255).astype(np.uint8))
        cmd[5:5] = ["--sample", str(sample)]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["style"] == "final" and stats["envelope"] == "adsr" and len(stats["passes"]) == 2
    assert stats["mode"] == ("cross" if cross else "self")
    out = iio.imread(tmp_path / "o.png")
    assert np.array_equal(out, iio.imread(tmp_path / "o.pass2.png"))
    changed = (out != iio.imread(target)).any(axis=2)
    assert stats["changed_pixels"] == int(changed.sum()) > 0
    if cross:
        assert sum(p["placements"] for p in stats["passes"]) > 0


def test_every_pass_protects_the_drawings_ink_the_runner_hands_it():
    import dataclasses

    from fastshade.pipeline.paper import paper_ink_model
    from fastshade.styles import final, resolve_options
    from fastshade.styles.runner import shade_arrays
    img = drawing()
    opts = resolve_options({"style": "final"})
    first = final.paint_pass(img, None, opts, pass_schedule("adsr", 2)[0], force_cross=False)
    ink = paper_ink_model(img).ink
    assert paper_ink_model(first.image).ink.sum() > ink.sum()  # the rims are ink to the output's own model
    second = dataclasses.replace(pass_schedule("adsr", 2)[1], drawing=paper_ink_model(img))
    assert np.array_equal(second.drawing_ink(first.image, None), ink)
    seen = []
    shade_arrays(img, None, {"style": "final", "passes": 2}, on_pass=lambda step, r: seen.append(step))
    assert all(np.array_equal(s.drawing_ink(first.image, None), ink) for s in seen)


def test_ink_guard_zero_retints_the_strokes_in_place_as_the_original():
    img = drawing()
    res = shade_arrays(img, None, {"style": "final", "ink_guard": 0.0})
    ink = (img < 0.5).all(axis=2)
    changed = (np.rint(res.image * 255) != np.rint(img * 255)).any(axis=2)
    assert changed[ink].mean() > 0.9 and res.stats["passes"][0]["pass"] == 1
