"""The ``fastshade`` command line: ``shade``, ``run``, ``bench``, ``diagnose``.

Each sub-command lives in its own module and exposes ``configure(parser)`` and
``main(args) -> int``; this file only wires them together and turns expected
errors into one-line messages with exit code 2 (never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from fastshade.threads import pin_process_threads

# One BLAS/OpenMP thread unless the user says otherwise, set before NumPy loads (fastshade's
# package __init__ loads nothing heavy): multi-threaded BLAS reductions round differently, and
# `fastshade shade` must write the same bytes as `fastshade run`. Kernels are serial anyway.
pin_process_threads()

COMMANDS = {
    "shade": ("fastshade.shade_cli", "shade one image (self mode, or cross mode with --sample)"),
    "run": ("fastshade.run", "shade a whole folder: streamed, multiprocessing, resumable"),
    "bench": ("fastshade.bench", "performance run: per-stage timings, scaling, baselines"),
    "diagnose": ("fastshade.diagnose", "measure why cross mode fragments; compare cross strategies"),
    "gallery": ("fastshade.gallery", "before/after pictures of every style (docs/gallery)"),
    "warmup": ("fastshade.warmup_cli", "compile every kernel ahead (after installing, in a container build)"),
    "resident": ("fastshade.resident.command", "show, start or stop the process that makes shade start at once"),
}


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors (unknown flag, bad choice, missing argument) as one line, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print the usage error in one line and exit with code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``fastshade`` parser; the sub-commands of ``commands`` (all when None) get their arguments.

    The others get their name and one-line help only, so that ``fastshade --help`` and
    ``fastshade shade ...`` import no other sub-command's module (nor the pipeline).
    """
    parser = OneLineErrorParser(
        prog="fastshade",
        description="Numba-compiled graph-spectral shader for line art.",
        epilog="Run 'fastshade COMMAND --help' for examples.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, helptext) in COMMANDS.items():
        if commands is not None and name not in commands:
            sub.add_parser(name, help=helptext)
            continue
        try:
            mod = importlib.import_module(module)
        except ImportError:  # a sub-command module that is not built yet
            continue
        p = sub.add_parser(name, help=helptext, description=mod.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.configure(p)
        p.set_defaults(_main=mod.main)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (its first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; expected errors become one line on stderr and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # answered before any sub-command (and the pipeline) is imported
        from fastshade import __version__

        print(f"fastshade {__version__}")
        return 0
    command = _command_of(argv)
    if command == "shade":  # a resident process has everything loaded: it runs the command at once
        from fastshade.resident.client import run_resident

        code = run_resident(argv)
        if code is not None:
            return code
    early = command == "shade" and _start_early_compile(argv)
    try:
        parser = build_parser([command] if command else [])
        args = parser.parse_args(argv)
        if args.version:
            from fastshade import __version__

            print(f"fastshade {__version__}")
            return 0
        if not getattr(args, "_main", None):
            parser.print_help()
            return 2
        code = _run(args)
    finally:
        if early:
            from fastshade.compile_plan import end_early

            end_early()
    if command == "shade" and code == 0:  # so that the next shade starts at once
        from fastshade.resident.client import installation_file, start_in_background

        marker = installation_file(COMPILED_SUFFIX)
        if marker is not None:
            try:
                marker.touch()
            except OSError:
                pass
        start_in_background(sys.stderr)
    return code


COMPILED_SUFFIX = ".compiled"
"""The file (:func:`fastshade.resident.client.installation_file`) that says a ``shade`` of this
installation and configuration succeeded: the kernels it calls are in the cache."""


def _start_early_compile(argv: Sequence[str]) -> bool:
    """Start the cold-run compile's second process now (:func:`fastshade.compile_plan.start_early`)
    unless a ``shade`` of this installation and configuration succeeded before (its kernels are
    cached), the machine has one core, or this is a ``--help``; True when started.

    The run itself can tell a cold cache only once Numba is loaded, 0.4-0.5 s later; started at
    once, the second process compiles that much more of a first run's kernels (about 0.2 s of
    its wall time).  The run ends it when the cache is warm after all or its style is not the
    default's.
    """
    from fastshade.resident.client import INSIDE, installation_file
    from fastshade.threads import available_cores

    if INSIDE or "-h" in argv or "--help" in argv or available_cores() < 2:
        return False
    marker = installation_file(COMPILED_SUFFIX)
    if marker is None or marker.exists():
        return False
    from fastshade.compile_plan import start_early

    start_early()
    return True


def entry() -> int:
    """The ``fastshade`` command (console script and ``python -m fastshade``): :func:`main`, and
    after a ``shade`` the process ends without the interpreter's teardown.

    Freeing a process's objects one by one at exit took 0.25-0.6 s after a first run (Numba's
    compiled-code objects) and 0.1 s after a warm one, for nothing: the output is written and
    closed by then.  So a ``shade`` flushes stdout and stderr, runs the ``atexit`` handlers (as
    a normal exit would) and ends with ``os._exit``; other commands exit normally.
    """
    argv = sys.argv[1:]
    code = main(argv)
    if _command_of(argv) != "shade":
        return code
    import atexit
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (| head), a closed stream
            pass
    atexit._run_exitfuncs()
    os._exit(code)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed sub-command; expected errors become one line on stderr and exit code 2."""
    from fastshade.io import ImageError

    try:
        return int(args._main(args) or 0)
    except ImageError as err:
        print(f"fastshade: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as err:  # incl. read-only or full destinations
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"fastshade: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastshade: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(entry())
