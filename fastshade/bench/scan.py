"""The big-scan case: one ``fastshade shade`` job on a generated A4 line drawing, per thread count.

``fastshade bench --scan`` shades the built-in demo drawing at :data:`SCAN_SHAPE` (A4 at 600 dpi,
35 Mpx) through the job of ``fastshade shade`` (read, shade, write) once per thread count, each
in a fresh worker process (``python -m fastshade.bench --scan-worker``), and reports the wall and
CPU seconds, the peak RSS, its increase over the RSS after import and a 64x64 warm-up, and that
increase per pixel.  It shades with ``fastshade shade``'s options: the defaults (style
``brush``) and the shade flags given to ``bench`` (``--style v12``, ``--connectivity 8``, ...),
which the record and the table name.  The peak is Linux's ``VmHWM`` after a ``clear_refs`` reset
(:class:`fastshade.bench.memory.PeakMemory`).  One run per thread count: a 35 Mpx shade is a
measurement, not a repeat loop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastshade.bench.memory import PeakMemory
from fastshade.bench.tables import fmt_mb, fmt_seconds, text_table
from fastshade.threads import thread_environment

SCAN_SHAPE = (7016, 4960)
"""``(H, W)`` of the big-scan case: A4 portrait at 600 dpi (4960 x 7016 WxH, 34.8 Mpx)."""

SCAN_THREADS = (1, 2)
"""Thread counts of ``--scan`` without ``--scan-threads``."""


def scan_worker(argv: list[str]) -> int:
    """Entry point of a scan worker: ``argv`` = [H, W, THREADS, OUT.json, CHANGES_JSON] (the
    :class:`ShadeOptions` fields set, as a JSON object, over the defaults); exit status.
    """
    h, w, threads, out = int(argv[0]), int(argv[1]), int(argv[2]), argv[3]
    from fastshade.options import ShadeOptions
    from fastshade.styles import resolve_options

    opts = resolve_options(ShadeOptions().replace(**json.loads(argv[4])))
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    import numpy as np

    from fastshade.demo import demo_image
    from fastshade.io import read_image, write_image
    from fastshade.job import shade_file
    from fastshade.threads import parallel_from

    with tempfile.TemporaryDirectory(prefix="fastshade-scan-") as tmp:
        folder = Path(tmp)
        warm = folder / "warm.png"
        write_image(warm, np.clip(demo_image(64, 64), 0.0, 1.0), bit_depth=8)
        with parallel_from(0):  # the kernels the big drawing runs: the parallel twins on threads > 1
            shade_file(str(warm), str(folder / "warm-out.png"), options=opts, max_pixels=None)
        src = folder / f"drawing-{w}x{h}.png"
        write_image(src, np.clip(demo_image(h, w), 0.0, 1.0), bit_depth=8)  # freed before the measure
        dst = folder / "out.png"
        with PeakMemory() as mem:
            t_wall, t_cpu = time.perf_counter(), time.process_time()
            job = shade_file(str(src), str(dst), options=opts, max_pixels=None, keep_stats=True)
            wall, cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu
        stats = job.stats or {}
        basis = stats.get("basis", {})
        record = {
            "shape": [h, w],
            "pixels": h * w,
            "threads": threads,
            "numba_threads": int(numba.get_num_threads()),
            "options": opts.to_dict(),
            "option_flags": sorted(json.loads(argv[4])),
            "status": job.status,
            "message": job.message,
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "peak_rss_bytes": int(mem.peak),
            "peak_rss_increase_bytes": int(mem.increase),
            "bytes_per_pixel": mem.increase / (h * w),
            "memory_method": PeakMemory.method,
            "timings": stats.get("timings", {}),
            "basis_levels": [[int(lv["n"]), int(lv["iterations"])] for lv in basis.get("info", {}).get("levels", [])],
            "shadow_components": len(stats.get("placements", [])),
            "output_shape": (list(read_image(dst, max_pixels=None).rgb.shape[:2]) if job.status == "ok"
                             else None),
        }
    Path(out).write_text(json.dumps(record, allow_nan=False))
    return 0


def run_scan(shape: tuple[int, int] = SCAN_SHAPE, threads: tuple[int, ...] | list[int] = SCAN_THREADS,
             changes: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Shade the generated drawing of ``shape`` once per thread count, each in a fresh worker, with
    the default shade options changed by ``changes`` (field name -> value; None: the defaults).

    Returns one record per thread count (see :func:`scan_worker`); ``RuntimeError`` when a worker
    fails (it prints its own traceback).
    """
    root = str(Path(__file__).resolve().parents[2])
    records = []
    for t in threads:
        env = dict(os.environ)
        env.update(thread_environment(int(t)))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with tempfile.TemporaryDirectory(prefix="fastshade-scan-run-") as tmp:
            out = Path(tmp) / "scan.json"
            proc = subprocess.run([sys.executable, "-m", "fastshade.bench", "--scan-worker",
                                   str(shape[0]), str(shape[1]), str(int(t)), str(out),
                                   json.dumps(changes or {})], env=env)
            if proc.returncode == -9:  # SIGKILL: the kernel's OOM killer, usually
                raise RuntimeError(f"scan worker ({t} threads) was killed (SIGKILL), most likely out of memory: "
                                   "the scan shades with no pixel limit (`fastshade shade` would check the memory "
                                   "model first)")
            if proc.returncode != 0 or not out.is_file():
                raise RuntimeError(f"scan worker ({t} threads) failed with exit code {proc.returncode}")
            records.append(json.loads(out.read_text()))
    return records


def format_scan(records: list[dict[str, Any]]) -> str:
    """The scan table: one row per thread count (wall, CPU, basis, peak RSS, increase, B/px)."""
    if not records:
        return ""
    h, w = records[0]["shape"]
    rows = []
    for r in records:
        rows.append([str(r["threads"]), r["status"], fmt_seconds(r["wall_seconds"]), fmt_seconds(r["cpu_seconds"]),
                     fmt_seconds(r["timings"].get("basis")), fmt_mb(r["peak_rss_bytes"]),
                     fmt_mb(r["peak_rss_increase_bytes"]), f"{r['bytes_per_pixel']:.0f}",
                     " ".join(f"{n}:{i}" for n, i in r["basis_levels"])])
    opts = records[0].get("options", {})
    flags = [f for f in records[0].get("option_flags", []) if f != "style"]
    shown = f"style {opts.get('style', '?')}" + "".join(f", {f} {opts.get(f)}" for f in flags)
    head = (f"== big scan: generated line drawing {w}x{h} WxH ({h * w / 1e6:.1f} Mpx), {shown}, one "
            f"`fastshade shade` job per thread count; peak: {records[0]['memory_method']}")
    return "\n".join([head, text_table(["threads", "status", "wall", "CPU", "basis (wall)", "peak RSS",
                                        "increase", "B/px", "basis level size:iterations"], rows,
                                       "rlrrrrrrl")])
