"""The style mechanism: named styles, explicit options over a style's defaults, passes and envelopes."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from fastshade.demo import demo_image
from fastshade.options import STYLE_NAMES, ShadeOptions
from fastshade.styles import (
    ADSR_TABLE,
    STYLES,
    Style,
    catalog,
    decay_effect,
    pass_schedule,
    resolve_options,
    shade_arrays,
)

ROOT = Path(__file__).resolve().parents[1]


def test_catalogue_matches_the_option_names():
    assert tuple(STYLES) == STYLE_NAMES
    for style in STYLES.values():
        assert style.description and "\n" not in style.description
        assert style.envelope in ("flat", "decay", "adsr")
        unknown = set(style.defaults) - {f.name for f in dataclasses.fields(ShadeOptions)}
        assert not unknown, (style.name, unknown)


def test_decay_envelope_is_v6s_rule():
    # e = max(0.75^(p-1), 0.05), by hand: 1, 0.75, 0.5625, 0.421875; 0.75^10 = 0.0563, 0.75^11 = 0.0422
    assert [s.effect for s in pass_schedule("decay", 4)] == [1.0, 0.75, 0.5625, 0.421875]
    assert decay_effect(11) == pytest.approx(0.0563135147, abs=1e-9)
    assert decay_effect(12) == 0.05 and decay_effect(40) == 0.05


def test_adsr_envelope_is_the_final_table_and_reuses_the_last_row():
    steps = pass_schedule("adsr", 6)
    assert [s.overrides["dilation_radius"] for s in steps] == [3, 2, 2, 1, 1, 1]
    assert [s.overrides["kernel_sigma_ratio"] for s in steps[:4]] == [0.8, 0.6, 0.5, 0.4]
    assert [s.overrides["fill_threshold"] for s in steps[:4]] == [0.05, 0.1, 0.15, 0.2]
    assert [s.overrides["thicken_modulation"] for s in steps[:4]] == [0.2, 0.3, 0.5, 0.7]
    assert [s.effect for s in steps[:4]] == pytest.approx([1.0, 2 / 3, 2 / 3, 1 / 3])
    assert steps[5].overrides == ADSR_TABLE[3]


def test_flat_envelope_and_pass_numbers():
    steps = pass_schedule("flat", 3)
    assert [(s.index, s.count, s.effect) for s in steps] == [(1, 3, 1.0), (2, 3, 1.0), (3, 3, 1.0)]
    with pytest.raises(ValueError, match="envelope"):
        pass_schedule("auto", 2)


def test_explicit_fields_are_recorded():
    assert ShadeOptions().explicit == ()
    assert ShadeOptions(shadow_distance=20.0, explicit=()).explicit == ()
    assert ShadeOptions(shadow_distance=20.0).explicit == ("shadow_distance",)
    # the v12 default value given through replace is explicit too (a style must not replace it)
    opts = ShadeOptions().replace(shadow_distance=15.0, passes=3)
    assert opts.explicit == ("shadow_distance",)
    assert "explicit" not in opts.to_dict()
    assert ShadeOptions(**opts.to_dict()) == opts
    with pytest.raises(ValueError, match="unknown option"):
        ShadeOptions(explicit=("no_such_option",))
    with pytest.raises(ValueError, match="style must be one of"):
        ShadeOptions(style="nope")
    with pytest.raises(ValueError, match="passes"):
        ShadeOptions(passes=0)


def test_a_styles_defaults_fill_only_the_fields_not_given(monkeypatch):
    lush = Style("v12", "test style", "decay", STYLES["v12"].paint_pass,
                 defaults={"shadow_distance": 30.0, "thick_radius": 5})
    monkeypatch.setitem(catalog.STYLES, "v12", lush)
    opts = resolve_options(ShadeOptions(style="v12"))
    assert (opts.shadow_distance, opts.thick_radius, opts.envelope) == (30.0, 5, "decay")
    given = resolve_options(ShadeOptions(style="v12").replace(shadow_distance=15.0, envelope="flat"))
    assert (given.shadow_distance, given.thick_radius, given.envelope) == (15.0, 5, "flat")
    assert resolve_options(given) == given  # idempotent
    assert resolve_options({"style": "v12", "shadow_distance": 12.0}).shadow_distance == 12.0
    # switching back to a style without defaults leaves nothing of the first style's behind
    monkeypatch.setitem(catalog.STYLES, "v12", Style("v12", "x", "flat", lush.paint_pass))
    back = resolve_options(dataclasses.replace(given, envelope="auto"))
    assert (back.shadow_distance, back.thick_radius, back.envelope) == (15.0, 3, "flat")


def test_v12_one_pass_equals_the_pipeline_pass():
    from fastshade.pipeline.shader import shade_arrays as v12_pass

    img = demo_image(96, 96)
    a = shade_arrays(img, None, ShadeOptions(style="v12"))
    b = v12_pass(img, None, ShadeOptions())
    np.testing.assert_array_equal(a.image, b.image)
    assert a.stats["style"] == "v12" and a.stats["envelope"] == "flat"
    assert [p["pass"] for p in a.stats["passes"]] == [1]


def test_passes_chain_each_output_into_the_next():
    img = demo_image(96, 96)
    seen = []
    res = shade_arrays(img, None, {"style": "v12", "passes": 3, "envelope": "decay"},
                       on_pass=lambda step, r: seen.append((step.effect, r.image.copy())))
    assert [e for e, _ in seen] == [1.0, 0.75, 0.5625]
    np.testing.assert_array_equal(seen[-1][1], res.image)
    # pass 2 shades pass 1's output: the same as a 1-pass shade of it at effect 0.75
    from fastshade.pipeline.shader import shade_arrays as v12_pass

    again = v12_pass(seen[0][1], None, ShadeOptions(shadow_distance=15.0 * 0.75, thick_radius=2))
    np.testing.assert_array_equal(again.image, seen[1][1])
    assert not np.array_equal(seen[0][1], seen[2][1])
    assert len(res.stats["passes"]) == 3
    # the call's total covers its passes plus the once-per-drawing work (the paper/ink model)
    total = sum(p["timings"]["total"] for p in res.stats["passes"])
    assert res.stats["timings"]["total"] >= total - 1e-5
    ticks = iter(range(1000))  # a clock that counts its reads: the call's total is its first-to-last span
    res = shade_arrays(img, None, {"style": "v12", "passes": 2}, clock=lambda: float(next(ticks)))
    assert res.stats["timings"]["total"] == next(ticks) - 1


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastshade", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_cli_save_passes_writes_each_pass_and_the_last_is_the_output(tmp_path):
    from fastshade.io import write_image

    src = tmp_path / "d.png"
    write_image(src, demo_image(96, 96), bit_depth=8)
    out = tmp_path / "o.png"
    res = _cli("shade", str(src), "-o", str(out), "--passes", "2", "--save-passes", "--style", "v12")
    assert res.returncode == 0, res.stderr
    p1, p2 = iio.imread(tmp_path / "o.pass1.png"), iio.imread(tmp_path / "o.pass2.png")
    np.testing.assert_array_equal(p2, iio.imread(out))
    one = tmp_path / "one.png"
    assert _cli("shade", str(src), "-o", str(one), "--style", "v12").returncode == 0
    np.testing.assert_array_equal(p1, iio.imread(one))
    assert not np.array_equal(p1, p2)


def test_run_save_passes_beside_each_output(tmp_path):
    from fastshade.io import write_image

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    write_image(src / "d.png", demo_image(64, 64), bit_depth=8)
    res = _cli("run", str(src), str(out), "--passes", "2", "--save-passes", "-j", "1")
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    assert names == ["d.pass1.png", "d.pass2.png", "d.png"]
    np.testing.assert_array_equal(iio.imread(out / "d.pass2.png"), iio.imread(out / "d.png"))


@pytest.mark.parametrize("passes", [1, 3])
def test_changed_pixels_equal_the_written_file_and_split_by_stage(tmp_path, passes):
    from fastshade.io import read_image, write_image

    src, out = tmp_path / "d.png", tmp_path / "o.png"
    write_image(src, demo_image(128, 128), bit_depth=8)
    res = _cli("shade", str(src), "-o", str(out), "--passes", str(passes), "--stats", str(tmp_path / "s.json"))
    assert res.returncode == 0, res.stderr
    import json

    stats = json.loads((tmp_path / "s.json").read_text())
    a, b = iio.imread(src), iio.imread(out)
    changed = int((a != b).any(axis=2).sum())
    assert changed > 0 and stats["changed_pixels"] == changed
    assert sum(stats["changed_by_stage"].values()) == changed
    assert set(stats["changed_by_stage"]) <= {"thicken", "shadow"}
    assert read_image(str(out)).rgb.shape == (128, 128, 3)
