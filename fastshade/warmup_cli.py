"""Compile every kernel ahead, so that no later run waits for the compiler.

Shades a small demo image along every shading path (both bases, 8-connected and dither
graphs, basis-column and tiled fields, cross mode) once; the compiled kernels land in the
cache folder, where every later `fastshade shade` and `fastshade run` loads them.  Run it
once after installing, in a container image's build, or on each node of a cluster.

examples:
  fastshade warmup                      # everything (about 20-30 s on an empty cache)
  fastshade warmup --path default       # only what a default run needs
  fastshade warmup --report 5           # and the five slowest kernels to compile
"""  # noqa: D405, D406, D407 (the command's --help text: "examples:" is not a numpydoc section)

from __future__ import annotations

import argparse
import sys
import time

from fastshade.warmup import CONFIGURATIONS, cache_folder, cold_kernels, warm_up


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``warmup`` arguments to ``p``."""
    p.add_argument("--path", action="append", choices=list(CONFIGURATIONS), metavar="NAME",
                   help="compile only this shading path (repeatable; default: all of "
                        f"{', '.join(CONFIGURATIONS)})")
    p.add_argument("--report", type=int, nargs="?", const=5, default=0, metavar="N",
                   help="print the N kernels that took longest to compile (default 5), with their "
                        "compiled signatures")


def main(args: argparse.Namespace) -> int:
    """``fastshade warmup``: compile (or load) every kernel; returns 0."""
    folder = cache_folder()
    cold = len(cold_kernels())
    t0 = time.perf_counter()
    log = warm_up(args.path)
    seconds = time.perf_counter() - t0
    compiled = sum(len(s) for s in log.signatures.values())
    where = folder or "memory only (no writable cache folder: set NUMBA_CACHE_DIR)"
    print(f"fastshade warmup: {compiled} kernel versions compiled, {seconds:.1f} s "
          f"({'cold' if cold else 'warm'} cache: {where})", file=sys.stderr)
    if args.report:
        rows = log.largest()
        total = sum(s for _, s, _ in rows)
        print(f"compile time per kernel (exclusive of the kernels it calls), {len(rows)} kernels, "
              f"{sum(n for _, _, n in rows)} signatures, {total:.2f} s in all:")
        for name, sec, nsig in rows[:args.report]:
            print(f"  {sec:6.2f} s  {nsig} signature{'s' if nsig > 1 else ''}  {name}")
    return 0
