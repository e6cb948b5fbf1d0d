"""Per-pass schedules: how strong each pass of a multi-pass shade is.

* ``flat``: effect 1 on every pass.
* ``decay``: v6's rule (original-system.md §4.1), ``e_p = max(0.75^(p-1), 0.05)``.
* ``adsr``: the final pipeline's Attack/Decay/Sustain/Release table (§5.4/§5.5): per-pass
  dilation radius 3, 2, 2, 1, kernel sigma ratio 0.8, 0.6, 0.5, 0.4, fill threshold 0.05, 0.1,
  0.15, 0.2 and thicken modulation 0.2, 0.3, 0.5, 0.7; pass 5 and later reuse pass 4.  The final
  style reads these values (with effect 1, as the original's demo); every other style reads the
  effect ``dilation radius / 3`` = 1, 2/3, 2/3, 1/3.
"""

from __future__ import annotations

from fastshade.styles.base import PassStep

DECAY_RATE = 0.75
DECAY_FLOOR = 0.05
ADSR_TABLE: tuple[dict[str, float], ...] = (
    {"dilation_radius": 3, "kernel_sigma_ratio": 0.8, "fill_threshold": 0.05, "thicken_modulation": 0.2},
    {"dilation_radius": 2, "kernel_sigma_ratio": 0.6, "fill_threshold": 0.10, "thicken_modulation": 0.3},
    {"dilation_radius": 2, "kernel_sigma_ratio": 0.5, "fill_threshold": 0.15, "thicken_modulation": 0.5},
    {"dilation_radius": 1, "kernel_sigma_ratio": 0.4, "fill_threshold": 0.20, "thicken_modulation": 0.7},
)
"""The four ADSR passes of the original's demo (``demo_spectral_shader.py:35-40``)."""


def decay_effect(index: int) -> float:
    """v6's effect of pass ``index`` (1-based): ``max(0.75^(index-1), 0.05)``."""
    return max(DECAY_RATE ** (index - 1), DECAY_FLOOR)


def pass_schedule(envelope: str, passes: int) -> list[PassStep]:
    """The :class:`PassStep` of every pass for ``envelope`` (``flat``, ``decay`` or ``adsr``)."""
    if envelope not in ("flat", "decay", "adsr"):
        raise ValueError(f"envelope must be flat, decay or adsr, got {envelope!r}")
    steps = []
    for index in range(1, passes + 1):
        if envelope == "flat":
            steps.append(PassStep(index, passes, 1.0))
        elif envelope == "decay":
            steps.append(PassStep(index, passes, decay_effect(index)))
        else:
            row = ADSR_TABLE[min(index, len(ADSR_TABLE)) - 1]
            steps.append(PassStep(index, passes, row["dilation_radius"] / ADSR_TABLE[0]["dilation_radius"],
                                  dict(row)))
    return steps
