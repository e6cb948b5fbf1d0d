"""Shared command-line plumbing: shade options as flags, one-line errors."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Any

from fastshade.options import ShadeOptions, validate_options

# Flags that get a short help text; every other ShadeOptions field still gets a flag.
_HELP = {
    "basis": "spectral basis: lobpcg (exact, PyAMG-preconditioned LOBPCG; default) or krylov "
             "(the original's 50-step Lanczos field)",
    "k": "number of non-trivial basis vectors (default 8)",
    "tol": "lobpcg residual tolerance (default 0.01; use 1e-8 with --field column)",
    "connectivity": "Laplacian pixel connectivity, 4 or 8",
    "tau": "edge weight exp(-|dc|/tau) (default 0.1)",
    "seed": "seed of every pseudo-random start (default 42)",
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
        helptext = _HELP.get(f.name, f"(default {f.default!r})")
        if typ is bool:
            group.add_argument(flag, dest=f.name, default=None, choices=["on", "off"],
                               help=(_HELP.get(f.name, "") + f" (default {'on' if f.default else 'off'})").strip())
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
    return validate_options(dataclasses.replace(ShadeOptions(), **changes))


def fail(message: str, code: int = 2) -> int:
    """Print one line ``fastshade: error: ...`` to stderr and return ``code``."""
    print(f"fastshade: error: {message}", file=sys.stderr)
    return code
