"""The validated configuration of one ``fastshade run`` (:class:`RunConfig`) and how it is built."""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import time
from dataclasses import dataclass

from fastshade.cli_args import options_from_args
from fastshade.io import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    MaxPixels,
    available_memory_bytes,
    check_writable,
    pixel_limit,
    read_image,
    validate_output,
)
from fastshade.job import stat_fingerprint
from fastshade.options import OUTPUT_VERSION, ShadeOptions
from fastshade.threads import available_cores

__all__ = [
    "DEFAULT_MANIFEST_NAME",
    "DEFAULT_POLL_INTERVAL",
    "MAX_WORKERS_PER_CORE",
    "OUTPUT_EXTENSIONS",
    "RunConfig",
    "SampleRef",
    "UsageError",
    "config_from_args",
    "is_within",
    "norm_path",
]

DEFAULT_POLL_INTERVAL = 2.0
"""Seconds between two looks at IN with ``--watch`` (a file must keep its size and time across one)."""

DEFAULT_MANIFEST_NAME = "fastshade-manifest.jsonl"
"""Manifest file name inside OUT when --manifest is not given."""

OUTPUT_EXTENSIONS = {"png": ".png", "tiff": ".tif", "jpeg": ".jpg", "webp": ".webp"}
"""File extension written for each normalised output format."""

FORMAT_CHOICES = {"png": "png", "tiff": "tiff", "tif": "tiff", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp",
                  "same": "same"}
"""``--format`` value -> normalised output format (``same``: each input's own, see the planner)."""

MAX_WORKERS_PER_CORE = 4
"""Local ``--workers`` above this many per core are refused (each is a full process)."""


class UsageError(Exception):
    """A configuration problem reported as one line with exit status 2."""


@dataclass(frozen=True)
class SampleRef:
    """The cross-mode sample of a run: its absolute path and the fingerprint checked at start."""

    path: str
    size: int
    mtime_ns: int


@dataclass
class RunConfig:
    """Everything one ``fastshade run`` needs, validated (see :func:`config_from_args`)."""

    in_root: str
    out_root: str
    manifest: str
    options: ShadeOptions
    fmt: str = "png"  # png | tiff | jpeg | webp | same
    depth: int | None = None
    sample: SampleRef | None = None
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
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS  # "auto": what memory_available fits
    memory_available: int | None = None  # bytes available when the run starts (None: measured here)
    frames: str = "first"
    exif: str = "apply"
    save_passes: bool = False
    layers: bool = False
    strict: bool = False
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

    def __post_init__(self) -> None:
        if self.memory_available is None:  # one measure per run: the limit must not drift while it runs
            self.memory_available = available_memory_bytes()


_RUNS = itertools.count(1)


def new_run_id() -> str:
    """A run's id in the manifest: local time to the millisecond, the process id and a count of the
    runs this process started, so two runs in one second of one process (an embedding program,
    ``--watch``'s rounds) never share an id.
    """
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now))
    return f"{stamp}.{int(now * 1000) % 1000:03d}-{os.getpid()}-{next(_RUNS)}"



def norm_path(path: str) -> str:
    """Make ``path`` absolute, resolve symlinks and normalise case (for comparisons only)."""
    return os.path.normcase(os.path.realpath(os.path.abspath(path)))


def is_within(child: str, parent: str) -> bool:
    """Tell whether ``child`` equals ``parent`` or lies below it (both normalised real paths)."""
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _check_execution(args: argparse.Namespace) -> tuple[int, int]:
    """Return workers and threads per worker from the flags (defaults from the cores); raises UsageError."""
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
    return workers, threads


def _check_sample(args: argparse.Namespace, limit: int | None) -> SampleRef | None:
    """Check the ``--sample`` image by reading it once; raises UsageError."""
    if not args.sample:
        return None
    spath = os.path.abspath(args.sample)
    try:
        read_image(spath, max_pixels=limit)
        size, mtime_ns = stat_fingerprint(spath)
    except ImageError as err:
        raise UsageError(f"cannot use the sample: {err}") from None
    except OSError as err:
        raise UsageError(f"cannot use the sample {args.sample}: {err.strerror or err}") from None
    return SampleRef(spath, size, mtime_ns)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Validate parsed arguments into a :class:`RunConfig` (raises :class:`UsageError`).

    Nothing is created here: every check that can fail (IN, OUT, formats,
    execution flags, the sample, a writable manifest) runs before any folder
    is made or worker started.
    """
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
    n_in, n_out = norm_path(in_root), norm_path(out_root)
    if n_in == n_out:
        raise UsageError("OUT must differ from IN (inputs are never overwritten)")
    if is_within(n_in, n_out):
        raise UsageError("OUT contains IN: outputs could land on inputs; choose an OUT outside IN")
    fmt = FORMAT_CHOICES[args.format]
    depth = args.depth
    if fmt != "same":
        try:  # the combinations that can never work fail here, before any file is looked at
            validate_output(fmt, has_alpha=False, bit_depth=depth or 8)
        except ImageError as err:
            raise UsageError(f"--format {args.format} --depth {depth}: {err.message}") from None
    workers, threads = _check_execution(args)
    max_pixels = DEFAULT_MAX_PIXELS if args.max_pixels is None else args.max_pixels
    try:
        available = available_memory_bytes()
    except ValueError as err:
        raise UsageError(str(err)) from None
    sample = _check_sample(args, pixel_limit(max_pixels, opts, available))
    manifest = os.path.abspath(args.manifest) if args.manifest else os.path.join(out_root, DEFAULT_MANIFEST_NAME)
    try:  # before any folder is made or worker started
        check_writable(os.path.join(out_root, DEFAULT_MANIFEST_NAME), "OUT")
        check_writable(manifest, "--manifest")
    except ValueError as err:
        raise UsageError(str(err)) from None
    params = _digest({
        "output_version": OUTPUT_VERSION, "options": opts.digest(), "format": fmt, "depth": depth,
        "frames": args.frames, "exif": args.exif, "save_passes": bool(getattr(args, "save_passes", False)),
        "layers": bool(getattr(args, "layers", False)),
        "sample": None if sample is None else [sample.size, sample.mtime_ns, os.path.basename(sample.path)],
        **({"strict": True} if getattr(args, "strict", False) else {}),  # absent when off: old digests hold
    })
    return RunConfig(
        in_root=in_root, out_root=out_root, manifest=manifest, options=opts, fmt=fmt, depth=depth, sample=sample,
        recursive=args.recursive, include=tuple(args.include), exclude=tuple(args.exclude),
        include_hidden=args.include_hidden, on_collision=args.on_collision, if_exists=args.if_exists,
        resume=args.resume or args.retry_failed, retry_failed=args.retry_failed, hash=args.hash,
        dry_run=args.dry_run, max_pixels=max_pixels, memory_available=available, frames=args.frames, exif=args.exif,
        save_passes=bool(getattr(args, "save_passes", False)), strict=bool(getattr(args, "strict", False)),
        layers=bool(getattr(args, "layers", False)), workers=workers, threads_per_worker=threads,
        timeout=args.timeout_per_file,
        recycle_after=args.recycle_after, max_write_errors=args.max_write_errors, scheduler=args.scheduler,
        quiet=args.quiet, verbose=args.verbose, out_inside_in=is_within(n_out, n_in),
        run_id=new_run_id(), params=params, options_digest=opts.digest(),
    )
