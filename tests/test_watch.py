"""`fastshade run IN OUT --watch`: real files arriving in a real process, then Ctrl-C (SIGINT)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from fastshade.demo import demo_image
from fastshade.run.watch import settled

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = "fastshade-manifest.jsonl"


def _png_bytes(h: int, w: int) -> bytes:
    buf = io.BytesIO()
    iio.imwrite(buf, (demo_image(h, w) * 255).round().astype(np.uint8), extension=".png")
    return buf.getvalue()


def _records(out: Path) -> list[dict]:
    path = out / MANIFEST
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.endswith("}")]


def _wait_for(predicate, proc: subprocess.Popen, err: Path, timeout: float = 240.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the watch ended early ({proc.returncode}): {err.read_text()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"timed out; stderr: {err.read_text()[-3000:]}")


def test_settled_means_unchanged_across_one_poll_and_not_yet_handled():
    prev = {"a": (1, 1), "b": (5, 2), "c": (7, 3)}
    cur = {"a": (1, 1), "b": (9, 4), "c": (7, 3), "d": (2, 2)}
    assert settled(prev, cur, handled={"a": (1, 1)}) == {"c"}  # b still growing, d just seen, a done


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_watch_shades_arrivals_once_they_settle_then_stops_on_ctrl_c(tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    (root / "a.png").write_bytes(_png_bytes(40, 40))
    (root / "b.png").write_bytes(_png_bytes(36, 44))
    err = tmp_path / "stderr.txt"
    with open(err, "w") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fastshade", "run", str(root), str(out), "--watch", "--poll-interval", "1.0",
             "-j", "1"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err_file)
    try:
        def ok(name: str, count: int = 1):
            return lambda: sum(r["path"] == name and r["status"] == "ok" for r in _records(out)) >= count

        _wait_for(ok("a.png"), proc, err)
        _wait_for(ok("b.png"), proc, err)
        _wait_for(lambda: "watching" in err.read_text(), proc, err)

        # a new file, written at once
        (root / "c.png").write_bytes(_png_bytes(40, 48))
        _wait_for(ok("c.png"), proc, err)

        # a file written slowly, in pieces 0.25 s apart (the poll is 1 s): shaded once, when whole
        data = _png_bytes(48, 48)
        pieces = [data[i:i + len(data) // 8 + 1] for i in range(0, len(data), len(data) // 8 + 1)]
        with open(root / "d.png", "wb") as fh:
            for piece in pieces:
                fh.write(piece)
                fh.flush()
                time.sleep(0.25)
        _wait_for(ok("d.png"), proc, err)

        # a changed file (new bytes, new time) is shaded again
        (root / "a.png").write_bytes(_png_bytes(44, 40))
        _wait_for(ok("a.png", 2), proc, err)
        time.sleep(2.5)  # two more polls: nothing else to do
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
    text = err.read_text()
    assert code == 0, text[-3000:]
    assert "watch stopped by Ctrl-C" in text.splitlines()[-1]
    records = _records(out)
    paths = [r["path"] for r in records]
    assert sorted(paths) == ["a.png", "a.png", "b.png", "c.png", "d.png"], paths  # each arrival once
    assert all(r["status"] == "ok" for r in records), records
    for name, shape in [("a.png", (44, 40)), ("b.png", (36, 44)), ("c.png", (40, 48)), ("d.png", (48, 48))]:
        assert iio.imread(out / name).shape[:2] == shape
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]

    # a plain re-run afterwards adds no manifest line (everything is done)
    again = subprocess.run([sys.executable, "-m", "fastshade", "run", str(root), str(out), "-j", "1"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(_records(out)) == len(records)
    assert "4 already done" in again.stderr.splitlines()[-1]


def test_watch_refuses_dry_run(tmp_path):
    (tmp_path / "in").mkdir()
    res = subprocess.run([sys.executable, "-m", "fastshade", "run", str(tmp_path / "in"), str(tmp_path / "out"),
                          "--watch", "--dry-run"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "--watch cannot be combined with --dry-run" in res.stderr
