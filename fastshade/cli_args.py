"""Shared command-line plumbing: shade options as flags, one-line errors."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Any

from fastshade.options import ShadeOptions

# Flags that get a short help text (the default is appended from the dataclass); every other
# ShadeOptions field still gets a flag.
_HELP = {
    "basis": "spectral basis: lobpcg (exact, PyAMG-preconditioned LOBPCG) or krylov "
             "(the original's 50-step Lanczos field)",
    "k": "number of non-trivial basis vectors",
    "tol": "lobpcg residual tolerance (use 1e-8 with --field column)",
    "connectivity": "Laplacian pixel connectivity, 4 or 8",
    "tau": "edge weight exp(-|dc|/tau)",
    "seed": "seed of every pseudo-random start",
    "cross_strategy": "cross-mode strategy",
    "affinity_threshold": "cross copy gate: mean | none | quantile:Q | calibrated",
    "score": "cross matching score: dot | cosine | signature",
}


def add_shade_options(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per :class:`ShadeOptions` field (defaults from the dataclass)."""
    group = parser.add_argument_group("shader options (defaults follow the handoff's v12)")
    hints = typing.get_type_hints(ShadeOptions)
    for f in dataclasses.fields(ShadeOptions):
        flag = "--" + f.name.replace("_", "-")
        typ = hints[f.name]
        shown = ("on" if f.default else "off") if typ is bool else f.default
        helptext = f"{_HELP.get(f.name, '')} (default {shown})".strip()
        if typ is bool:
            group.add_argument(flag, dest=f.name, default=None, choices=["on", "off"], help=helptext)
        elif typ is int:
            group.add_argument(flag, dest=f.name, default=None, type=int, metavar="N", help=helptext)
        elif typ is float:
            group.add_argument(flag, dest=f.name, default=None, type=float, metavar="X", help=helptext)
        else:
            choices = typing.get_args(typ) or None
            group.add_argument(flag, dest=f.name, default=None, choices=choices, help=helptext)


def options_from_args(args: argparse.Namespace) -> ShadeOptions:
    """Build validated :class:`ShadeOptions` from parsed flags (unset flags keep defaults)."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(ShadeOptions):
        val = getattr(args, f.name, None)
        if val is None:
            continue
        if isinstance(val, str) and val in ("on", "off") and isinstance(f.default, bool):
            val = val == "on"
        changes[f.name] = val
    return ShadeOptions().replace(**changes)


def fail(message: str, code: int = 2) -> int:
    """Print one line ``fastshade: error: ...`` to stderr and return ``code``."""
    print(f"fastshade: error: {message}", file=sys.stderr)
    return code
