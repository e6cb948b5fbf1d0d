"""Nothing silent (issue 20): the drawing warnings, --strict, degenerate drawings, honest stats.

Through the v12 style (its pixels are pinned; its warnings and stats are not) and the library.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fastshade.demo import demo_image
from fastshade.pipeline.drawing_checks import NOT_LINE_ART, drawing_warnings, tone_score
from fastshade.pipeline.paper import paper_ink_model
from fastshade.styles import shade_arrays
from tests.conftest import ROOT, load_rgb

SHARED = ["toof.png", "snek-heavy.png", "red-tonegraph.png", "1bit redraw.png",
          "mspaint-enso-i-couldnt-forget.png", "mspaint-enso-i-couldnt-forget-ii.png", "offhand_pleometric.png"]
PHOTOS = ["astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "retina", "moon", "brick"]
CODES = {"no_ink", "not_line_art", "alpha_as_paper", "alpha_ignored", "every_shadow_skipped", "nothing_placed"}


def _photo(name):
    data = pytest.importorskip("skimage.data")
    img = np.asarray(getattr(data, name)(), dtype=np.float64) / 255.0
    return np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img[:, :, :3]


def _shared(name):
    return demo_image() if name == "demo" else load_rgb(name)


@pytest.mark.parametrize("name", [*SHARED, "demo"])
def test_line_art_scores_below_the_threshold_and_its_inverse_too(name):
    rgb = _shared(name)
    assert tone_score(rgb) < NOT_LINE_ART - 0.15
    assert tone_score(1.0 - rgb) < NOT_LINE_ART - 0.15


@pytest.mark.parametrize("name", PHOTOS)
def test_photos_score_at_or_above_the_threshold(name):
    assert tone_score(_photo(name)) >= NOT_LINE_ART + 0.05


def _thumbnail(rgb, size):
    im = Image.fromarray((rgb * 255).round().astype(np.uint8))
    im.thumbnail((size, size))  # as fastshade run's test corpus shrinks the shared images
    return np.asarray(im, dtype=np.float64) / 255.0


@pytest.mark.parametrize("size", [256, 128, 96])
def test_thumbnails_keep_line_art_and_photos_apart(size):
    for name in [n for n in SHARED if n != "1bit redraw.png"] + ["demo"]:  # a shrunk dither is grey tone
        assert tone_score(_thumbnail(_shared(name), size)) < NOT_LINE_ART - 0.04, name
    for name in ["astronaut", "camera", "coffee", "chelsea", "rocket", "coins"]:
        assert tone_score(_thumbnail(_photo(name), size)) >= NOT_LINE_ART + 0.1, name


def test_flat_and_tiny_images_score_zero():
    for img in (np.ones((20, 20, 3)), np.zeros((1, 1, 3)), np.full((5, 9, 3), 0.3)):
        assert tone_score(img) == 0.0


@pytest.mark.parametrize("name", [*SHARED, "demo"])
def test_every_shared_image_and_the_demo_shade_without_a_warning(name):
    stats = shade_arrays(_shared(name), None, {"style": "v12"}).stats
    assert stats["warning_codes"] == [] and stats["warnings"] == []
    assert stats["placements"] and all(p["visible_pixels"] <= p["written_pixels"] for p in stats["placements"])
    assert sum(p["visible_pixels"] for p in stats["placements"]) <= stats["changed_by_stage"]["shadow"]
    assert stats["paper"]["polarity"] == "dark-on-light" and stats["paper"]["ink_fraction"] > 0


def test_a_photo_warns_not_line_art():
    stats = shade_arrays(_photo("astronaut")[::4, ::4], None, {"style": "v12"}).stats
    assert "not_line_art" in stats["warning_codes"]
    (line,) = [w for w in stats["warnings"] if w.startswith("not line art")]
    assert "\n" not in line and f"{NOT_LINE_ART}" in line


@pytest.mark.parametrize("image, code", [
    (np.ones((32, 32, 3)), "no_ink"), (np.zeros((32, 32, 3)), "no_ink"), (np.ones((1, 1, 3)), "no_ink"),
    (np.zeros((1, 7, 3)), "no_ink"),
])
def test_degenerate_drawings_give_a_defined_output_and_the_warning(image, code):
    res = shade_arrays(image, None, {"style": "v12"})
    np.testing.assert_array_equal(res.image, image)
    assert res.stats["warning_codes"] == [code] and res.stats["placements"] == []
    assert res.stats["changed_pixels"] == 0


def test_a_single_straight_line_gives_a_defined_output_with_known_warnings():
    rgb = np.ones((40, 60, 3))
    rgb[20, 5:55] = 0.0
    res = shade_arrays(rgb, None, {"style": "v12"})
    assert res.image.shape == rgb.shape and np.isfinite(res.image).all()
    assert set(res.stats["warning_codes"]) <= CODES - {"no_ink", "not_line_art"}
    visible = sum(p["visible_pixels"] for p in res.stats["placements"])
    assert (visible > 0) != ("nothing_placed" in res.stats["warning_codes"])


def test_white_on_black_in_v12_says_every_shadow_skipped_and_reports_no_placement():
    res = shade_arrays(1.0 - load_rgb("toof.png"), None, {"style": "v12"})
    s = res.stats
    assert s["placements"] == [] and s["skipped_shadows"] > 0
    assert s["warning_codes"] == ["every_shadow_skipped"]
    assert s["paper"]["polarity"] == "light-on-dark"


def test_placements_that_change_nothing_are_not_reported():
    yy, xx = np.mgrid[:160, :160]
    rgb = np.zeros((160, 160, 3))  # a white disc on black: v12's shadows land on its "ink"
    rgb[(yy - 80) ** 2 + (xx - 70) ** 2 < 40 ** 2] = 1.0
    res = shade_arrays(rgb, None, {"style": "v12"})
    assert res.placements, "the premise: v12 places shadows that the ink guard then blocks"
    changed = (np.rint(res.image * 255) != np.rint(rgb * 255)).any(axis=2)
    if res.stats["placements"]:
        assert sum(p["visible_pixels"] for p in res.stats["placements"]) > 0
    else:
        assert res.stats["invisible_placements"] == len(res.placements)
        assert "nothing_placed" in res.stats["warning_codes"]
        owned = res.owner >= 0
        assert not (changed & owned).any()


def test_v12_on_transparent_paper_says_it_reads_the_hidden_rgb():
    toof = load_rgb("toof.png")
    alpha = (toof.mean(axis=2) < 0.5).astype(np.float64)
    rgba = np.concatenate([np.where(alpha[:, :, None] > 0, toof, 0.0), alpha[:, :, None]], axis=2)
    stats = shade_arrays(rgba, None, {"style": "v12"}).stats
    assert "alpha_ignored" in stats["warning_codes"] and stats["paper"]["alpha_as_paper"]


def test_warning_order_and_alpha_wording_per_style():
    model = paper_ink_model(np.zeros((4, 4, 3)), np.zeros((4, 4)))
    v12 = [w.code for w in drawing_warnings(model, 0.9, {}, "v12")]
    other = [w.code for w in drawing_warnings(model, 0.9, {}, "final")]
    assert v12 == ["no_ink", "not_line_art", "alpha_ignored"]
    assert other == ["no_ink", "not_line_art", "alpha_as_paper"]


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fastshade", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_strict_fails_a_photo_and_the_default_warns(tmp_path):
    photo = tmp_path / "in" / "photo.png"
    photo.parent.mkdir()
    Image.fromarray((_photo("astronaut")[::4, ::4] * 255).round().astype(np.uint8)).save(photo)
    Image.fromarray(np.full((24, 24, 3), 255, np.uint8)).save(tmp_path / "in" / "blank.png")
    out = tmp_path / "photo-out.png"
    strict = _cli("shade", str(photo), "-o", str(out), "--strict", cwd=ROOT)
    assert strict.returncode == 1 and not out.exists()
    assert "not line art" in strict.stderr and "Traceback" not in strict.stderr
    plain = _cli("shade", str(photo), "-o", str(out), "--stats", str(tmp_path / "s.json"), cwd=ROOT)
    assert plain.returncode == 0 and out.exists()
    assert sum("warning" in line and "not line art" in line for line in plain.stderr.splitlines()) == 1
    assert json.loads((tmp_path / "s.json").read_text())["warning_codes"] == ["not_line_art"]
    run = _cli("run", str(tmp_path / "in"), str(tmp_path / "out"), "-j", "1", "-q", cwd=ROOT)
    recs = {r["path"]: r for r in map(json.loads, (tmp_path / "out" / "fastshade-manifest.jsonl").open())}
    assert run.returncode == 0
    assert recs["photo.png"]["status"] == "warning:not_line_art" and (tmp_path / "out" / "photo.png").exists()
    assert recs["blank.png"]["status"] == "warning:no_ink" and "no_ink" in recs["blank.png"]["warnings"]
    assert "2 ok (2 with a warning)" in run.stderr
    again = _cli("run", str(tmp_path / "in"), str(tmp_path / "out"), "-j", "1", "-q", cwd=ROOT)
    lines = [json.loads(line) for line in (tmp_path / "out" / "fastshade-manifest.jsonl").open()]
    assert again.returncode == 0 and len(lines) == 2  # warned = done: a plain re-run adds no line
    run = _cli("run", str(tmp_path / "in"), str(tmp_path / "out2"), "-j", "1", "-q", "--strict", cwd=ROOT)
    recs = {r["path"]: r for r in map(json.loads, (tmp_path / "out2" / "fastshade-manifest.jsonl").open())}
    assert run.returncode == 1
    assert recs["photo.png"]["status"] == "failed:not_line_art" and not (tmp_path / "out2" / "photo.png").exists()
    assert recs["blank.png"]["status"] == "warning:no_ink"


def _cases():
    toof = load_rgb("toof.png")
    alpha = (toof.mean(axis=2) < 0.5).astype(np.float64)
    coverage = 1.0 - toof.min(axis=2)
    grey, pink = np.array([0.93, 0.94, 0.95]), np.array([1.0, 0.4, 0.7])
    yy, xx = np.mgrid[:160, :160]
    filled = np.ones((160, 160, 3))
    filled[(yy - 60) ** 2 + (xx - 60) ** 2 < 35 ** 2] = 0.0
    filled[140:142, 10:150] = 0.0
    return {
        "toof": toof,
        "inverted toof": 1.0 - toof,
        "transparent toof, black hidden RGB": np.concatenate(
            [np.where(alpha[:, :, None] > 0, toof, 0.0), alpha[:, :, None]], axis=2),
        "pink toof on grey": grey + coverage[:, :, None] * (pink - grey),
        "filled disc": filled,
        "inverted filled disc": 1.0 - filled,
        "blank": np.ones((24, 24, 3)),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_changed_pixels_equal_the_written_file(case, tmp_path):
    from fastshade.io import write_image
    from fastshade.job import is_written, shade_file

    image = _cases()[case]
    src, out = tmp_path / "in.png", tmp_path / "out.png"
    write_image(str(src), image[:, :, :3], image[:, :, 3] if image.shape[2] == 4 else None, bit_depth=8, fmt="png")
    job = shade_file(src, out, options=None, keep_stats=True)
    assert is_written(job.status)
    before, after = np.asarray(Image.open(src)), np.asarray(Image.open(out))
    assert before.shape == after.shape
    changed = int((before != after).any(axis=2).sum())
    stats = job.stats
    assert stats["changed_pixels"] == changed
    assert sum(stats["changed_by_stage"].values()) == changed
    assert sum(p["visible_pixels"] for p in stats["placements"]) <= stats["changed_by_stage"].get("shadow", 0)
    assert job.status == ("ok" if not stats["warning_codes"] else f"warning:{stats['warning_codes'][0]}")


@pytest.mark.parametrize("hidden", [0.0, 1.0])
def test_marks_on_transparent_paper_show_as_on_the_opaque_toof(hidden):
    """The runner's path for the styles other than v12 (v12's painting stands in for a style)."""
    from fastshade.pipeline.paper import over_white
    from fastshade.styles.runner import with_alpha

    toof = load_rgb("toof.png")
    alpha = (toof.mean(axis=2) < 0.5).astype(np.float64)
    rgb = np.where(alpha[:, :, None] > 0, toof, hidden)
    opaque = shade_arrays(toof, None, {"style": "v12"}).image
    shaded = shade_arrays(over_white(rgb, alpha), None, {"style": "v12"}).image
    np.testing.assert_array_equal(shaded, opaque)  # a style sees the opaque toof
    rgba = with_alpha(rgb, alpha, shaded)
    np.testing.assert_allclose(over_white(rgba[:, :, :3], rgba[:, :, 3]), opaque, atol=1e-12)
    untouched = (shaded == toof).all(axis=2)
    np.testing.assert_array_equal(rgba[:, :, :3][untouched], rgb[untouched])
    np.testing.assert_array_equal(rgba[:, :, 3][untouched], alpha[untouched])
    marks = ~untouched & (alpha == 0)
    assert marks.sum() > 100 and (rgba[:, :, 3][marks] > 0).all()  # marks on transparent paper show


@pytest.mark.parametrize("style", ["v6", "final", "brush"])
def test_nothing_placed_is_said_exactly_when_no_mark_but_thickening_changed_a_pixel(style):
    # v6's copies and final's re-tints keep no per-placement visible_pixels: the warning reads
    # the file's changed pixels by stage (it used to fire on every v6 and final shade)
    res = shade_arrays(load_rgb("toof.png"), None, {"style": style})
    marks = sum(n for name, n in res.stats["changed_by_stage"].items() if name != "thicken")
    assert marks > 0 and "nothing_placed" not in res.stats["warning_codes"]


def test_placed_anything_reads_the_stages_then_the_placements():
    from fastshade.pipeline.drawing_checks import placed_anything

    assert not placed_anything({"changed_by_stage": {"thicken": 40, "shadow": 0}, "placements": [{}]})
    assert placed_anything({"changed_by_stage": {"thicken": 0, "front": 3}, "placements": []})
    assert placed_anything({"placements": [{"visible_pixels": 0}, {"visible_pixels": 2}]})
    assert not placed_anything({"placements": [{"visible_pixels": 0}]})
