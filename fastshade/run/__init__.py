"""Shade a whole folder: streamed, multiprocessing, resumable.

Walks IN (recursively unless --no-recursive) and shades every image under OUT
at the same relative path, the extension following --format.  Files are
recognised by their magic bytes, not their names.  One JSON line per input
goes to the manifest (default OUT/fastshade-manifest.jsonl), appended as
results arrive; a re-run skips what the manifest says is done.

examples:
  fastshade run drawings/ shaded/                      # every image, one worker per core
  fastshade run drawings/ shaded/ --dry-run            # print the plan, write nothing
  fastshade run drawings/ shaded/ -j 2 --format tiff --depth 16
  fastshade run drawings/ shaded/ --sample snek.png    # cross mode with one sample for all
  fastshade run drawings/ shaded/ --resume             # continue after a crash or Ctrl-C
  fastshade run drawings/ shaded/ --retry-failed       # only what failed last time
  fastshade run drawings/ shaded/ --include '*.png' --exclude 'drafts/*'
  fastshade run /mnt/in /mnt/out --scheduler tcp://10.0.0.5:8786   # a Dask cluster

what it guarantees:
  * inputs are never modified; OUT is never read as input (an OUT inside IN is
    left out of the walk); OUT may not be IN or contain IN.
  * outputs are written to a temporary file in the destination folder and
    renamed into place, so a final name never holds a partial image; stale
    temporary files of a killed run are removed at start-up.
  * format problems (RGBA or 16-bit to JPEG, 16-bit to WebP) stop the run with
    exit status 2 before anything is computed (--format jpg/webp read every
    header first); --dry-run reports them too.
  * two inputs that would write the same output (a.png and a.jpg -> a.png) are
    both failed:collision, unless --on-collision suffix names them a_png.png
    and a_jpg.png.
  * a file that kills its worker is re-run alone in a fresh worker; only a file
    that kills an isolated worker is failed:crashed, every other file is kept.
  * hidden files, OS junk (.DS_Store, Thumbs.db, desktop.ini, ._*) and hidden
    folders are skipped; symlinked folders are followed once (loops detected).
  * outputs are byte-identical whatever the number of workers: kernels and
    BLAS run single-threaded in each worker, parallelism is across files.

manifest: each line has path (relative to IN), output (relative to OUT),
status (ok, skipped:<reason>, failed:<reason>), reason, message, warnings,
width/height/pixels, seconds (wall and CPU), worker, the input fingerprint (size, mtime_ns,
sha256 with --hash), options (ShadeOptions digest) and params (digest of the
options, format, depth, sample and the pipeline's OUTPUT_VERSION).  A file is done when its last record is ok
for the same fingerprint and params and its output is complete (header and end of data).

Ctrl-C (or SIGTERM) once: stop submitting, let running files finish; twice: cancel.
exit status: 0 every file ok or skipped, 1 some file failed, 2 usage error,
130 interrupted.  A one-line summary goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import hashlib
import heapq
import json
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Iterator

# Spawned workers import this module (and so the fastshade package, which loads
# NumPy and Numba) before their initializer runs: the thread-count environment
# therefore reaches them through the spawn environment (_worker_env_for_spawn),
# and the initializer only repeats it for anything imported later.
from fastshade.options import OUTPUT_VERSION, ShadeOptions

__all__ = [
    "DEFAULT_MANIFEST_NAME",
    "JUNK_NAMES",
    "RunConfig",
    "configure",
    "main",
    "read_manifest",
    "shade_file",
    "worker_environment",
]

log = logging.getLogger("fastshade.run")

DEFAULT_MANIFEST_NAME = "fastshade-manifest.jsonl"
"""Manifest file name inside OUT when --manifest is not given."""

JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", ".localized"})
"""OS junk file names (compared case-insensitively); ``._*`` AppleDouble files are junk too."""

_JUNK_DIRS = frozenset({"__macosx", "$recycle.bin", "system volume information", ".trashes", ".spotlight-v100",
                        ".fseventsd"})

OUTPUT_EXTENSIONS = {"png": ".png", "tiff": ".tif", "jpeg": ".jpg", "webp": ".webp"}
"""File extension written for each normalised output format."""

_FORMAT_CHOICES = {"png": "png", "tiff": "tiff", "tif": "tiff", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp",
                   "same": "same"}

# ImageError codes that mean "not shaded, nothing wrong" (skipped) rather than failed.
_SKIP_CODES = frozenset({"not_an_image", "too_large", "degenerate"})

_MAX_CONSECUTIVE_CRASHES = 10
_ISOLATION_NOTE = "killed its worker when run alone"

_TEST_CRASH_ENV = "FASTSHADE_TEST_CRASH_ON"
_TEST_DELAY_ENV = "FASTSHADE_TEST_DELAY"
_TEST_SLEEP_ENV = "FASTSHADE_TEST_SLEEP_ON"
_TEST_HANG_ENV = "FASTSHADE_TEST_HANG_ON"


class UsageError(Exception):
    """A configuration problem reported as one line with exit status 2."""


# ======================================================================================
# Per-file work (shared by ``fastshade shade`` and the batch workers)
# ======================================================================================


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _status(reason: str | None, *, skipped: bool = False) -> str:
    if reason is None:
        return "ok"
    return ("skipped:" if skipped else "failed:") + reason


def _stat_fingerprint(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return int(st.st_size), int(st.st_mtime_ns)


def _load_sample_rgb(sample: Any, max_pixels: int | None) -> Any:
    """``sample`` as (H, W, 3) float64: an array, a LoadedImage or a path (read here); None stays None."""
    if sample is None:
        return None
    if isinstance(sample, (str, os.PathLike)):
        from fastshade.io import read_image

        return read_image(sample, max_pixels=max_pixels).rgb
    return getattr(sample, "rgb", sample)


def shade_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    sample: Any = None,
    options: ShadeOptions | None = None,
    fmt: str | None = None,
    depth: int | None = None,
    *,
    max_pixels: int | None | str = "default",
    frames: str = "first",
    exif: str = "apply",
    expect: tuple[int, int] | None = None,
    keep_stats: bool = False,
) -> dict[str, Any]:
    """Read, validate, shade and atomically write one image; return its record.

    This is the whole per-file job of ``fastshade run`` (every worker calls
    it) and of ``fastshade shade``, so both write byte-identical files for the
    same input and options.

    Parameters
    ----------
    in_path, out_path : str or os.PathLike
        Input image (format sniffed from its bytes) and output file.  The
        output is written via :func:`fastshade.io.write_image` (temp file in
        the destination folder, then ``os.replace``); missing folders are made.
    sample : array, LoadedImage, path or None, optional
        Cross-mode sample ((H, W, 3) float64 in [0, 1]) or ``None`` (self mode).
    options : ShadeOptions, optional
        Shader options (defaults when ``None``).
    fmt : str, optional
        Output format (``png``, ``tiff``, ``jpeg``/``jpg``, ``webp``); by
        default taken from the extension of ``out_path``.
    depth : {8, 16} or None, optional
        Output bit depth; ``None`` keeps the input's (8 or 16).
    max_pixels : int or None, optional
        Header-size limit (default :data:`fastshade.io.DEFAULT_MAX_PIXELS`).
    frames, exif : str, optional
        Passed to :func:`fastshade.io.read_image` (``first``/``reject``,
        ``apply``/``ignore``).
    expect : (size, mtime_ns), optional
        Fingerprint seen when the run was planned: a missing file is
        ``failed:vanished``, a different one ``failed:changed`` (checked
        before and after decoding, so nothing is written from a file that
        changed while it was read).
    keep_stats : bool, optional
        Put the shader's full statistics dict under ``"stats"`` (otherwise a
        small summary).

    Returns
    -------
    dict
        ``status`` (``ok``, ``skipped:<reason>`` or ``failed:<reason>``),
        ``reason`` (None when ok), ``message`` (one line), ``warnings`` (list
        of codes from the reader), ``width``, ``height``, ``pixels``,
        ``format`` and ``depth`` of the output, ``input_format``,
        ``seconds`` and ``stats``.  Per-file problems never raise; the output
        file exists (complete) if and only if the status is ``ok``.
    """
    import numpy as np

    from fastshade.io import DEFAULT_MAX_PIXELS, ImageError, read_image, validate_output, write_image
    from fastshade.pipeline.shader import shade_arrays

    t0 = time.perf_counter()
    spath, sout = os.fspath(in_path), os.fspath(out_path)
    limit = DEFAULT_MAX_PIXELS if max_pixels == "default" else max_pixels
    rec: dict[str, Any] = {
        "input": spath, "output": sout, "status": "ok", "reason": None, "message": "",
        "warnings": [], "width": None, "height": None, "pixels": None, "format": None,
        "depth": None, "input_format": None, "seconds": 0.0, "stats": None,
    }

    def finish(reason: str | None, message: str = "", *, skipped: bool = False) -> dict[str, Any]:
        rec["status"] = _status(reason, skipped=skipped)
        rec["reason"] = reason
        rec["message"] = _one_line(message)
        rec["seconds"] = round(time.perf_counter() - t0, 6)
        return rec

    def changed_since_plan() -> str | None:
        """'vanished' / 'changed' when the input no longer matches ``expect``."""
        if expect is None:
            return None
        try:
            now = _stat_fingerprint(spath)
        except FileNotFoundError:
            return "vanished"
        except OSError:
            return None
        return None if tuple(now) == tuple(expect) else "changed"

    moved = changed_since_plan()
    if moved:
        return finish(moved, f"input {moved} since the run was planned")
    try:
        img = read_image(spath, max_pixels=limit, frames=frames, exif=exif)  # type: ignore[arg-type]
    except ImageError as err:
        moved = changed_since_plan()
        if moved:
            return finish(moved, f"input {moved} while it was read ({err.message})")
        code = "vanished" if err.code == "not_found" else err.code
        return finish(code, err.message, skipped=code in _SKIP_CODES)
    except MemoryError:
        return finish("memory", "out of memory while decoding")
    rec.update(width=img.width, height=img.height, pixels=img.width * img.height,
               input_format=img.format, warnings=list(img.warnings))
    out_depth = int(depth or img.bit_depth)
    try:
        out_fmt = validate_output(fmt if fmt else sout, has_alpha=img.alpha is not None, bit_depth=out_depth)
    except ImageError as err:
        return finish(err.code, err.message)
    rec.update(format=out_fmt, depth=out_depth)
    moved = changed_since_plan()
    if moved:
        return finish(moved, f"input {moved} while it was read")
    try:
        sample_rgb = _load_sample_rgb(sample, limit)
    except ImageError as err:
        return finish("sample_error", f"cannot read the sample: {err}")
    target = img.rgb if img.alpha is None else np.concatenate([img.rgb, img.alpha[:, :, None]], axis=2)
    del img
    try:
        res = shade_arrays(target, sample_rgb, options)
    except MemoryError:
        return finish("memory", "out of memory while shading")
    except Exception as err:  # noqa: BLE001 (a per-file failure must never stop the batch)
        return finish("shade_error", f"{type(err).__name__}: {err}")
    out = res.image
    st = res.stats
    rec["stats"] = st if keep_stats else {
        "mode": st.get("mode"),
        "placements": len(st.get("placements", ())),
        "high_gate_pixels": st.get("high_gate_pixels"),
        "low_gate_pixels": st.get("low_gate_pixels"),
        "basis": (st.get("basis") or {}).get("method"),
    }
    try:
        write_image(sout, out[:, :, :3], out[:, :, 3] if out.shape[2] == 4 else None,
                    bit_depth=out_depth, fmt=out_fmt)
    except ImageError as err:
        return finish(err.code, err.message)
    except OSError as err:  # e.g. the destination folder cannot be created
        return finish("write_error", f"{type(err).__name__}: {err.strerror or err}")
    return finish(None)


# ======================================================================================
# Worker side: environment, test hooks, soft timeout, the task function
# ======================================================================================

_BLAS_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                  "NUMEXPR_NUM_THREADS")


def worker_environment(threads: int) -> dict[str, str]:
    """Environment of one worker process: ``threads`` Numba threads, BLAS pinned to 1.

    BLAS/OpenMP stay at one thread whatever the worker count so LOBPCG's
    reductions, and hence the outputs, are identical for ``-j 1`` and ``-j N``;
    the Numba kernels are serial, ``NUMBA_NUM_THREADS`` only bounds any
    parallel region.  Workers x threads <= cores avoids oversubscription.
    """
    env = {"NUMBA_NUM_THREADS": str(max(1, int(threads)))}
    env.update({name: "1" for name in _BLAS_ENV_VARS})
    return env


_WORKER_STATE: dict[str, Any] = {"tasks": 0, "starts": None, "env_threads": None, "samples": {}}


def _apply_worker_environment(threads: int) -> None:
    """Set the thread environment in this process (before NumPy/Numba load, when possible)."""
    if _WORKER_STATE["env_threads"] == threads:
        return
    os.environ.update(worker_environment(threads))
    if "numba" in sys.modules:  # already imported (e.g. a Dask worker): lower the count at run time
        try:
            import numba

            numba.set_num_threads(min(max(1, threads), numba.config.NUMBA_NUM_THREADS))
        except Exception:  # noqa: BLE001 (best effort)
            pass
    _WORKER_STATE["env_threads"] = threads


def _die_with_parent(parent_pid: int) -> None:
    """Linux: let the kernel kill this worker when the driver dies (no orphans writing files)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except Exception:  # noqa: BLE001 (best effort)
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


