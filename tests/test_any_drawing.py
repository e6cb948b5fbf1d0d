"""Issue 20 through the styles that use the paper/ink model: inversion parity and coloured ink.

The ink test measures as ``../shared/tools/look_metrics.py`` does, from the images alone: paper =
the most frequent colour of the input, ink = pixels whose mean channel distance to it is over 0.25,
ink_hit = the share of ink pixels whose colour changed (any channel by more than 2.5/255).
"""

from __future__ import annotations

import numpy as np
import pytest

from fastshade.demo import demo_image
from fastshade.io import read_image
from fastshade.styles import shade_arrays
from tests.conftest import shared_image_path

PINK, GREY_PAPER = np.array([1.0, 0.4, 0.7]), np.array([0.93, 0.94, 0.95])


def _image(name: str) -> np.ndarray:
    return demo_image(256, 256) if name == "demo" else read_image(shared_image_path(f"{name}.png")).rgb


def _ink_hit(before: np.ndarray, after: np.ndarray) -> float:
    q = np.round(before * 255).astype(np.int64)
    key = (q[..., 0] << 16) | (q[..., 1] << 8) | q[..., 2]
    values, counts = np.unique(key, return_counts=True)
    m = values[np.argmax(counts)]
    paper = np.array([(m >> 16) & 255, (m >> 8) & 255, m & 255]) / 255.0
    ink = np.abs(before - paper).mean(-1) > 0.25
    changed = (np.abs(before - after[:, :, :3]) > 2.5 / 255).any(-1)
    return float((changed & ink).sum() / max(int(ink.sum()), 1))


def _pink(img: np.ndarray) -> np.ndarray:
    """The drawing redrawn in pink ink on light grey paper (its darkness as the ink's coverage)."""
    darkness = 1.0 - img.mean(axis=2, keepdims=True)
    return GREY_PAPER + darkness * (PINK - GREY_PAPER)


@pytest.mark.parametrize("name", ["toof", "snek-heavy", "demo"])
def test_a_drawing_and_its_inverse_shade_alike(name):
    img = _image(name)
    a, b = shade_arrays(img), shade_arrays(1.0 - img)  # the default style
    na, nb = len(a.stats["placements"]), len(b.stats["placements"])
    ca, cb = a.stats["changed_pixels"], b.stats["changed_pixels"]
    ink = int((np.abs(img - 1.0).mean(axis=2) > 0.25).sum())
    assert abs(na - nb) <= 0.1 * max(na, 1) and abs(ca - cb) <= 0.2 * ca
    assert cb / ink >= 0.2
    # shadows on the paper side: the inverse's marks are off its (white) ink
    assert _ink_hit(1.0 - img, b.image) == 0.0


@pytest.mark.parametrize("style", ["brush", "v6", "final"])
@pytest.mark.parametrize("name", ["pink toof", "pink demo", "red-tonegraph", "offhand_pleometric"])
def test_coloured_ink_is_never_painted_over(style, name):
    img = _pink(_image(name.split()[1])) if name.startswith("pink") else _image(name)
    res = shade_arrays(img, None, {"style": style})
    assert res.stats["changed_pixels"] > 0
    assert _ink_hit(img, res.image) == 0.0


@pytest.mark.parametrize("hidden", [0.0, 1.0])
@pytest.mark.parametrize("style", ["brush", "v6", "final"])
def test_transparent_paper_shades_like_the_opaque_drawing(style, hidden):
    """toof as RGBA with transparent paper (black or white hidden RGB), composited over white,
    gives exactly the opaque toof's output (8-bit)."""
    toof = _image("toof")
    ink = toof.mean(axis=2) < 0.5
    rgba = np.concatenate([np.where(ink[..., None], toof, hidden), ink[..., None].astype(float)], axis=2)
    out = shade_arrays(rgba, None, {"style": style}).image
    seen = out[..., :3] * out[..., 3:4] + (1.0 - out[..., 3:4])
    ref = shade_arrays(toof, None, {"style": style}).image

    def q(x: np.ndarray) -> np.ndarray:
        return np.rint(np.clip(x, 0, 1) * 255)

    np.testing.assert_array_equal(q(seen), q(ref))
    untouched = (q(ref) == q(toof)).all(axis=2) & ~ink
    assert (q(out[..., 3])[untouched] == 0).all()  # paper no mark touched stays transparent (8-bit)
