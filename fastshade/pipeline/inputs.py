"""Image arguments of the library calls: paths or arrays to float RGB in [0, 1] plus alpha."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def as_rgb_alpha(image: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Normalise an image argument to ((H,W,3) float64 in [0,1], alpha or None).

    A C-contiguous (H, W, 3) float64 array comes back as itself (no copy): the result is read,
    never written.
    """
    if isinstance(image, (str, Path)):
        from fastshade.io import read_image

        loaded = read_image(image)
        return loaded.rgb, loaded.alpha
    arr = np.asarray(image)
    checked = True  # an integer image's values are in [0, 1] by construction
    if arr.dtype == bool:
        arr = arr.astype(np.float64)
    elif arr.dtype == np.uint16:  # 16-bit: always full scale, like a 16-bit file
        arr = arr.astype(np.float64) / 65535.0
    elif np.issubdtype(arr.dtype, np.integer):  # uint8, or plain ints (lists) in 0..255
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"{name}: integer image values must lie in [0, 255] "
                             f"(use uint16 for 16-bit data), got dtype {arr.dtype}")
        arr = arr.astype(np.float64) / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        # float64 is not copied: the stages never write into their input, and a big scan's
        # callers (the job, the style runner, the pass) share one (H, W, 3) image (24 B/px each)
        arr = arr.astype(np.float64, copy=False)
        checked = False
    else:
        raise ValueError(f"{name}: unsupported dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"{name}: expected an (H, W), (H, W, 2) grey+alpha, (H, W, 3) or (H, W, 4) image, "
                         f"got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: empty image of shape {arr.shape}")
    if not checked:  # the extrema are NaN or infinite exactly when an entry is
        lo, hi = float(arr.min()), float(arr.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"{name}: image contains NaN or inf")
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"{name}: float image values must lie in [0, 1]")
    alpha = None
    if arr.shape[2] in (2, 4):
        alpha = np.ascontiguousarray(arr[:, :, -1])
        arr = arr[:, :, :-1]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr), alpha
