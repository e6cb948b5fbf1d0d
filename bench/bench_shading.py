"""Benchmarks: thicken (perpendicular scatter) and the shadow copy path, kernel vs NumPy.

Run for numbers (one thread)::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    PYTHONPATH=. /tmp/venv0/bin/python -m pytest bench/bench_shading.py --benchmark-enable -q -p no:cacheprovider

In CI (``--benchmark-disable``) every case runs once and checks its result
against the vectorised NumPy reference, so the file doubles as a correctness
test.  Every case makes an explicit warm-up call first (compile time is never
timed).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from fastshade import reference as ref
from fastshade.kernels import shading as ks
from fastshade.pipeline import shading as fs

SIZE = 512
RADIUS = 3


def thicken_case(scenario: str):
    """512² inputs: ``strokes`` (line art: ~1% of pixels are sources) or ``dense`` (every pixel)."""
    rng = np.random.default_rng(0)
    shape = (SIZE, SIZE)
    src = rng.random(shape + (3,))
    angle = rng.uniform(0.0, 2.0 * np.pi, size=shape)
    dir_y, dir_x = np.sin(angle), np.cos(angle)
    budget = rng.uniform(0.9, 3.0, size=shape)
    if scenario == "strokes":
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        contours = np.zeros(shape, np.uint8)
        for r in (60, 120, 180, 240):
            contours[np.abs(np.hypot(yy - 256, xx - 256) - r) < 0.8] = 1
        contours[::37, :] = 1
        sources = np.flatnonzero(contours & (rng.random(shape) < 0.5)).astype(np.int64)
    else:
        contours = (rng.random(shape) < 0.1).astype(np.uint8)
        sources = np.arange(SIZE * SIZE, dtype=np.int64)
    return src, sources, dir_y, dir_x, budget, contours


def thicken_kernel(src, sources, dir_y, dir_x, budget, contours):
    out = src.copy()
    written = np.zeros(contours.shape, np.uint8)
    count = ks.perpendicular_scatter(src, out, sources, dir_y, dir_x, budget, contours, RADIUS, written)
    return out, written, count


def thicken_numpy(src, sources, dir_y, dir_x, budget, contours):
    return ref.perpendicular_scatter_numpy(src, sources, dir_y, dir_x, budget, contours, RADIUS)


THICKEN = {"kernel": thicken_kernel, "numpy": thicken_numpy}


@pytest.mark.parametrize("impl", sorted(THICKEN))
@pytest.mark.parametrize("scenario", ["strokes", "dense"])
def test_thicken(benchmark, scenario, impl):
    case = thicken_case(scenario)
    func = THICKEN[impl]
    func(*case)  # warm-up (compile)
    benchmark.extra_info["sources"] = int(case[1].size)
    out, written, count = benchmark(func, *case)
    want = thicken_numpy(*case)
    np.testing.assert_array_equal(out, want[0])
    np.testing.assert_array_equal(written, want[1])
    assert count == want[2]


# --------------------------------------------------------------------------- copy path


@functools.cache
def copy_case(n_components: int, component_size: int):
    """Per-component shadow copies on a 512² image (self-path shapes: short random-walk strokes)."""
    rng = np.random.default_rng(1)
    shape = (SIZE, SIZE)
    image = np.ones(shape + (3,))
    image[rng.random(shape) < 0.02] = 0.0
    carrier = image.mean(axis=2)
    phi = rng.normal(size=(SIZE * SIZE, 8))
    components = []
    for _ in range(n_components):
        steps = rng.choice(np.array([[0, 1], [1, 0], [1, 1], [-1, 1]]), size=component_size)
        start = rng.integers(20, SIZE - 20 - component_size, 2)
        ys = (start[0] + np.cumsum(steps[:, 0])).astype(np.int64)
        xs = (start[1] + np.cumsum(steps[:, 1])).astype(np.int64)
        void_angle = rng.uniform(0.0, 2.0 * np.pi)
        shift = (15.0 * np.sin(void_angle), 15.0 * np.cos(void_angle))
        components.append((ys, xs, (ys.mean(), xs.mean()), shift))
    return image, carrier, phi, components


def copy_path_wrappers(image, carrier, phi, components):
    """The shader's per-component chain through :mod:`fastshade.pipeline.shading`."""
    out = image.copy()
    total = 0
    for ys, xs, c, shift in components:
        dst_y, dst_x, inside = fs.place_component(ys, xs, c, c, out.shape, quarter_turns=1, shift=shift)
        affinity = fs.pixel_affinity(phi, phi, dst_y * SIZE + dst_x, ys * SIZE + xs, inside)
        keep = affinity > np.nanmean(affinity) if inside.any() else inside
        colours = fs.hue_rotate(out[ys, xs], 1.0)
        total += int(fs.gated_copy(out, colours, dst_y, dst_x, keep, carrier, 0.3).sum())
    return out, total


def copy_path_kernels(image, carrier, phi, components):
    """Same chain on the raw kernels (what a user's own njit loop would do), NumPy glue for the gate."""
    out = image.copy()
    total = 0
    for ys, xs, c, shift in components:
        m = ys.size
        dst_y = np.empty(m, np.int64)
        dst_x = np.empty(m, np.int64)
        inside = np.empty(m, np.uint8)
        ks.place_component(ys, xs, c[0], c[1], c[0], c[1], 1, 1.0, shift[0], shift[1], SIZE, SIZE, False,
                           dst_y, dst_x, inside)
        affinity = np.empty(m)
        ks.pixel_affinity(phi, phi, dst_y * SIZE + dst_x, ys * SIZE + xs, inside, affinity)
        keep = (affinity > np.nanmean(affinity)).view(np.uint8) if inside.any() else inside
        colours = np.empty((m, 3))
        ks.hue_rotate(out[ys, xs], 1.0, colours)
        copied = np.empty(m, np.uint8)
        total += ks.gated_copy(out, colours, dst_y, dst_x, keep, carrier, 0.3, copied)
    return out, total


def copy_path_numpy(image, carrier, phi, components):
    """Vectorised NumPy references for every step."""
    out = image.copy()
    total = 0
    for ys, xs, c, shift in components:
        dst_y, dst_x, inside = ref.place_component_numpy(ys, xs, c, c, (SIZE, SIZE), quarter_turns=1, shift=shift)
        affinity = ref.pixel_affinity_numpy(phi, phi, dst_y * SIZE + dst_x, ys * SIZE + xs, inside)
        keep = affinity > np.nanmean(affinity) if inside.any() else inside
        colours = ref.hue_rotate_numpy(out[ys, xs], 1.0)
        total += ref.gated_copy_numpy(out, colours, dst_y, dst_x, keep, carrier, 0.3)[1]
    return out, total


@functools.cache
def copy_reference(n_components: int, component_size: int):
    """NumPy result of a copy case, computed once per case (inputs are never modified)."""
    return copy_path_numpy(*copy_case(n_components, component_size))


COPY = {"kernel": copy_path_kernels, "wrapper": copy_path_wrappers, "numpy": copy_path_numpy}


@pytest.mark.parametrize("impl", sorted(COPY))
@pytest.mark.parametrize(("n_components", "component_size"), [(20, 15), (300, 60)], ids=["toof-like", "heavy"])
def test_copy_path(benchmark, n_components, component_size, impl):
    case = copy_case(n_components, component_size)
    func = COPY[impl]
    func(*case)  # warm-up (compile)
    out, total = benchmark(func, *case)
    want, want_total = copy_reference(n_components, component_size)
    assert total == want_total > 0
    # hue rotation may differ from NumPy in the last bit (FMA), everything else is exact
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-15)
