"""Which pictures the gallery makes: every style, self and cross, 1 and 4 passes."""

from __future__ import annotations

import os
from dataclasses import dataclass

SELF_IMAGES = ("toof", "snek-heavy", "red-tonegraph", "offhand_pleometric", "mspaint-enso-i-couldnt-forget",
               "1bit redraw")
"""Shared images shaded in self mode, by every style (those present in ``--images``)."""
CROSS_PAIRS = (("toof", "snek-heavy"),)
"""Cross-mode pairs ``(target, sample)``."""
DEEP_PASSES = 4
"""The multi-pass count shown beside one pass."""


@dataclass(frozen=True)
class Case:
    """One gallery picture: ``style`` shading ``target`` (``"demo"`` = the built-in demo)."""

    style: str
    target: str
    sample: str | None = None
    passes: int = 1

    @property
    def name(self) -> str:
        """File stem: ``style-target[-x-sample]-pN`` (spaces become underscores)."""
        cross = f"-x-{self.sample}" if self.sample else ""
        return f"{self.style}-{self.target}{cross}-p{self.passes}".replace(" ", "_")


def gallery_cases(styles: list[str], images_dir: str | None) -> list[Case]:
    """Every case for ``styles``; the shared-image cases only for images found in ``images_dir``."""
    have = set()
    if images_dir and os.path.isdir(images_dir):
        have = {os.path.splitext(n)[0] for n in os.listdir(images_dir) if n.lower().endswith(".png")}
    cases = []
    for style in styles:
        cases += [Case(style, "demo"), Case(style, "demo", passes=DEEP_PASSES)]
        for name in SELF_IMAGES:
            if name in have:
                cases.append(Case(style, name))
        if "toof" in have:
            cases.append(Case(style, "toof", passes=DEEP_PASSES))
        for target, sample in CROSS_PAIRS:
            if {target, sample} <= have:
                cases.append(Case(style, target, sample))
    return cases
