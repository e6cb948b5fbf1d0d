"""``fastshade run --dry-run``: print the plan, write nothing."""

from __future__ import annotations

import heapq
from collections import Counter
from typing import TextIO

from fastshade.io import estimate_bytes
from fastshade.run.backend import PlannedTask
from fastshade.run.config import RunConfig
from fastshade.run.manifest import ManifestRecord, load_manifest_index
from fastshade.run.plan import Planner

__all__ = ["dry_run"]


def dry_run(cfg: RunConfig, out: TextIO) -> int:
    """Print the plan (nothing is written): exit 2 on format problems, 1 on planned failures, else 0.

    The plan lists how many images would be shaded, each status the driver
    decides alone, what the manifest says is done, the five largest images
    (with their estimated working memory) and the first 20 failures.
    """
    planner = Planner(cfg, load_manifest_index(cfg.manifest))
    statuses: Counter[str] = Counter()
    n_tasks = 0
    total_px = 0
    largest: list[tuple[int, str, str]] = []
    failures: list[ManifestRecord] = []
    done = 0
    for kind, value in planner.items():
        if kind == "done":
            done += 1
            continue
        rec = value.record if isinstance(value, PlannedTask) else value
        if kind == "task":
            n_tasks += 1
            total_px += rec.pixels or 0
        else:
            statuses[rec.status] += 1
            if rec.status.startswith("failed:"):
                failures.append(rec)
        if rec.pixels:
            entry = (int(rec.pixels), rec.path, f"{rec.width}x{rec.height}"
                     + ("" if kind == "task" else f" [{rec.status}]"))
            if len(largest) < 5:
                heapq.heappush(largest, entry)
            else:
                heapq.heappushpop(largest, entry)
    print(f"fastshade run --dry-run: {cfg.in_root} -> {cfg.out_root} (format {cfg.fmt}, depth "
          f"{cfg.depth or 'as input'}, {cfg.workers} workers)", file=out)
    print(f"  would shade: {n_tasks} images, {total_px / 1e6:.2f} Mpx", file=out)
    for status, n in sorted(statuses.items()):
        print(f"  {status}: {n}", file=out)
    if done:
        print(f"  already done per the manifest: {done}", file=out)
    if largest:
        print("  largest images:", file=out)
        for px, rel, desc in sorted(largest, reverse=True):
            dims = desc.split(" ")[0].split("x")
            gib = estimate_bytes(int(dims[1]), int(dims[0]), cfg.options) / 2**30
            print(f"    {rel}: {desc}, {px / 1e6:.2f} Mpx, ~{gib:.2f} GiB to shade", file=out)
    for rec in failures[:20]:
        print(f"  {rec.status} {rec.path}: {rec.message}", file=out)
    if len(failures) > 20:
        print(f"  ... and {len(failures) - 20} more failures", file=out)
    if planner.format_problems:
        print(f"  format problems: {len(planner.format_problems)} (the run would stop with exit status 2)",
              file=out)
        return 2
    return 1 if failures else 0
