"""The ``fastshade run`` command line: its arguments (:func:`configure`) and entry point (:func:`main`)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import TextIO

from fastshade.cli_args import add_shade_options, fail
from fastshade.run.config import (
    DEFAULT_MANIFEST_NAME,
    DEFAULT_POLL_INTERVAL,
    MAX_WORKERS_PER_CORE,
    UsageError,
    config_from_args,
)

__all__ = ["configure", "main"]

log = logging.getLogger("fastshade.run")


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``run`` arguments (and every shader option) to ``p``."""
    p.usage = "fastshade run IN OUT [--sample SAMPLE] [-j N] [options]"
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
    g.add_argument("--max-pixels", type=int, default=None, metavar="N",
                   help="skip (skipped:too_large) images larger than N pixels, from the header alone "
                        "(default: the largest image whose memory-model estimate fits the memory available "
                        "at the start; -j is lowered when the workers' estimates would not fit together)")
    g.add_argument("--frames", choices=["first", "reject"], default="first",
                   help="multi-frame files (GIF/APNG/TIFF pages): shade the first frame (default; "
                        "warning first_frame_of_N) or fail them (failed:multi_frame)")
    g.add_argument("--exif-orientation", dest="exif", choices=["apply", "ignore"], default="apply",
                   help="apply the EXIF orientation tag before shading (default apply)")
    o = p.add_argument_group("output")
    o.add_argument("--save-passes", action="store_true", help="also write each pass: NAME.pass1.png, ...")
    o.add_argument("--layers", action="store_true", help="also write each stage's marks and NAME.ora")
    o.add_argument("--strict", action="store_true",
                   help="fail inputs that are not line art (failed:not_line_art) instead of warning")
    o.add_argument("--format", choices=["png", "tiff", "jpg", "webp", "same"], default="png",
                   help="output format (default png; 'same' keeps PNG/TIFF/JPEG/WebP inputs' format, "
                        "other inputs become PNG)")
    o.add_argument("--depth", type=int, choices=[8, 16], default=None,
                   help="output bit depth (default: that of each input)")
    o.add_argument("--on-collision", choices=["error", "suffix"], default="error",
                   help="two inputs mapping to one output (a.png, a.jpg): fail both (default) or "
                        "name them a_png.png, a_jpg.png")
    o.add_argument("--if-exists", choices=["skip", "overwrite", "error"], default="skip",
                   help="skip (default): files the manifest says are done, with a complete output; "
                        "overwrite: redo all; error: fail files whose output path exists")
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
    r.add_argument("--watch", action="store_true",
                   help="then keep shading each new or changed file of IN once it stops growing, until Ctrl-C")
    r.add_argument("--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL, metavar="SECONDS",
                   help=f"--watch: seconds between two looks at IN (default {DEFAULT_POLL_INTERVAL:g})")
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
    add_shade_options(p, expert_help=False)


@contextlib.contextmanager
def _logging_to(stream: TextIO) -> Iterator[None]:
    """Send the run's log (``fastshade: ...`` lines) to ``stream`` for the duration."""
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


def main(args: argparse.Namespace) -> int:
    """``fastshade run``: returns the exit status (0 ok, 1 failures, 2 usage, 130 interrupted)."""
    try:
        cfg = config_from_args(args)
    except UsageError as err:
        return fail(str(err))
    if args.watch and (cfg.dry_run or cfg.retry_failed):
        return fail("--watch cannot be combined with --dry-run or --retry-failed")
    if not 0 < args.poll_interval < 86400:
        return fail(f"--poll-interval must be between 0 and 86400 seconds, got {args.poll_interval}")
    from fastshade.run.driver import run  # (tqdm, the pool: not for --help)
    from fastshade.run.dryrun import dry_run

    stream = sys.stderr
    with _logging_to(stream):
        try:
            if cfg.dry_run:
                return dry_run(cfg, sys.stdout)
            then = None
            if args.watch:
                from fastshade.run.watch import Watcher

                then = Watcher(cfg, args.poll_interval)
            return run(cfg, stream, then)
        except UsageError as err:
            return fail(str(err))
