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

__all__ = ["CONFIGURATIONS", "CORE_KERNELS", "COLD_SECONDS", "CompileLog", "cache_folder",
           "cold_kernels", "compile_notice", "kernel_name", "warm_up"]

CORE_KERNELS: tuple[str, ...] = (
    "laplacian.assemble_laplacian_csr", "laplacian.laplacian_csr_nnz", "laplacian.edge_weight_rows",
    "fields.csr_to_diagonals", "fields.forward_gradient", "fields.unit_vectors",
    "components.label_mask", "components.component_stats",
    "shading.perpendicular_scatter", "shading.place_component", "shading.gated_copy",
    "shading.hue_rotate",
)
"""Kernels that every self-mode run calls, whatever the basis (the cold-cache check reads these;
``tests/test_warmup.py`` checks the list against a real run of each basis)."""

COLD_SECONDS = 15.0
"""Compile time of a default run with an empty cache, measured on the reference machine
(2-core AMD EPYC, ``fastshade warmup --report``); the notice scales it by the cold fraction."""

CONFIGURATIONS: dict[str, tuple[dict[str, Any], bool]] = {
    "default": ({}, False),
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


def compile_notice() -> str | None:
    """The one line to print before a run that will compile, or None (once per process).

    ``fastshade: compiling kernels once, about N s`` when the kernels every run calls are not
    cached; a note that nothing is cached when no cache folder is writable.
    """
    global _NOTICE_GIVEN
    if _NOTICE_GIVEN:
        return None
    from fastshade.kernels import _jit

    cold = cold_kernels()
    if not cold:
        return None
    _NOTICE_GIVEN = True
    seconds = max(1, round(COLD_SECONDS * len(cold) / len(CORE_KERNELS)))
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
    from fastshade.pipeline.shader import shade_arrays

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
