"""`fastshade diagnose`: strategy specs, the report, the figures, the CLI, parity on a real image."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastshade import ShadeOptions, cli
from fastshade import diagnose as dg
from fastshade.pipeline.metrics import parity, result_metrics
from fastshade.pipeline.shader import shade_arrays
from tests.conftest import load_rgb
from tests.test_shader import _strokes

KRYLOV = ShadeOptions(basis="krylov")
FIXES = ("unified+fixes", "A recolor", "B warp", "C gate-only")


def _sample(h=80, w=70):
    b = np.ones((h, w, 3))
    b[20:60, 30:32] = [0.1, 0.2, 0.8]
    b[40:42, 10:60] = [0.1, 0.2, 0.8]
    yy, xx = np.mgrid[0:h, 0:w]
    b[np.abs(np.hypot(yy - 25, xx - 20) - 9) < 1.0] = 0.0
    return b


def _write_png(path, rgb):
    import imageio.v3 as iio

    iio.imwrite(path, (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8))


# ----------------------------------------------------------------------------- specs


def test_parse_strategy():
    label, o = dg.parse_strategy("warp,score=signature,affinity=quantile:0.3,procrustes=off", KRYLOV)
    assert label.startswith("warp")
    assert (o.cross_strategy, o.score, o.affinity_threshold, o.procrustes) == \
        ("warp", "signature", "quantile:0.3", False)
    assert o.basis == "krylov"  # analysis options kept
    _, o = dg.parse_strategy("unified,scale=on", KRYLOV)
    assert o.scale_normalise and o.score == KRYLOV.score
    for bad in ("magic", "warp,colour=red", "warp,scale=yes", "warp,affinity=median", ""):
        with pytest.raises(ValueError):
            dg.parse_strategy(bad, KRYLOV)


def test_presets_and_grid():
    presets = dg.preset_strategies(KRYLOV)
    assert [lab for lab, _ in presets] == [lab for lab, _ in dg.PRESETS]
    base = presets[0][1]
    assert {k: getattr(base, k) for k in dg.CROSS_FIELDS} == dg.BASELINE
    grid = dg.grid_strategies(KRYLOV)
    configs = [lab for lab, _ in grid]
    assert len(configs) == len(set(configs))
    assert dg.config_label(base) in configs
    assert all(o.basis == "krylov" for _, o in grid)
    assert not any(o.scale_normalise and o.cross_strategy != "unified" for _, o in grid)


# ----------------------------------------------------------------------------- the report


@pytest.fixture(scope="module")
def parity_diag():
    return dg.diagnose_arrays(_strokes(), None, KRYLOV)


def test_report_parity_run(parity_diag):
    rep = parity_diag.report
    json.dumps(rep, allow_nan=False)
    assert rep["sample_is_target"]
    by = {e["label"]: e for e in rep["strategies"]}
    assert set(by) == {lab for lab, _ in dg.PRESETS}
    for lab in FIXES:
        assert by[lab]["parity"]["exact"], (lab, by[lab]["parity"])
        assert by[lab]["pixels_differing_from_self"] == 0
    base = by["baseline"]["parity"]
    assert not base["exact"] and base["reasons"]
    assert rep["affinity"]["self"]["pixels"] > 0 and rep["affinity"]["cross_baseline"]["pixels"] > 0
    table = dg.format_table(rep)
    assert "baseline" in table and "B warp" in table and "exact" in table


def test_report_cross_pair_with_grid():
    grid = [g for g in dg.grid_strategies(KRYLOV) if g[1].cross_strategy == "warp"][:3]
    diag = dg.diagnose_arrays(_strokes(), _sample(), KRYLOV,
                              [dg.parse_strategy("warp,score=signature,affinity=none", KRYLOV)], grid=grid)
    rep = diag.report
    json.dumps(rep, allow_nan=False)
    assert not rep["sample_is_target"]
    (e,) = rep["strategies"]
    assert "parity" not in e
    assert set(e["goal"]["checks"]) == {"run_ratio", "fragments", "retention", "reuse"}
    for r in e["placements"]:
        assert r["visible_pixels"] <= r["written_pixels"] <= r["kept_pixels"] <= r["attempted_pixels"]
    assert len(rep["grid"]) == 3 and "placements" not in rep["grid"][0]
    assert "grid" in dg.format_table(rep, include_grid=True)


# ----------------------------------------------------------------------------- CLI and figures


def test_cli_writes_report_figures_and_table(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    t, s, out = tmp_path / "t.png", tmp_path / "s.png", tmp_path / "diag"
    _write_png(t, _strokes())
    _write_png(s, _sample())
    code = cli.main(["diagnose", str(t), str(s), "-o", str(out), "--basis", "krylov",
                     "--strategy", "unified", "--strategy", "warp,score=signature,affinity=none"])
    assert code == 0
    rep = json.loads((out / "report.json").read_text())
    assert [e["label"] for e in rep["strategies"]] == ["unified", "warp,score=signature,affinity=none"]
    for name in ("affinity.png", "strategies.png"):
        assert 0 < (out / name).stat().st_size <= dg.MAX_FIGURE_BYTES
    printed = capsys.readouterr().out
    assert "self" in printed and "warp/signature/none" in printed


def test_cli_errors_are_one_line(tmp_path, capsys):
    t = tmp_path / "t.png"
    _write_png(t, _strokes(32, 32))
    assert cli.main(["diagnose", str(t), "-o", str(tmp_path / "d"), "--strategy", "magic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown strategy" in err[0]
    assert cli.main(["diagnose", "-o", str(tmp_path / "d")]) == 2


def test_without_matplotlib_only_json_is_written(tmp_path, monkeypatch, capsys, parity_diag):
    monkeypatch.setattr("fastshade.diagnose.figures.have_matplotlib", lambda: False)
    paths = dg.write_outputs(parity_diag, tmp_path)
    assert [p.name for p in paths] == ["report.json"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "matplotlib" in err[0]


def test_help_has_examples():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    text = sub.choices["diagnose"].format_help()
    assert "examples:" in text and "fastshade diagnose toof.png snek-heavy.png" in text
    assert "--cross-strategy" in text and "gate-only" in text


# ----------------------------------------------------------------------------- real image


def test_default_cross_path_reproduces_self_on_a_real_image():
    """The parity test (original-system.md §7.10) with the default cross options on toof."""
    img = np.ascontiguousarray(load_rgb("toof.png")[64:320, 32:288])
    opts = KRYLOV
    self_res = shade_arrays(img, None, opts)
    assert len(self_res.placements) >= 3
    for cross in (shade_arrays(img, None, opts, force_cross=True), shade_arrays(img, img.copy(), opts)):
        par = parity(result_metrics(self_res), result_metrics(cross))
        assert par["exact"], par
        np.testing.assert_array_equal(cross.image, self_res.image)


# ----------------------------------------------------------------------------- the study


def _study_folder(tmp_path, monkeypatch, size=72):
    """A two-image study folder (a: strokes, b: a sample) with STUDY_PAIRS = [(a, b)]."""
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    _write_png(imgs / "a.png", _strokes(size, size))
    _write_png(imgs / "b.png", _sample(size - 8, size - 12))
    monkeypatch.setattr("fastshade.diagnose.study.STUDY_PAIRS", [("a.png", "b.png")])
    return imgs, tmp_path / "study"


def test_study_on_synthetic_images(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    imgs, out = _study_folder(tmp_path, monkeypatch)
    study = dg.run_study(imgs, out, KRYLOV, bases=("krylov",), grid=False, reports=True, progress=False)
    assert [(r["target"], r["sample"]) for r in study["runs"]] == [("a.png", "b.png"), ("a.png", "a.png"),
                                                                     ("b.png", "b.png")]
    assert (out / "krylov-a-x-b-strategies.png").is_file() and (out / "krylov-a-x-b-affinity.png").is_file()
    assert not (out / "krylov-a-x-a-strategies.png").exists()  # figures only for cross pairs
    assert (out / "reports" / "krylov-a-x-a-report.json").is_file()
    saved = json.loads((out / "study.json").read_text())
    assert saved["roundings"] == ["half-up"]  # the pipeline's rounding by default
    rank = saved["ranking"]["krylov/half-up"]
    assert {r["config"] for r in rank} == {dg.config_label(o) for _, o in dg.preset_strategies(KRYLOV)}
    top = rank[0]
    assert top["parity_exact_every_image"]  # a fix, never the baseline, ranks first
    assert top["config"] != dg.config_label(dg.preset_strategies(KRYLOV)[0][1])
    md = (out / "study.md").read_text()
    assert "a.png × b.png" in md and "Parity" in md and "Ranking" in md and "against the goal" in md


def test_rank_configs_order():
    def run(cross, entries):
        return {"basis": "k", "target": "t", "sample": "s" if cross else "t", "cross_pair": cross,
                "ladder": entries, "grid": []}

    def e(cfg, passed=True, rel=True, frag=1.0, par=None):
        d = {"label": cfg, "config": cfg, "passed": passed, "passed_relative_to_self": rel,
             "failed": [] if passed else ["fragments"], "mean_fragments": frag, "mean_retention": 0.95}
        if par is not None:
            d["parity_exact"] = par
        return d

    study = {"runs": [run(True, [e("a", frag=1.1), e("b", frag=1.0), e("c", passed=False, rel=True),
                                 e("d", passed=False, rel=False)]),
                      run(False, [e("a", par=True), e("b", par=False), e("c", par=True), e("d", par=True)])]}
    order = [r["config"] for r in dg.rank_configs(study, "k")]
    assert order == ["a", "c", "d", "b"]


def test_rank_configs_counts_a_config_once_per_run():
    entry = {"label": "x", "config": "c", "passed": True, "passed_relative_to_self": True, "failed": [],
             "mean_fragments": 1.0, "mean_retention": 1.0}
    study = {"runs": [{"basis": "k", "target": "t", "sample": "s", "cross_pair": True,
                       "ladder": [entry], "grid": [dict(entry, label="c")]}]}
    (row,) = dg.rank_configs(study, "k")
    assert row["pairs"] == 1 and row["pairs_passing_absolute_goal"] == 1


# ----------------------------------------------------------------------------- rounding experiment


@settings(deadline=None, max_examples=40)
@given(st.integers(0, 10_000), st.integers(0, 7), st.floats(0.25, 3.0))
def test_numpy_twin_matches_the_kernel_for_both_roundings(seed, turns, scale):
    pytest.importorskip("fastshade.reference.shading")
    from fastshade.pipeline.shading import place_component
    from fastshade.reference.shading import place_component_numpy

    rng = np.random.default_rng(seed)
    ys, xs = rng.integers(0, 40, 25), rng.integers(0, 40, 25)
    cs, cd, shift = rng.uniform(0, 40, 2), rng.uniform(-5, 45, 2), rng.uniform(-15, 15, 2)
    ties = seed % 2 == 1
    if ties:  # half-pixel centroid, integer centroid and shift: every destination on k + 0.5
        cs, cd, shift = np.floor(cs) + 0.5, np.floor(cd), np.floor(shift)
    args = (ys, xs, tuple(cs), tuple(cd), (40, 40))
    kw = {"quarter_turns": turns, "scale": 1.0 if ties else scale, "shift": tuple(shift)}
    ky, kx, kin = place_component(*args, **kw)
    for extra in ({"rounding": "half-up"}, {}):  # explicit and default
        hy, hx, hin = place_component_numpy(*args, **kw, **extra)
        np.testing.assert_array_equal(ky, hy)
        np.testing.assert_array_equal(kx, hx)
        np.testing.assert_array_equal(kin, hin)
    # the half-even twin (the original's rounding) is the kernel's half-even path ...
    ey, ex, ein = place_component_numpy(*args, **kw, rounding="half-even")
    for got, want in zip(place_component(*args, **kw, rounding="half-even"), (ey, ex, ein), strict=True):
        np.testing.assert_array_equal(got, want)
    # ... and differs from half up only at .5 ties
    for k, e in ((ky, ey), (kx, ex)):
        assert ((k == e) | (k == e + 1)).all()
        if ties:  # at a tie half-even picks the even neighbour, half up the upper one
            np.testing.assert_array_equal(k != e, k % 2 == 1)


def test_numpy_twin_by_hand_and_rejects_unknown_rounding():
    pytest.importorskip("fastshade.reference.shading")
    from fastshade.reference.shading import place_component_numpy

    # x = 0.5, 1.5, 2.5, 3.5 (no turn, shift 0.5): half up 1, 2, 3, 4; half even 0, 2, 2, 4
    args = (np.zeros(4, np.int64), np.arange(4), (0.0, 0.0), (0.0, 0.0), (10, 10))
    kw = {"quarter_turns": 0, "shift": (0.0, 0.5)}
    assert place_component_numpy(*args, **kw, rounding="half-up")[1].tolist() == [1, 2, 3, 4]
    assert place_component_numpy(*args, **kw, rounding="half-even")[1].tolist() == [0, 2, 2, 4]
    with pytest.raises(ValueError, match="rounding"):
        place_component_numpy(*args, **kw, rounding="nearest")


def test_half_up_pipeline_keeps_an_even_stroke_whole_and_half_even_leaves_gaps():
    from fastshade.pipeline.paint import shadow_self
    from tests.test_cross import _hand_analysis

    assert dg.ROUNDINGS[0] == "half-up"  # the pipeline first
    mask = np.zeros((60, 80), bool)
    mask[30, 20:40] = True  # centroid x = 29.5: every destination row lands on k + 0.5
    an = _hand_analysis(mask)
    counts = {}
    for mode in dg.ROUNDINGS:
        out = an.rgb.copy()
        (p,) = shadow_self(out, an, ShadeOptions(shadow_distance=10.0), rounding=mode)
        counts[mode] = len(set(zip(p.dst_y[p.written].tolist(), p.dst_x[p.written].tolist(), strict=True)))
    assert counts == {"half-up": 20, "half-even": 11}
    out = an.rgb.copy()
    (p,) = shadow_self(out, an, ShadeOptions(shadow_distance=10.0))  # the default is the pipeline's
    assert len(set(zip(p.dst_y[p.written].tolist(), p.dst_x[p.written].tolist(), strict=True))) == 20
    with pytest.raises(ValueError, match="rounding"):
        shadow_self(an.rgb.copy(), an, ShadeOptions(), rounding="nearest")


def test_diagnose_rounding_defaults_to_the_pipeline_and_reports_the_experiment():
    strategies = dg.preset_strategies(KRYLOV)[-4:]
    assert dg.diagnose_arrays(_strokes(), None, KRYLOV, strategies).report["rounding"] == "half-up"
    diag = dg.diagnose_arrays(_strokes(), None, KRYLOV, strategies, rounding="half-even")
    assert diag.report["rounding"] == "half-even"
    assert all(e["parity"]["exact"] for e in diag.report["strategies"])


def test_study_without_plots_writes_no_figures(tmp_path, monkeypatch, capsys):
    from fastshade import cli

    imgs, out = _study_folder(tmp_path, monkeypatch, size=48)
    code = cli.main(["diagnose", "--study", str(imgs), "-o", str(out), "--no-plots", "--study-bases",
                     "krylov", "--basis", "krylov"])
    assert code == 0, capsys.readouterr().err
    assert (out / "study.json").is_file() and not list(out.glob("*.png"))


def test_diagnose_checks_its_inputs_before_making_the_output_folder(tmp_path, capsys):
    from fastshade import cli

    out = tmp_path / "never"
    assert cli.main(["diagnose", str(tmp_path / "missing.png"), "-o", str(out)]) == 2
    assert not out.exists()
    (tmp_path / "file").write_text("x")
    src = tmp_path / "a.png"
    _write_png(src, _strokes(40, 40))
    assert cli.main(["diagnose", str(src), "-o", str(tmp_path / "file"), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err


def test_diagnose_output_clash_fails_before_writing_anything(tmp_path, capsys):
    from fastshade import cli

    src = tmp_path / "a.png"
    _write_png(src, _strokes(40, 40))
    out = tmp_path / "out"
    (out / "strategies.png").mkdir(parents=True)  # one output name is taken by a folder
    assert cli.main(["diagnose", str(src), "-o", str(out)]) == 2
    assert "names a folder" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["strategies.png"]  # no report, no figure


def test_study_with_missing_images_makes_no_output_folder(tmp_path, capsys):
    from fastshade import cli

    out = tmp_path / "d" / "out"
    assert cli.main(["diagnose", "--study", str(tmp_path / "nowhere"), "-o", str(out), "--no-plots"]) == 2
    assert "missing study images" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("fault", ["rounding", "undecodable"])
def test_study_with_bad_arguments_or_images_makes_no_output_folder(tmp_path, monkeypatch, fault):
    imgs, out = _study_folder(tmp_path, monkeypatch)
    roundings = ("half-up",)
    if fault == "rounding":
        roundings = ("bogus",)
        match = "rounding must be one of"
    else:
        (imgs / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        match = "b.png"
    with pytest.raises(Exception, match=match):
        dg.run_study(imgs, out, KRYLOV, bases=("krylov",), roundings=roundings, grid=False,
                     progress=False)
    assert not out.exists()


def test_study_markdown_ranking_shows_a_dash_for_undefined_means():
    """A configuration with no placements has no mean fragments: '-' in the ranking, not a crash."""
    from fastshade.diagnose.tables import study_markdown

    row = {"config": "c", "parity_exact_every_image": True, "goal_relative_to_self_every_pair": False,
           "pairs_passing_absolute_goal": 0, "pairs": 1, "mean_fragments": None, "mean_retention": None}
    text = study_markdown({"runs": [], "groups": ["krylov/half-up"], "bases": ["krylov"],
                           "ranking": {"krylov/half-up": [row]}})
    assert "| 1 | `c` | exact | no | 0/1 | - | - |" in text
