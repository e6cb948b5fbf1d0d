"""The compiled-kernel cache: whether a run will compile, and compiling ahead of it.

Numba compiles each kernel the first time a run calls it (about 13 s of CPU for a default run)
and keeps the machine code in a cache folder (``kernels/_jit.py`` chooses it).
:func:`compile_notice` is the one stderr line ``shade`` and ``run`` print when the kernels
every run needs are not cached yet; :func:`warm_up` compiles every kernel of every shading
path (``fastshade warmup``), and can time each compilation.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BIG_PATH", "CONFIGURATIONS", "CORE_KERNELS", "COLD_SECONDS", "COLD_SECONDS_SHARED", "PARALLEL_COLD_SECONDS",
           "PARALLEL_KERNELS", "PARALLEL_PATH", "CompileLog",
           "cache_folder", "cold_kernels", "compile_notice", "warm_up"]

CORE_KERNELS: tuple[str, ...] = (
    "laplacian.assemble_laplacian_csr", "laplacian.laplacian_csr_nnz", "fields.csr_to_diagonals",
    "components.label_mask_8", "components.component_stats",
)
"""Kernels that every self-mode run calls, whatever the style and the basis (the cold-cache check
reads these: v12's painting kernels are not in the default brush style's run)."""

COLD_SECONDS = 12.0
"""Wall seconds a default run spends compiling with an empty cache in one process (2-core AMD
EPYC, ``shade --demo`` on one core: 11.9 s wall; 17-18 s before one version per type, 26 s of CPU
while the Laplacian assembly and the heat steps compiled as parallel kernels; now their serial
versions, the parallel twins only for big images, and one array layout per kernel argument);
the notice scales it by the cold fraction."""

COLD_SECONDS_SHARED = 7.0
"""The same with a second process sharing the kernels (:func:`start_background_compile`):
``shade --demo`` on an empty cache took 6.5-7.4 s wall on a 2-core machine, median 7.0 s over 26
runs of the README's install path at 13.6 s of CPU over both processes (:mod:`fastshade.compile_plan`;
up to a third more in the machine's slow periods)."""

PARALLEL_KERNELS: tuple[str, ...] = (
    "laplacian.assemble_laplacian_csr.parallel", "fields.heat_diffusion_dia.parallel",
    "fields.csr_to_diagonals.parallel", "blockops.csr_matmat.parallel",
    "blockops.rotate_residual.parallel", "blockops.scaled_column_energy.parallel",
    "paper.local_range.parallel", "blockops.main_diagonal_entries.parallel", "blockops.csr_diagonal.parallel",
    "distance.nearest_row_in_columns.parallel", "distance.nearest_in_rows.parallel",
)
"""Parallel twins that a default-style run on a big image with several threads calls (the
cold-cache check of such a run adds these; the other styles read the basis's columns,
``gather_scaled_columns``, instead of their energy)."""

PARALLEL_COLD_SECONDS = 15.5
"""Wall seconds compiling the default path's parallel twins takes (``fastshade warmup --path
parallel --report``: 11.3 s on a 2-core AMD EPYC, 2 s of it ``rotate_residual``; the twins of
``csr_to_diagonals`` and ``gather_scaled_columns``, since 46c446a, 0.6 and 0.8 s more; the
default path's ``scaled_column_energy`` twin, which replaced ``gather_scaled_columns``' there,
compiles in 0.5 s; those of ``local_range``, ``main_diagonal_entries`` and ``csr_diagonal``,
the seventh session, 0.63, 0.49 and 0.40 s; the distance transform's two, the ninth, 0.8 s each)."""

BIG_PATH = "big image"
"""The default path as a big image's levels take it (at least 2^20 rows:
:func:`fastshade.spectral.cascade.big_level_paths`), on the serial kernels; :data:`PARALLEL_PATH`
takes it on the parallel twins."""

LOOSE_TOL = 1.0
"""``tol`` of the big-path warm-up run whose pixel level stops at its start (the warm-up image's
would iterate: a big image's stop-at-start kernels would stay cold)."""