def _worker_init(threads: int, starts: Any, parent_pid: int) -> None:
    """ProcessPoolExecutor initializer, once in each new worker process."""
    _apply_worker_environment(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver owns Ctrl-C
    _die_with_parent(parent_pid)
    _WORKER_STATE["starts"] = starts


def _worker_probe(in_root: str, out_root: str) -> dict[str, Any]:
    """Start-up check run on every worker: version, and the same paths visible."""
    import fastshade

    return {
        "version": fastshade.__version__,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "read_in": os.path.isdir(in_root) and os.access(in_root, os.R_OK | os.X_OK),
        "write_out": os.path.isdir(out_root) and os.access(out_root, os.W_OK | os.X_OK),
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS"),
    }


def _test_hooks(path: str) -> None:
    """Test-only fault injection (environment variables, read in the worker).

    ``FASTSHADE_TEST_CRASH_ON=<substring>``: ``os._exit(1)`` on a file whose
    name contains it (stands in for a segfault or an OOM kill).
    ``FASTSHADE_TEST_SLEEP_ON``: sleep (interruptible: exercises the soft
    timeout).  ``FASTSHADE_TEST_HANG_ON``: sleep with SIGALRM blocked
    (exercises the driver's hard kill).  ``FASTSHADE_TEST_DELAY=<seconds>``:
    sleep that long on every file (gives interruption tests a run to stop).
    """
    delay = os.environ.get(_TEST_DELAY_ENV)
    if delay:
        time.sleep(float(delay))
    name = os.path.basename(path)
    crash = os.environ.get(_TEST_CRASH_ENV)
    if crash and crash in name:
        os._exit(1)
    sleep_on = os.environ.get(_TEST_SLEEP_ENV)
    if sleep_on and sleep_on in name:
        time.sleep(600)
    hang = os.environ.get(_TEST_HANG_ENV)
    if hang and hang in name:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)


class FileTimeout(BaseException):
    """Raised inside a worker when a file exceeds --timeout-per-file.

    A ``BaseException`` so that no ``except Exception`` in library code
    swallows it.
    """


@contextlib.contextmanager
def _soft_timeout(seconds: float | None) -> Iterator[None]:
    """Raise :class:`FileTimeout` in the current thread after ``seconds``.

    Main thread (process-pool workers): ``SIGALRM``.  Other threads (Dask
    worker threads): an asynchronous exception.  Both are delivered between
    Python bytecodes, so a long call into C ends first (and the asynchronous
    exception does not interrupt ``time.sleep``); the driver's hard timeout
    (kill or restart the worker) covers those cases.
    """
    if not seconds or seconds <= 0:
        yield
        return
    state = {"active": True}
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        def on_alarm(signum: int, frame: Any) -> None:
            if state["active"]:
                raise FileTimeout()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, float(seconds))
        try:
            yield
        finally:
            state["active"] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    import ctypes

    ident = threading.get_ident()
    lock = threading.Lock()

    def fire() -> None:
        with lock:
            if state["active"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(FileTimeout))

    timer = threading.Timer(float(seconds), fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["active"] = False
        timer.cancel()
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)


def _cached_sample(sample: dict[str, Any] | None, max_pixels: int | None) -> Any:
    """The cross-mode sample, read once per worker process (keyed by path and fingerprint)."""
    if sample is None:
        return None
    key = (sample["path"], sample["size"], sample["mtime_ns"])
    cache = _WORKER_STATE["samples"]
    if key not in cache:
        cache.clear()
        cache[key] = _load_sample_rgb(sample["path"], max_pixels)
    return cache[key]


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _warm_up(task: dict[str, Any]) -> float | None:
    """Import the shader and compile (or load) its kernels once per worker process.

    Runs before the file's clock starts, so --timeout-per-file never fires
    inside an import or a Numba compilation (interrupting those can leave the
    process unusable), and the per-file cost seen in the manifest is the
    steady-state one.  Returns the seconds spent, or None when already warm.
    """
    key = task["options"].digest() + ("x" if task["sample"] else "")
    if key in _WORKER_STATE.setdefault("warm", set()):
        return None
    t0 = time.perf_counter()
    try:
        import fastshade.io  # noqa: F401
        from fastshade.demo import demo_image
        from fastshade.pipeline.shader import shade_arrays

        small = demo_image(64, 64)
        shade_arrays(small, small if task["sample"] else None, task["options"])
    except Exception:  # noqa: BLE001 (a real file will report whatever is wrong)
        pass
    _WORKER_STATE["warm"].add(key)
    return round(time.perf_counter() - t0, 6)


