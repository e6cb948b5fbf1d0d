"""What a style is: a named set of option defaults, a default envelope and one pass of painting."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fastshade.options import ShadeOptions
from fastshade.pipeline.paper import PaperInk, paper_ink_model
from fastshade.pipeline.results import ShadeResult


@dataclass(frozen=True)
class PassStep:
    """One pass of a multi-pass schedule (:mod:`fastshade.styles.envelope`).

    ``index`` is 1-based, ``count`` the number of passes.  ``effect`` scales the pass's lengths
    (the originals' ``effect_strength`` e: v6 reads it everywhere, v12 scales its push and reach).
    ``overrides`` holds the per-pass stage parameters of the ``adsr`` table (§5.5: dilation
    radius, kernel sigma ratio, fill threshold, thicken modulation); empty for the other envelopes.
    ``drawing`` is the paper/ink model of the drawing the passes started from (pass 1's input:
    a transparent drawing composited over white), computed once by the runner
    (:func:`~fastshade.styles.runner.shade_arrays`): a style reads it instead of modelling pass
    1's input again, keeps its paper on later passes (``paper_ink_model(..., paper_from=step.drawing)``)
    and protects its ink (:meth:`drawing_ink`).  None outside the runner.  ``memo`` is one dict
    shared by the passes of one call: what a style derives from the drawing once and reads
    again on later passes (brush: the basis of its line weight).  ``lean``: the caller reads the
    pass's image and stats only (``shade_arrays(analyses=False)``, the job), so the pass may keep
    less of its analyses (v12: the thicken budget's basis energy instead of the basis columns when
    nothing else reads them, as brush always does; the same image and stats).
    """

    index: int
    count: int
    effect: float
    overrides: Mapping[str, float] = field(default_factory=dict)
    drawing: PaperInk | None = None
    memo: dict[str, Any] = field(default_factory=dict, compare=False)
    lean: bool = False

    @property
    def drawing_is_input(self) -> bool:
        """True when ``drawing`` is the model of this pass's input (pass 1, in the runner)."""
        return self.index == 1 and self.drawing is not None

    def drawing_ink(self, rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
        """The ink of the drawing (bool (H, W)), which the ink guard protects on every pass.

        The marks of earlier passes are ink to a later pass's own paper/ink model, but they are
        the style's marks, not the drawing (the originals paint over them again), so every pass
        protects ``drawing``'s ink; outside the runner (no ``drawing``), the ink of ``rgb``
        (and ``alpha``) itself.
        """
        if self.drawing is not None:
            return self.drawing.ink
        return paper_ink_model(rgb, alpha).ink


class PaintPass(Protocol):
    """One pass of a style: shade ``target`` (an image array, with alpha when it has one)."""

    def __call__(self, target: Any, sample: Any, opts: ShadeOptions, step: PassStep, *,
                 force_cross: bool, clock: Callable[[], float]) -> ShadeResult:
        """Paint one pass; ``step`` gives its effect, ``clock`` reads the stage timings."""


@dataclass(frozen=True)
class Style:
    """A named look.

    ``defaults`` are :class:`~fastshade.options.ShadeOptions` values that replace the v12 defaults
    for this style, wherever the caller did not set the field explicitly.  ``envelope`` is the
    style's own pass schedule (what ``envelope="auto"`` means).  ``paint_pass`` paints one pass.
    """

    name: str
    description: str
    envelope: str
    paint_pass: PaintPass
    defaults: Mapping[str, Any] = field(default_factory=dict)
