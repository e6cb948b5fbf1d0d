"""The catalogue of styles and the resolution of a style's defaults into options."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastshade.options import STYLE_NAMES, ShadeOptions, as_options
from fastshade.styles import brush, v12
from fastshade.styles.base import Style

STYLES: dict[str, Style] = {s.name: s for s in (brush.STYLE, v12.STYLE)}
"""Every style by name, in the order ``--help`` lists them."""

if tuple(STYLES) != STYLE_NAMES:  # pragma: no cover (a developer's error, caught by any import)
    raise RuntimeError(f"styles {tuple(STYLES)} do not match options.STYLE_NAMES {STYLE_NAMES}")


def style_of(opts: ShadeOptions) -> Style:
    """The :class:`Style` named by ``opts.style``."""
    return STYLES[opts.style]


def resolve_options(options: ShadeOptions | dict[str, Any] | None) -> ShadeOptions:
    """``options`` with its style's defaults applied to every field not set explicitly.

    Idempotent: resolved options resolve to themselves.  ``envelope="auto"`` becomes the style's
    own envelope.
    """
    opts = as_options(options)
    style = style_of(opts)
    changes = {name: value for name, value in style.defaults.items() if name not in opts.explicit}
    if opts.envelope == "auto":
        changes["envelope"] = style.envelope
    return dataclasses.replace(opts, **changes) if changes else opts


def style_help() -> str:
    """One line per style, ``name: description`` (for ``--help`` and the README)."""
    return "; ".join(f"{s.name}: {s.description}" for s in STYLES.values())
