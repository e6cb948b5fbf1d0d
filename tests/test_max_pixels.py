"""The pixel limit from the memory available: `shade --max-pixels`, its refusal line, and `run`
lowering -j when the workers' memory estimates would not fit together.

The memory available is injected through the documented FASTSHADE_MEMORY_AVAILABLE variable
(fastshade.io.MEMORY_AVAILABLE_ENV), in the test process or in the environment of a real
`fastshade run` process; psutil itself is never patched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from fastshade import cli
from fastshade.io import (
    MEMORY_AVAILABLE_ENV,
    available_memory_bytes,
    estimate_bytes,
    format_bytes,
    pixel_limit,
    size_refusal,
)
from fastshade.options import ShadeOptions
from fastshade.run.memfit import workers_that_fit
from tests.test_shader import _strokes

ROOT = Path(__file__).resolve().parents[1]
KRYLOV = ShadeOptions(basis="krylov")  # the runs below shade with --basis krylov (fast on tiny images)


def _png(path: Path, height: int = 48, width: int = 56) -> Path:
    iio.imwrite(path, (np.asarray(_strokes(height, width)) * 255).round().astype(np.uint8))
    return path


def _shade(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["shade", *argv])
    return code, capsys.readouterr().err


def test_available_memory_comes_from_the_os_or_the_variable(monkeypatch):
    monkeypatch.delenv(MEMORY_AVAILABLE_ENV, raising=False)
    measured = available_memory_bytes()
    assert 0 < measured <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    monkeypatch.setenv(MEMORY_AVAILABLE_ENV, "123456789")
    assert available_memory_bytes() == 123456789
    for bad in ("lots", "0", "-5"):
        monkeypatch.setenv(MEMORY_AVAILABLE_ENV, bad)
        with pytest.raises(ValueError, match=MEMORY_AVAILABLE_ENV):
            available_memory_bytes()


def test_the_refusal_line_names_the_flag_and_the_estimate():
    need = estimate_bytes(3000, 4000)  # 12 Mpx
    line = size_refusal(4000, 3000, "auto", available=need - 1)
    gib = f"{need / 2**30:.1f} GiB"
    assert line == (f"12,000,000 px (4000x3000) needs about {gib} (memory model), more than the "
                    f"{(need - 1) / 2**30:.1f} GiB available; pass --max-pixels N to try anyway")
    assert size_refusal(4000, 3000, "auto", available=need) is None  # exactly fits
    assert size_refusal(4000, 3000, 12_000_000) is None and size_refusal(4000, 3000, None) is None
    assert size_refusal(4000, 3000, 11_999_999) == (
        f"12,000,000 px (4000x3000) is more than --max-pixels 11,999,999 (it needs about {gib}, memory model)")


def test_shade_refuses_over_max_pixels_in_one_line_and_accepts_a_larger_flag(tmp_path, capsys):
    src, out = _png(tmp_path / "in.png"), tmp_path / "out.png"
    n = 48 * 56
    code, err = _shade([str(src), "-o", str(out), "--basis", "krylov", "--max-pixels", str(n - 1)], capsys)
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"fastshade: error: {src}: 2,688 px (56x48) is more than --max-pixels 2,687 ")
    assert "MiB, memory model)" in err
    code, err = _shade([str(src), "-o", str(out), "--basis", "krylov", "--max-pixels", str(n)], capsys)
    assert code == 0, err
    assert iio.imread(out).shape == (48, 56, 3)


def test_shade_default_limit_follows_the_memory_available(tmp_path, capsys, monkeypatch):
    src, out = _png(tmp_path / "in.png"), tmp_path / "out.png"
    need = estimate_bytes(48, 56)
    monkeypatch.setenv(MEMORY_AVAILABLE_ENV, str(need - 1))
    code, err = _shade([str(src), "-o", str(out)], capsys)
    assert code == 2 and not out.exists() and err.count("\n") == 1
    assert f"{src}: 2,688 px (56x48) needs about " in err
    assert "(memory model), more than the " in err and err.rstrip().endswith("pass --max-pixels N to try anyway")
    code, err = _shade([str(src), "-o", str(out), "--basis", "krylov", "--max-pixels", "100000"], capsys)
    assert code == 0, err  # the flag overrides the memory available
    monkeypatch.setenv(MEMORY_AVAILABLE_ENV, str(need))
    code, err = _shade([str(src), "-o", str(out), "--basis", "krylov"], capsys)
    assert code == 0, err


@pytest.mark.parametrize("bad", ["0", "-3"])
def test_shade_max_pixels_below_one_is_a_usage_error(tmp_path, capsys, bad):
    src = _png(tmp_path / "in.png")
    code, err = _shade([str(src), "-o", str(tmp_path / "o.png"), "--max-pixels", bad], capsys)
    assert code == 2 and "--max-pixels must be >= 1" in err and err.count("\n") == 1


def test_workers_that_fit():
    assert workers_that_fit(4, 10, 100) == 4
    assert workers_that_fit(4, 30, 100) == 3
    assert workers_that_fit(4, 60, 100) == 1
    assert workers_that_fit(4, 500, 100) == 1  # at least one: the file itself passed the pixel limit
    assert workers_that_fit(3, 0, 100) == 3


def _run(tmp_path: Path, available: int, *flags: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    env = {**os.environ, MEMORY_AVAILABLE_ENV: str(available)}
    out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"  # a fresh OUT for every run
    proc = subprocess.run([sys.executable, "-m", "fastshade", "run", str(tmp_path / "in"), str(out), "-q",
                           "--basis", "krylov", *flags], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    manifest = out / "fastshade-manifest.jsonl"
    records = [json.loads(line) for line in manifest.read_text().splitlines()] if manifest.exists() else []
    return proc, records


def test_run_lowers_j_when_the_workers_estimates_do_not_fit(tmp_path):
    (tmp_path / "in").mkdir()
    _png(tmp_path / "in" / "small.png", 40, 40)
    _png(tmp_path / "in" / "large.png", 64, 72)
    need = estimate_bytes(64, 72, KRYLOV)  # the largest planned file decides
    proc, records = _run(tmp_path, need * 3 // 2, "-j", "2")  # one worker fits, two do not
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "lowered" in ln]
    assert lines == [f"fastshade: -j 2 lowered to 1: 2 workers x {format_bytes(need)} (memory model of the "
                     f"largest planned file, large.png, 72x64) would not fit the "
                     f"{format_bytes(need * 3 // 2)} available"]
    assert sorted(r["status"] for r in records) == ["ok", "ok"]
    proc, records = _run(tmp_path, need * 2, "-j", "2")  # two fit: nothing is lowered
    assert proc.returncode == 0, proc.stderr
    assert "lowered" not in proc.stderr and sorted(r["status"] for r in records) == ["ok", "ok"]


def test_run_default_limit_skips_what_the_memory_available_cannot_hold(tmp_path):
    (tmp_path / "in").mkdir()
    _png(tmp_path / "in" / "small.png", 40, 40)
    _png(tmp_path / "in" / "large.png", 64, 72)
    available = estimate_bytes(64, 72, KRYLOV) - 1
    proc, records = _run(tmp_path, available, "-j", "1")
    assert proc.returncode == 0, proc.stderr
    by_path = {r["path"]: r for r in records}
    assert by_path["small.png"]["status"] == "ok"
    assert by_path["large.png"]["status"] == "skipped:too_large"
    assert by_path["large.png"]["message"] == size_refusal(72, 64, "auto", KRYLOV, available)
    proc, records = _run(tmp_path, available, "-j", "1", "--max-pixels", str(64 * 72))
    assert proc.returncode == 0 and sorted(r["status"] for r in records) == ["ok", "ok"]


def test_pixel_limit_arguments():
    assert pixel_limit(np.int64(7)) == 7 and pixel_limit(None) is None
    assert pixel_limit("auto", available=estimate_bytes(1, 1) * 10) == 10
    for bad in (0, -1, 2.5, "10", True, "Auto"):
        with pytest.raises(ValueError, match="max_pixels must be"):
            pixel_limit(bad)
