"""Nothing silent: the one-line warnings about a drawing and what the shader could do with it.

:func:`drawing_warnings` is called once per image by the styles runner
(:func:`fastshade.styles.runner.shade_arrays`), for every style, v12 included (warnings change no
pixel).  Each warning is a :class:`DrawingWarning`: a code (``warning:CODE`` in ``run``'s
manifest) and one line (on stderr and in ``stats["warnings"]``).  The codes, in the order they
are reported:

``no_ink``
    No pixel differs from the paper by more than the ink distance: nothing to shade.
``not_line_art``
    The :func:`tone_score` is at least :data:`NOT_LINE_ART`: a photo or a continuous-tone image.
    ``--strict`` turns it into a per-file failure (exit status 1).
``alpha_as_paper`` (every style but v12) / ``alpha_ignored`` (v12)
    Some pixels are transparent: the paper/ink model takes them as paper whatever their hidden
    RGB, and a mark drawn there gets its coverage as alpha; v12 reads the hidden RGB as drawn.
``every_shadow_skipped``
    There were shadow components, and none could be placed.
``nothing_placed``
    There is ink, but no shadow changed a pixel of the output.

The tone score and its threshold are measured in ``docs/drawings.md`` (the shared line art, its
inverses, JPEG and half-size copies, against the photos bundled with scikit-image).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastshade.pipeline.paper import INK_DISTANCE, OPAQUE, PaperInk, local_range

NOT_LINE_ART = 0.40
"""Tone score at or above which an image is not line art.  Measured (docs/drawings.md): the shared
line art and the demo score at most 0.153 as they are, 0.35 at most as 96-256 px thumbnails
(red-tonegraph), 0.276 at half size; the photos bundled with scikit-image score at least 0.458 at
full size (brick), and their scenes at least 0.43 as thumbnails (immunohistochemistry at 128 px).
Margins: 0.05 above the highest line art, 0.058 below the lowest full-size photo."""
FLAT_SHARE = 0.1
"""A pixel whose 3x3 colour range is below this share of the image's contrast is flat."""
SOFT_SHARE = 0.5
"""A non-flat pixel whose 3x3 colour range is below this share of the contrast is a soft edge."""
CONTRAST_QUANTILE = 90.0
"""The image's contrast: this percentile of the 3x3 colour ranges of at least :data:`MIN_RANGE`."""
MIN_RANGE = 0.02
"""3x3 colour ranges below this (5 levels of 255) are noise, not edges."""


@dataclass(frozen=True)
class DrawingWarning:
    """One warning: ``code`` (``warning:CODE`` in the manifest) and one ``line`` of text."""

    code: str
    line: str


def tone_score(rgb: np.ndarray, span: np.ndarray | None = None) -> float:
    """How continuous-tone ``rgb`` ((H, W, 3) in [0, 1], composited over white) is, in [0, 1].

    The share of soft edges among the edges: with the contrast ``c`` the
    :data:`CONTRAST_QUANTILE` percentile of the 3x3 colour ranges of at least :data:`MIN_RANGE`,
    the edges are the pixels whose range is at least ``FLAT_SHARE * c`` and the soft edges those
    whose range is below ``SOFT_SHARE * c``.  Line art is paper, ink and crisp edges between them
    (each edge spans the full contrast): near 0, even for faint pencil, JPEG ringing or dithered
    screentone; a photo's edges are mostly gradual: 0.45 and more.  0 for an image without edges.
    ``span``: the image's :func:`~fastshade.pipeline.paper.local_range`, when already computed.
    """
    rng = local_range(np.asarray(rgb, dtype=np.float64)) if span is None else span
    varied = rng[rng >= MIN_RANGE]
    if varied.size == 0:
        return 0.0
    contrast = float(np.percentile(varied, CONTRAST_QUANTILE))
    edges = rng >= FLAT_SHARE * contrast
    soft = edges & (rng < SOFT_SHARE * contrast)
    return float(soft.sum() / max(int(edges.sum()), 1))


def not_line_art(score: float) -> DrawingWarning | None:
    """The ``not_line_art`` warning for a :func:`tone_score`, or None below the threshold."""
    if score < NOT_LINE_ART:
        return None
    return DrawingWarning("not_line_art", f"not line art: tone score {score:.2f} >= {NOT_LINE_ART} (soft edges, "
                                          "as in a photo or a continuous-tone image); the shader is made for "
                                          "line art, and --strict fails such files")


def drawing_warnings(model: PaperInk, score: float, stats: Mapping[str, Any], style: str) -> list[DrawingWarning]:
    """Every warning about one shaded image, in the order of the module's list.

    ``model`` is the :class:`~fastshade.pipeline.paper.PaperInk` of the input, ``score`` its
    :func:`tone_score`, ``stats`` the shader's statistics of the last pass (``placements`` with
    honest ``visible_pixels``, ``skipped_shadows``) and ``style`` the style's name.
    """
    found: list[DrawingWarning] = []
    paper = "(" + ", ".join(f"{c:.2f}" for c in model.paper) + ")"
    if not model.ink.any():
        found.append(DrawingWarning("no_ink", f"no ink found: no pixel differs from the paper {paper} by more "
                                              f"than {INK_DISTANCE} (colour distance); nothing to shade"))
    tone = not_line_art(score)
    if tone is not None:
        found.append(tone)
    if model.alpha is not None and (model.alpha < OPAQUE).any():
        share = float((model.alpha < OPAQUE).mean())
        if style == "v12":
            found.append(DrawingWarning("alpha_ignored", f"{share:.0%} of the pixels are transparent: v12 reads "
                                                         "their hidden RGB as drawn (another --style takes "
                                                         "them as paper)"))
        else:
            found.append(DrawingWarning("alpha_as_paper", f"alpha used as paper: {share:.0%} of the pixels are "
                                                          "transparent and count as paper whatever their RGB; "
                                                          "marks drawn there get their coverage as alpha"))
    if model.ink.any():
        placements = stats.get("placements", [])
        skipped = int(stats.get("skipped_shadows") or 0)
        if not placements and skipped > 0 and not stats.get("invisible_placements"):
            found.append(DrawingWarning("every_shadow_skipped", f"every shadow skipped: none of the {skipped} "
                                                                "shadow components found room to land"))
        elif not placed_anything(stats):
            found.append(DrawingWarning("nothing_placed", "nothing could be placed: no shadow changed a pixel "
                                                          "(thickening only, if any)"))
    return found


def placed_anything(stats: dict[str, Any]) -> bool:
    """Whether a mark other than thickening changed a pixel of the output.

    Read from ``stats["changed_by_stage"]`` (the file's changed pixels by the stage that last
    changed them: v6's ``shadow``/``front`` copies and final's re-tints have no per-placement
    ``visible_pixels``), else from the placements' ``visible_pixels``.
    """
    by_stage = stats.get("changed_by_stage")
    if by_stage is not None:
        return any(int(n) > 0 for name, n in by_stage.items() if name != "thicken")
    return any(p.get("visible_pixels", 0) > 0 for p in stats.get("placements", []))