def _dask_report_start(task: dict[str, Any]) -> None:
    """On a Dask worker: publish the task's start (topic ``fastshade-start``) for the driver's hard timeout."""
    try:
        from distributed import get_worker

        worker = get_worker()
        worker.log_event("fastshade-start", {"id": task["id"], "attempt": task.get("attempt", 0),
                                             "worker": worker.address, "pid": os.getpid()})
    except Exception:  # noqa: BLE001 (not on a Dask worker, or an old distributed: soft timeout only)
        pass


def _run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point: one planned file -> its (partial) manifest record."""
    _apply_worker_environment(task["threads"])
    startup = _warm_up(task)
    starts = _WORKER_STATE["starts"]
    if starts is not None:  # local pool: tell the driver (hard timeout, crash attribution)
        starts.put((task["id"], os.getpid(), time.time()))
    elif task.get("report") == "dask":
        _dask_report_start(task)
    _WORKER_STATE["tasks"] += 1
    t0, cpu0 = time.perf_counter(), time.process_time()
    sha = None
    try:
        with _soft_timeout(task["timeout"]):
            _test_hooks(task["in_path"])
            if task["hash"]:
                sha = _sha256_file(task["in_path"])
            try:
                sample = _cached_sample(task["sample"], task["max_pixels"])
            except Exception as err:  # noqa: BLE001
                rec = {"status": "failed:sample_error", "reason": "sample_error",
                       "message": _one_line(f"cannot read the sample: {err}")}
            else:
                rec = shade_file(task["in_path"], task["out_path"], sample, task["options"], task["format"],
                                 task["depth"], max_pixels=task["max_pixels"], frames=task["frames"],
                                 exif=task["exif"], expect=task["expect"])
    except FileTimeout:
        rec = {"status": "failed:timeout", "reason": "timeout",
               "message": f"exceeded --timeout-per-file {task['timeout']:g} s (soft limit)"}
    except FileNotFoundError:
        rec = {"status": "failed:vanished", "reason": "vanished", "message": "input vanished"}
    except PermissionError as err:
        rec = {"status": "failed:permission", "reason": "permission", "message": _one_line(str(err))}
    rec["seconds"] = round(time.perf_counter() - t0, 6)
    rec["cpu_seconds"] = round(time.process_time() - cpu0, 6)
    rec["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    rec["worker_seq"] = _WORKER_STATE["tasks"]
    if startup is not None:
        rec["worker_startup_seconds"] = startup
    if sha is not None:
        rec["sha256"] = sha
    return rec


# ======================================================================================
# Configuration
# ======================================================================================


@dataclass
class RunConfig:
    """Everything one ``fastshade run`` needs, validated (see :func:`configure`)."""

    in_root: str
    out_root: str
    manifest: str
    options: ShadeOptions
    fmt: str = "png"  # png | tiff | jpeg | webp | same
    depth: int | None = None
    sample: dict[str, Any] | None = None
    recursive: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include_hidden: bool = False
    on_collision: str = "error"
    if_exists: str = "skip"
    resume: bool = False
    retry_failed: bool = False
    hash: bool = False
    dry_run: bool = False
    max_pixels: int | None = None
    frames: str = "first"
    exif: str = "apply"
    workers: int = 1
    threads_per_worker: int = 1
    timeout: float | None = None
    recycle_after: int = 0
    max_write_errors: int = 5
    scheduler: str | None = None
    quiet: bool = False
    verbose: bool = False
    out_inside_in: bool = False
    run_id: str = ""
    params: str = ""
    options_digest: str = ""

    def task_base(self) -> dict[str, Any]:
        return {
            "options": self.options, "sample": self.sample, "max_pixels": self.max_pixels,
            "frames": self.frames, "exif": self.exif, "timeout": self.timeout, "hash": self.hash,
            "threads": self.threads_per_worker,
        }


MAX_WORKERS_PER_CORE = 4
"""Local ``--workers`` above this many per core are refused (each is a full process)."""


def available_cores() -> int:
    """CPUs this process may run on (affinity/cgroup aware where the OS says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``run`` arguments (and every shader option) to ``p``."""
    from fastshade.cli_args import add_shade_options
    from fastshade.io import DEFAULT_MAX_PIXELS

    p.add_argument("input", metavar="IN", help="folder of images to shade (never modified)")
    p.add_argument("output", metavar="OUT", help="output folder (created; mirrors IN's sub-folders)")
    p.add_argument("--sample", metavar="S", help="sample image for cross mode (the same for every file)")
    g = p.add_argument_group("what to process")
    g.add_argument("--no-recursive", dest="recursive", action="store_false",
                   help="only the files directly in IN (default: walk sub-folders too)")
    g.add_argument("--include", action="append", default=[], metavar="GLOB",
                   help="only files whose relative path or name matches (repeatable, case-insensitive)")
    g.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="skip files and folders whose relative path or name matches (repeatable)")
    g.add_argument("--include-hidden", action="store_true",
                   help="also process dot-files and dot-folders (OS junk is always skipped)")
    g.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"skip (skipped:too_large) images larger than N pixels, from the header alone "
                        f"(default {DEFAULT_MAX_PIXELS:,}, about 4 GiB working memory)")
    g.add_argument("--frames", choices=["first", "reject"], default="first",
                   help="multi-frame files (GIF/APNG/TIFF pages): shade the first frame (default; "
                        "warning first_frame_of_N) or fail them (failed:multi_frame)")
    g.add_argument("--exif-orientation", dest="exif", choices=["apply", "ignore"], default="apply",
                   help="apply the EXIF orientation tag before shading (default apply)")
    o = p.add_argument_group("output")
    o.add_argument("--format", choices=["png", "tiff", "jpg", "webp", "same"], default="png",
                   help="output format (default png; 'same' keeps PNG/TIFF/JPEG/WebP inputs' format, "
                        "other inputs become PNG)")
    o.add_argument("--depth", type=int, choices=[8, 16], default=None,
                   help="output bit depth (default: that of each input)")
    o.add_argument("--on-collision", choices=["error", "suffix"], default="error",
                   help="two inputs mapping to one output (a.png, a.jpg): fail both (default) or "
                        "name them a_png.png, a_jpg.png")
    o.add_argument("--if-exists", choices=["skip", "overwrite", "error"], default="skip",
                   help="skip (default): skip files the manifest says are done (same input fingerprint and "
                        "options) whose output is complete (header and end of data); overwrite: redo everything; error: fail "
                        "files whose output path exists")
    o.add_argument("--manifest", metavar="FILE",
                   help=f"JSON-lines manifest (default OUT/{DEFAULT_MANIFEST_NAME})")
    o.add_argument("--hash", action="store_true",
                   help="add the input's sha256 to the fingerprint (resume then survives copies/touches)")
    r = p.add_argument_group("resuming and planning")
    r.add_argument("--resume", action="store_true",
                   help="continue an interrupted run: skip every input the manifest already has a final "
                        "record for (ok with a valid output, skipped, or failed), writing no new line")
    r.add_argument("--retry-failed", action="store_true",
                   help="re-run only the inputs whose last manifest record is failed:*")
    r.add_argument("--dry-run", action="store_true",
                   help="print the plan (counts, skips, largest images, format problems) and write nothing; "
                        "exit 2 on format problems, 1 if some files would fail")
    e = p.add_argument_group("execution")
    e.add_argument("-j", "--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: the number of cores; at most "
                        f"{MAX_WORKERS_PER_CORE} per core)")
    e.add_argument("--threads-per-worker", type=int, default=None, metavar="T",
                   help="Numba threads per worker (default: cores // workers, at least 1)")
    e.add_argument("--timeout-per-file", type=float, default=None, metavar="SECONDS",
                   help="fail a file (failed:timeout) that takes longer; its worker is killed if it "
                        "does not stop within a grace period")
    e.add_argument("--recycle-after", type=int, default=200, metavar="N",
                   help="restart the worker processes after N files each (bounds memory creep; "
                        "0 = never; default 200)")
    e.add_argument("--max-write-errors", type=int, default=5, metavar="N",
                   help="abort (exit 1) after N consecutive write errors, e.g. disk full (default 5)")
    e.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on dask.distributed: 'local' (a LocalCluster of --workers processes) or "
                        "tcp://HOST:PORT of a running scheduler (same paths on every worker)")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress output, only the summary")
    e.add_argument("-v", "--verbose", action="store_true", help="log every file")
    add_shade_options(p)


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(os.path.abspath(path)))


def _is_within(child: str, parent: str) -> bool:
    """``child`` equals ``parent`` or lies below it (both normalised real paths)."""
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Validate parsed arguments into a :class:`RunConfig` (raises :class:`UsageError`)."""
    from fastshade.cli_args import options_from_args
    from fastshade.io import ImageError, check_writable, read_image, validate_output

    try:
        opts = options_from_args(args)
    except ValueError as err:
        raise UsageError(str(err)) from None
    in_root = os.path.abspath(args.input)
    out_root = os.path.abspath(args.output)
    if not os.path.isdir(in_root):
        raise UsageError(f"IN is not a folder: {args.input}")
    if os.path.exists(out_root) and not os.path.isdir(out_root):
        raise UsageError(f"OUT exists and is not a folder: {args.output}")
    n_in, n_out = _norm(in_root), _norm(out_root)
    if n_in == n_out:
        raise UsageError("OUT must differ from IN (inputs are never overwritten)")
    if _is_within(n_in, n_out):
        raise UsageError("OUT contains IN: outputs could land on inputs; choose an OUT outside IN")
    fmt = _FORMAT_CHOICES[args.format]
    depth = args.depth
    if fmt != "same":
        try:  # the combinations that can never work fail here, before any file is looked at
            validate_output(fmt, has_alpha=False, bit_depth=depth or 8)
        except ImageError as err:
            raise UsageError(f"--format {args.format} --depth {depth}: {err.message}") from None
    if args.resume and args.if_exists == "overwrite":
        raise UsageError("--resume skips finished files; it cannot be combined with --if-exists overwrite")
    cores = available_cores()
    workers = args.workers if args.workers is not None else cores
    if workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")
    if args.scheduler in (None, "local") and workers > MAX_WORKERS_PER_CORE * cores:
        raise UsageError(f"--workers {workers} is more than {MAX_WORKERS_PER_CORE} per core on this "
                         f"machine ({cores} cores): every worker is a process with its own "
                         f"~0.5 GB; use at most {MAX_WORKERS_PER_CORE * cores}")
    threads = args.threads_per_worker if args.threads_per_worker is not None else max(1, cores // workers)
    if threads < 1:
        raise UsageError(f"--threads-per-worker must be >= 1, got {threads}")
    if args.timeout_per_file is not None and not 0 < args.timeout_per_file < math.inf:
        raise UsageError(f"--timeout-per-file must be a finite number of seconds > 0, "
                         f"got {args.timeout_per_file}")
    if args.max_pixels is not None and args.max_pixels < 1:
        raise UsageError("--max-pixels must be >= 1")
    if args.recycle_after < 0 or args.max_write_errors < 1:
        raise UsageError("--recycle-after must be >= 0 and --max-write-errors >= 1")
    sample = None
    if args.sample:
        spath = os.path.abspath(args.sample)
        try:
            read_image(spath, max_pixels=args.max_pixels)
            size, mtime_ns = _stat_fingerprint(spath)
        except ImageError as err:
            raise UsageError(f"cannot use the sample: {err}") from None
        except OSError as err:
            raise UsageError(f"cannot use the sample {args.sample}: {err.strerror or err}") from None
        sample = {"path": spath, "size": size, "mtime_ns": mtime_ns}
    manifest = os.path.abspath(args.manifest) if args.manifest else os.path.join(out_root, DEFAULT_MANIFEST_NAME)
    try:  # before any folder is made or worker started
        check_writable(os.path.join(out_root, DEFAULT_MANIFEST_NAME), "OUT")
        check_writable(manifest, "--manifest")
    except ValueError as err:
        raise UsageError(str(err)) from None
    params = _digest({
        "output_version": OUTPUT_VERSION, "options": opts.digest(), "format": fmt, "depth": depth,
        "frames": args.frames, "exif": args.exif,
        "sample": None if sample is None else [sample["size"], sample["mtime_ns"], os.path.basename(sample["path"])],
    })
    return RunConfig(
        in_root=in_root, out_root=out_root, manifest=manifest, options=opts, fmt=fmt, depth=depth, sample=sample,
        recursive=args.recursive, include=tuple(args.include), exclude=tuple(args.exclude),
        include_hidden=args.include_hidden, on_collision=args.on_collision, if_exists=args.if_exists,
        resume=args.resume or args.retry_failed, retry_failed=args.retry_failed, hash=args.hash,
        dry_run=args.dry_run, max_pixels=args.max_pixels, frames=args.frames, exif=args.exif,
        workers=workers, threads_per_worker=threads, timeout=args.timeout_per_file,
        recycle_after=args.recycle_after, max_write_errors=args.max_write_errors, scheduler=args.scheduler,
        quiet=args.quiet, verbose=args.verbose, out_inside_in=_is_within(n_out, n_in),
        run_id=time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}", params=params, options_digest=opts.digest(),
    )


# ======================================================================================
# Walking IN
# ======================================================================================


@dataclass
class _Listing:
    """One folder of IN: its files (sorted by name) and records for what was left out."""

    rel_dir: str
    abs_dir: str
    files: list[tuple[str, str, str]]  # (name, abs path, rel path)
    notes: list[dict[str, Any]] = field(default_factory=list)  # one per left-out file (ticks progress)
    dir_notes: list[dict[str, Any]] = field(default_factory=list)  # folder-level records


def _join_rel(rel_dir: str, name: str) -> str:
    return f"{rel_dir}/{name}" if rel_dir else name


def is_junk(name: str) -> bool:
    """OS junk: ``.DS_Store``, ``Thumbs.db``, ``desktop.ini``, AppleDouble ``._*`` ..."""
    return name.lower() in JUNK_NAMES or name.startswith("._")


def _glob_match(patterns: tuple[str, ...], rel: str, name: str) -> bool:
    rel_l, name_l = rel.lower(), name.lower()
    return any(fnmatch.fnmatchcase(rel_l, p.lower()) or fnmatch.fnmatchcase(name_l, p.lower()) for p in patterns)


def iter_listings(cfg: RunConfig) -> Iterator[_Listing]:
    """Walk IN lazily, one folder at a time, in a reproducible order.

    Each folder is read with ``os.scandir`` and sorted by name; its files come
    out before its sub-folders, which are visited depth-first in name order.
    Only the current folder's listing and the stack of pending sub-folders are
    held in memory.  Symlinked folders are followed once: a folder whose
    (device, inode) was already visited is a loop or a duplicate link and is
    not entered again.  OUT (and anything resolving to it) is never entered.
    """
    out_norm = _norm(cfg.out_root)
    manifest_norm = _norm(cfg.manifest) if cfg.manifest else None
    try:
        out_st = os.stat(cfg.out_root)
        out_key: tuple[int, int] | None = (out_st.st_dev, out_st.st_ino)
    except OSError:
        out_key = None
    visited: set[tuple[int, int]] = set()
    stack: list[tuple[str, str]] = [(cfg.in_root, "")]
    while stack:
        abs_dir, rel_dir = stack.pop()
        shown = (rel_dir or ".") + "/"
        try:
            st = os.stat(abs_dir)
        except OSError as err:
            yield _Listing(rel_dir, abs_dir, [], dir_notes=[_dir_record(cfg, shown, "permission" if isinstance(
                err, PermissionError) else "vanished", f"cannot open folder: {err.strerror or err}", False)])
            continue
        key = (st.st_dev, st.st_ino)
        if key == out_key or _norm(abs_dir) == out_norm:
            continue
        if key in visited:
            yield _Listing(rel_dir, abs_dir, [], dir_notes=[_dir_record(
                cfg, shown, "symlink_loop", "folder already visited (symlink loop or second link); not entered",
                True)])
            continue
        visited.add(key)
        try:
            with os.scandir(abs_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            yield _Listing(rel_dir, abs_dir, [], dir_notes=[_dir_record(
                cfg, shown, "permission" if isinstance(err, PermissionError) else "unreadable_folder",
                f"cannot list folder: {err.strerror or err}", False)])
            continue
        listing = _Listing(rel_dir, abs_dir, [])
        subdirs: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name
            rel = _join_rel(rel_dir, name)
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                is_dir = is_file = False
            if is_dir:
                lname = name.lower()
                if lname in _JUNK_DIRS or (name.startswith(".") and not cfg.include_hidden):
                    continue
                if cfg.exclude and _glob_match(cfg.exclude, rel, name):
                    continue
                if cfg.recursive:
                    subdirs.append((entry.path, rel))
                continue
            if cfg.exclude and _glob_match(cfg.exclude, rel, name):
                continue
            if cfg.include and not _glob_match(cfg.include, rel, name):
                continue
            if manifest_norm is not None and name.endswith(".jsonl") and _norm(entry.path) == manifest_norm:
                continue  # our own manifest, when --manifest points inside IN
            if is_junk(name):
                listing.notes.append(_skip_record(cfg, rel, "junk", "OS junk file"))
            elif name.startswith(".") and not cfg.include_hidden:
                listing.notes.append(_skip_record(cfg, rel, "hidden", "hidden file (see --include-hidden)"))
            elif is_file:
                listing.files.append((name, entry.path, rel))
            elif entry.is_symlink() and not os.path.exists(entry.path):
                listing.notes.append(_skip_record(cfg, rel, "broken_symlink", "symbolic link to nothing"))
            else:
                listing.notes.append(_skip_record(cfg, rel, "not_a_file", "not a regular file (FIFO, socket, ...)"))
        yield listing
        stack.extend(reversed(subdirs))


def count_inputs(cfg: RunConfig, stop: threading.Event | None = None) -> int:
    """How many input entries the walk will produce (for the progress total)."""
    n = 0
    for listing in iter_listings(cfg):
        if stop is not None and stop.is_set():
            break
        n += len(listing.files) + len(listing.notes)
    return n


# ======================================================================================
# Manifest
# ======================================================================================


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _base_record(cfg: RunConfig, rel: str) -> dict[str, Any]:
    return {
        "path": rel, "output": None, "status": "ok", "reason": None, "message": "", "warnings": [],
        "width": None, "height": None, "pixels": None, "seconds": 0.0, "worker": None,
        "fingerprint": None, "options": cfg.options_digest, "params": cfg.params,
        "format": None, "depth": None, "input_format": None, "run": cfg.run_id, "time": None,
    }


def _skip_record(cfg: RunConfig, rel: str, reason: str, message: str, *, skipped: bool = True) -> dict[str, Any]:
    rec = _base_record(cfg, rel)
    rec.update(status=_status(reason, skipped=skipped), reason=reason, message=_one_line(message))
    return rec


def _dir_record(cfg: RunConfig, rel: str, reason: str, message: str, skipped: bool) -> dict[str, Any]:
    return _skip_record(cfg, rel, reason, message, skipped=skipped)


def _dumps(rec: dict[str, Any]) -> str:
    try:
        line = json.dumps(rec, ensure_ascii=False)
        line.encode("utf-8")
        return line
    except UnicodeEncodeError:  # undecodable file names (surrogate escapes): escape everything
        return json.dumps(rec, ensure_ascii=True)


def read_manifest(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the records of a manifest, skipping blank or torn lines (a killed writer)."""
    try:
        fh = open(path, encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return
    with fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("path"), str):
                yield rec


@dataclass(frozen=True)
class _Prior:
    """What the manifest last said about one input (kept compact: one per input)."""

    status: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    params: str | None
    output: str | None


def load_manifest_index(path: str) -> dict[str, _Prior]:
    """Last record per input path (later lines win)."""
    index: dict[str, _Prior] = {}
    for rec in read_manifest(path):
        fp = rec.get("fingerprint") or {}
        index[rec["path"]] = _Prior(str(rec.get("status")), fp.get("size"), fp.get("mtime_ns"), fp.get("sha256"),
                                    rec.get("params"), rec.get("output"))
    return index


class ManifestWriter:
    """The single writer of the JSON-lines manifest (the driver process).

    Opens the file for appending, takes an exclusive ``flock`` (a second run
    on the same manifest is a usage error), repairs a torn last line left by
    a killed run, and flushes every record (``fsync`` at most once a second
    and on close).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._fh = open(path, "a+b")  # noqa: SIM115 (closed in close())
        try:
            import fcntl

            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover (Windows: no advisory lock)
            pass
        except OSError:
            self._fh.close()
            raise UsageError(f"the manifest {path} is in use by another fastshade run") from None
        self._fh.seek(0, os.SEEK_END)
        if self._fh.tell() > 0:
            self._fh.seek(-1, os.SEEK_END)
            if self._fh.read(1) != b"\n":
                self._fh.write(b"\n")
        self._last_sync = time.monotonic()
        self.lines = 0

    def write(self, rec: dict[str, Any]) -> None:
        rec["time"] = rec.get("time") or _now()
        self._fh.write((_dumps(rec) + "\n").encode("utf-8", errors="surrogateescape"))
        self._fh.flush()
        self.lines += 1
        if time.monotonic() - self._last_sync > 1.0:
            os.fsync(self._fh.fileno())
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fh.closed:
            return
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        finally:
            self._fh.close()


# ======================================================================================
# Planning: probe headers, name outputs, detect collisions, decide resume
# ======================================================================================


@dataclass
class _Probed:
    name: str
    abs_path: str
    rel: str
    size: int | None = None
    mtime_ns: int | None = None
    info: Any = None  # fastshade.io.ImageInfo
    record: dict[str, Any] | None = None  # final record when not an image / unreadable
    out_name: str | None = None
    out_fmt: str | None = None
    warnings: list[str] = field(default_factory=list)


def _stem_ext(name: str) -> tuple[str, str]:
    stem, ext = os.path.splitext(name)
    return stem, ext[1:]


def _header_has_alpha(path: str, info: Any) -> bool:
    """Whether an image will decode with alpha, from its header (no pixel decode)."""
    flag = getattr(info, "has_alpha", None)
    if flag is not None:
        return bool(flag)
    if info.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    if info.mode not in ("P", "L", "RGB", "1", "I", "I;16", "I;16B", "I;16L"):
        return False
    try:  # palette/grey/RGB with a tRNS chunk: Pillow parses it with the header
        from PIL import Image

        with Image.open(path) as im:
            return "transparency" in im.info or (
                im.mode == "P" and getattr(im.palette, "mode", "") == "RGBA")
    except Exception:  # noqa: BLE001 (unreadable header: the worker will report it)
        return False


class Planner:
    """Turns the walk into manifest records (decided here) and tasks (for workers)."""

    def __init__(self, cfg: RunConfig, index: dict[str, _Prior]) -> None:
        self.cfg = cfg
        self.index = index
        self.next_id = 0
        self.format_problems: list[dict[str, Any]] = []
        from fastshade.io import ImageError, validate_output

        # Output formats that cannot hold some input (alpha, 16-bit): those need a per-file check.
        self._no_alpha: set[str] = set()
        self._restricted: set[str] = set()
        for out_fmt in OUTPUT_EXTENSIONS:
            for has_alpha, bits in ((True, 8), (False, 16)):
                try:
                    validate_output(out_fmt, has_alpha=has_alpha, bit_depth=bits)
                except ImageError:
                    self._restricted.add(out_fmt)
                    if has_alpha:
                        self._no_alpha.add(out_fmt)
        self._base = cfg.task_base()

    # -- per file ------------------------------------------------------------------------
    def _probe(self, name: str, abs_path: str, rel: str) -> _Probed:
        from fastshade.io import ImageError, probe_image

        pr = _Probed(name, abs_path, rel)
        cfg = self.cfg
        try:
            st = os.stat(abs_path)
            pr.size, pr.mtime_ns = int(st.st_size), int(st.st_mtime_ns)
        except FileNotFoundError:
            pr.record = _skip_record(cfg, rel, "vanished", "input vanished before it was planned", skipped=False)
            return pr
        except OSError as err:
            pr.record = _skip_record(cfg, rel, "permission" if isinstance(err, PermissionError) else "unreadable",
                                     f"cannot stat: {err.strerror or err}", skipped=False)
            return pr
        try:
            pr.info = probe_image(abs_path, max_pixels=None)  # the size limit is checked below, keeping w x h
        except ImageError as err:
            code = "vanished" if err.code == "not_found" else err.code
            pr.record = _skip_record(cfg, rel, code, err.message, skipped=code in _SKIP_CODES)
            pr.record["fingerprint"] = {"size": pr.size, "mtime_ns": pr.mtime_ns}
            return pr
        n_px = pr.info.width * pr.info.height
        if cfg.max_pixels is not None and n_px > cfg.max_pixels:
            from fastshade.io import estimate_bytes

            gib = estimate_bytes(pr.info.height, pr.info.width) / 2**30
            pr.record = _skip_record(
                cfg, rel, "too_large",
                f"{pr.info.width}x{pr.info.height} px ({n_px / 1e6:.1f} Mpx) exceeds --max-pixels "
                f"{cfg.max_pixels:,} (estimated {gib:.1f} GiB working memory); not decoded")
            pr.record.update(fingerprint={"size": pr.size, "mtime_ns": pr.mtime_ns}, width=pr.info.width,
                             height=pr.info.height, pixels=n_px, input_format=pr.info.format)
            return pr
        if pr.info.frames > 1 and cfg.frames == "reject":
            pr.record = _skip_record(cfg, rel, "multi_frame", f"{pr.info.frames} frames/pages and --frames reject",
                                     skipped=False)
            pr.record["fingerprint"] = {"size": pr.size, "mtime_ns": pr.mtime_ns}
        return pr

    def _output_format(self, pr: _Probed) -> str:
        if self.cfg.fmt != "same":
            return self.cfg.fmt
        if pr.info.format in OUTPUT_EXTENSIONS:
            return pr.info.format
        pr.warnings.append(f"format_{pr.info.format}_written_as_png")
        return "png"

    def plan_listing(self, listing: _Listing) -> Iterator[tuple[str, Any]]:
        """Items for one folder: ``("record", rec)``, ``("task", task)``, ``("done", rel)``, ``("dir", rec)``."""
        for rec in listing.dir_notes:
            yield "dir", rec
        for rec in listing.notes:
            yield "record", rec
        groups: dict[str, list[tuple[str, str, str]]] = {}
        for item in listing.files:
            groups.setdefault(_stem_ext(item[0])[0], []).append(item)
        stems = set(groups)
        used: set[str] = set()
        for item in listing.files:
            group = groups[_stem_ext(item[0])[0]]
            if item is not group[0]:
                continue  # planned together with the first member of its group
            probed = [self._probe(*member) for member in group]
            images = [pr for pr in probed if pr.record is None]
            for pr in images:
                pr.out_fmt = self._output_format(pr)
                pr.out_name = _stem_ext(pr.name)[0] + OUTPUT_EXTENSIONS[pr.out_fmt]
            by_out: dict[str, list[_Probed]] = {}
            for pr in images:
                by_out.setdefault(pr.out_name, []).append(pr)  # type: ignore[arg-type]
            for out_name, clash in by_out.items():
                if len(clash) < 2:
                    continue
                names = ", ".join(pr.name for pr in clash)
                for pr in clash:
                    if self.cfg.on_collision == "error":
                        pr.record = _skip_record(
                            self.cfg, pr.rel, "collision",
                            f"{names} would all be written to {out_name}; rename one or use --on-collision suffix",
                            skipped=False)
                        pr.record["output"] = _join_rel(listing.rel_dir, out_name)
                        pr.record["fingerprint"] = {"size": pr.size, "mtime_ns": pr.mtime_ns}
                    else:
                        stem, ext = _stem_ext(pr.name)
                        base = f"{stem}_{ext or 'noext'}"
                        candidate, n = base, 1
                        while candidate in stems or candidate in used:
                            n += 1
                            candidate = f"{base}_{n}"
                        used.add(candidate)
                        pr.out_name = candidate + os.path.splitext(out_name)[1]
                        pr.warnings.append("renamed_on_collision")
            for pr in probed:
                yield from self._decide(listing, pr)

    def _decide(self, listing: _Listing, pr: _Probed) -> Iterator[tuple[str, Any]]:
        cfg = self.cfg
        if pr.record is not None:
            if self._silently_done(pr):
                yield "done", pr.rel
            elif not cfg.retry_failed or self._was_failed(pr.rel):
                yield "record", pr.record
            else:
                yield "done", pr.rel
            return
        info = pr.info
        out_rel = _join_rel(listing.rel_dir, pr.out_name)  # type: ignore[arg-type]
        out_abs = os.path.join(cfg.out_root, *out_rel.split("/"))
        out_fmt = pr.out_fmt or cfg.fmt
        depth_in = 16 if info.bit_depth > 8 else 8
        out_depth = cfg.depth or depth_in
        rec = _base_record(cfg, pr.rel)
        rec.update(output=out_rel, width=info.width, height=info.height, pixels=info.width * info.height,
                   format=out_fmt, depth=out_depth, input_format=info.format,
                   fingerprint={"size": pr.size, "mtime_ns": pr.mtime_ns}, warnings=list(pr.warnings))
        if out_fmt in self._restricted:
            from fastshade.io import ImageError, validate_output

            try:
                has_alpha = _header_has_alpha(pr.abs_path, info) if out_fmt in self._no_alpha else False
                validate_output(out_fmt, has_alpha=has_alpha, bit_depth=out_depth)
            except ImageError as err:
                rec.update(status="failed:unsupported_output", reason="unsupported_output",
                           message=_one_line(f"{err.message} (input {info.mode}, {info.bit_depth}-bit)"))
                self.format_problems.append(rec)
                yield "record", rec
                return
        prior = self.index.get(pr.rel)
        if cfg.retry_failed and not (prior is not None and prior.status.startswith("failed:")):
            yield "done", pr.rel
            return
        if cfg.if_exists != "overwrite" and prior is not None and self._matches(prior, pr):
            if prior.status in ("ok", "skipped:exists") and prior.output == out_rel and _output_valid(out_abs):
                if cfg.resume:
                    yield "done", pr.rel
                else:
                    rec.update(status="skipped:exists", reason="exists",
                               message="output exists and the manifest says it is done for this input and options")
                    yield "record", rec
                return
            if cfg.resume and not cfg.retry_failed and prior.status != "ok" and prior.status != "skipped:exists":
                yield "done", pr.rel  # a final skipped/failed record for the same input and options
                return
        if cfg.if_exists == "error" and os.path.lexists(out_abs):
            rec.update(status="failed:exists", reason="exists",
                       message="output path exists and --if-exists error")
            yield "record", rec
            return
        task = dict(self._base)
        task.update(id=self.next_id, rel=pr.rel, out_rel=out_rel, in_path=pr.abs_path, out_path=out_abs,
                    format=out_fmt, depth=cfg.depth, expect=(pr.size, pr.mtime_ns), record=rec)
        self.next_id += 1
        yield "task", task

    def _was_failed(self, rel: str) -> bool:
        prior = self.index.get(rel)
        return prior is not None and prior.status.startswith("failed:")

    def _matches(self, prior: _Prior, pr: _Probed) -> bool:
        if prior.params != self.cfg.params or prior.size != pr.size:
            return False
        if self.cfg.hash and prior.sha256:
            try:
                return _sha256_file(pr.abs_path) == prior.sha256
            except OSError:
                return False
        return prior.mtime_ns == pr.mtime_ns

    def _silently_done(self, pr: _Probed) -> bool:
        """--resume: a driver-decided record (not an image, too large...) already in the manifest."""
        if not self.cfg.resume or self.cfg.retry_failed:
            return False
        prior = self.index.get(pr.rel)
        if prior is None or pr.record is None:
            return False
        fp = pr.record.get("fingerprint") or {}
        return (prior.status == pr.record["status"] and prior.params == self.cfg.params
                and prior.size == fp.get("size") and prior.mtime_ns == fp.get("mtime_ns"))

    def items(self) -> Iterator[tuple[str, Any]]:
        for listing in iter_listings(self.cfg):
            yield from self.plan_listing(listing)


def _output_valid(path: str) -> bool:
    """An existing output whose header decodes and whose data is all there (the cheap
    completeness check of :func:`fastshade.io.probe_output`: end markers, no pixel decoded)."""
    from fastshade.io import ImageError, probe_output

    try:
        probe_output(path)  # an empty file is no image
        return True
    except (OSError, ImageError):
        return False


# ======================================================================================
# Backends: a local spawn process pool (and dask.distributed in fastshade.run.dask)
# ======================================================================================


class LocalBackend:
    """``concurrent.futures.ProcessPoolExecutor`` (spawn) with crash and timeout handling.

    ``wait`` returns ``(task, kind, value)`` tuples; ``kind`` is ``done``
    (value = the worker's record), ``crash`` (the pool broke while the task
    was in flight: a suspect), ``timeout`` (killed by the hard timeout) or
    ``requeue`` (collateral of a hard-timeout kill: run it again normally).
    A broken pool is replaced on the next submit.  Workers are recycled
    after ``recycle_after`` files each by draining and rebuilding the pool
    (``max_tasks_per_child`` is avoided: it can hang on Python < 3.12).
    """

    name = "local"

    def __init__(self, cfg: RunConfig) -> None:
        import multiprocessing

        self.cfg = cfg
        self.workers = cfg.workers
        self.window = 2 * cfg.workers
        self._ctx = multiprocessing.get_context("spawn")
        self._starts = self._ctx.SimpleQueue()
        self._pool: Any = None
        self._futures: dict[Any, dict[str, Any]] = {}
        self._started: dict[int, tuple[int, float]] = {}
        self._submitted = 0
        self._killed: int | None = None
        self._recycle = False
        self.pools_started = 0

    def _new_pool(self) -> Any:
        from concurrent.futures import ProcessPoolExecutor

        self.pools_started += 1
        self._submitted = 0
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=self._ctx, initializer=_worker_init,
                                   initargs=(self.cfg.threads_per_worker, self._starts, os.getpid()))

    def probe(self) -> list[dict[str, Any]]:
        """Start every worker now (in parallel) and check it; returns one report per probe."""
        if self._pool is None:
            self._pool = self._new_pool()
        futs = [self._pool.submit(_worker_probe, self.cfg.in_root, self.cfg.out_root)
                for _ in range(self.workers)]
        return [fut.result(timeout=300) for fut in futs]

    def in_flight(self) -> int:
        return len(self._futures)

    def capacity(self) -> int:
        due = self.cfg.recycle_after and self._submitted >= self.cfg.recycle_after * self.workers
        if (due or self._recycle) and self._pool is not None:
            if self._futures:
                return 0  # draining before the recycle
            self._shutdown_pool()
            self._recycle = False
        return self.window - len(self._futures)

    def submit(self, task: dict[str, Any]) -> None:
        if self._pool is None:
            self._pool = self._new_pool()
        self._started.pop(task["id"], None)
        fut = self._pool.submit(_run_task, _wire_task(task))
        self._submitted += 1
        self._futures[fut] = task

    def _drain_starts(self) -> None:
        while not self._starts.empty():
            task_id, pid, t0 = self._starts.get()
            self._started[task_id] = (pid, t0)

    def wait(self, timeout: float) -> list[tuple[dict[str, Any], str, Any]]:
        from concurrent.futures import FIRST_COMPLETED
        from concurrent.futures import wait as futures_wait

        self._drain_starts()
        if not self._futures:
            time.sleep(min(timeout, 0.05))
            return []
        done, _ = futures_wait(list(self._futures), timeout=timeout, return_when=FIRST_COMPLETED)
        out: list[tuple[dict[str, Any], str, Any]] = []
        broken = False
        for fut in done:
            task = self._futures.pop(fut)
            kind, value = self._outcome(fut, task)
            broken = broken or kind in ("crash", "timeout", "requeue")
            if kind == "done" and value.get("reason") == "timeout":
                self._recycle = True  # an interrupted worker is not trusted with more files
            out.append((task, kind, value))
        if broken:
            # Every other in-flight future fails with BrokenProcessPool too: collect them all now.
            rest, _ = futures_wait(list(self._futures), timeout=60)
            for fut in rest:
                task = self._futures.pop(fut)
                out.append((task, *self._outcome(fut, task)))
            for fut, task in list(self._futures.items()):  # not resolved in time: treat as suspects
                self._futures.pop(fut)
                out.append((task, "crash", "worker pool broke"))
            self._shutdown_pool(kill=True)
            self._killed = None
        else:
            self._check_hard_timeouts()
        self._drain_starts()
        for task, _kind, _value in out:
            info = self._started.pop(task["id"], None)
            if info is not None:
                task["_worker_pid"] = info[0]
        return out

    def _outcome(self, fut: Any, task: dict[str, Any]) -> tuple[str, Any]:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return "done", fut.result()
        except BrokenProcessPool as err:
            if self._killed is not None:
                if task["id"] == self._killed:
                    info = self._started.get(task["id"])
                    return "timeout", (time.time() - info[1]) if info else str(err)
                return "requeue", str(err)
            return "crash", "its worker process died without a result"
        except Exception as err:  # noqa: BLE001 (e.g. an unpicklable result: a bug, keep going)
            return "error", f"{type(err).__name__}: {err}"

    def _check_hard_timeouts(self) -> None:
        if not self.cfg.timeout or self._killed is not None:
            return
        grace = max(5.0, 0.5 * self.cfg.timeout)
        now = time.time()
        for task in self._futures.values():
            info = self._started.get(task["id"])
            if info and now - info[1] > self.cfg.timeout + grace:
                self._killed = task["id"]
                log.warning("%s: still running %.0f s after --timeout-per-file; killing worker %d",
                            task["rel"], now - info[1] - self.cfg.timeout, info[0])
                with contextlib.suppress(OSError):
                    os.kill(info[0], signal.SIGKILL)
                return

    def _shutdown_pool(self, kill: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            for proc in list(getattr(pool, "_processes", {}).values()):
                with contextlib.suppress(Exception):
                    proc.kill()
        pool.shutdown(wait=True, cancel_futures=True)

    def close(self, kill: bool = False) -> None:
        self._futures.clear()
        self._shutdown_pool(kill=kill)


def _wire_task(task: dict[str, Any]) -> dict[str, Any]:
    """The part of a task a worker needs (the driver keeps the planned record)."""
    return {k: v for k, v in task.items() if k != "record"}


# ======================================================================================
# Progress and summary
# ======================================================================================


class Progress:
    """ok/skip/fail counters, a tqdm bar on a TTY, plain log lines otherwise."""

    def __init__(self, cfg: RunConfig, stream: Any) -> None:
        self.cfg = cfg
        self.stream = stream
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.done_earlier = 0
        self.total: int | None = None
        self.seen = 0
        self.t0 = time.monotonic()
        self._last_line = self.t0
        self.bar: Any = None
        self._counter_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._counted: list[int] = []
        is_tty = bool(getattr(stream, "isatty", lambda: False)())
        if not cfg.quiet and is_tty:
            from tqdm import tqdm

            self.bar = tqdm(total=None, unit="file", file=stream, dynamic_ncols=True, smoothing=0.1,
                            desc="fastshade run")
        if not cfg.quiet:
            self._counter_thread = threading.Thread(target=self._count, daemon=True, name="fastshade-count")
            self._counter_thread.start()

    def _count(self) -> None:
        with contextlib.suppress(Exception):
            self._counted.append(count_inputs(self.cfg, self._stop))

    def _poll_total(self) -> None:
        if self.total is None and self._counted:
            self.total = self._counted[0]
            if self.bar is not None:
                self.bar.total = self.total
                self.bar.refresh()

    def record(self, rec: dict[str, Any], tick: bool = True) -> None:
        """Count one manifest record (``tick=False``: a folder-level record, not an input file)."""
        status = rec["status"]
        kind = "ok" if status == "ok" else status.split(":", 1)[0]
        self.counts[kind] += 1
        if kind != "ok":
            self.reasons[status] += 1
        if kind == "failed":
            log.warning("%s %s: %s", status, rec["path"], rec["message"])
        elif self.cfg.verbose:
            log.info("%s %s%s", status, rec["path"], f": {rec['message']}" if rec["message"] else "")
        if tick:
            self.seen += 1
            self._advance()

    def done(self) -> None:
        self.done_earlier += 1
        self.seen += 1
        self._advance()

    def _advance(self) -> None:
        self._poll_total()
        if self.bar is not None:
            self.bar.set_postfix(ok=self.counts["ok"], skip=self.counts["skipped"] + self.done_earlier,
                                 fail=self.counts["failed"], refresh=False)
            self.bar.update(1)

    def tick(self) -> None:
        """Periodic plain progress line when there is no bar (every 10 s)."""
        self._poll_total()
        if self.bar is not None or self.cfg.quiet:
            return
        now = time.monotonic()
        if now - self._last_line < 10.0:
            return
        self._last_line = now
        rate = self.seen / max(now - self.t0, 1e-9)
        total = f"/{self.total}" if self.total is not None else ""
        eta = ""
        if self.total and rate > 0:
            eta = f", ETA {_fmt_seconds((self.total - self.seen) / rate)}"
        log.info("progress: %d%s files (%d ok, %d skipped, %d failed), %.2f files/s%s", self.seen, total,
                 self.counts["ok"], self.counts["skipped"] + self.done_earlier, self.counts["failed"], rate, eta)

    def close(self) -> None:
        self._stop.set()
        if self.bar is not None:
            self.bar.close()

    def summary(self, manifest: str, note: str = "") -> str:
        secs = time.monotonic() - self.t0
        processed = self.counts["ok"] + self.counts["failed"]
        parts = [f"{self.counts['ok']} ok", f"{self.counts['skipped']} skipped", f"{self.counts['failed']} failed"]
        if self.done_earlier:
            parts.append(f"{self.done_earlier} already done")
        detail = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in sorted(self.reasons.items())
                           if k.startswith("failed:"))
        text = "fastshade run: " + ", ".join(parts)
        if detail:
            text += f" ({detail})"
        text += f" in {_fmt_seconds(secs)}"
        if processed:
            text += f" ({processed / max(secs, 1e-9):.2f} files/s)"
        text += f"; manifest {manifest}"
        return text + (f"; {note}" if note else "")


def _fmt_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


# ======================================================================================
# The driver
# ======================================================================================


class _Interrupts:
    """Two-stage Ctrl-C (and SIGTERM): first stop submitting, second cancel."""

    def __init__(self) -> None:
        self.count = 0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "_Interrupts":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count == 1:
            log.warning("interrupted: finishing the files in progress, submitting no more "
                        "(press Ctrl-C again to cancel them)")
        else:
            raise KeyboardInterrupt

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _finalise(task: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    """Merge a worker's record into the planned record (manifest schema)."""
    rec = dict(task["record"])
    for key in ("status", "reason", "message", "width", "height", "pixels", "seconds", "cpu_seconds", "worker",
                "worker_seq", "worker_startup_seconds", "format", "depth", "input_format", "stats"):
        if key in value and value[key] is not None:
            rec[key] = value[key]
    rec["warnings"] = list(rec.get("warnings") or []) + [w for w in value.get("warnings") or []
                                                         if w not in (rec.get("warnings") or [])]
    if value.get("sha256"):
        rec["fingerprint"] = dict(rec["fingerprint"] or {}, sha256=value["sha256"])
    rec["status"] = value.get("status", rec["status"])
    rec["reason"] = value.get("reason")
    rec["message"] = _one_line(value.get("message") or "")
    return rec


def _failed(task: dict[str, Any], reason: str, message: str, worker: str | None = None) -> dict[str, Any]:
    rec = dict(task["record"])
    rec.update(status=f"failed:{reason}", reason=reason, message=_one_line(message))
    if worker:
        rec["worker"] = worker
    return rec


def drive(cfg: RunConfig, backend: Any, planner: Planner, writer: ManifestWriter, progress: Progress,
          interrupts: _Interrupts) -> tuple[str | None, bool]:
    """Run the plan through ``backend``; returns (abort reason or None, interrupted?).

    The walk is consumed lazily: at most ``backend.window`` tasks are in
    flight.  When a worker dies every in-flight task becomes a suspect; the
    suspects are then run one at a time with nothing else in flight, and
    only a task that kills its worker alone is recorded ``failed:crashed``.
    """
    items = planner.items()
    exhausted = False
    requeue: deque[dict[str, Any]] = deque()
    suspects: deque[dict[str, Any]] = deque()
    isolated: dict[str, Any] | None = None
    write_errors = 0
    crashes = 0
    abort: str | None = None

    def emit(rec: dict[str, Any]) -> None:
        nonlocal write_errors, crashes, abort
        writer.write(rec)
        progress.record(rec)
        if rec["status"] == "failed:write_error":
            write_errors += 1
            if write_errors >= cfg.max_write_errors and abort is None:
                abort = (f"{write_errors} consecutive write errors (disk full or read-only output folder?); "
                         "stopped submitting")
        elif rec["status"] == "ok":
            write_errors = 0
            crashes = 0
        if rec["status"] == "failed:crashed":
            crashes += 1
            if crashes >= _MAX_CONSECUTIVE_CRASHES and abort is None:
                abort = f"{crashes} files in a row killed their worker; stopped submitting"

    while True:
        stopping = interrupts.count > 0 or abort is not None
        if not stopping:
            if suspects or isolated is not None:
                if isolated is None and backend.in_flight() == 0:
                    isolated = suspects.popleft()
                    log.info("re-running %s alone (its worker pool broke)", isolated["rel"])
                    backend.submit(isolated)
            else:
                while backend.capacity() > 0 and interrupts.count == 0 and abort is None:
                    if requeue:
                        backend.submit(requeue.popleft())
                        continue
                    if exhausted:
                        break
                    try:
                        kind, value = next(items)
                    except StopIteration:
                        exhausted = True
                        break
                    if kind == "task":
                        backend.submit(value)
                    elif kind == "done":
                        progress.done()
                    elif kind == "dir":
                        writer.write(value)
                        progress.record(value, tick=False)
                    else:
                        emit(value)
        if backend.in_flight() == 0:
            if stopping or (exhausted and not requeue and not suspects and isolated is None):
                break
        for task, kind, value in backend.wait(0.2):
            pid = task.pop("_worker_pid", None)
            worker = task.pop("_worker", None) or (f"{socket.gethostname()}:{pid}" if pid else None)
            if kind == "done":
                emit(_finalise(task, value))
            elif kind == "crash":
                if isolated is not None and task["id"] == isolated["id"]:
                    emit(_failed(task, "crashed", f"{_ISOLATION_NOTE} ({value})", worker))
                else:
                    suspects.append(task)
            elif kind == "timeout":
                rec = _failed(task, "timeout", f"exceeded --timeout-per-file {cfg.timeout:g} s; worker killed",
                              worker)
                rec["seconds"] = round(float(value), 6) if isinstance(value, float) else rec["seconds"]
                emit(rec)
            elif kind == "requeue":
                requeue.appendleft(task)
            else:
                emit(_failed(task, "error", str(value), worker))
            if isolated is not None and task["id"] == isolated["id"] and kind != "requeue":
                isolated = None
            elif isolated is not None and task["id"] == isolated["id"]:
                suspects.appendleft(isolated)
                isolated = None
        progress.tick()
    return abort, interrupts.count > 0


def _make_backend(cfg: RunConfig) -> Any:
    if cfg.scheduler:
        from fastshade.run.dask import DaskBackend

        return DaskBackend(cfg)
    return LocalBackend(cfg)


def _check_workers(cfg: RunConfig, backend: Any) -> None:
    """Every worker runs the same fastshade version and sees IN and OUT at the same paths."""
    import fastshade

    try:
        reports = backend.probe()
    except UsageError:
        raise
    except Exception as err:  # noqa: BLE001
        raise UsageError(f"workers failed to start: {type(err).__name__}: {_one_line(str(err))}") from None
    for rep in reports:
        where = f"worker {rep.get('host')}:{rep.get('pid')}"
        if rep.get("version") != fastshade.__version__:
            raise UsageError(f"{where} runs fastshade {rep.get('version')}, this client {fastshade.__version__}; "
                             "install the same version everywhere")
        if not rep.get("read_in"):
            raise UsageError(f"{where} cannot read IN at {cfg.in_root} (workers need the same paths)")
        if not rep.get("write_out"):
            raise UsageError(f"{where} cannot write OUT at {cfg.out_root} (workers need the same paths)")


# ======================================================================================
# Dry run
# ======================================================================================


def dry_run(cfg: RunConfig, out: Any) -> int:
    """Print the plan (nothing is written): exit 2 on format problems, 1 on planned failures, else 0."""
    from fastshade.io import estimate_bytes

    index = load_manifest_index(cfg.manifest)
    planner = Planner(cfg, index)
    statuses: Counter[str] = Counter()
    n_tasks = 0
    total_px = 0
    largest: list[tuple[int, str, str]] = []
    failures: list[dict[str, Any]] = []
    done = 0
    for kind, value in planner.items():
        if kind == "done":
            done += 1
            continue
        rec = value["record"] if kind == "task" else value
        if kind == "task":
            n_tasks += 1
            total_px += rec["pixels"] or 0
        else:
            statuses[rec["status"]] += 1
            if rec["status"].startswith("failed:"):
                failures.append(rec)
        if rec.get("pixels"):
            entry = (int(rec["pixels"]), rec["path"], f"{rec['width']}x{rec['height']}"
                     + ("" if kind == "task" else f" [{rec['status']}]"))
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
            gib = estimate_bytes(int(dims[1]), int(dims[0])) / 2**30
            print(f"    {rel}: {desc}, {px / 1e6:.2f} Mpx, ~{gib:.2f} GiB to shade", file=out)
    for rec in failures[:20]:
        print(f"  {rec['status']} {rec['path']}: {rec['message']}", file=out)
    if len(failures) > 20:
        print(f"  ... and {len(failures) - 20} more failures", file=out)
    if planner.format_problems:
        print(f"  format problems: {len(planner.format_problems)} (the run would stop with exit status 2)",
              file=out)
        return 2
    return 1 if failures else 0


def _preflight_formats(cfg: RunConfig) -> None:
    """--format jpg/webp: read every header first; RGBA or 16-bit inputs are a usage error."""
    planner = Planner(cfg, {})
    for _ in planner.items():
        pass
    problems = planner.format_problems
    if problems:
        shown = "; ".join(f"{rec['path']}: {rec['message']}" for rec in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        hint = " (use --format png/tiff, or --depth 8 for 16-bit inputs)"
        name = "jpg" if cfg.fmt == "jpeg" else cfg.fmt
        raise UsageError(f"--format {name} cannot hold {len(problems)} input(s): {shown}{more}{hint}")


# ======================================================================================
# Entry point
# ======================================================================================


@contextlib.contextmanager
def _logging_to(stream: Any, verbose: bool) -> Iterator[None]:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("fastshade: %(message)s"))
    old_level, old_prop = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
        log.propagate = old_prop


@contextlib.contextmanager
def _worker_env_for_spawn(threads: int) -> Iterator[None]:
    """Export the worker thread environment while workers may be spawned (restored after)."""
    env = worker_environment(threads)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main(args: argparse.Namespace) -> int:
    """``fastshade run``: returns the exit status (0 ok, 1 failures, 2 usage, 130 interrupted)."""
    from fastshade.cli_args import fail

    try:
        cfg = config_from_args(args)
    except UsageError as err:
        return fail(str(err))
    stream = sys.stderr
    with _logging_to(stream, cfg.verbose):
        if cfg.dry_run:
            try:
                return dry_run(cfg, sys.stdout)
            except UsageError as err:
                return fail(str(err))
        try:
            return _run(cfg, stream)
        except UsageError as err:
            return fail(str(err))


def _run(cfg: RunConfig, stream: Any) -> int:
    from fastshade.io import sweep_stale_temps
    from tqdm.contrib.logging import logging_redirect_tqdm

    started = time.monotonic()
    if cfg.fmt != "same" and cfg.fmt in Planner(cfg, {})._restricted:
        _preflight_formats(cfg)  # exit 2 before anything is created
    if cfg.out_inside_in:
        log.info("note: OUT is inside IN; it is left out of the walk (its files are never read as inputs)")
    interrupted = False
    abort: str | None = None
    with _worker_env_for_spawn(cfg.threads_per_worker):
        backend = _make_backend(cfg)  # (a scheduler that cannot be reached: exit 2, nothing created)
        try:
            os.makedirs(cfg.out_root, exist_ok=True)
            _check_workers(cfg, backend)  # version and paths: exit 2 before the manifest is touched
            index = load_manifest_index(cfg.manifest) if (cfg.resume or cfg.if_exists == "skip") else {}
            if cfg.retry_failed and not any(p.status.startswith("failed:") for p in index.values()):
                log.info("--retry-failed: the manifest lists no failed file")
            writer = ManifestWriter(cfg.manifest)  # the lock is taken before anything is swept or written
            try:
                swept = sweep_stale_temps(cfg.out_root)
                if swept:
                    log.info("removed %d stale temporary file(s) left by an interrupted run", swept)
                planner = Planner(cfg, index)
                progress = Progress(cfg, stream)
                progress.t0 = started  # the summary's time includes worker start-up
                try:
                    redirect = logging_redirect_tqdm(loggers=[log]) if progress.bar is not None \
                        else contextlib.nullcontext()
                    with redirect, _Interrupts() as interrupts:
                        try:
                            abort, interrupted = drive(cfg, backend, planner, writer, progress, interrupts)
                        except KeyboardInterrupt:
                            interrupted = True
                            log.warning("cancelled: killing the workers; unfinished files stay unrecorded "
                                        "(re-run with --resume)")
                            backend.close(kill=True)
                finally:
                    progress.close()
                    backend.close(kill=interrupted)
                sweep_stale_temps(cfg.out_root)  # temps of workers that died mid-write
            finally:
                writer.close()
        finally:
            backend.close(kill=interrupted)
    note = ""
    if abort:
        note = f"aborted: {abort}"
        log.warning("aborted: %s", abort)
    elif interrupted:
        note = "interrupted (re-run with --resume to continue)"
    print(progress.summary(cfg.manifest, note), file=stream)
    if interrupted:
        return 130
    return 1 if (progress.counts["failed"] or abort) else 0
