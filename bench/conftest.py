"""Shared fixtures of the pytest-benchmark suite (``bench/bench_*.py``).

Measure with one thread, benchmarks enabled::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
      PYTHONPATH=. python -m pytest bench/ --benchmark-enable -q -p no:cacheprovider

In CI (``--benchmark-disable``) every benchmark runs once as a correctness check.

Fixtures
--------
``shared_image``
    ``shared_image("toof.png") -> (H, W, 3) float64`` from ``../shared/images``;
    skips the test with a reason when the folder or file is absent.
``demo_rgb``
    ``demo_rgb(height, width) -> (H, W, 3) float64``: the built-in demo line art
    (:func:`fastshade.demo.demo_image`), cached per size for the session.
``warm``
    ``warm(fn, *args, **kwargs)``: one untimed call so JIT compile time (or a
    cache load) is never timed; returns the call's result.  Warm up on a
    small input of the same dtypes: Numba compiles per type, not per size.
``warm_shader``
    ``warm_shader(options, cross=False)``: runs the whole shader once on a
    96 x 96 demo image (twice with ``cross=True``), compiling every kernel
    the shader will use with those options.  Done once per option set.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = ROOT / ".." / "shared" / "images"
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Show the thread settings (benchmarks are only comparable at a fixed count)."""
    env = ", ".join(f"{k}={os.environ.get(k, 'unset')}" for k in _THREAD_ENV)
    return [f"fastshade bench threads: {env}"]


def load_shared_rgb(name: str) -> np.ndarray:
    """A shared test image as (H, W, 3) float64 in [0, 1]; ``pytest.skip`` when absent."""
    path = SHARED_IMAGES / name
    if not path.is_file():
        pytest.skip(f"{path} not present (the ../shared/images benchmark images are optional)")
    from fastshade.io import read_image

    return read_image(path).rgb


@pytest.fixture(scope="session")
def shared_image() -> Callable[[str], np.ndarray]:
    """Factory: ``shared_image(name)`` -> float64 RGB (cached); skips when the file is absent."""
    cache: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = load_shared_rgb(name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def demo_rgb() -> Callable[[int, int], np.ndarray]:
    """Factory: ``demo_rgb(height, width)`` -> the demo line art as float64 RGB (cached per size)."""
    from fastshade.demo import demo_image

    cache: dict[tuple[int, int], np.ndarray] = {}

    def get(height: int, width: int) -> np.ndarray:
        key = (int(height), int(width))
        if key not in cache:
            cache[key] = np.ascontiguousarray(demo_image(*key))
        return cache[key]

    return get


@pytest.fixture(scope="session")
def warm() -> Callable[..., Any]:
    """``warm(fn, *args, **kwargs)``: one untimed call (JIT compile / cache load); returns its result."""

    def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return call


@pytest.fixture(scope="session")
def warm_shader(demo_rgb: Callable[[int, int], np.ndarray]) -> Callable[..., None]:
    """``warm_shader(options, cross=False)``: run the shader once on a small demo image."""
    from fastshade.pipeline.shader import shade_arrays

    done: set[tuple[str, bool]] = set()

    def run(options: Any, cross: bool = False) -> None:
        key = (options.digest(), cross)
        if key in done:
            return
        small = demo_rgb(96, 96)
        shade_arrays(small, small if cross else None, options)
        done.add(key)

    return run
