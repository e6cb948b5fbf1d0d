"""The memory model counts the operator it shades with and stays an upper bound (issue 17, defect 4).

Each configuration shades demo line art at 256² and 512² in a fresh process (one BLAS thread)
and compares the peak RSS (``ru_maxrss``) minus the RSS after importing fastshade and one
warm-up shade (which loads the compiled kernels) with :func:`fastshade.io.estimate_bytes`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastshade.io import (
    DEFAULT_MAX_PIXELS,
    ITERATION_RESERVE_PIXELS,
    MEMORY_AVAILABLE_ENV,
    default_max_pixels,
    estimate_bytes,
    operator_entries,
    pixel_limit,
)
from fastshade.io.memory import DITHER_REACH
from fastshade.options import ShadeOptions
from fastshade.pipeline.graph import DEFAULT_RADII, laplacian_offsets

ROOT = Path(__file__).resolve().parents[1]

MEASURE = r"""
import json, os, sys
import numpy as np
from fastshade.demo import demo_image
from fastshade.io import write_image
from fastshade.job import shade_file
from fastshade.options import ShadeOptions
opts = ShadeOptions(**json.loads(sys.argv[1]))
folder = sys.argv[2]
def demo(size):
    path = os.path.join(folder, f"demo{size}.png")
    write_image(path, np.clip(demo_image(size, size), 0.0, 1.0), bit_depth=8)
    return path
def status_kib(key):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":"))
sizes = [int(s) for s in sys.argv[3:]]
# warm-up on the smallest measured size: every kernel signature the measured runs call is
# compiled (or loaded from the cache) here
shade_file(demo(min(sizes)), os.path.join(folder, "warm.png"), options=opts, max_pixels=None)
paths = [demo(s) for s in sizes]
out = {}
for size, path in zip(sizes, paths):
    # the peak of this call alone: reset the high-water mark (Linux: clear_refs 5), then read it
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    base = status_kib("VmRSS")
    result = shade_file(path, os.path.join(folder, f"out{size}.png"), options=opts, max_pixels=None)
    assert result.status == "ok", result.message
    out[size] = (status_kib("VmHWM") - base) * 1024
