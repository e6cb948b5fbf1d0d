"""fastshade: a Numba-compiled graph-spectral shader for line art."""

from fastshade.options import ShadeOptions

__version__ = "0.1.0"

__all__ = ["ShadeOptions", "__version__"]
