"""Shared fixtures: the real line-art images in ../shared/images (skipped when absent)."""

from __future__ import annotations

# One BLAS thread (as every fastshade process uses: fastshade.threads): multi-threaded BLAS
# reductions round differently, and on 2 cores shared with Numba they are much slower. Set
# before NumPy loads (importing the fastshade package loads nothing heavy).
from fastshade.threads import pin_process_threads

pin_process_threads()

import os  # noqa: E402

# No resident process (fastshade.resident) behind the suite's command lines, in-process or in
# subprocesses: each test runs the code of its checkout, and none leaves a process behind.
# tests/test_resident.py turns it on with a private socket folder.
os.environ["FASTSHADE_RESIDENT"] = "0"

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests draw the same examples on every run (a red CI must be reproducible).
settings.register_profile("fastshade", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("fastshade")

ROOT = Path(__file__).resolve().parents[1]

GRAPHS = [("grid", 4), ("grid", 8), ("dither", 4)]
"""The pixel graphs the options can build, as ``(laplacian, connectivity)`` parameters."""
GRAPH_IDS = ["grid4", "grid8", "dither"]
SHARED_IMAGES = ROOT.parent / "shared" / "images"


def shared_image_path(name: str) -> Path:
    """Path of a shared test image; skips the test when the folder or file is absent."""
    p = SHARED_IMAGES / name
    if not p.is_file():
        pytest.skip(f"{p} not present (the ../shared/images test images are optional)")
    return p


def load_rgb(name: str) -> np.ndarray:
    """Shared image as (H, W, 3) float64 in [0, 1] (imageio, mode RGB)."""
    import imageio.v3 as iio

    return iio.imread(shared_image_path(name), mode="RGB").astype(np.float64) / 255.0


@pytest.fixture(scope="session")
def shared_images_dir() -> Path:
    if not SHARED_IMAGES.is_dir():
        pytest.skip(f"{SHARED_IMAGES} not present (the ../shared/images test images are optional)")
    return SHARED_IMAGES
