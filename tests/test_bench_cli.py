"""``fastshade bench``: the quick run end to end, --compare, --plot, and the NumPy/SciPy baselines.

The quick benchmark runs once per module (a fixture); everything else reads
its JSON.  No test asserts a timing: only structure, positivity/finiteness and
exit codes.  The baselines of :mod:`fastshade.reference` are checked against
the stages they stand in for, so the printed speed-ups compare equal work.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import itertools
import json
import math
import statistics
import sys

import numpy as np
import pytest

from fastshade import bench, cli
from fastshade import reference as bl
from fastshade.bench.cases import DITHER_SIZES, QUICK_REPEAT, build_cases, parse_sizes

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
TIMED = ("median", "min", "max")


def run_cli(*argv: str) -> tuple[int, str]:
    """``cli.main(['bench', *argv])`` with stdout captured: (exit code, stdout)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["bench", *argv])
    return code, buf.getvalue()


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One ``fastshade bench --quick --json`` run: (exit code, stdout, parsed JSON, json path)."""
    out = tmp_path_factory.mktemp("bench") / "out.json"
    code, text = run_cli("--quick", "--json", str(out))
    return code, text, json.loads(out.read_text()), out


# ------------------------------------------------------------------------------ quick run


def test_quick_run_exit_code_and_report(quick):
    code, text, _, _ = quick
    assert code == 0
    for word in ("demo-128x128", "demo-256x256", "growth", "laplacian", "basis", "shadow", "eigsh", "B/px"):
        assert word in text


def test_scan_case_reports_time_memory_and_bytes_per_pixel(tmp_path):
    out = tmp_path / "scan.json"
    code, text = run_cli("--scan", "96x64", "--scan-threads", "1,2", "--json", str(out))
    assert code == 0, text
    assert "96x64 WxH" in text and "B/px" in text
    records = json.loads(out.read_text())["scan"]
    assert [r["threads"] for r in records] == [1, 2]
    for r in records:
        assert r["status"] == "ok" and r["output_shape"] == [64, 96] and r["shape"] == [64, 96]
        assert r["wall_seconds"] > 0 and r["cpu_seconds"] > 0 and r["peak_rss_increase_bytes"] >= 0
        assert r["bytes_per_pixel"] == pytest.approx(r["peak_rss_increase_bytes"] / (64 * 96))
    assert records[0]["numba_threads"] == 1


def test_scan_shades_with_the_shade_flags_given(tmp_path):
    """``--scan`` is one ``fastshade shade`` job: its defaults (brush), not bench's v12, and the
    shade flags given; the table names them (they were ignored: every style measured brush)."""
    records = {}
    for name, flags in (("default", []), ("v12-8", ["--style", "v12", "--connectivity", "8"])):
        out = tmp_path / f"{name}.json"
        code, text = run_cli("--scan", "96x64", "--scan-threads", "1", "--json", str(out), *flags)
        assert code == 0, text
        (records[name],) = json.loads(out.read_text())["scan"]
        records[name]["text"] = text
    default, v12 = records["default"], records["v12-8"]
    assert default["options"]["style"] == "brush" and default["options"]["connectivity"] == 4
    assert v12["options"]["style"] == "v12" and v12["options"]["connectivity"] == 8
    assert v12["option_flags"] == ["connectivity", "style"] and default["option_flags"] == []
    assert "style brush," in default["text"] and "style v12, connectivity 8," in v12["text"]
    assert default["status"] == v12["status"] == "ok"


@pytest.mark.parametrize("argv", [["--scan", "96x64x2"], ["--scan", "96x64", "--scan-threads", "0"],
                                  ["--scan", "96x64", "--scan-threads", "a"]])
def test_scan_bad_arguments_are_one_line(argv, capsys):
    assert cli.main(["bench", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--scan" in err


def test_quick_json_structure(quick):
    _, _, data, _ = quick
    assert data["schema"] == bench.SCHEMA
    machine = data["machine"]
    for key in ("cpu", "cores", "ram_bytes", "os", "python", "versions", "numba_threads", "memory_method",
                "compile_seconds", "load_average"):
        assert key in machine, key
    for lib in ("numpy", "scipy", "numba", "pyamg"):
        assert machine["versions"][lib], lib
    assert machine["numba_threads"] == 1
    assert machine["thread_env"]["OPENBLAS_NUM_THREADS"] == "1"
    cfg = data["config"]
    assert cfg["sizes"] == [128, 256] and cfg["repeat"] == QUICK_REPEAT and cfg["threads"] == 1 and cfg["quick"]
    assert cfg["options"]["basis"] == "lobpcg"
    assert [c["name"] for c in data["cases"]] == ["demo-128x128", "demo-256x256"]
    for case in data["cases"]:
        assert set(case["stages"]) == set(bench.STAGES) | set(bench.SUMMARY_FIGURES)
        assert case["pixels"] == case["shape"][0] * case["shape"][1]
        for stage in bench.SHADER_STAGES + ("shader", "other"):
            for figures in ("stages", "stages_cpu"):  # one run per clock and repeat
                assert len(case[figures][stage]["runs"]) == QUICK_REPEAT, (figures, stage)
    # baselines only at the smallest size in --quick
    small, big = data["cases"]
    assert set(small["baselines"]) >= set(bench.BASELINES)
    assert big["baselines"] == {}


def _numbers(obj, path=""):
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return
    if isinstance(obj, (int, float)):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{path}[{i}]")


def test_every_figure_positive_and_finite(quick):
    _, _, data, _ = quick
    for path, value in _numbers(data):
        assert math.isfinite(value), path
    for case in data["cases"]:
        assert case["cpu_stage_source"] == "shader timer"
        for figures in ("stages", "stages_cpu"):
            assert set(case[figures]) == set(bench.STAGES) | set(bench.SUMMARY_FIGURES)
            for stage, s in case[figures].items():
                low = 0.0 if stage == "other" else 1e-9  # "other" = shader minus its stages, may be ~0
                for q in TIMED:
                    assert s[q] >= low, (case["name"], figures, stage, q)
                assert s["min"] <= s["median"] <= s["max"]
        for key in ("pixels_per_second", "peak_rss_bytes"):
            assert case[key] > 0, key
        assert case["peak_rss_increase_bytes"] >= 0
        assert case["first_call_seconds"] is None  # --quick: the 64 x 64 warm-up only
    assert data["machine"]["compile_seconds"] > 0
    assert set(data["growth"]) == set(bench.CLOCKS)
    for clock in bench.CLOCKS:
        assert {"shader", "basis", "laplacian"} <= set(data["growth"][clock])
        for name, g in data["growth"][clock].items():
            assert math.isfinite(g["exponent"]) and g["coefficient"] > 0, name
            assert len(g["pixels"]) == 2, name


def test_baselines_ran_agree_and_have_positive_speedups(quick):
    _, _, data, _ = quick
    base = data["cases"][0]["baselines"]
    for stage, specs in bench.BASELINES.items():
        entries = {e["key"]: e for e in base[stage]}
        assert set(entries) == {k for k, _ in specs}
        for e in entries.values():
            assert e["skipped"] is None, (stage, e)
            assert e["median"] > 0 and e["speedup"] > 0 and math.isfinite(e["speedup"])
            assert e["cpu"]["median"] > 0 and e["speedup_cpu"] > 0
            if "agrees" in e:
                assert e["agrees"], (stage, e)
    eig = {e["key"]: e for e in base["basis"]}
    assert eig["eigsh"]["residual_max"] < 1e-3
    assert eig["lobpcg_plain"]["iterations"] >= 1
    assert base["basis_ours"]["residual_max"] >= 0


# ------------------------------------------------------------------------------ --results / --compare / --plot


def _doctored(data, factor, *, steady=False):
    """A copy of ``data`` with every figure (both clocks) times ``factor``; ``steady``: every repeat at the minimum."""
    slow = copy.deepcopy(data)
    for case in slow["cases"]:
        for s in [*case["stages"].values(), *case["stages_cpu"].values()]:
            if steady and "runs" in s:
                s["runs"] = [s["min"]] * len(s["runs"])
                s["median"] = s["max"] = s["min"]
            for q in TIMED:
                s[q] *= factor
            if "runs" in s:
                s["runs"] = [r * factor for r in s["runs"]]
    return slow


def test_compare_with_itself_exits_0(quick):
    _, _, _, path = quick
    code, text = run_cli("--results", str(path), "--compare", str(path))
    assert code == 0
    assert "no figure slower" in text


def test_compare_doctored_slower_copy_exits_1(quick, tmp_path):
    _, _, data, path = quick
    slower = tmp_path / "slower.json"
    slower.write_text(json.dumps(_doctored(data, 2.0)))
    code, text = run_cli("--results", str(slower), "--compare", str(path))
    assert code == 1
    assert "SLOWER" in text
    # the other way round the new run is faster: passes
    code, _ = run_cli("--results", str(path), "--compare", str(slower))
    assert code == 0


def test_compare_tolerance_is_respected(quick, tmp_path):
    _, _, data, _ = quick
    steady, slower = tmp_path / "steady.json", tmp_path / "slower.json"  # no noise: the band is the tolerance
    steady.write_text(json.dumps(_doctored(data, 1.0, steady=True)))
    slower.write_text(json.dumps(_doctored(data, 1.2, steady=True)))
    assert run_cli("--results", str(slower), "--compare", str(steady))[0] == 0  # 1.2 < 1.25
    assert run_cli("--results", str(slower), "--compare", str(steady), "--tolerance", "1.1")[0] == 1


def test_compare_rejects_foreign_json(quick, tmp_path):
    _, _, _, path = quick
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))
    assert run_cli("--results", str(path), "--compare", str(bad))[0] == 2
    assert run_cli("--results", str(path), "--compare", str(tmp_path / "missing.json"))[0] == 2


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib not installed (fastshade[plots])")
def test_plot_writes_a_png(quick, tmp_path):
    _, _, _, path = quick
    png = tmp_path / "scaling.png"
    code, _ = run_cli("--results", str(path), "--plot", str(png))
    assert code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_with_an_unknown_format_is_refused_before_anything_is_written(quick, tmp_path, capsys):
    _, _, _, path = quick
    js, plot = tmp_path / "j.json", tmp_path / "p.xyz"
    assert cli.main(["bench", "--results", str(path), "--json", str(js), "--plot", str(plot)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln]
    assert len(err) == 1 and str(plot) in err[0] and ".png" in err[0], err
    assert not js.exists() and not plot.exists()


def test_cpu_clock_view(quick):
    _, _, data, path = quick
    code, text = run_cli("--results", str(path), "--clock", "cpu")
    assert code == 0 and "CPU seconds" in text
    view = bench.clock_view(data, "cpu")
    case = view["cases"][0]
    assert case["stages"] == data["cases"][0]["stages_cpu"]
    lap = case["baselines"]["laplacian"][0]
    assert lap["median"] == data["cases"][0]["baselines"]["laplacian"][0]["cpu"]["median"]


def test_markdown_summary(quick, tmp_path):
    _, _, _, path = quick
    md = tmp_path / "perf.md"
    assert run_cli("--results", str(path), "--markdown", str(md))[0] == 0
    text = md.read_text()
    assert text.startswith("## Performance")
    for needle in ("| stage | 128x128 | 256x256 | growth b |", "| basis |", "SciPy COO->CSR", "eigsh shift-invert"):
        assert needle in text, needle


def test_plot_without_matplotlib_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    code = cli.main(["bench", "--quick", "--plot", str(tmp_path / "p.png")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fastshade[plots]" in err[0]


@pytest.mark.parametrize("argv", [["--sizes", "8"], ["--sizes", "a,b"], ["--repeat", "0"],
                                  ["--threads", "0"], ["--images", "/nonexistent/dir"],
                                  ["--sizes", ""], ["--dither-sizes", "8"], ["--dither-sizes", "x"],
                                  ["--quick", "--json", "/dev/null/x.json"],
                                  ["--quick", "--markdown", "/dev/null/x.md"],
                                  ["--quick", "--compare", "/"]])
def test_bad_arguments_exit_2(argv, capsys):
    assert cli.main(["bench", *argv]) == 2
    assert capsys.readouterr().err.startswith("fastshade: error:")


# ------------------------------------------------------------------------------ derived figures


def test_parse_sizes():
    assert bench.parse_sizes("256, 512,256,") == [256, 512]
    # WxH (issue 21, point 7): an (H, W) shape, up to 16384 a side
    assert bench.parse_sizes("4960x7016,256,4960X7016") == [(7016, 4960), 256]
    for bad in ("4960x", "10x20x30", "16x20000", "axb"):
        with pytest.raises(ValueError, match="--sizes"):
            bench.parse_sizes(bad)
    cases = build_cases([(7016, 4960), 64], [], original_size=False)
    assert [(c["name"], c["shape"]) for c in cases] == [("demo-4960x7016", [7016, 4960]), ("demo-64x64", [64, 64])]
    with pytest.raises(ValueError):
        bench.parse_sizes("")


def test_dither_rows_at_512_and_1024_by_default():
    assert DITHER_SIZES == (512, 1024)
    assert parse_sizes("none", "--dither-sizes") == [] and parse_sizes("96", "--dither-sizes") == [96]
    with pytest.raises(ValueError, match="--dither-sizes"):
        parse_sizes("4", "--dither-sizes")
    cases = build_cases([256], [], original_size=False, dither_sizes=DITHER_SIZES)
    dither = [c for c in cases if c["kind"] == "dither"]
    assert [(c["name"], c["shape"], c["options"]) for c in dither] == [
        ("dither-512x512", [512, 512], {"laplacian": "dither"}),
        ("dither-1024x1024", [1024, 1024], {"laplacian": "dither"})]
    assert [c["kind"] for c in build_cases([256], [], original_size=False)] == ["demo"]


def test_a_dither_row_shades_with_the_dither_operator(tmp_path):
    out = tmp_path / "dither.json"
    md = tmp_path / "dither.md"
    code, text = run_cli("--sizes", "32", "--dither-sizes", "48", "--repeat", "1", "--no-baselines",
                         "--json", str(out), "--markdown", str(md))
    assert code == 0 and "== dither-48x48" in text
    results = json.loads(out.read_text())
    assert results["config"]["dither_sizes"] == [48]
    row = next(c for c in results["cases"] if c["name"] == "dither-48x48")
    assert row["kind"] == "dither" and row["options"] == {"laplacian": "dither"}
    assert row["baselines"] == {} and row["first_call_seconds"] is not None
    assert results["config"]["options"]["laplacian"] == "grid"  # the run's own options are kept
    assert results["growth"] == {"wall": {}, "cpu": {}}  # one demo size: no fit (the dither row is no point)
    assert "### The dither operator" in md.read_text()


def test_growth_exponent_recovers_a_power_law():
    cases = []
    for px in (1e4, 4e4, 1.6e5):
        stages = {s: {"median": 1e-6 * px} for s in bench.STAGES + bench.SUMMARY_FIGURES}
        stages["basis"] = {"median": 1e-9 * px ** 1.5}
        cases.append({"kind": "demo", "pixels": int(px), "stages": stages, "baselines": {}})
    g = bench.growth_exponents(cases)
    assert g["laplacian"]["exponent"] == pytest.approx(1.0)
    assert g["basis"]["exponent"] == pytest.approx(1.5)


def test_compare_min_seconds_floor():
    def run(t):
        return {"cases": [{"name": "c", "stages": {"gates": {"min": t, "runs": [t, 1.01 * t]},
                                                   "shader": {"min": 1.0, "runs": [1.0]}}}]}

    rows, slower = bench.compare_results(run(0.002), run(0.001), tolerance=1.25, min_seconds=0.005)
    assert not slower and not [r for r in rows if r["stage"] == "gates"][0]["judged"]
    rows, slower = bench.compare_results(run(0.02), run(0.01), tolerance=1.25, min_seconds=0.005)
    assert [r["stage"] for r in slower] == ["gates"]


# A --quick run on an idle machine: seconds per figure (the work itself, in CPU seconds).
QUICK_SECONDS = {
    "demo-128x128": {"load": 3e-4, "laplacian": 7e-4, "basis": 0.055, "fields": 0.004, "gates": 2e-4,
                     "thicken": 3e-4, "components": 1.5e-4, "shadow": 0.002, "save": 0.0022, "shader": 0.062},
    "demo-256x256": {"load": 7e-4, "laplacian": 0.0017, "basis": 0.10, "fields": 0.020, "gates": 5e-4,
                     "thicken": 9e-4, "components": 3e-4, "shadow": 0.0028, "save": 0.0046, "shader": 0.126},
}
REGRESSED = (("demo-128x128", "basis"), ("demo-256x256", "basis"), ("demo-256x256", "fields"))


def _busy_run(rng, slower=(), repeats=QUICK_REPEAT):
    """Synthetic results of a --quick run on a busy 2-core machine, both clocks.

    Per run: the work is 0-10 % slower (caches shared with the other processes) and the worker
    is preempted 10-60 times per second of work, each time for 1-8 ms (wall clock only); per
    repeat: exponential jitter of 3 %.  ``slower``: (case, stage) pairs whose work takes twice as long.
    """
    level, rate = rng.uniform(1.0, 1.1), rng.uniform(10.0, 60.0)
    cases = []
    for name, seconds in QUICK_SECONDS.items():
        wall, cpu = {}, {}
        for stage, t in seconds.items():
            t *= level * (2.0 if (name, stage) in slower else 1.0)
            c_runs = [t * (1 + rng.exponential(0.03)) for _ in range(repeats)]
            w_runs = [c + rng.uniform(1e-3, 8e-3, rng.poisson(rate * c)).sum() for c in c_runs]
            for figures, runs in ((wall, w_runs), (cpu, c_runs)):
                figures[stage] = {"median": statistics.median(runs), "min": min(runs), "max": max(runs), "runs": runs}
        cases.append({"name": name, "stages": wall, "stages_cpu": cpu})
    return {"cases": cases}


def _views(data):
    """The wall and the CPU view of synthetic results (what --compare judges with --clock wall/cpu)."""
    cpu = {"clock": "cpu", "cases": [dict(c, stages=c["stages_cpu"]) for c in data["cases"]]}
    return {"wall": dict(data, clock="wall"), "cpu": cpu}


def _median_ratios_over(new, old, tolerance=1.25, min_seconds=0.005):
    """Figures the former rule (ratio of medians) would have called slower."""
    before = {c["name"]: c["stages"] for c in old["cases"]}
    return [(c["name"], stage) for c in new["cases"] for stage, s in c["stages"].items()
            if max(s["median"], before[c["name"]][stage]["median"]) >= min_seconds
            and s["median"] / before[c["name"]][stage]["median"] > tolerance]


def test_compare_passes_a_rerun_with_realistic_noise():
    rng = np.random.default_rng(2024)
    fooled = 0
    for _ in range(50):
        old, new = _views(_busy_run(rng)), _views(_busy_run(rng))
        for clock in bench.CLOCKS:
            rows, slower = bench.compare_results(new[clock], old[clock])
            assert not slower, [(r["case"], r["stage"], r["ratio"], r["limit"]) for r in slower]
            assert sum(r["judged"] for r in rows) >= 6  # the long figures are judged, not skipped
        fooled += bool(_median_ratios_over(new["wall"], old["wall"]))
    assert fooled >= 5  # the noise is real: comparing medians cried wolf in many of these reruns


def test_compare_flags_a_2x_regression_despite_the_noise():
    rng = np.random.default_rng(7)
    for _ in range(50):
        old, new = _views(_busy_run(rng)), _views(_busy_run(rng, slower=REGRESSED))
        for clock in bench.CLOCKS:
            _, slower = bench.compare_results(new[clock], old[clock])
            assert set(REGRESSED) <= {(r["case"], r["stage"]) for r in slower}, clock


def test_compare_on_the_wall_clock_allows_for_the_time_spent_waiting():
    def steady(wall_factor, cpu_factor):
        seconds = QUICK_SECONDS["demo-256x256"]
        stages = {s: {"min": t * wall_factor, "runs": [t * wall_factor] * 3} for s, t in seconds.items()}
        cpu = {s: {"min": t * cpu_factor, "runs": [t * cpu_factor] * 3} for s, t in seconds.items()}
        return {"clock": "wall", "cases": [{"name": "demo-256x256", "stages": stages, "stages_cpu": cpu}]}

    # the same work, waiting 60 % longer for a core: not a slow-down of ours
    rows, slower = bench.compare_results(steady(1.6, 1.0), steady(1.0, 1.0))
    assert not slower and all(r["limit"] == pytest.approx(1.25 * 1.6) for r in rows)
    # twice the work: flagged, whether or not the machine was busier
    for wall in (2.0, 3.2):
        _, slower = bench.compare_results(steady(wall, 2.0), steady(1.0, 1.0))
        assert {r["stage"] for r in slower} >= {"basis", "fields", "shader", "end_to_end"}


def test_original_ratios_use_end_to_end():
    cases = [{"name": "image:toof", "stages": {"end_to_end": {"median": 0.705}}}]
    rows = bench.original_ratios(cases)
    assert [r["reference"] for r in rows] == ["toof_self"]
    assert rows[0]["speedup"] == pytest.approx(10.0)


# ------------------------------------------------------------------------------ baselines vs the stages


@pytest.fixture(scope="module")
def demo_analysis():
    from fastshade.demo import demo_image
    from fastshade.options import ShadeOptions
    from fastshade.pipeline.shader import analyse

    opts = ShadeOptions()
    rgb = demo_image(72, 96)
    return analyse(rgb, opts), opts


@pytest.mark.parametrize(("kind", "connectivity", "floor"), [("grid", 4, 0.0), ("grid", 8, 0.05), ("dither", 4, 0.0)])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (9, 13)])
def test_laplacian_coo_matches_image_laplacian(kind, connectivity, floor, shape):
    from fastshade.pipeline.graph import image_laplacian

    c = np.random.default_rng(3).random(shape)
    ours = image_laplacian(c, connectivity=connectivity, kind=kind, tau=0.1, weight_floor=floor)
    ref = bl.laplacian_coo(c, connectivity=connectivity, kind=kind, tau=0.1, weight_floor=floor)
    assert ref.shape == ours.shape
    np.testing.assert_allclose(ref.toarray(), ours.toarray(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("density", [0.0, 0.3, 0.6, 1.0])
def test_label_components_scipy_matches_label_components(connectivity, density):
    from fastshade.pipeline.components import label_components

    mask = np.random.default_rng(5).random((23, 31)) < density
    ours = label_components(mask, connectivity=connectivity, min_size=3)
    ref = bl.label_components_scipy(mask, connectivity=connectivity, min_size=3)
    assert ref.n == ours.n
    np.testing.assert_array_equal(ref.sizes, ours.sizes)
    np.testing.assert_allclose(ref.centroids, ours.centroids, atol=1e-12)
    np.testing.assert_allclose(ref.covariances, ours.covariances, atol=1e-9)
    np.testing.assert_array_equal(ref.bbox, ours.bbox)
    for i in range(ref.n):
        np.testing.assert_array_equal(ref.pixels_of(i), ours.pixels_of(i))


def test_thicken_numpy_matches_thicken(demo_analysis):
    from fastshade.pipeline.paint import thicken

    an, opts = demo_analysis
    assert an.high.any()
    ours, ours_written = thicken(an, opts)
    ref, ref_written = bl.thicken_numpy(an.rgb, an.high, an.perp_y, an.perp_x, an.basis.vectors, an.contours,
                                        opts.thick_radius, opts.budget_attenuation)
    np.testing.assert_array_equal(ref_written, ours_written)
    np.testing.assert_array_equal(ref, ours)


def test_thicken_numpy_random_directions_match_the_kernel():
    from fastshade.pipeline.shading import perpendicular_scatter, thickening_budget

    rng = np.random.default_rng(11)
    h, w = 17, 21
    rgb = rng.random((h, w, 3))
    angle = rng.uniform(0, 2 * np.pi, (h, w))
    high = rng.random((h, w)) < 0.3
    contours = rng.random((h, w)) < 0.2
    phi = rng.standard_normal((h * w, 5))
    sources = np.flatnonzero(high)
    ours, ours_written = perpendicular_scatter(rgb, sources, np.sin(angle), np.cos(angle),
                                               thickening_budget(phi, 3, sources=sources), contours, 3)
    ref, ref_written = bl.thicken_numpy(rgb, high, np.sin(angle), np.cos(angle), phi, contours, 3)
    np.testing.assert_array_equal(ref_written, ours_written)
    np.testing.assert_array_equal(ref, ours)


def test_shadow_self_numpy_matches_shadow_self(demo_analysis):
    from fastshade.pipeline.paint import shadow_self, thicken

    an, opts = demo_analysis
    assert an.components.n > 0
    base, _ = thicken(an, opts)
    ours = base.copy()
    shadow_self(ours, an, opts.replace(shadow_placement="fixed"))  # the baseline's push
    comps = an.components
    ref = bl.shadow_self_numpy(base.copy(), [comps.pixels_of(i) for i in range(comps.n)], comps.centroids,
                               an.void_y, an.void_x, an.carrier, distance=opts.shadow_distance,
                               hue_angle=opts.hue_angle, ink_guard=opts.ink_guard)
    assert not np.array_equal(ours, base)  # something was painted
    np.testing.assert_allclose(ref, ours, rtol=0, atol=1e-12)


def test_hue_rotate_numpy_matches_kernel():
    from fastshade.pipeline.shading import hue_rotate

    rgb = np.random.default_rng(2).random((50, 3))
    np.testing.assert_allclose(bl.hue_rotate_numpy(rgb, 1.0), hue_rotate(rgb, 1.0), rtol=0, atol=1e-14)


@pytest.mark.parametrize("solver", ["eigsh", "lobpcg"])
def test_eigen_baselines_find_the_lowest_nontrivial_pairs(solver):
    from fastshade.pipeline.graph import image_laplacian

    c = np.random.default_rng(7).random((14, 15))
    L = image_laplacian(c, tau=0.5)
    exact = np.linalg.eigvalsh(L.toarray())[1:5]
    if solver == "eigsh":
        r = bl.eigsh_basis(L, 4)
    else:
        r = bl.lobpcg_basis(L, 4, tol=1e-8, maxiter=2000)
    assert r.converged
    np.testing.assert_allclose(r.values, exact, rtol=1e-6, atol=1e-9)
    assert r.residuals.max() < 1e-6
    np.testing.assert_allclose(np.linalg.norm(r.vectors, axis=0), 1.0, atol=1e-10)


def test_cross_stage_figures_add_the_target_and_the_sample_stages():
    """A cross call times the sample's analysis apart ("sample_" stages); the bench adds both.

    The clock is the shader's public argument: a counter that ticks once per reading makes
    every figure a count of readings, so nothing here is timed.
    """
    from fastshade.options import ShadeOptions
    from fastshade.pipeline.shader import shade_arrays
    from tests.test_shader import _strokes

    ticks = itertools.count()
    res = shade_arrays(_strokes(), _strokes()[::-1].copy(), ShadeOptions(score="dot"),
                       clock=lambda: float(next(ticks)))
    t = res.stats["timings"]
    assert t["basis"] == 1.0 and t["sample_basis"] == 1.0  # one block each, read with our clock
    assert "thicken" in t and "sample_thicken" not in t
    fig = bench.stage_figures(t)
    for stage in bench.SHADER_STAGES:
        assert fig[stage] == t.get(stage, 0.0) + t.get("sample_" + stage, 0.0), stage
    assert fig["basis"] == 2.0 and fig["thicken"] == t["thicken"]
    assert fig["shader"] == t["total"]
    assert fig["other"] == t["total"] - sum(fig[s] for s in bench.SHADER_STAGES) >= 0


def test_the_worker_times_one_run_per_clock():
    import time

    from fastshade.bench.worker import CLOCK_FUNCTIONS

    assert CLOCK_FUNCTIONS == {"wall": time.perf_counter, "cpu": time.process_time}
    assert tuple(CLOCK_FUNCTIONS) == bench.CLOCKS


def test_unreadable_images_are_skipped_with_one_line_each(tmp_path, capsys):
    from fastshade.bench.cases import image_files
    from fastshade.demo import demo_image
    from fastshade.io import write_image

    write_image(tmp_path / "good.png", demo_image(32, 32))
    write_image(tmp_path / "trunc.png", demo_image(32, 32))
    data = (tmp_path / "trunc.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    assert [p.name for p in image_files(tmp_path)] == ["good.png"]
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln]
    assert len(lines) == 1 and "skipping" in lines[0] and "trunc.png" in lines[0]
    (tmp_path / "good.png").unlink()
    with pytest.raises(ValueError, match="no readable image"):
        image_files(tmp_path)


@pytest.mark.parametrize("damage", ["cases", "config", "median", "cpu-median", "cpu-stage"])
def test_damaged_result_files_are_one_line_exit_2(quick, tmp_path, capsys, damage):
    data = json.loads(json.dumps(quick[2]))
    if damage == "cases":
        data["cases"] = [1]
    elif damage == "config":
        data.pop("config")
    elif damage == "median":
        case = next(c for c in data["cases"] if c.get("stages"))
        next(iter(case["stages"].values()))["median"] = "x"
    elif damage == "cpu-median":  # the CPU clock's figures are read too (--clock cpu, finish())
        case = next(c for c in data["cases"] if c.get("stages_cpu"))
        next(iter(case["stages_cpu"].values()))["median"] = "x"
    else:
        case = next(c for c in data["cases"] if c.get("stages_cpu"))
        case["stages_cpu"].pop("shader")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    for flag in ("--results", "--compare"):
        argv = ["bench", flag, str(bad)] + (["--results", str(quick[3])] if flag == "--compare" else [])
        assert cli.main(argv) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln]
        assert len(err) == 1 and "damaged" in err[0], err


def test_style_rows_one_per_style_and_pass_count(tmp_path):
    from fastshade.bench.cli import parse_counts, style_names

    toof = tmp_path / "toof.png"
    cases = build_cases([64], [toof], original_size=False, styles=["v12"], style_passes=[1, 4])
    rows = [c for c in cases if c["kind"] == "style"]
    assert [(c["name"], c["options"]["passes"], c["files"]) for c in rows] == [
        ("style:v12:p1", 1, [str(toof)]), ("style:v12:p4", 4, [str(toof)])]
    demo_rows = [c for c in build_cases([64], [], original_size=False, styles=["v12"], style_passes=[2])
                 if c["kind"] == "style"]
    assert demo_rows[0]["shape"] == [512, 512] and "files" not in demo_rows[0]
    assert style_names(None) == [] and style_names("all")[0] == "v12"
    with pytest.raises(ValueError, match="unknown style"):
        style_names("v12,nope")
    assert parse_counts("1,4", "--style-passes") == [1, 4]
    with pytest.raises(ValueError, match="pass counts"):
        parse_counts("0", "--style-passes")


def test_a_scan_worker_killed_by_the_kernel_is_named(monkeypatch, capsys):
    """The scan shades with no pixel limit: a worker the OOM killer ends (SIGKILL, -9) is said so in
    one line, not as a bare exit code."""
    import subprocess as sp_module

    import fastshade.bench.scan as scan_module

    monkeypatch.setattr(scan_module.subprocess, "run",
                        lambda argv, env: sp_module.CompletedProcess(argv, -9))
    assert cli.main(["bench", "--scan", "96x64", "--scan-threads", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "killed (SIGKILL), most likely out of memory" in err
