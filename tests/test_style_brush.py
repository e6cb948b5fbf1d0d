"""The ``brush`` style (the default): line weight across the strokes, swung shadows, its palette."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from scipy import ndimage as ndi

from fastshade.demo import demo_image
from fastshade.options import DEFAULT_STYLE, ShadeOptions
from fastshade.pipeline.brush import MIN_PIECE
from fastshade.pipeline.palette import channel_distance, derive_palette, mark_mask
from fastshade.pipeline.paper import paper_ink_model
from fastshade.pipeline.weight import grow_strokes, open_paper
from fastshade.styles import shade_arrays

ROOT = Path(__file__).resolve().parents[1]
EIGHT = np.ones((3, 3), dtype=bool)
R = 3.0


def _line(angle_deg: float, size: int = 81, length: float = 50.0) -> np.ndarray:
    """A 1-px 8-connected segment through the centre at ``angle_deg`` (y down, x right)."""
    img = np.zeros((size, size), dtype=bool)
    c = size // 2
    t = np.linspace(-length / 2, length / 2, 4 * int(length))
    a = np.deg2rad(angle_deg)
    img[np.rint(c - t * np.sin(a)).astype(int), np.rint(c + t * np.cos(a)).astype(int)] = True
    return img


def _circle(radius: float, size: int = 81) -> np.ndarray:
    img = np.zeros((size, size), dtype=bool)
    c = size // 2
    t = np.linspace(0, 2 * np.pi, 2000)
    img[np.rint(c + radius * np.sin(t)).astype(int), np.rint(c + radius * np.cos(t)).astype(int)] = True
    return img


def _grow(strokes: np.ndarray, reach: float = R, lean: float = 0.0) -> np.ndarray:
    return grow_strokes(strokes, np.where(strokes, reach, 0.0), gap=R, lean=lean, max_reach=R)


def _assert_attached(added: np.ndarray, strokes: np.ndarray) -> None:
    """Every added pixel is joined by added pixels (8-connected) to a stroke pixel."""
    labels, n = ndi.label(added, structure=EIGHT)
    touching = set(np.unique(labels[ndi.binary_dilation(strokes, EIGHT) & added]))
    assert set(range(1, n + 1)) <= touching
    assert not (added & strokes).any()


@pytest.mark.parametrize("angle", [0, 30, 45, 90])
def test_weight_grows_across_a_straight_stroke(angle):
    strokes = _line(angle)
    added = _grow(strokes)
    assert added.sum() > 4 * strokes.sum()  # both sides, about R px each
    _assert_attached(added, strokes)
    # across, never along: every added pixel lies within R of the stroke's line, and the band of
    # added pixels runs the stroke's way (principal axis within 3 degrees of the stroke's)
    ys, xs = np.nonzero(added)
    c = strokes.shape[0] // 2
    a = np.deg2rad(angle)
    d = np.array([-np.sin(a), np.cos(a)])
    rel = np.stack([ys - c, xs - c], axis=1).astype(float)
    across = np.abs(rel @ np.array([d[1], -d[0]]))
    assert across.max() <= R + 0.75
    along = rel @ d
    assert np.abs(along).max() <= 25 + R + 1
    w, v = np.linalg.eigh(np.cov(rel.T))
    axis = v[:, np.argmax(w)]
    assert abs(abs(axis @ d) - 1.0) < 1 - np.cos(np.deg2rad(3))


def test_weight_follows_a_circle():
    strokes = _circle(22)
    added = _grow(strokes)
    _assert_attached(added, strokes)
    ys, xs = np.nonzero(added)
    c = strokes.shape[0] // 2
    radial = np.hypot(ys - c, xs - c)
    assert radial.min() >= 22 - R - 1 and radial.max() <= 22 + R + 1
    # a band all the way round, inside and outside
    angles = np.arctan2(ys - c, xs - c)
    assert np.histogram(angles[radial > 22.5], bins=36, range=(-np.pi, np.pi))[0].min() > 0
    assert np.histogram(angles[radial < 21.5], bins=36, range=(-np.pi, np.pi))[0].min() > 0


@pytest.mark.parametrize("gap", [1, 2, 3, 4, 5, 6])
def test_weight_never_enters_a_gap_narrower_than_the_reach(gap):
    strokes = np.zeros((60, 60), dtype=bool)
    strokes[10:50, 20] = True
    strokes[10:50, 21 + gap] = True
    added = _grow(strokes)
    between = added[:, 21:21 + gap]
    assert not between[12:48].any(), f"gap {gap}: growth entered it"
    _assert_attached(added, strokes)
    assert added[:, :20].any() and added[:, 22 + gap:].any()  # the open sides do grow


def test_a_gap_wider_than_twice_the_reach_stays_open():
    strokes = np.zeros((60, 60), dtype=bool)
    strokes[10:50, 20] = True
    strokes[10:50, 29] = True  # 8 px of paper between
    added = _grow(strokes)
    assert added[20:40, 21:29].any()
    assert not (added[20:40, 21:29].all(axis=1)).any()  # never bridged: a paper column remains


def test_open_paper_drops_narrow_gaps_only():
    strokes = np.zeros((40, 40), dtype=bool)
    strokes[:, 10] = strokes[:, 13] = True
    dist = ndi.distance_transform_edt(~strokes)
    opened = open_paper(dist, 2.0)
    assert not opened[:, 11:13].any() and opened[:, 20].all()


def test_lean_makes_the_side_away_from_the_light_heavier():
    strokes = _line(0)  # horizontal: light from the top-left, shadow side below
    added = _grow(strokes, lean=0.6)
    c = strokes.shape[0] // 2
    below, above = added[c + 1:].sum(), added[:c].sum()
    assert below > 1.5 * above > 0


@pytest.mark.parametrize(("ink", "paper"), [
    ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),        # black
    ((0.5, 0.5, 0.5), (1.0, 1.0, 1.0)),        # grey
    ((0.635, 0.635, 0.635), (1.0, 1.0, 1.0)),  # the enso drawings' grey
    ((0.9, 0.1, 0.1), (1.0, 1.0, 1.0)),        # red
    ((1.0, 0.4, 0.7), (0.45, 0.45, 0.45)),     # pink on grey paper
    ((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)),        # light on dark
])
@pytest.mark.parametrize("name", ["dusk", "ember", "complement"])
def test_palette_is_distinct_from_the_ink_and_the_paper(ink, paper, name):
    pal = derive_palette(np.array(ink), np.array(paper), name)
    for colour in (pal.edge, pal.fill):
        assert channel_distance(colour, ink) >= 0.3, (name, ink, colour)
        assert channel_distance(colour, paper) >= 0.1, (name, paper, colour)
        assert all(abs(v * 255 - round(v * 255)) < 1e-9 for v in colour)  # 8-bit exact
    assert pal.edge != pal.fill


def test_palette_choices_differ_and_an_unknown_name_is_one_line():
    black, white = np.zeros(3), np.ones(3)
    assert derive_palette(black, white, "dusk").edge != derive_palette(black, white, "ember").edge
    with pytest.raises(ValueError, match="palette must be one of"):
        derive_palette(black, white, "nope")
    with pytest.raises(ValueError, match="palette must be one of"):
        ShadeOptions(palette="nope")


def _drawing() -> np.ndarray:
    return demo_image(96, 96)


def test_default_style_is_brush_and_never_touches_the_ink():
    assert DEFAULT_STYLE == "brush" and ShadeOptions().style == "brush"
    img = _drawing()
    res = shade_arrays(img)
    assert res.stats["style"] == "brush" and res.stats["envelope"] == "decay"
    ink = paper_ink_model(img).ink
    np.testing.assert_array_equal(res.image[ink], img[ink])
    changed = (res.image != img).any(axis=2)
    assert changed.sum() > 0.3 * ink.sum()
    assert sum(res.stats["changed_by_stage"].values()) == res.stats["changed_pixels"]
    assert set(res.stats["changed_by_stage"]) == {"thicken", "shadow"}
    # no specks: every changed piece is at least MIN_PIECE px
    sizes = np.bincount(ndi.label(changed, structure=EIGHT)[0].ravel())[1:]
    assert sizes.min() >= MIN_PIECE
    # the shadows are in the palette's colours, the weight in the ink's
    pal = derive_palette(np.zeros(3), np.ones(3), "dusk")
    assert mark_mask(res.image, pal).sum() == res.stats["changed_by_stage"]["shadow"]


@pytest.mark.parametrize("variant", ["inverted", "pink-on-grey", "alpha"])
def test_light_on_dark_coloured_ink_and_alpha_keep_the_ink(variant):
    img = _drawing()
    if variant == "inverted":
        img = 1.0 - img
    elif variant == "pink-on-grey":
        ink = 1.0 - img.mean(axis=2, keepdims=True)
        img = np.array([0.45, 0.45, 0.45]) + ink * (np.array([1.0, 0.4, 0.7]) - 0.45)
    else:
        alpha = np.where(img.mean(axis=2) < 0.5, 1.0, 0.0)[:, :, None]
        img = np.concatenate([img, alpha], axis=2)
    res = shade_arrays(img)
    model = paper_ink_model(img[:, :, :3], None if img.shape[2] == 3 else img[:, :, 3])
    np.testing.assert_array_equal(res.image[model.ink], img[model.ink])
    changed = (res.image[:, :, :3] != img[:, :, :3]).any(axis=2)
    assert changed.sum() > 0.3 * model.ink.sum()
    if variant == "alpha":  # issue 20: a mark on transparent paper shows (alpha = its coverage > 0)
        assert (res.image[changed, 3] > 0.0).all() and (res.image[~changed, 3] == img[~changed, 3]).all()


def test_passes_build_up_without_piling_on():
    img = _drawing()
    one = shade_arrays(img)
    four = shade_arrays(img, None, {"passes": 4})
    c1, c4 = one.stats["changed_pixels"], four.stats["changed_pixels"]
    assert c4 > 1.2 * c1  # richer
    assert c4 < 4 * c1  # not a blob: later passes recognise the earlier marks and top up
    ink = paper_ink_model(img).ink
    np.testing.assert_array_equal(four.image[ink], img[ink])
    assert [p["effect"] for p in four.stats["passes"]] == [1.0, 0.75, 0.5625, 0.421875]


def _digest(img: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()


def test_deterministic_in_process_and_across_processes():
    img = _drawing()
    d1, d2 = _digest(shade_arrays(img).image), _digest(shade_arrays(img).image)
    code = ("import hashlib, numpy as np\nfrom fastshade.demo import demo_image\n"
            "from fastshade.styles import shade_arrays\n"
            "print(hashlib.sha256(np.ascontiguousarray(shade_arrays(demo_image(96, 96)).image).tobytes())"
            ".hexdigest())\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert d1 == d2 == res.stdout.strip().splitlines()[-1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastshade", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_cli_end_to_end(tmp_path):
    from fastshade.io import write_image

    src = tmp_path / "d.png"
    write_image(src, _drawing(), bit_depth=8)
    out, ember, v12 = tmp_path / "o.png", tmp_path / "e.png", tmp_path / "v.png"
    res = _cli("shade", str(src), "-o", str(out), "--stats", str(tmp_path / "s.json"))
    assert res.returncode == 0, res.stderr
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["style"] == "brush" and stats["palette"]["name"] == "dusk"
    a, b = iio.imread(src), iio.imread(out)
    assert stats["changed_pixels"] == int((a != b).any(axis=2).sum()) > 0
    assert _cli("shade", str(src), "-o", str(ember), "--palette", "ember").returncode == 0
    assert _cli("shade", str(src), "-o", str(v12), "--style", "v12").returncode == 0
    e, v = iio.imread(ember), iio.imread(v12)
    assert not np.array_equal(b, e) and not np.array_equal(b, v)
    # the weight is the same whatever the palette: only the shadows' colours differ
    np.testing.assert_array_equal((a != b).any(axis=2), (a != e).any(axis=2))


def test_pass_one_reads_the_runners_model_and_later_passes_keep_its_paper(monkeypatch):
    """The runner models the drawing once; brush's pass 1 uses that model, later passes keep its paper."""
    import fastshade.pipeline.inkgates as inkgates
    import fastshade.styles.runner as runner

    calls = []
    real = inkgates.paper_ink_model

    def counted(rgb, alpha=None, **kw):
        calls.append(kw.get("paper_from"))
        return real(rgb, alpha, **kw)

    monkeypatch.setattr(inkgates, "paper_ink_model", counted)
    seen = []
    img = demo_image(96, 96)
    runner.shade_arrays(img, None, {"style": "brush", "passes": 3},
                        on_pass=lambda step, r: seen.append(step.drawing))
    drawing = seen[0]
    assert drawing is not None and all(d is drawing for d in seen)
    assert calls == [drawing, drawing]  # passes 2 and 3 only, each with the drawing's paper


def test_later_passes_read_the_drawings_basis_for_the_line_weight():
    """Only the line weight's budget reads brush's basis (heat field): pass 1 solves it, later
    passes read it; a basis-column field (read by the gates) is solved on every pass."""
    import fastshade.styles.runner as runner

    img = demo_image(96, 96)
    bases = []
    res = runner.shade_arrays(img, None, {"style": "brush", "passes": 3},
                              on_pass=lambda step, r: bases.append(r.stats["basis"]))
    assert [b["solved_in_pass"] for b in bases] == [1, 1, 1]
    assert all("basis" not in p["timings"] for p in res.stats["passes"][1:])
    assert bases[0]["values"] == bases[2]["values"]
    bases.clear()
    runner.shade_arrays(img, None, {"style": "brush", "passes": 2, "field": "column"},
                        on_pass=lambda step, r: bases.append(r.stats["basis"]))
    assert [b["solved_in_pass"] for b in bases] == [1, 2]
