"""Tests of the built-in demo image (fastshade.demo)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from fastshade.demo import demo_image


def _dark(image: np.ndarray) -> np.ndarray:
    return image.mean(axis=2) < 0.5


def test_default_contract() -> None:
    image = demo_image()
    assert image.shape == (512, 512, 3)
    assert image.dtype == np.float64
    assert image.flags.c_contiguous
    assert np.isfinite(image).all()
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.min() == 0.0 and image.max() == 1.0  # solid ink and white paper both present


def test_deterministic_bytes() -> None:
    first = demo_image(512, 512).tobytes()
    second = demo_image(512, 512).tobytes()
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    assert demo_image(64, 80).tobytes() == demo_image(64, 80).tobytes()


def test_ink_fraction_at_512() -> None:
    fraction = _dark(demo_image(512, 512)).mean()
    assert 0.01 <= fraction <= 0.20


def test_strokes_are_thin_curves() -> None:
    """Ink is thin strokes (not blobs) in several 8-connected pieces."""
    ink = _dark(demo_image(512, 512))
    labels, count = ndimage.label(ink, structure=np.ones((3, 3), dtype=bool))
    assert 5 <= count <= 30
    sizes = np.bincount(labels.ravel())[1:]
    assert sizes.min() >= 20  # no specks
    # strokes are <= 3 px wide: a 3x3 erosion removes nearly all of them
    survivors = ndimage.binary_erosion(ink, structure=np.ones((3, 3), dtype=bool)).sum()
    assert survivors <= 0.05 * ink.sum()
    # anti-aliased: intermediate grey levels exist at stroke edges
    grey = demo_image(512, 512).mean(axis=2)
    assert ((grey > 0.05) & (grey < 0.95)).sum() > 0.2 * ink.sum()


def test_has_a_coloured_stroke() -> None:
    image = demo_image(512, 512)
    chroma = image.max(axis=2) - image.min(axis=2)
    coloured = (chroma > 0.3).mean()
    assert 0.0005 < coloured < 0.05


@pytest.mark.parametrize(
    ("height", "width"),
    [(256, 256), (1024, 1024), (2048, 2048), (832, 1152), (1152, 832), (8, 8), (1, 1), (1, 9), (9, 1), (3, 200)],
    ids=lambda v: str(v),
)
def test_any_size(height: int, width: int) -> None:
    image = demo_image(height, width)
    assert image.shape == (height, width, 3)
    assert image.dtype == np.float64 and image.flags.c_contiguous
    assert np.isfinite(image).all() and image.min() >= 0.0 and image.max() <= 1.0
    if min(height, width) >= 64:
        fraction = _dark(image).mean()
        assert 0.002 <= fraction <= 0.20


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "512", None])
def test_rejects_bad_sizes(bad: object) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        demo_image(bad, 16)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive integer"):
        demo_image(16, bad)  # type: ignore[arg-type]


def test_numpy_integer_sizes_accepted() -> None:
    assert demo_image(np.int64(12), np.int32(10)).shape == (12, 10, 3)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 96), st.integers(1, 96))
def test_random_sizes_property(height: int, width: int) -> None:
    image = demo_image(height, width)
    assert image.shape == (height, width, 3)
    assert np.isfinite(image).all() and image.min() >= 0.0 and image.max() <= 1.0
    assert image.tobytes() == demo_image(height, width).tobytes()
