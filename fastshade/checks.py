"""Scalar argument checks shared by the validated library layer (one clear ``ValueError`` line).

Every public function and :class:`~fastshade.ShadeOptions` field that takes an integer or a
real number goes through :func:`check_integer` / :func:`check_real`, so ``True``, ``"8"``,
NaN, inf and out-of-range values fail the same way everywhere, before any kernel runs.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

__all__ = ["check_integer", "check_real", "check_real_array", "check_scale"]


def _range_text(lo: float | None, hi: float | None, lo_open: bool) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo}, {hi}]"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


def check_integer(name: str, value: object, lo: int | None = None, hi: int | None = None, *,
                  allowed: Sequence[int] | None = None) -> int:
    """``value`` as a Python ``int`` (any integral type but ``bool``) in ``[lo, hi]`` / ``allowed``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer{_range_text(lo, hi, False)}, got {value!r}")
    value = int(value)
    if allowed is not None and value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name} must be an integer{_range_text(lo, hi, False)}, got {value}")
    return value


def check_real(name: str, value: object, lo: float | None = None, hi: float | None = None,
               *, lo_open: bool = False) -> float:
    """``value`` as a finite Python ``float`` (any real type but ``bool``) in the given range
    (``lo_open``: ``> lo`` instead of ``>= lo``).
    """
    if isinstance(value, float):  # float, np.float64: the fast path (bool is no float)
        value = float(value)
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number{_range_text(lo, hi, lo_open)}, got {value!r}")
    else:
        try:
            value = float(value)
        except OverflowError:  # an int beyond the float range
            raise ValueError(f"{name} must be finite, got an integer of {value.bit_length()} bits") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ValueError(f"{name} must be{_range_text(lo, hi, lo_open)}, got {value}")
    if hi is not None and value > hi:
        raise ValueError(f"{name} must be{_range_text(lo, hi, lo_open)}, got {value}")
    return value


def check_scale(name: str, value: object) -> float:
    """A positive finite scale whose reciprocal is finite too (``exp(-d / value)`` weights)."""
    value = check_real(name, value, 0.0, lo_open=True)
    if not math.isfinite(1.0 / value):
        raise ValueError(f"{name} is too small (1/{name} overflows), got {value}")
    return value


def check_real_array(name: str, values: object) -> np.ndarray:
    """``values`` as an array of a real (bool/int/float) dtype with finite entries (no copy).

    One summing pass (no boolean temporary); only when the sum is not finite, which NaN/inf
    always cause and huge finite values may, the exact element-wise test decides.
    """
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must have a real dtype, got {array.dtype}")
    if array.dtype.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):  # inf - inf, overflow: no warnings
            total = array.sum()
        if not np.isfinite(total) and not np.isfinite(array).all():
            raise ValueError(f"{name} contains NaN or inf")
    return array
