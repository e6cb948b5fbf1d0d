"""fastshade: a Numba-compiled graph-spectral shader for line art.

>>> from fastshade import shade, ShadeOptions
>>> image, stats = shade("toof.png")                       # doctest: +SKIP
>>> image, stats = shade(target_rgb, sample_rgb, ShadeOptions(basis="krylov"))  # doctest: +SKIP
"""

from fastshade.options import ShadeOptions
from fastshade.pipeline.results import ShadeResult
from fastshade.pipeline.shader import shade, shade_arrays

__version__ = "0.1.0"

__all__ = ["ShadeOptions", "ShadeResult", "shade", "shade_arrays", "__version__"]