print(json.dumps(out))
"""


def measured_peaks(options: dict, sizes: list[int], folder: Path) -> dict[int, int]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(options), str(folder),
                           *map(str, sizes)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=True)
    return {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's resettable peak RSS")
@pytest.mark.parametrize("options,sizes", [({}, [256, 512, 1024, 1448]), ({"style": "v12"}, [256, 512, 1024]),
                                           ({"tol": 1e-5}, [256, 512, 1024]), ({"connectivity": 8}, [256, 512, 1448]),
                                           ({"laplacian": "dither"}, [256, 512])],
                         ids=["grid4", "v12", "grid4-tol1e-5", "grid8", "dither"])
def test_measured_peak_is_within_the_estimate(options, sizes, tmp_path):
    """Three sizes of the default options, and of a pixel level that iterates (``tol`` 1e-5; a
    drawing's own pixel level may iterate at the default tolerance at any size, issue 21).  At
    1448² (over :data:`fastshade.io.ITERATION_RESERVE_PIXELS`) the model counts the pixel level's
    start; an iterating one is checked against the memory available (``test_iteration_check``)."""
    opts = ShadeOptions(**options)
    for size, peak in measured_peaks(options, sizes, tmp_path).items():
        estimate = estimate_bytes(size, size, opts)
        assert 0 < peak <= estimate, (options, size, peak, estimate)


def test_the_model_counts_the_entries_of_the_chosen_operator():
    """Issue 17, defect 4: 5 entries per pixel were assumed for every operator; dither stores
    113 and peaked at ~4.7 KB per pixel (5.0 GB at 1024²) against a modelled 532 B."""
    assert DITHER_REACH == max(DEFAULT_RADII)
    for opts, count in [(ShadeOptions(), 2), (ShadeOptions(connectivity=8), 4),
                        (ShadeOptions(laplacian="dither"), 56)]:
        dy, _, _ = laplacian_offsets(opts.laplacian, opts.connectivity)
        assert dy.size == count and operator_entries(opts) == 1 + 2 * count
    dither = ShadeOptions(laplacian="dither")
    assert estimate_bytes(1024, 1024, dither) >= 2285 * 1024 * 1024  # measured peak, docs table
    assert estimate_bytes(8, 8, dither) > estimate_bytes(8, 8, ShadeOptions(connectivity=8)) > estimate_bytes(8, 8)
    assert estimate_bytes(8, 8, ShadeOptions(k=32)) > estimate_bytes(8, 8)


def test_the_default_limit_is_what_the_memory_available_fits_with_the_options():
    gib8 = 8 * 2**30
    assert DEFAULT_MAX_PIXELS == "auto"
    per_pixel = estimate_bytes(1, 1)  # an iterating pixel level for the first 2^20 px, its start beyond
    reserve = ITERATION_RESERVE_PIXELS * per_pixel
    assert default_max_pixels(available=gib8) == default_max_pixels(ShadeOptions(), gib8) == 16_795_140
    assert 16_795_140 == ITERATION_RESERVE_PIXELS + (gib8 - reserve) // 468
    assert default_max_pixels(available=reserve) == reserve // per_pixel == ITERATION_RESERVE_PIXELS
    dither = ShadeOptions(laplacian="dither")
    assert default_max_pixels(dither, gib8) < default_max_pixels(available=gib8)  # a wider operator, a smaller limit
    assert pixel_limit(DEFAULT_MAX_PIXELS, dither, gib8) == default_max_pixels(dither, gib8)
    assert pixel_limit(None, dither) is None and pixel_limit(5000, dither) == 5000
    assert default_max_pixels(available=1) == 1  # never 0


def test_a_dither_job_over_its_budget_is_refused_before_decoding(tmp_path, monkeypatch):
    from PIL import Image

    from fastshade.job import shade_file

    dither = ShadeOptions(laplacian="dither")
    side = 64
    available = estimate_bytes(side, side, dither) - 1  # the default options fit, dither does not
    monkeypatch.setenv(MEMORY_AVAILABLE_ENV, str(available))
    src = tmp_path / "big.png"
    Image.new("L", (side, side), 255).save(src)
    result = shade_file(src, tmp_path / "out.png", options=dither)
    assert result.status.startswith("skipped") and result.reason == "too_large"
    assert default_max_pixels(available=available) > side * side > default_max_pixels(dither, available)
    need = estimate_bytes(side, side, dither) / 2**20
    assert result.message == (f"4,096 px (64x64) needs about {need:.0f} MiB (memory model), more than the "
                              f"{available / 2**20:.0f} MiB available; pass --max-pixels N to try anyway")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("style", ["brush", "v12", "v6", "final"])
def test_a_float64_image_is_shared_not_copied_and_never_written(style):
    """Issue 21: the job, the style runner and the pass read one (H, W, 3) float64 image (three
    copies were 72 B per pixel of a big scan); the stages only read it."""
    from fastshade.demo import demo_image
    from fastshade.pipeline.inputs import as_rgb_alpha
    from fastshade.styles.runner import shade_arrays

    image = np.ascontiguousarray(np.clip(demo_image(96, 128), 0.0, 1.0))
    rgb, alpha = as_rgb_alpha(image, "target")
    assert rgb is image and alpha is None
    before = image.copy()
    result = shade_arrays(image, options=ShadeOptions(style=style))
    assert result.stats["changed_pixels"] > 0
    np.testing.assert_array_equal(image, before)
    assert not np.shares_memory(result.image, image)
    if style == "v6":  # no cross mode
        return
    sample = np.ascontiguousarray(np.clip(demo_image(80, 112), 0.0, 1.0)[::-1])  # cross mode
    sample_before = sample.copy()
    crossed = shade_arrays(image, sample, ShadeOptions(style=style))
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(sample, sample_before)
    assert not np.shares_memory(crossed.image, image) and not np.shares_memory(crossed.image, sample)
