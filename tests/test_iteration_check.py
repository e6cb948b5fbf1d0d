"""The default memory limit counts a big pixel level's start; its iteration is checked first.

Issue 21: one shade of A4 at 600 dpi (34.8 Mpx) peaks at ~8.4 GB, but a model that counted an
iterating pixel level at every size (1164 B/px, 40 GB) refused it on a 24 GB machine.  Beyond
:data:`fastshade.io.ITERATION_RESERVE_PIXELS` the model counts the pixel level's start, and a
job with the default limit checks the memory available before that level iterates.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastshade.io.memory as memory
import fastshade.job as job
from fastshade.demo import demo_image
from fastshade.io import (
    ITERATION_RESERVE_PIXELS,
    MemoryBudgetError,
    check_pixel_iteration,
    default_max_pixels,
    estimate_bytes,
    write_image,
)
from fastshade.options import ShadeOptions
from fastshade.pipeline.graph import image_laplacian
from fastshade.spectral import amg
from fastshade.spectral.lobpcg import BANDED_ROWS, block_lobpcg, pixel_iteration_check

T = ITERATION_RESERVE_PIXELS
DITHER = ShadeOptions(laplacian="dither")
KRYLOV = ShadeOptions(basis="krylov")


def test_the_reserve_is_where_the_pixel_level_is_summed_over_bands():
    assert T == BANDED_ROWS == 1 << 20


def test_the_estimate_counts_the_iteration_for_the_first_reserve_pixels_only():
    assert estimate_bytes(1, 1) == 1164
    for n in (1, 1000, T - 1, T):
        assert estimate_bytes(n, 1) == 1164 * n
    for n in (T + 1, 4 * T, 4960 * 7016):
        assert estimate_bytes(n, 1) == 468 * n + (1164 - 468) * T
    assert estimate_bytes(7016, 4960) < 16 * 2**30  # A4 at 600 dpi: ~15.8 GiB, not 37.9
    grid8 = ShadeOptions(connectivity=8)
    assert estimate_bytes(4 * T, 1, grid8) == 4 * T * (3 * 9 * 12 + 192 + 96) + T * (2 * 9 * 12 + 576)
    column = ShadeOptions(style="v12", field="column")  # its contract: 687 B/px measured at A4
    for opts in (DITHER, KRYLOV, column):  # counted at every size
        assert estimate_bytes(4 * T, 1, opts) == 4 * T * estimate_bytes(1, 1, opts)
    assert estimate_bytes(3508, 2480, column) > 687 * 3508 * 2480 > estimate_bytes(3508, 2480)
    sizes = np.unique(np.linspace(1, 8 * T, 97).astype(int))
    values = [estimate_bytes(int(n), 1) for n in sizes]
    assert values == sorted(values)  # monotone: a bigger image never needs less


@pytest.mark.parametrize("opts", [ShadeOptions(), ShadeOptions(connectivity=8), DITHER, KRYLOV],
                         ids=["grid4", "grid8", "dither", "krylov"])
def test_the_default_limit_is_the_largest_image_the_estimate_fits(opts):
    per_pixel = estimate_bytes(1, 1, opts)
    for budget in (1, 10**6, per_pixel * T - 1, per_pixel * T, per_pixel * T + 1, per_pixel * T + 467,
                   8 * 2**30, 22 * 2**30):
        n = default_max_pixels(opts, budget)
        assert n >= 1
        assert estimate_bytes(n, 1, opts) <= budget or n == 1
        assert estimate_bytes(n + 1, 1, opts) > budget
    assert default_max_pixels(available=22 * 2**30) > 4960 * 7016  # A4 at 600 dpi fits 22 GiB


def _available(monkeypatch, nbytes: int) -> None:
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: nbytes)


def test_the_check_refuses_an_iteration_the_memory_available_cannot_hold(monkeypatch):
    rows, columns = 4960 * 7016, 12
    need = rows * (2 * 5 * 12 + 6 * columns * 8)  # 696 B per pixel
    _available(monkeypatch, need - 1)
    with pytest.raises(MemoryBudgetError) as err:
        check_pixel_iteration(rows, columns)
    message = str(err.value)
    assert "\n" not in message
    assert f"{rows:,} px" in message and "--max-pixels" in message and "--tol" in message
    assert memory.format_bytes(need) in message and memory.format_bytes(need - 1) in message
    assert isinstance(err.value, MemoryError)
    _available(monkeypatch, need)
    check_pixel_iteration(rows, columns)  # fits: no exception
    _available(monkeypatch, 1)
    check_pixel_iteration(T, columns)  # within the reserve the estimate counted
    check_pixel_iteration(rows, columns, DITHER)  # counted at every size
    check_pixel_iteration(rows, columns, KRYLOV)
    with pytest.raises(MemoryBudgetError):
        check_pixel_iteration(T + 1, columns)


def _pixel_level(seed: int = 0):
    rng = np.random.default_rng(seed)
    L = image_laplacian((rng.random((40, 30)) < 0.85).astype(float))
    H = amg.build_hierarchy(L, min_coarse=60)
    start = rng.standard_normal((L.shape[0], 12))
    return H, start


def test_a_pixel_level_calls_the_check_only_when_it_goes_on_iterating():
    H, start = _pixel_level()
    calls = []

    def solve(tol, maxiter=5):
        return block_lobpcg(H.L[0], None, start.copy(), H.Y[0], lambda R: amg.vcycle(H, 0, R),
                            tol=tol, maxiter=maxiter, k=8)

    with pixel_iteration_check(lambda rows, columns: calls.append((rows, columns))):
        loose = solve(np.inf)
        assert calls == [] and loose["iterations"] == 0
        tight = solve(0.0)
        assert calls == [(H.L[0].shape[0], 12)] and tight["iterations"] == 5
    plain = solve(0.0)  # outside the block: not called, and the same values
    assert len(calls) == 1
    np.testing.assert_array_equal(plain["vectors"], tight["vectors"])
    np.testing.assert_array_equal(plain["values"], tight["values"])

    def refuse(rows, columns):
        raise MemoryBudgetError("no room")

    with pixel_iteration_check(refuse), pytest.raises(MemoryBudgetError, match="no room"):
        solve(0.0)
    assert solve(np.inf)["iterations"] == 0  # the check was reset on the way out


@pytest.fixture(scope="module")
def just_over_the_reserve(tmp_path_factory):
    """A demo drawing of 1100 x 1000 px (just over the reserve) as an 8-bit PNG."""
    path = tmp_path_factory.mktemp("reserve") / "demo1100x1000.png"
    write_image(path, np.clip(demo_image(1000, 1100), 0.0, 1.0), bit_depth=8)
    return path


def test_a_default_limit_job_stops_with_one_line_before_an_iteration_that_would_not_fit(
        just_over_the_reserve, tmp_path, monkeypatch):
    """``tol`` 1e-5 makes this pixel level iterate; the limit admits the image (job's reading),
    the check at the pixel level finds too little (memory model's reading)."""
    tight = ShadeOptions(tol=1e-5)
    monkeypatch.setattr(job, "available_memory_bytes", lambda: 64 * 2**30)
    _available(monkeypatch, 2**20)
    out = tmp_path / "out.png"
    result = job.shade_file(just_over_the_reserve, out, options=tight)
    assert result.status == "failed:memory" and result.reason == "memory", (result.status, result.message)
    assert result.message.startswith("the pixel level's start is not within tol, and iterating on 1,100,000 px "
                                     "needs about 730 MiB more than the job holds, with 1 MiB available;")
    assert "pass --max-pixels N to try anyway" in result.message
    assert not out.exists() and list(tmp_path.iterdir()) == []
    # the default tolerance stops at the start here: the check is not reached, the job shades
    done = job.shade_file(just_over_the_reserve, out, options=ShadeOptions())
    assert done.status == "ok", (done.status, done.message)
    assert out.exists()


def test_an_explicit_limit_skips_the_check_and_check_memory_turns_it_on(just_over_the_reserve, tmp_path,
                                                                        monkeypatch):
    tight = ShadeOptions(tol=1e-5)
    monkeypatch.setattr(job, "available_memory_bytes", lambda: 64 * 2**30)
    _available(monkeypatch, 2**20)
    calls = []

    def check(rows, columns, options):
        calls.append((rows, columns, options))
        raise MemoryBudgetError("checked")

    monkeypatch.setattr(memory, "check_pixel_iteration", check)  # (what the job's guard calls)
    # fastshade run resolves the default limit once and passes it with check_memory=True
    result = job.shade_file(just_over_the_reserve, tmp_path / "a.png", options=tight, max_pixels=2_000_000,
                            check_memory=True)
    assert (result.status, result.message) == ("failed:memory", "checked")
    assert calls == [(1_100_000, 12, tight)]
    # an explicit limit alone: no check (the pixel level iterates as without one)
    calls.clear()
    result = job.shade_file(just_over_the_reserve, tmp_path / "b.png", options=tight, max_pixels=2_000_000)
    assert result.status == "ok" and calls == []


@pytest.mark.parametrize("max_pixels,checked", [(None, True), (2_000_000, False)])
def test_fastshade_run_tasks_check_the_memory_only_under_the_default_limit(tmp_path, max_pixels, checked):
    from fastshade.run.config import RunConfig
    from fastshade.run.plan import Planner
    from fastshade.run.walk import iter_listings

    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.png", np.clip(demo_image(32, 32), 0.0, 1.0), bit_depth=8)
    cfg = RunConfig(in_root=str(src), out_root=str(tmp_path / "out"), manifest="m", options=ShadeOptions(),
                    **({} if max_pixels is None else {"max_pixels": max_pixels}))
    planner = Planner(cfg, {})
    tasks = [item[1].job for listing in iter_listings(cfg) for item in planner.plan_listing(listing)
             if item[0] == "task"]
    assert len(tasks) == 1
    assert tasks[0].check_memory is checked
    assert tasks[0].max_pixels == (planner.limit if max_pixels is None else max_pixels)


_HOLD_LOCK = '''
import sys, time, pathlib
from filelock import FileLock
from fastshade.io.memory import iteration_lock_path
with FileLock(iteration_lock_path()):
    pathlib.Path(sys.argv[1]).write_text("held")
    while not pathlib.Path(sys.argv[2]).exists():
        time.sleep(0.01)
'''


def test_a_big_iteration_waits_for_another_jobs_and_holds_the_lock_until_its_block_ends(tmp_path,
                                                                                       monkeypatch):
    import subprocess
    import sys
    import threading
    import time

    from filelock import FileLock, Timeout

    from fastshade.io import pixel_iteration_guard

    _available(monkeypatch, 1 << 50)
    held, release = tmp_path / "held", tmp_path / "release"
    other = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(held), str(release)])  # another job
    try:
        for _ in range(3000):  # (the other process has started and holds the lock)
            if held.exists() or other.poll() is not None:
                break
            time.sleep(0.01)
        assert held.exists()
        events = []
        with pixel_iteration_guard(on_wait=events.append) as check:
            check(T, 12)  # within the reserve: no lock, no wait
            done = threading.Event()
            worker = threading.Thread(target=lambda: (check(T + 1, 12), done.set()))
            worker.start()
            assert not done.wait(0.5)  # waits while the other job holds the lock
            release.write_text("go")
            assert done.wait(30)  # then checks (and fits)
            worker.join()
            with pytest.raises(Timeout):  # held to the block's end
                FileLock(memory.iteration_lock_path()).acquire(timeout=0)
            check(T + 2, 12)  # taken once
        assert events == [True, False]  # the wait was told (the command line's stage display)
        with FileLock(memory.iteration_lock_path(), timeout=0):  # released
            pass
        with pixel_iteration_guard(on_wait=events.append) as check:  # nobody else: no wait to tell
            check(T + 1, 12)
        assert events == [True, False]
    finally:
        release.write_text("go")
        other.wait(timeout=30)
    # dither and krylov count the iteration at every size: no lock either
    with pixel_iteration_guard(DITHER) as check, FileLock(memory.iteration_lock_path(), timeout=0):
        check(T + 1, 12)


def test_the_command_lines_stage_display_names_the_wait():
    class Clock:
        def __init__(self):
            self.stages = []

        def on_stage(self, name):
            self.stages.append(name)

    assert job._waiting_display(object()) is None and job._waiting_display(None) is None
    clock = Clock()
    show = job._waiting_display(clock)
    show(True)
    show(False)
    assert clock.stages == ["waiting for another fastshade job's big iteration", "basis"]
