"""A cold run's compilation shared kernel by kernel with a second process (fastshade.compile_plan).

The integration test uses real processes, a real empty cache and the real kernels; the
protocol tests use a claims folder and real (short-lived) processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fastshade import compile_plan
from fastshade.compile_plan import PLAN, SharedCompile, compile_backwards, plan_applies, signature_types
from fastshade.options import ShadeOptions

ROOT = Path(__file__).resolve().parents[1]


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FASTSHADE_NO_CACHE", None)
    env["NUMBA_CACHE_DIR"] = str(cache)
    return env


def test_the_run_compiles_its_half_and_loads_the_helpers_half_of_the_plan(tmp_path):
    # The run got to item `meet` first (its claim file); the helper then compiles every later
    # item and stops there.  The run, with the claims folder, must compile exactly the items
    # before and at `meet` as top-level kernels and load every later one from the cache: a
    # kernel the plan misses or lists with other argument types would be compiled by the run
    # (then regenerate PLAN: python -m fastshade.compile_plan --print).
    meet = [name for name, _ in PLAN].index("laplacian.assemble_laplacian_csr")
    folder = tmp_path / "claims"
    folder.mkdir()
    (folder / f"claim-{meet}").write_text("run")
    env = _env(tmp_path / "cache")
    helper = subprocess.run([sys.executable, "-m", "fastshade.compile_plan", str(folder)], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600)
    assert helper.returncode == 0, helper.stderr[-2000:]
    assert sorted(p.name for p in folder.glob("done-*")) == sorted(
        f"done-{i}" for i in range(meet + 1, len(PLAN)))
    code = (
        "import json, sys\n"
        "from fastshade.compile_plan import SharedCompile, record_plan\n"
        "from fastshade.kernels import _jit\n"
        "share = SharedCompile(sys.argv[1], None)\n"
        "share.claimed.add(int(sys.argv[2]))  # the run's own claim\n"
        "_jit.CACHE_MISS_HOOK = share.on_miss\n"
        "print(json.dumps(record_plan()))  # the top-level kernels this run compiles\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(folder), str(meet)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    compiled = [tuple(t) for t in json.loads(run.stdout)]
    assert compiled == list(PLAN[:meet + 1]), compiled


def test_the_helper_stops_where_the_run_has_claimed(tmp_path):
    plan = (("nope.kernel_a", "(int64,)"), ("nope.kernel_b", "(int64,)"), ("nope.kernel_c", "(int64,)"))
    (tmp_path / "claim-1").write_text("run")
    assert compile_backwards(str(tmp_path), plan) == []  # names not kernels: nothing compiled
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claim-1", "claim-2", "done-2"]
    assert (tmp_path / "claim-2").read_text() == "helper"


def test_the_run_claims_an_item_nobody_has_and_never_waits_for_itself(tmp_path):
    share = SharedCompile(str(tmp_path), None, plan=(("k.a", "(int64,)"),))
    assert share.on_miss("k.a", signature_types("(int64,)")) is False
    assert (tmp_path / "claim-0").read_text() == "run"
    t0 = time.perf_counter()
    assert share.on_miss("k.a", signature_types("(int64,)")) is False  # its own claim: compile
    assert share.on_miss("k.other", signature_types("(int64,)")) is False  # not in the plan
    assert time.perf_counter() - t0 < 0.1 * compile_plan.WAIT_LIMIT  # no wait (that would be 300 s)


def test_the_run_waits_for_the_helpers_item_until_it_is_done(tmp_path):
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        share = SharedCompile(str(tmp_path), helper, plan=(("k.a", "(int64,)"),))
        (tmp_path / "claim-0").write_text("helper")
        timer = threading.Timer(0.3, lambda: (tmp_path / "done-0").touch())
        timer.start()
        t0 = time.perf_counter()
        assert share.on_miss("k.a", signature_types("(int64,)")) is True
        assert 0.25 < time.perf_counter() - t0 < 10
        assert share.waited >= 0.25
    finally:
        helper.kill()
        helper.wait()


def test_the_run_stops_waiting_when_the_helper_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_plan, "WAIT_LIMIT", 60.0)
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    share = SharedCompile(str(tmp_path), helper, plan=(("k.a", "(int64,)"),))
    (tmp_path / "claim-0").write_text("helper")
    t0 = time.perf_counter()
    assert share.on_miss("k.a", signature_types("(int64,)")) is True  # loads again, compiles on a miss
    assert time.perf_counter() - t0 < 30
    helper.wait()


def test_signature_strings_round_trip_through_numba_types():
    for _, text in PLAN:
        assert str(signature_types(text)) == text


def test_the_plan_applies_to_the_default_style_and_graph_only():
    assert plan_applies(ShadeOptions())
    assert plan_applies(ShadeOptions(seed=7, shadow_distance=20.0))
    for changes in ({"style": "v12"}, {"basis": "krylov"}, {"connectivity": 8}, {"laplacian": "dither"},
                    {"field": "column"}, {"tile_size": 48, "field": "column"}):
        assert not plan_applies(ShadeOptions(**changes)), changes


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no second process")
def test_a_cold_run_starts_and_removes_its_helper_and_claims():
    # No early second process: the run starts one, which finds the same cache folder by itself
    # and claims the plan's last item in the run's claims folder there.
    from fastshade.kernels import _jit
    from fastshade.warmup import start_background_compile, stop_background_compile

    if _cache_dir() is None or not _jit.CACHE_ENABLED:
        pytest.skip("kernels compile in memory here: nothing to share")
    assert compile_plan.EARLY is None
    started = start_background_compile(ShadeOptions())
    if started is None:
        pytest.skip("this machine gives the process one core")
    try:
        assert _jit.CACHE_MISS_HOOK == started.on_miss
        assert Path(started.folder).parent == Path(_jit.CACHE_DIR)
        last = Path(started.folder) / f"claim-{len(PLAN) - 1}"
        assert _wait_for(lambda: last.exists() and last.read_text() == "helper"), "no claim of the helper"
    finally:
        stop_background_compile(started)
    assert _jit.CACHE_MISS_HOOK is None and not Path(started.folder).exists()
    assert started.helper.poll() is not None


def test_the_kernel_cache_reads_again_after_the_hook_says_another_process_compiled(tmp_path):
    # A miss calls the hook; here the hook compiles the kernel in another process (which
    # caches it) and answers True: this process must then load it and compile nothing.
    code = (
        "import subprocess, sys\n"
        "from fastshade.kernels import _jit\n"
        "from fastshade.warmup import recording\n"
        "calls = []\n"
        "def hook(name, args):\n"
        "    calls.append((name, str(args)))\n"
        "    subprocess.run([sys.executable, '-c', 'from fastshade.kernels.components import "
        "label_buffer_size as f; f(3, 4)'], check=True)\n"
        "    return True\n"
        "_jit.CACHE_MISS_HOOK = hook\n"
        "from fastshade.kernels.components import label_buffer_size\n"
        "with recording() as log:\n"
        "    assert label_buffer_size(3, 4) > 0\n"
        "print(calls, sorted(log.seconds))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(tmp_path / "cache"),
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[('components.label_buffer_size', '(int64, int64)')] []", res.stdout


def test_claims_folders_of_killed_runs_are_removed_after_an_hour(tmp_path):
    old, fresh, other = tmp_path / "cold-plan-old", tmp_path / "cold-plan-new", tmp_path / "other-old"
    for folder in (old, fresh, other):
        folder.mkdir()
        (folder / "claim-0").write_text("run")
    hours_ago = time.time() - 2 * compile_plan.STALE_CLAIMS_SECONDS
    os.utime(old, (hours_ago, hours_ago))
    os.utime(other, (hours_ago, hours_ago))
    compile_plan._forget_old_claims(str(tmp_path))
    assert not old.exists() and fresh.exists() and other.exists()


def _cache_dir() -> str | None:
    """This process's kernel cache folder (set when the first kernel module loads)."""
    from fastshade.kernels import _jit
    from fastshade.kernels._jit import kernels_by_name

    kernels_by_name()
    return _jit.CACHE_DIR


