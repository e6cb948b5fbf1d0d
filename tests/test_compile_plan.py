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
def test_a_cold_run_starts_and_removes_its_helper_and_claims(tmp_path, monkeypatch):
    from fastshade.kernels import _jit
    from fastshade.warmup import start_background_compile, stop_background_compile

    monkeypatch.setattr(_jit, "CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_jit, "CACHE_ENABLED", True)
    started = start_background_compile(ShadeOptions())
    if started is None:
        pytest.skip("this machine gives the process one core")
    assert _jit.CACHE_MISS_HOOK == started.on_miss and Path(started.folder).parent == tmp_path
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
