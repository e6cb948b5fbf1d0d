"""Performance run: time the shader and each stage, fit how the cost grows, compare.

Times load, Laplacian, basis, fields, gates, thicken, components, shadow and
save, plus the whole shader, on the built-in demo image at each --sizes (and
at 1152x832 when a size >= 1024 is asked for, the size of the original
benchmark image) and on every image of --images.  Prints median/min/max per
stage, peak memory and pixels per second; the growth exponent of every stage
(log-log least-squares fit over the demo sizes: 1.0 = linear in the pixel
count); plain NumPy/SciPy baselines side by side (eigsh shift-invert and
LOBPCG without preconditioner for the basis, scipy.ndimage.label, SciPy
COO->CSR, vectorised NumPy thicken and shadow), and the speed-up over the
original research code (one thread: toof self 7.05 s, toof x snek-heavy cross
19.4 s, 1152x832 self 315 s; its GPU pipeline 1.24 s per pair).

How it measures:
  * A fresh worker process does all the timing, with OMP/OpenBLAS/MKL/Numba
    threads set to --threads before NumPy is imported.  The honest comparison
    with the original's figures is --threads 1 (the default); the kernels are
    serial anyway, only BLAS/LAPACK inside the eigensolvers uses threads.
  * The worker first shades a 64x64 demo image: JIT compile or cache load,
    reported as "cold start" and never timed with the stages.  Each case then
    gets one untimed run ("first call"; skipped with --quick) and --repeat
    timed repeats.  Stage times come from the shader's own per-stage timer, so
    they are the stages of a real run, each after a warm-up.
  * Peak memory: on Linux the worker resets its peak RSS before each shader
    run (/proc/self/clear_refs) and reports VmHWM, i.e. the true peak of the
    NumPy + Numba + SciPy process (tracemalloc misses Numba and SuperLU
    allocations); elsewhere ru_maxrss of the worker (a lifetime peak).
  * Wall-clock and CPU seconds are both recorded for every figure; --clock
    picks the one the report, fits and --compare use.  On a busy machine use
    --clock cpu: with one thread it is what the wall time of an idle machine
    would be.  The shader's stage timer reads the clock it is given, so each
    timed repeat is a pair of shader runs, one timed with the wall clock
    (time.perf_counter) and one with the CPU clock (time.process_time), the
    first of the pair alternating; each clock's stages, whole-shader time and
    "other" come from one run.
  * Baselines get the same inputs as the stage (from the same run) and their
    output is checked against ours ("DIFFERS" in the notes otherwise).  The
    basis baselines run only up to --baseline-max-size (default 512) squared
    pixels, at our solver's residual tolerance; eigsh factorises with SuperLU
    (MMD_AT_PLUS_A ordering); unpreconditioned LOBPCG gets --baseline-budget
    seconds (its iteration cap comes from a 3-iteration probe) and is marked
    "not converged" when it stops early.

Exit status: 0; with --compare, 1 when any stage is slower than the earlier
run: the ratio of the minima of its repeats above --tolerance widened by the
noise both runs show (each run's gap between its fastest repeat and its lower
quartile and, on the wall clock, how much longer than its CPU time the new run
waited for a core or the disk, compared with the old), so a rerun on a busy
machine passes; stages under --min-seconds in both runs are not judged (one
preemption can double them); 2 on bad arguments.

Examples
--------
  fastshade bench --quick                              # < 30 s smoke run
  fastshade bench --sizes 256,512,1024 --images ../shared/images --json bench.json
  fastshade bench --quick --json new.json --compare bench.json   # regression gate
  fastshade bench --results new.json --compare bench.json --plot new.png  # no re-run
  fastshade bench --results new.json --clock cpu --markdown perf.md        # README tables
  fastshade bench --sizes 256,512 --basis krylov --plot scaling.png
  fastshade bench --sizes 512 --threads 2               # BLAS/Numba threads
  fastshade bench --sizes 512,2048,4960x7016 --no-baselines   # up to A4 at 600 dpi (WxH)
  fastshade bench --scan --scan-threads 1,2 --json scan.json  # the 35 Mpx A4 scan, time/RSS/B/px
"""

from fastshade.bench.cases import build_cases, image_files, parse_sizes
from fastshade.bench.cli import configure, main
from fastshade.bench.compare import compare_results, format_comparison
from fastshade.bench.memory import PeakMemory
from fastshade.bench.report import format_markdown, format_report
from fastshade.bench.results import clock_view, finish, growth_exponents, load_results, original_ratios
from fastshade.bench.schema import (
    BASELINES,
    CLOCKS,
    COMPARED,
    ORIGINAL_REFERENCE,
    ORIGINAL_SIZE,
    SCHEMA,
    SHADER_STAGES,
    STAGES,
    SUMMARY_FIGURES,
)
from fastshade.bench.worker import stage_figures

__all__ = [
    "BASELINES",
    "CLOCKS",
    "COMPARED",
    "ORIGINAL_REFERENCE",
    "ORIGINAL_SIZE",
    "SCHEMA",
    "SHADER_STAGES",
    "STAGES",
    "SUMMARY_FIGURES",
    "PeakMemory",
    "build_cases",
    "clock_view",
    "compare_results",
    "configure",
    "finish",
    "format_comparison",
    "format_markdown",
    "format_report",
    "growth_exponents",
    "image_files",
    "load_results",
    "main",
    "original_ratios",
    "parse_sizes",
    "stage_figures",
]
