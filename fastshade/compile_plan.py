"""A cold run's compilation shared with a second process, kernel by kernel.

A default run calls its top-level kernels in a fixed order (:data:`PLAN`: kernel and argument
types, each kernel's callees compile with it).  With an empty cache, ``fastshade shade`` starts
a second process (:func:`start_early`, adopted by :func:`start_shared_compile`) that compiles
the plan from its end backwards while the run compiles what it calls from the front.  Each side
claims a plan item before compiling it (a file made with ``O_EXCL`` in a folder of the run); the
run waits for an item the other process is compiling and then loads it from the cache
(:class:`SharedCompile`), so no kernel is compiled twice and the two meet near the middle: each
compiles about half while the run also does its own work between the kernels.  The second
process never waits, so the two cannot wait for each other.

The command line starts the second process before it loads NumPy and Numba
(:func:`start_early`, unless a ``shade`` of this installation succeeded before), because the run
can tell a cold cache only once Numba is loaded, 0.4-0.5 s later; the run then adopts it
(:func:`start_shared_compile`) or ends it (:func:`end_early`).

Only for runs whose kernels the plan lists (:func:`plan_applies`); other styles and paths use
the stand-in shading of :func:`fastshade.warmup.compile_for_run`.  ``record_plan`` makes the
plan again (an empty cache is needed: it reads Numba's compile events); a test checks that it
still matches a default run.  Regenerate with ``python -m fastshade.compile_plan --print``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from typing import Any

__all__ = ["PLAN", "SharedCompile", "compile_backwards", "end_early", "plan_applies", "record_plan",
           "signature_types", "start_early", "start_shared_compile"]

_A = "Array({}, {}, 'C', False, aligned=True)"
_F1, _F2, _F3 = (_A.format("float64", n) for n in (1, 2, 3))
_I1, _I2 = (_A.format("int32", n) for n in (1, 2))
_L1, _L2 = (_A.format("int64", n) for n in (1, 2))
_B1, _B2 = (_A.format("bool", n) for n in (1, 2))
_U2 = _A.format("uint8", 2)


def _sig(*args: str) -> str:
    return "(" + ", ".join(args) + ("," if len(args) == 1 else "") + ")"


PLAN: tuple[tuple[str, str], ...] = (
    ("paper.local_range", _sig(_F3, _F2, _A.format("float64", 4))),
    ("paper.colour_bins", _sig(_F2, _B1, "int64", "none", _L1, _F2)),
    ("paper.nearest_within_reach", _sig(_B2, _B2, _L1, _L1, "bool", _A.format("float32", 2))),
    ("laplacian.laplacian_csr_nnz", _sig("int64", "int64", _L1, _L1)),
    ("laplacian.laplacian_work_rows", _sig(_L1)),
    ("laplacian.assemble_laplacian_csr", _sig(_F3, _L1, _L1, _F1, "float64", "float64", _I1, _I1,
                                              _F1, _F3)),
    ("blockops.main_diagonal_entries", _sig(_I1, _I1, _B1)),
    ("blockops.strength_pattern", _sig(_I1, _I1, _F1, _F1, "float64", _I1, _I1)),
    ("spgemm.smoothed_prolongator_row_nnz", _sig(_I1, _I1, _L1, _L2, _L1)),
    ("spgemm.smoothed_prolongator", _sig(_I1, _I1, _F1, "float64", _F1, "float64", _L1, _F1, _I1,
                                         _L2, _I1, _F1)),
    ("spgemm.spgemm_bound", _sig(_I1, _I1)),
    ("spgemm.spgemm_pair_bounded", _sig(_I1, _I1, _F1, "float64", "none", _I1, _I1, _F1, "none",
                                        _L1, _F1, "none", _I1, _I1, _F1, "none")),
    ("spgemm.galerkin_identity_mass", _sig(_I1, _I1, _F1, _I1, _I1, _F1, _I1, _I1, _F2, _F1)),
    ("spgemm.spgemm_pair_bounded", _sig(_I1, _I1, _F1, "float64", _F1, _I1, _I1, _F1, _F1, _L1,
                                        _F1, _F1, _I1, _I1, _F1, _F1)),
    ("blockops.csr_matmat", _sig(_I1, _I1, _F1, _F2, _F2)),
    ("blockops.subtract_outer", _sig(_F2, _F1, _F1)),
    ("blockops.csr_matmat_pair", _sig(_I1, _I1, _F1, _F1, _F2, _F2, _F2)),
    ("blockops.ritz_residual", _sig(_F2, _F2, _F1, _F2, _F1)),
    ("blockops.jacobi_start", _sig(_I1, _I1, _F1, _F1, _F2, _F2, _F2)),
    ("blockops.csr_matmat_add", _sig(_I1, _I1, _F1, _F2, _F2)),
    ("blockops.jacobi_sweep", _sig(_I1, _I1, _F1, _F1, _F2, _F2, _F2)),
    ("blockops.rotate_residual", _sig(_F2, _F2, _F2, _F1, _F2, _F1)),
    ("blockops.column_sumsq_extrema", _sig(_F2, _F1, _F1, _F1)),
    ("blockops.scaled_column_energy", _sig(_F2, _L1, _F1, "int64", _F1)),
    ("fields.csr_diagonal_mask", _sig(_I1, _I1, _B1)),
    ("fields.csr_to_diagonals", _sig(_I1, _I1, _F1, _L1, _F2)),
    ("fields.dia_mirrored", _sig(_L1, _F2)),
    ("fields.heat_diffusion_dia", _sig(_L1, _F2, _F1, "float64", "int64", "int64", "int64", _F1, _F1,
                                       _F3, "bool")),
    ("components.label_buffer_size", _sig("int64", "int64")),
    ("components.label_mask_8", _sig(_U2, _I2, _I1)),
    ("components.component_stats", _sig(_I2, _L1, _L2, _F2, _F3, _L2, _L1)),
    ("components.size_filter_map", _sig(_L1, "int64", _I1)),
    ("components.component_pixel_index", _sig(_I2, _L1, _L1, _L1, _L1)),
    ("paper.spread_within_reach", _sig(_B2, _L1, _L1, _F2)),
    ("changes.record_changes", _sig(_F3, _F3, _A.format("int8", 2), "int64")),
    ("changes.quantised_changes", _sig(_F3, _F3, "int64", "float64", _B2)),
)
"""The top-level kernels of a default self-mode run (``fastshade shade --demo``), in the order it
first calls them: ``(kernel name, argument types)`` (:func:`fastshade.kernels._jit.kernel_name`, the
``str`` of Numba's argument-type tuple)."""

PLAN_SIZE = 512
"""Edge in px of the demo image :func:`record_plan` shades (the ``--demo`` size)."""

CLAIMS_PREFIX = "cold-plan-"
"""Name prefix of a run's claims folder in the cache folder."""

STALE_CLAIMS_SECONDS = 3600.0
"""A claims folder older than this was left by a killed run and is removed by the next cold run."""

WAIT_LIMIT = 300.0
"""Seconds the run waits at most for one kernel the other process compiles (then compiles it)."""


def plan_applies(opts: Any) -> bool:
    """Whether a run with ``opts`` calls the kernels of :data:`PLAN` (the default style on the
    default graph, basis and field; other knobs change values, not kernels).
    """
    from fastshade.options import ShadeOptions

    default = ShadeOptions()
    return all(getattr(opts, name) == getattr(default, name)
               for name in ("style", "basis", "laplacian", "connectivity", "field", "tile_size"))


def signature_types(text: str) -> tuple[Any, ...]:
    """The Numba argument types of a plan item's signature string."""
    from numba.core import types

    names: dict[str, Any] = {k: getattr(types, k) for k in dir(types) if not k.startswith("_")}
    names.update(bool=types.boolean, none=types.none)
    return tuple(eval(text, {"__builtins__": {}}, names))  # noqa: S307 (the plan's own strings)


def record_plan(size: int = PLAN_SIZE) -> list[tuple[str, str]]:
    """The plan of a default run, read from Numba's compile events (call it in a process whose
    cache is empty and that has compiled nothing yet: cached kernels raise no event).
    """
    import numba.core.event as ev

    from fastshade.demo import demo_image
    from fastshade.kernels._jit import kernel_name, kernels_by_name
    from fastshade.options import ShadeOptions
    from fastshade.styles import shade_arrays

    ours = set(kernels_by_name())
    plan: list[tuple[str, str]] = []
    depth = [0]

    class _TopLevel(ev.Listener):
        def on_start(self, event: Any) -> None:
            if depth[0] == 0:
                name = kernel_name(event.data["dispatcher"])
                if name in ours:
                    plan.append((name, str(tuple(event.data["args"]))))
            depth[0] += 1

        def on_end(self, event: Any) -> None:
            depth[0] -= 1

    with ev.install_listener("numba:compile", _TopLevel()):
        shade_arrays(demo_image(size, size), None, ShadeOptions(), analyses=False)
    return plan


def _claim(folder: str, index: int, owner: str) -> bool:
    """Claim plan item ``index`` for ``owner``; False when it is claimed already."""
    try:
        fd = os.open(os.path.join(folder, f"claim-{index}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(owner)
    return True


def _done_path(folder: str, index: int) -> str:
    return os.path.join(folder, f"done-{index}")


def compile_backwards(folder: str, plan: tuple[tuple[str, str], ...] = PLAN) -> list[str]:
    """The second process's half: compile the plan's items from the last one backwards, each
    claimed first, until an item is claimed already (the run got there); returns the names
    compiled.  Every item ends with a ``done-N`` file, compiled or not (a failed compile is the
    run's to redo).
    """
    from fastshade.kernels._jit import kernels_by_name

    kernels = kernels_by_name()
    compiled = []
    for index in reversed(range(len(plan))):
        if not _claim(folder, index, "helper"):
            break
        name, signature = plan[index]
        try:
            dispatcher = kernels.get(name)
            if dispatcher is not None:
                dispatcher.compile(signature_types(signature))
                compiled.append(name)
        except Exception:  # noqa: BLE001 (the run compiles it itself)
            pass
        finally:
            open(_done_path(folder, index), "w").close()
    return compiled


class SharedCompile:
    """The run's half: called by the kernel cache when a kernel is not cached
    (``fastshade.kernels._jit.CACHE_MISS_HOOK``).

    A plan item the run reaches first is claimed (the run compiles it); one the other process
    claimed is waited for until its ``done`` file appears or the process ends, and then loaded.
    """

    def __init__(self, folder: str, helper: subprocess.Popen | None,
                 plan: tuple[tuple[str, str], ...] = PLAN) -> None:
        self.folder = folder
        self.helper = helper
        self.index = {item: i for i, item in reversed(list(enumerate(plan)))}
        self.claimed: set[int] = set()
        self.waited = 0.0

    def on_miss(self, name: str, args: tuple[Any, ...]) -> bool:
        """Whether the kernel ``name`` for ``args`` may be in the cache now (load it again)."""
        index = self.index.get((name, str(tuple(args))))
        if index is None or index in self.claimed:
            return False
        if _claim(self.folder, index, "run"):
            self.claimed.add(index)
            return False
        start = time.perf_counter()
        done = _done_path(self.folder, index)
        while not os.path.exists(done) and time.perf_counter() - start < WAIT_LIMIT:
            if self.helper is not None and self.helper.poll() is not None:
                break
            time.sleep(0.005)
        self.waited += time.perf_counter() - start
        return True

    def stop(self) -> None:
        """Unhook from the kernel cache, end the other process, remove the claims folder."""
        from fastshade.children import end_process
        from fastshade.kernels import _jit

        if _jit.CACHE_MISS_HOOK == self.on_miss:
            _jit.CACHE_MISS_HOOK = None
        end_process(self.helper)
        shutil.rmtree(self.folder, ignore_errors=True)


def _forget_old_claims(cache_dir: str, age: float = STALE_CLAIMS_SECONDS) -> None:
    """Remove claims folders older than ``age`` seconds (left by a run that was killed)."""
    try:
        entries = list(os.scandir(cache_dir))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        try:
            if (entry.name.startswith(CLAIMS_PREFIX) and entry.is_dir(follow_symlinks=False)
                    and now - entry.stat(follow_symlinks=False).st_mtime > age):
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


EARLY: tuple[subprocess.Popen, str] | None = None
"""The second process :func:`start_early` started and its claims folder's name, until the run
adopts it (:func:`start_shared_compile`) or ends it (:func:`end_early`)."""


def start_early() -> None:
    """Start the second process at once, before the run has loaded NumPy and Numba (0.5 s of
    imports in the run): it finds the kernel cache itself and compiles the plan from the back in
    a claims folder of a new name there.  The run adopts it when its cache is cold and the plan
    applies (:func:`start_shared_compile`), else ends it (:func:`end_early`).
    """
    global EARLY
    import secrets

    from fastshade.children import start_module

    name = CLAIMS_PREFIX + secrets.token_hex(8)
    try:
        proc = start_module("fastshade.compile_plan", ["--claims", name], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return
    EARLY = (proc, name)


def end_early() -> None:
    """End the :func:`start_early` process if no run adopted it, and remove its claims folder
    (when this process knows the cache folder: else it goes with the old claims folders).
    """
    global EARLY
    from fastshade.children import end_process

    if EARLY is None:
        return
    proc, name = EARLY
    EARLY = None
    end_process(proc)
    cache_dir = getattr(sys.modules.get("fastshade.kernels._jit"), "CACHE_DIR", None)
    if cache_dir:
        shutil.rmtree(os.path.join(cache_dir, name), ignore_errors=True)


def _claims_folder_here(name: str) -> str | None:
    """The second process's claims folder ``name`` in this process's kernel cache (created), or
    None when the kernels compile in memory.
    """
    from fastshade.kernels import _jit
    from fastshade.kernels._jit import kernels_by_name

    kernels_by_name()  # the first kernel sets the cache folder
    if _jit.CACHE_DIR is None:
        return None
    folder = os.path.join(_jit.CACHE_DIR, name)
    os.makedirs(folder, exist_ok=True)
    return folder


def start_shared_compile(cache_dir: str) -> SharedCompile | None:
    """Hook the run's :class:`SharedCompile` into the kernel cache with the second process
    :func:`start_early` started (started now when it was not), its claims folder in
    ``cache_dir``; None when it cannot start.  End both with :meth:`SharedCompile.stop`.
    """
    global EARLY
    from fastshade.children import end_process
    from fastshade.kernels import _jit

    _forget_old_claims(cache_dir)
    if EARLY is None:
        start_early()
    if EARLY is None:
        return None
    proc, name = EARLY
    EARLY = None
    folder = os.path.join(cache_dir, name)
    try:
        os.makedirs(folder, exist_ok=True)  # or the second process made it
    except OSError:
        end_process(proc)
        return None
    shared = SharedCompile(folder, proc)
    _jit.CACHE_MISS_HOOK = shared.on_miss
    return shared


if __name__ == "__main__":  # python -m fastshade.compile_plan FOLDER | --claims NAME | --print
    if sys.argv[1:] == ["--print"]:
        for item in record_plan():
            print(item)
    else:
        from fastshade.threads import pin_process_threads

        pin_process_threads()
        claims = _claims_folder_here(sys.argv[2]) if sys.argv[1] == "--claims" else sys.argv[1]
        if claims is not None:
            compile_backwards(claims)