PARALLEL_PATH = "parallel"
"""The default path on the ``jit_parallel`` kernels' parallel twins, which a run picks only for
big images on more than one thread (``fastshade.threads.threaded``); compiled when Numba has
more than one thread."""

CONFIGURATIONS: dict[str, tuple[dict[str, Any], bool]] = {
    "default": ({}, False),
    "v12": ({"style": "v12"}, False),
    "v6": ({"style": "v6"}, False),
    "final": ({"style": "final"}, False),
    "final cross": ({"style": "final"}, True),
    "krylov": ({"basis": "krylov"}, False),
    "8-connected": ({"connectivity": 8}, False),
    "dither": ({"laplacian": "dither"}, False),
    "basis column": ({"field": "column"}, False),
    "tiled": ({"tile_size": 48, "field": "column", "field_column": 0}, False),
    "cross": ({}, True),
    "cross, handoff baseline": ({"score": "dot", "affinity_threshold": "mean",
                                 "scale_normalise": False}, True),
    BIG_PATH: ({}, False),
    PARALLEL_PATH: ({}, False),
}
"""Shading paths :func:`warm_up` runs: name -> (option changes, cross mode)."""

WARMUP_SIZE = 160
"""Edge in px of the demo image the warm-up shades (big enough for the AMG cascade)."""

WARMUP_POOL_BYTES = 64 << 20
"""The page pool's cap on the big-image path of the warm-up (:func:`fastshade.heap.page_pool`;
a big image shades in one)."""

_NOTICE_GIVEN = False


def cache_folder() -> str | None:
    """The folder of the compiled-kernel cache, or None when the kernels compile in memory."""
    from fastshade.kernels import _jit

    _jit.kernels_by_name()  # the first kernel module sets the folder
    return _jit.CACHE_DIR if _jit.CACHE_ENABLED else None


def cold_kernels(names: Iterable[str] = CORE_KERNELS) -> list[str]:
    """The kernels of ``names`` with no compiled code in the cache for their current source."""
    from fastshade.kernels._jit import is_cached, kernels_by_name

    kernels = kernels_by_name()
    return [n for n in names if n in kernels and not is_cached(kernels[n])]


def compile_notice(cold: list[str] | None = None, shared: bool = False,
                   cold_twins: list[str] | tuple[str, ...] = ()) -> str | None:
    """The one line to print before a run that will compile, or None (once per process).

    ``fastshade: compiling kernels once, about N s`` when the kernels every run calls are not
    cached (``cold``: :func:`cold_kernels`, looked up when None) or, for a big image on several
    threads, their parallel twins (``cold_twins``: :func:`cold_kernels` of
    :data:`PARALLEL_KERNELS`); a note that nothing is kept when no cache folder is writable.
    ``shared``: a second process compiles half of the serial kernels
    (:func:`start_background_compile`), which shortens the estimate.
    """
    global _NOTICE_GIVEN
    if _NOTICE_GIVEN:
        return None
    from fastshade.kernels import _jit

    cold = cold_kernels() if cold is None else cold
    if not cold and not cold_twins:
        return None
    _NOTICE_GIVEN = True
    full = COLD_SECONDS_SHARED if shared else COLD_SECONDS
    seconds = max(1, round(full * len(cold) / len(CORE_KERNELS)
                           + PARALLEL_COLD_SECONDS * len(cold_twins) / len(PARALLEL_KERNELS)))
    if not _jit.CACHE_ENABLED:
        return f"fastshade: compiling kernels, about {seconds} s (FASTSHADE_NO_CACHE is set: nothing is kept)"
    if _jit.CACHE_DIR is None:
        tried = ", ".join(folder or name for name, folder in _jit.cache_folders())
        return (f"fastshade: compiling kernels, about {seconds} s; no writable cache folder "
                f"(tried {tried}), so every run compiles them again: set NUMBA_CACHE_DIR")
    return f"fastshade: compiling kernels once, about {seconds} s"


