"""The catalogue of styles and the resolution of a style's defaults into options."""

from __future__ import annotations

from typing import Any

from fastshade.options import STYLE_NAMES, ShadeOptions, as_options
from fastshade.styles import brush, final, v6, v12
from fastshade.styles.base import Style

STYLES: dict[str, Style] = {s.name: s for s in (brush.STYLE, v12.STYLE, v6.STYLE, final.STYLE)}
"""Every style by name, in the order ``--help`` lists them."""

if tuple(STYLES) != STYLE_NAMES:  # pragma: no cover (a developer's error, caught by any import)
    raise RuntimeError(f"styles {tuple(STYLES)} do not match options.STYLE_NAMES {STYLE_NAMES}")


def style_of(opts: ShadeOptions) -> Style:
    """The :class:`Style` named by ``opts.style``."""
    return STYLES[opts.style]


def resolve_options(options: ShadeOptions | dict[str, Any] | None) -> ShadeOptions:
    """``options`` as the style sees them: every field set explicitly (``options.explicit``) keeps
    its value, every other field takes the style's default (or the v12 default where the style has
    none); ``envelope="auto"`` becomes the style's own envelope.

    A function of the style, the passes, the envelope and the explicit fields only, so switching
    the style of resolved options (``dataclasses.replace(opts, style=...)``) and resolving again
    leaves nothing of the first style behind.  Idempotent.
    """
    opts = as_options(options)
    style = style_of(opts)
    explicit = tuple(opts.explicit or ())
    values = {name: getattr(opts, name) for name in explicit}
    defaults = {name: value for name, value in style.defaults.items() if name not in explicit}
    envelope = style.envelope if opts.envelope == "auto" else opts.envelope
    resolved = ShadeOptions(style=opts.style, passes=opts.passes, envelope=envelope, explicit=explicit,
                            **defaults, **values)
    return opts if resolved == opts and resolved.explicit == opts.explicit else resolved
