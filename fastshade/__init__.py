"""fastshade: a Numba-compiled graph-spectral shader for line art.

>>> from fastshade import shade, ShadeOptions
>>> image, stats = shade("toof.png")                       # doctest: +SKIP
>>> image, stats = shade(target_rgb, sample_rgb, ShadeOptions(basis="krylov"))  # doctest: +SKIP

The public names load on first use (PEP 562), so ``import fastshade.cli`` can pin the thread
environment before NumPy loads, and ``fastshade --version`` loads no pipeline.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["ShadeOptions", "ShadeResult", "shade", "shade_arrays", "__version__"]

_PUBLIC = {
    "ShadeOptions": "fastshade.options",
    "ShadeResult": "fastshade.pipeline.results",
    "shade": "fastshade.styles",
    "shade_arrays": "fastshade.styles",
}

if TYPE_CHECKING:  # pragma: no cover
    from fastshade.options import ShadeOptions
    from fastshade.pipeline.results import ShadeResult
    from fastshade.styles import shade, shade_arrays


def __getattr__(name: str) -> Any:
    """Load a public name from the module that owns it, on first use."""
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastshade' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