def _wait_for(predicate, seconds: float = 120.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no second process")
def test_a_run_adopts_the_second_process_started_before_it_knew_its_cache(monkeypatch):
    # start_early runs before the run has loaded Numba; the second process finds the kernel
    # cache itself, in the same folder as the run (same package, same environment), and claims
    # the plan's last item there: the run's claims folder of the same name.
    from fastshade.kernels import _jit

    if _cache_dir() is None:
        pytest.skip("kernels compile in memory here: no claims folder")
    assert compile_plan.EARLY is None
    compile_plan.start_early()
    proc, name = compile_plan.EARLY
    shared = compile_plan.start_shared_compile(_jit.CACHE_DIR)
    try:
        assert compile_plan.EARLY is None and shared.helper is proc
        assert Path(shared.folder) == Path(_jit.CACHE_DIR) / name
        last = Path(shared.folder) / f"claim-{len(PLAN) - 1}"
        assert _wait_for(lambda: last.exists() and last.read_text() == "helper"), "no claim of the helper"
    finally:
        shared.stop()
    assert proc.poll() is not None and not Path(shared.folder).exists()


def test_an_early_second_process_nobody_adopts_is_ended_with_its_claims_folder():
    from fastshade.kernels import _jit

    if _cache_dir() is None:
        pytest.skip("kernels compile in memory here: no claims folder")
    compile_plan.start_early()
    proc, name = compile_plan.EARLY
    folder = Path(_jit.CACHE_DIR) / name
    assert _wait_for(folder.exists), "the second process made no claims folder"
    compile_plan.end_early()
    assert compile_plan.EARLY is None and proc.poll() is not None and not folder.exists()
    compile_plan.end_early()  # nothing left: a no-op


def test_the_command_line_starts_the_second_process_early_only_before_a_first_success(tmp_path, monkeypatch):
    # The marker file says a shade of this installation and configuration succeeded (its
    # kernels are cached): no early second process then, nor for --help.
    import cli
    from fastshade.resident import client

    monkeypatch.setenv(client.FOLDER_VARIABLE, str(tmp_path))
    monkeypatch.setattr("fastshade.threads.available_cores", lambda: 2)
    started = []
    monkeypatch.setattr(compile_plan, "start_early", lambda: started.append(1))
    marker = client.installation_file(cli.COMPILED_SUFFIX)
    assert marker is not None and marker.parent == tmp_path and not marker.exists()
    assert cli._start_early_compile(["shade", "--help"]) is False and not started
    assert cli._start_early_compile(["shade", "--demo", "-o", "x.png"]) is True and started == [1]
    marker.touch()
    assert cli._start_early_compile(["shade", "--demo", "-o", "x.png"]) is False and started == [1]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no second process")
def test_a_warm_shade_ends_the_early_second_process_and_leaves_the_marker(tmp_path, monkeypatch):
    # Warm kernels (this session compiled them): the command line starts the second process
    # (no marker yet), the run finds its cache warm, ends it, and marks the configuration.
    import cli
    from fastshade.kernels import _jit
    from fastshade.resident import client

    if _cache_dir() is None:
        pytest.skip("kernels compile in memory here: no claims folder")
    monkeypatch.setenv(client.FOLDER_VARIABLE, str(tmp_path))
    monkeypatch.setenv(client.SWITCH, "0")
    seen = []
    real_start = compile_plan.start_early

    def start_early():
        real_start()
        seen.append(compile_plan.EARLY)

    monkeypatch.setattr(compile_plan, "start_early", start_early)
    from fastshade.demo import demo_image
    from fastshade.styles import shade_arrays

    shade_arrays(demo_image(96, 96))  # the default run's kernels, cached
    out = tmp_path / "out.png"
    assert cli.main(["shade", "--demo", "-o", str(out)]) == 0 and out.exists()
    if not seen:
        pytest.skip("one core for this process: no early second process")
    proc, name = seen[0]
    assert proc.poll() is not None and compile_plan.EARLY is None
    assert not (Path(_jit.CACHE_DIR) / name).exists()
    assert client.installation_file(cli.COMPILED_SUFFIX).exists()