@dataclass
class CompileLog:
    """Compile seconds and signatures per kernel (exclusive: a nested kernel's time is its own)."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    signatures: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def largest(self, n: int | None = None) -> list[tuple[str, float, int]]:
        """``(kernel, seconds, signatures)``, slowest first; fastshade kernels only."""
        from fastshade.kernels._jit import kernels_by_name

        ours = set(kernels_by_name())
        rows = sorted(((k, s, len(self.signatures[k])) for k, s in self.seconds.items() if k in ours),
                      key=lambda r: -r[1])
        return rows[:n] if n is not None else rows


@contextmanager
def recording() -> Iterator[CompileLog]:
    """Record every Numba compilation inside the block into a :class:`CompileLog`."""
    import numba.core.event as ev

    from fastshade.kernels._jit import kernel_name

    log = CompileLog()
    stack: list[list[Any]] = []

    class _Listener(ev.Listener):
        def on_start(self, event: Any) -> None:
            stack.append([time.perf_counter(), 0.0])

        def on_end(self, event: Any) -> None:
            t0, nested = stack.pop()
            dt = time.perf_counter() - t0
            name = kernel_name(event.data["dispatcher"])
            log.seconds[name] += dt - nested
            log.signatures[name].add(str(event.data["args"]))
            if stack:
                stack[-1][1] += dt

    with ev.install_listener("numba:compile", _Listener()):
        yield log


def warm_up(names: Iterable[str] | None = None, size: int = WARMUP_SIZE) -> CompileLog:
    """Shade a small demo image along each shading path of :data:`CONFIGURATIONS` (all when
    ``names`` is None), which compiles (or loads) every kernel those paths call.
    """
    from fastshade.demo import demo_image
    from fastshade.options import ShadeOptions
    from fastshade.styles import shade_arrays

    chosen = list(CONFIGURATIONS) if names is None else list(names)
    unknown = [n for n in chosen if n not in CONFIGURATIONS]
    if unknown:
        raise ValueError(f"unknown warm-up path(s): {', '.join(unknown)}; "
                         f"choose from {', '.join(CONFIGURATIONS)}")
    import numba

    from fastshade.heap import page_pool
    from fastshade.pipeline.distance import kernels_for_any_size
    from fastshade.spectral.cascade import big_level_paths
    from fastshade.threads import parallel_from

    image = demo_image(size, size)
    sample = demo_image(size * 3 // 4, size)
    with recording() as log:
        for name in chosen:
            changes, cross = CONFIGURATIONS[name]
            if name not in (BIG_PATH, PARALLEL_PATH):
                # (analyses=False: the job's call, so the kernels are those `fastshade shade` runs)
                shade_arrays(image, sample if cross else None, ShadeOptions(**changes), analyses=False)
                continue
            if name == PARALLEL_PATH and numba.config.NUMBA_NUM_THREADS < 2:
                continue  # one thread: no run ever picks a twin
            twins = parallel_from(0) if name == PARALLEL_PATH else nullcontext()
            # (a big image's page pool: its C callbacks compile here, not in a first big run)
            with twins, big_level_paths(), kernels_for_any_size(), page_pool(WARMUP_POOL_BYTES):
                # the pixel level iterating, then stopping at its start (as a big image's usually does)
                for loose in ({}, {"tol": LOOSE_TOL}):
                    shade_arrays(image, None, ShadeOptions(**changes, **loose), analyses=False)
    return log


@contextmanager
def _stand_in_laplacian_and_basis() -> Iterator[None]:
    """Within the block, the shader's modules assemble the Laplacian the SciPy way
    (:func:`fastshade.reference.graph.laplacian_coo`, the same matrix) and take a seeded random
    basis instead of solving one: a run then compiles every kernel it calls except those of
    the assembly and the eigensolve.  For the background half of a cold run only.
    """
    import sys

    import numpy as np

    from fastshade import spectral
    from fastshade.pipeline import graph
    from fastshade.reference.graph import laplacian_coo

    real_laplacian, real_basis = graph.image_laplacian, spectral.spectral_basis

    def laplacian(carrier: Any, **graph_options: Any) -> Any:
        if graph_options.get("kind", "grid") != "grid":
            return real_laplacian(carrier, **graph_options)
        keep = ("connectivity", "kind", "tau", "weight_floor")
        return laplacian_coo(carrier, **{k: v for k, v in graph_options.items() if k in keep})

    def basis(carrier: Any, *, method: str = "lobpcg", k: int = 8, seed: int = 0, **_: Any) -> Any:
        h, w = np.shape(carrier)[:2]
        vectors = np.random.default_rng(seed).standard_normal((h * w, k))
        vectors /= np.linalg.norm(vectors, axis=0)
        return spectral.SpectralBasis(vectors, np.linspace(1e-4, 1e-2, k), (h, w), method)

    stand_ins = {id(real_laplacian): ("image_laplacian", real_laplacian, laplacian),
                 id(real_basis): ("spectral_basis", real_basis, basis)}
    patched = []
    for module in [m for name, m in list(sys.modules.items()) if name.startswith("fastshade.") and m]:
        for name, real, stand_in in stand_ins.values():
            if getattr(module, name, None) is real:
                setattr(module, name, stand_in)
                patched.append((module, name, real))
    try:
        yield
    finally:
        for module, name, real in patched:
            setattr(module, name, real)


def compile_for_run(opts: Any) -> None:
    """Compile (into the cache) the kernels a self-mode run of ``opts`` calls after its
    Laplacian: the background half of a cold run (:func:`start_background_compile`).

    The run compiles its paper model, labelling and Laplacian assembly first; meanwhile this
    process solves the basis of a small demo image on the SciPy Laplacian (the eigensolver's
    kernels), then shades it in ``opts``'s style with a random basis
    (:func:`_stand_in_laplacian_and_basis`: the fields, gates and the style's painting kernels).
    The run then loads them from the cache.  Nothing computed here is kept.
    """
    from fastshade.demo import demo_image
    from fastshade.pipeline.gates import carrier_of
    from fastshade.reference.graph import laplacian_coo
    from fastshade.spectral import spectral_basis
    from fastshade.styles import shade_arrays

    rgb = demo_image(WARMUP_SIZE, WARMUP_SIZE)
    if opts.laplacian == "grid" and opts.basis == "lobpcg":
        carrier = carrier_of(rgb)
        graph = opts.graph()
        spectral_basis(carrier, method=opts.basis, k=opts.k, **graph, seed=opts.seed, tol=opts.tol,
                       laplacian=laplacian_coo(carrier, **graph), contract="check")
    with _stand_in_laplacian_and_basis():
        shade_arrays(rgb, None, opts, analyses=False)


def start_background_compile(opts: Any) -> Any:
    """Start a second process that compiles half of a cold run's kernels, or None when the
    machine has one core or the kernels compile in memory (nothing to share).

    For the kernels of a default run, the two processes share :data:`fastshade.compile_plan.PLAN`
    kernel by kernel (:func:`fastshade.compile_plan.start_shared_compile`); otherwise the second
    process runs :func:`compile_for_run` (a ``subprocess.Popen``).

    Stop it with :func:`stop_background_compile` when the run is done.
    """
    import json
    import subprocess

    from fastshade.children import start_module
    from fastshade.kernels import _jit
    from fastshade.threads import available_cores

    if _jit.CACHE_DIR is None or not _jit.CACHE_ENABLED or available_cores() < 2:
        return None
    from fastshade.compile_plan import plan_applies, start_shared_compile

    if plan_applies(opts):
        return start_shared_compile(_jit.CACHE_DIR)
    try:
        return start_module("fastshade.warmup", [json.dumps(opts.to_dict())], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None


def stop_background_compile(proc: Any) -> None:
    """End a :func:`start_background_compile` process (the cache writes are atomic renames)."""
    from fastshade.children import end_process
    from fastshade.compile_plan import SharedCompile

    if isinstance(proc, SharedCompile):
        proc.stop()
    else:
        end_process(proc)


if __name__ == "__main__":  # the background half of a cold run: python -m fastshade.warmup OPTIONS_JSON
    import json
    import sys

    from fastshade.options import ShadeOptions
    from fastshade.threads import pin_process_threads

    pin_process_threads()
    compile_for_run(ShadeOptions(**json.loads(sys.argv[1])))
