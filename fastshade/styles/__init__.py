"""Named styles and multi-pass shading: the public entry points :func:`shade` and :func:`shade_arrays`.

A style is one module (``v12``, ...): a one-line description, the option defaults it changes,
its default pass envelope and the function that paints one pass.  :mod:`catalog` lists them and
applies a style's defaults to the options not set explicitly; :mod:`envelope` gives the per-pass
effect (``flat``, ``decay``, ``adsr``); :mod:`runner` runs the passes.
"""

from fastshade.styles.base import PassStep, Style
from fastshade.styles.catalog import STYLES, resolve_options, style_of
from fastshade.styles.envelope import ADSR_TABLE, decay_effect, pass_schedule
from fastshade.styles.runner import shade, shade_arrays

__all__ = [
    "ADSR_TABLE", "STYLES", "PassStep", "Style", "decay_effect", "pass_schedule", "resolve_options",
    "shade", "shade_arrays", "style_of",
]
