"""The compiled-kernel cache: whether a run will compile, and compiling ahead of it.

Numba compiles each kernel the first time a run calls it (about 15 s for a default run on a
2-core machine) and keeps the machine code in a cache folder (``kernels/_jit.py`` chooses it).
:func:`compile_notice` is the one stderr line ``shade`` and ``run`` print when the kernels
every run needs are not cached yet; :func:`warm_up` compiles every kernel of every shading
path (``fastshade warmup``), and can time each compilation.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONFIGURATIONS", "CORE_KERNELS", "COLD_SECONDS", "COLD_SECONDS_SHARED", "CompileLog", "cache_folder",
           "cold_kernels", "compile_notice", "kernel_name", "warm_up"]

CORE_KERNELS: tuple[str, ...] = (
    "laplacian.assemble_laplacian_csr", "laplacian.laplacian_csr_nnz", "fields.csr_to_diagonals",
    "components.label_mask", "components.component_stats",
)
"""Kernels that every self-mode run calls, whatever the style and the basis (the cold-cache check
reads these: v12's painting kernels are not in the default brush style's run)."""

COLD_SECONDS = 25.0
"""CPU seconds a default run spends compiling with an empty cache, in one process (2-core AMD
EPYC; ``shade --demo``: 17-18 s before one version per type, 15.6 s after; 26.3 s of CPU over
both processes once the Laplacian assembly and the heat steps became parallel kernels, of which
about 1.4 s is start-up and shading); the notice scales it by the cold fraction."""

COLD_SECONDS_SHARED = 16.0
"""The same with a second process compiling the kernels after the basis
(:func:`start_background_compile`): ``shade --demo`` on an empty cache took 17.4 s wall on an
idle 2-core machine, about 1.4 s of it start-up and shading (8.0-8.5 s of CPU in the run's own
process before the parallel kernels)."""

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
}
"""Shading paths :func:`warm_up` runs: name -> (option changes, cross mode)."""

WARMUP_SIZE = 160
"""Edge in px of the demo image the warm-up shades (big enough for the AMG cascade)."""

_NOTICE_GIVEN = False


def kernel_name(dispatcher: Any) -> str:
    """``module.function`` of a kernel dispatcher (``laplacian.assemble_laplacian_csr``)."""
    return f"{dispatcher.py_func.__module__.rsplit('.', 1)[-1]}.{dispatcher.py_func.__name__}"


def _kernels() -> dict[str, Any]:
    """Every kernel dispatcher by :func:`kernel_name` (imports every kernel module)."""
    import importlib
    import pkgutil

    import fastshade.kernels as pkg
    from fastshade.kernels import _jit

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"fastshade.kernels.{mod.name}")
    return {kernel_name(d): d for d in _jit.KERNELS}


def cache_folder() -> str | None:
    """The folder of the compiled-kernel cache, or None when the kernels compile in memory."""
    from fastshade.kernels import _jit

    _kernels()
    return _jit.CACHE_DIR if _jit.CACHE_ENABLED else None


def cold_kernels(names: Iterable[str] = CORE_KERNELS) -> list[str]:
    """The kernels of ``names`` with no compiled code in the cache for their current source."""
    from fastshade.kernels._jit import is_cached

    kernels = _kernels()
    return [n for n in names if n in kernels and not is_cached(kernels[n])]


def compile_notice(cold: list[str] | None = None, shared: bool = False) -> str | None:
    """The one line to print before a run that will compile, or None (once per process).

    ``fastshade: compiling kernels once, about N s`` when the kernels every run calls are not
    cached (``cold``: :func:`cold_kernels`, looked up when None); a note that nothing is kept
    when no cache folder is writable.  ``shared``: a second process compiles half of them
    (:func:`start_background_compile`), which shortens the estimate.
    """
    global _NOTICE_GIVEN
    if _NOTICE_GIVEN:
        return None
    from fastshade.kernels import _jit

    cold = cold_kernels() if cold is None else cold
    if not cold:
        return None
    _NOTICE_GIVEN = True
    full = COLD_SECONDS_SHARED if shared else COLD_SECONDS
    seconds = max(1, round(full * len(cold) / len(CORE_KERNELS)))
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
        ours = set(_kernels())
        rows = sorted(((k, s, len(self.signatures[k])) for k, s in self.seconds.items() if k in ours),
                      key=lambda r: -r[1])
        return rows[:n] if n is not None else rows


@contextmanager
def recording() -> Iterator[CompileLog]:
    """Record every Numba compilation inside the block into a :class:`CompileLog`."""
    import numba.core.event as ev

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
    image = demo_image(size, size)
    sample = demo_image(size * 3 // 4, size)
    with recording() as log:
        for name in chosen:
            changes, cross = CONFIGURATIONS[name]
            shade_arrays(image, sample if cross else None, ShadeOptions(**changes))
    return log


def compile_paint_first(opts: Any) -> None:
    """Compile (into the cache) the kernels a run calls *after* its basis, in reverse order.

    The background half of a cold run (:func:`start_background_compile`): while the run
    compiles the Laplacian and the eigensolver, this process compiles the components, thicken
    and shadow kernels on stand-in inputs of the run's types (a random basis and field on a
    small demo image), then the gating field and the void direction on the demo's own
    Laplacian.  The run then loads them from the cache.  Nothing it computes is kept.
    """
    import numpy as np

    from fastshade.demo import demo_image
    from fastshade.pipeline.components import label_components
    from fastshade.pipeline.fields import HeatOperator, contour_heat, field_kind, gating_field
    from fastshade.pipeline.gates import carrier_of, contour_gates, contour_mask
    from fastshade.pipeline.graph import diagonal_storage, forward_gradient, image_laplacian, unit_vectors
    from fastshade.pipeline.paint import shadow_self, thicken
    from fastshade.pipeline.results import Analysis
    from fastshade.spectral import SpectralBasis

    rgb = demo_image(WARMUP_SIZE, WARMUP_SIZE)
    h, w = rgb.shape[:2]
    rng = np.random.default_rng(0)
    carrier = carrier_of(rgb)
    contours = contour_mask(carrier, opts.contour_sigma)
    f = rng.standard_normal((h, w))
    high, low = contour_gates(f, contours, opts.gate_gain, opts.gamma_h, opts.bias_h,
                              opts.gamma_l, opts.bias_l)
    comps = label_components(low, connectivity=8, min_size=opts.min_component)
    gy, gx = forward_gradient(f)
    ty, tx = unit_vectors(gy, gx)
    vectors = np.ascontiguousarray(rng.standard_normal((h * w, opts.k)))
    basis = SpectralBasis(vectors, np.arange(opts.k, dtype=np.float64), (h, w), opts.basis)
    an = Analysis(rgb, carrier, contours, basis, f, -tx, ty, ty, tx, high, low, comps)
    out, _ = thicken(an, opts)
    shadow_self(out, an, opts)
    lap = image_laplacian(carrier, connectivity=opts.connectivity, kind=opts.laplacian, tau=opts.tau,
                          weight_floor=opts.weight_floor)
    op = HeatOperator(lap, opts, diagonal_storage(lap) if opts.laplacian == "grid" else None)
    if field_kind(opts) == "heat":
        gating_field(lap, None, (h, w), opts, operator=op)
    contour_heat(op, contours, opts)


def start_background_compile(opts: Any) -> Any:
    """Start :func:`compile_paint_first` in a second process (a ``subprocess.Popen``), or None
    when the machine has one core or the kernels compile in memory (nothing to share).

    Stop it with :func:`stop_background_compile` when the run is done.
    """
    import json
    import os
    import subprocess
    import sys

    from fastshade.kernels import _jit
    from fastshade.threads import available_cores

    if _jit.CACHE_DIR is None or not _jit.CACHE_ENABLED or available_cores() < 2:
        return None
    try:
        return subprocess.Popen([sys.executable, "-m", "fastshade.warmup", json.dumps(opts.to_dict())],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=dict(os.environ))
    except OSError:
        return None


def stop_background_compile(proc: Any) -> None:
    """End a :func:`start_background_compile` process (the cache writes are atomic renames)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except Exception:
        proc.kill()
        proc.wait()


if __name__ == "__main__":  # the background half of a cold run: python -m fastshade.warmup OPTIONS_JSON
    import json
    import sys

    from fastshade.options import ShadeOptions
    from fastshade.threads import pin_process_threads

    pin_process_threads()
    compile_paint_first(ShadeOptions(**json.loads(sys.argv[1])))
