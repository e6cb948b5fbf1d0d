"""Benchmarks of the whole shader and of its stages (pytest-benchmark).

``test_shade``: :func:`fastshade.pipeline.shader.shade_arrays` end to end on the cases
the original research code was timed on (toof self, toof x snek-heavy cross,
a synthetic 1152 x 832 self), with ``--basis lobpcg`` and ``krylov``; the
shader's own per-stage seconds of the last round go to ``extra_info``.
``test_stage``: each expensive stage alone on toof.png, called the way
:func:`fastshade.pipeline.shader.analyse` calls it.

Warm-up: a whole shader run on a small demo image with the same options
(``warm_shader`` in ``bench/conftest.py``) before ``benchmark(...)``, so
JIT compilation is never timed.  Cases with the shared images skip with a
reason when ``../shared/images`` is absent; the two LOBPCG cases that take
minutes (cross, 1152 x 832) run only with ``--benchmark-enable``.
``fastshade bench`` is the user-facing equivalent with baselines and scaling
fits.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastshade.options import ShadeOptions
from fastshade.pipeline.paint import shadow_self, thicken
from fastshade.pipeline.shader import analyse, shade_arrays

BASES = ["lobpcg", "krylov"]
ORIGINAL_SHAPE = (1152, 832)  # (H, W) of the original's largest benchmark image

CASES = [
    pytest.param("toof.png", None, id="toof-self"),
    pytest.param("toof.png", "snek-heavy.png", id="toof-x-snek-heavy-cross"),
    pytest.param("synthetic-1152x832", None, id="synthetic-1152x832-self"),
]
HEAVY = {("toof.png", "snek-heavy.png", "lobpcg"), ("synthetic-1152x832", None, "lobpcg")}
"""Cases measured only with ``--benchmark-enable``: with benchmarks disabled (CI) they would
add minutes and check nothing that ``toof-self`` and the krylov cases do not."""


def _image(name: str, shared_image, demo_rgb) -> np.ndarray:
    if name.startswith("synthetic-"):
        return demo_rgb(*ORIGINAL_SHAPE)
    return shared_image(name)


@pytest.mark.parametrize("basis", BASES)
@pytest.mark.parametrize(("target", "sample"), CASES)
def test_shade(benchmark, warm_shader, shared_image, demo_rgb, target, sample, basis):
    if benchmark.disabled and (target, sample, basis) in HEAVY:
        pytest.skip("heavy case: measured only with --benchmark-enable (keeps CI short)")
    rgb_t = _image(target, shared_image, demo_rgb)
    rgb_s = _image(sample, shared_image, demo_rgb) if sample else None
    opts = ShadeOptions(basis=basis)
    warm_shader(opts, cross=rgb_s is not None)
    res = benchmark.pedantic(shade_arrays, args=(rgb_t, rgb_s, opts), rounds=3, iterations=1)
    timings = res.stats["timings"]
    benchmark.extra_info["timings"] = timings
    benchmark.extra_info["shadow_components"] = len(res.stats["placements"])
    assert res.image.shape == rgb_t.shape
    assert np.isfinite(res.image).all() and res.image.min() >= 0.0 and res.image.max() <= 1.0
    assert res.stats["mode"] == ("cross" if sample else "self")
    assert res.stats["basis"]["method"] == basis
    for stage in ("laplacian", "basis", "fields", "gates", "components", "thicken", "shadow", "total"):
        assert timings[stage] >= 0.0
    if sample is None:  # cross mode analyses the sample inside the "shadow" stage: stages overlap
        assert timings["total"] >= sum(timings[s] for s in ("laplacian", "basis", "gates", "thicken", "shadow"))


_ANALYSES: dict[str, object] = {}


def _toof_analysis(shared_image, basis: str):
    """The analysis of toof.png (computed once per basis for the stage benchmarks)."""
    if basis not in _ANALYSES:
        _ANALYSES[basis] = analyse(shared_image("toof.png"), ShadeOptions(basis=basis))
    return _ANALYSES[basis]


STAGES = ["laplacian", "basis", "components", "thicken", "shadow"]


@pytest.mark.parametrize("basis", BASES)
@pytest.mark.parametrize("stage", STAGES)
def test_stage(benchmark, warm_shader, shared_image, stage, basis):
    from fastshade.pipeline.components import label_components
    from fastshade.pipeline.graph import image_laplacian
    from fastshade.spectral import spectral_basis

    opts = ShadeOptions(basis=basis)
    an = _toof_analysis(shared_image, basis)  # also the warm-up of every stage
    warm_shader(opts)
    lap_kw = dict(connectivity=opts.connectivity, kind=opts.laplacian, tau=opts.tau,
                  weight_floor=opts.weight_floor)
    h, w = an.shape
    if stage == "laplacian":
        L = benchmark(image_laplacian, an.carrier, **lap_kw)
        assert L.shape == (h * w, h * w)
    elif stage == "basis":
        L = image_laplacian(an.carrier, **lap_kw)
        basis_out = benchmark.pedantic(
            spectral_basis, args=(an.carrier,),
            kwargs=dict(method=opts.basis, k=opts.k, seed=opts.seed, krylov_steps=opts.krylov_steps,
                        tile_size=opts.tile_size, tile_overlap=opts.tile_overlap, laplacian=L, **lap_kw),
            rounds=3, iterations=1)
        assert basis_out.vectors.shape[0] == h * w
        assert np.isfinite(basis_out.vectors).all()
    elif stage == "components":
        comps = benchmark(label_components, an.low, connectivity=8, min_size=opts.min_component)
        assert comps.n == an.components.n
    elif stage == "thicken":
        out, written = benchmark(thicken, an, opts)
        assert out.shape == an.rgb.shape and written.shape == (h, w)
    else:
        base, _ = thicken(an, opts)
        # shadow_self paints in place: a fresh copy per round, made outside the timed call
        placements = benchmark.pedantic(shadow_self, setup=lambda: ((base.copy(), an, opts), {}),
                                        rounds=20, iterations=1)
        assert len(placements) == an.components.n
