"""Throughput of ``fastshade run`` on a folder, with 1 and 2 worker processes.

One round per case (``benchmark.pedantic``, rounds=1): a whole ``fastshade run``
over a folder of demo images (32 images of 256 x 256 when benchmarks are
enabled; 2 of 48 x 48 under ``--benchmark-disable``, where this is only a
correctness check and skips the warm-up run), timed from the call to the exit, so worker start-up is
included.  ``extra_info`` holds, from the run's manifest:

* ``images_per_second``: files / wall seconds of the run.
* ``worker_startup_seconds``: per worker, importing the shader and shading
  one 64 x 64 demo image (JIT cache load; compilation when the cache is cold),
  paid once per worker process before its first file's clock starts.
* ``first_file_seconds`` / ``later_file_seconds_median``: the first file a
  worker shades versus the following ones (the per-file overhead is paid
  once per worker, not per file, when these are close).
* ``steady_images_per_second``: files / (sum of per-file seconds / workers).
* ``overhead_seconds``: wall minus the per-worker busy time (driver start,
  worker spawn and import, warm-up, planning, draining).
* ``cpu_seconds_per_file`` vs ``wall_seconds_per_file``: equal on idle cores;
  wall > CPU means the workers waited for a core (other load on the box).

Warm-up: one untimed run on a 2-image folder first, so the Numba on-disk
cache is populated and compile time is never timed (every run spawns fresh
workers, which load the kernels from that cache).  Measure with::

    PYTHONPATH=. python -m pytest bench/bench_batch.py --benchmark-enable -q -p no:cacheprovider

The speed-up of 2 workers over 1 is ``images_per_second[j2] / images_per_second[j1]``
(target >= 1.7 on 2 idle cores).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from fastshade.demo import demo_image
from fastshade.io import write_image
from fastshade.run import DEFAULT_MANIFEST_NAME, read_manifest


def _folder(root: Path, n: int, size: int) -> Path:
    image = demo_image(size, size)
    for i in range(n):
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        # the same drawing, shifted, so every file has its own bytes
        write_image(sub / f"img{i:02d}.png", image[:, list(range(i, size)) + list(range(i))])
    return root


def _run(folder: Path, out: Path, workers: int) -> tuple[int, float]:
    from fastshade import cli

    t0 = time.perf_counter()
    code = cli.main(["run", str(folder), str(out), "-j", str(workers), "-q", "--recycle-after", "0"])
    return code, time.perf_counter() - t0


@pytest.fixture(scope="module")
def folders(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    opt = request.config.getoption
    enabled = bool(opt("benchmark_enable", default=False)) or not opt("benchmark_disable", default=False)
    n, size = (32, 256) if enabled else (2, 48)
    base = tmp_path_factory.mktemp("bench_batch")
    if enabled:  # populate the JIT cache first: compile time is never timed
        code, _ = _run(_folder(base / "warm", 2, 64), base / "warm_out", 1)
        assert code == 0
    return {"folder": _folder(base / "in", n, size), "n": n, "size": size, "base": base}


@pytest.mark.parametrize("workers", [1, 2], ids=["j1", "j2"])
def test_run_folder(benchmark: Any, folders: dict[str, Any], workers: int) -> None:
    base, n = folders["base"], folders["n"]
    outs: list[tuple[Path, float]] = []

    def once() -> None:
        out = base / f"out_j{workers}_{len(outs)}"
        code, wall = _run(folders["folder"], out, workers)
        assert code == 0
        outs.append((out, wall))

    benchmark.pedantic(once, rounds=1, iterations=1)
    out, wall = outs[-1]
    records = list(read_manifest(out / DEFAULT_MANIFEST_NAME))
    assert len(records) == n and all(r["status"] == "ok" for r in records)
    by_worker: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_worker.setdefault(rec["worker"], []).append(rec)
    firsts = [min(recs, key=lambda r: r["worker_seq"]) for recs in by_worker.values()]
    later = [r["seconds"] for recs in by_worker.values() for r in recs if r["worker_seq"] > 1]
    busy = sum(r["seconds"] for r in records)
    cpu = sum(r["cpu_seconds"] for r in records)
    benchmark.extra_info.update({
        "files": n,
        "image_size": folders["size"],
        "workers": workers,
        "wall_seconds": round(wall, 3),
        "images_per_second": round(n / wall, 3),
        "steady_images_per_second": round(n / (busy / workers), 3),
        "overhead_seconds": round(wall - busy / workers, 3),
        "cpu_seconds_per_file": round(cpu / n, 4),
        "wall_seconds_per_file": round(busy / n, 4),
        "worker_startup_seconds": [r.get("worker_startup_seconds") for r in firsts],
        "first_file_seconds": [r["seconds"] for r in firsts],
        "later_file_seconds_median": round(statistics.median(later), 4) if later else None,
    })
