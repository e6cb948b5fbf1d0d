"""The one-place policies: seeds (fastshade.seeds) and threads (fastshade.threads)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from fastshade.seeds import seeded_generator
from fastshade.threads import THREAD_VARIABLES, available_cores, limit_threads, thread_environment

ROOT = Path(__file__).resolve().parents[1]


def test_seeded_generator_keeps_todays_streams():
    # the documented streams: (seed,) is default_rng(seed); (seed, y0, x0) is default_rng([seed, y0, x0])
    np.testing.assert_array_equal(seeded_generator(42).standard_normal(7),
                                  np.random.default_rng(42).standard_normal(7))
    np.testing.assert_array_equal(seeded_generator(42, 16, 32).choice([-1.0, 1.0], size=8),
                                  np.random.default_rng([42, 16, 32]).choice([-1.0, 1.0], size=8))
    assert not np.array_equal(seeded_generator(42, 0, 16).standard_normal(8),
                              seeded_generator(42, 16, 0).standard_normal(8))


def test_thread_environment_pins_blas_to_one_and_numba_to_the_count():
    env = thread_environment(3)
    assert env["NUMBA_NUM_THREADS"] == "3"
    assert all(env[name] == "1" for name in THREAD_VARIABLES)
    assert "NUMBA_NUM_THREADS" not in thread_environment()
    assert available_cores() >= 1


def test_limit_threads_limits_blas_and_restores_it():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    with limit_threads(1):
        assert all(n == 1 for n in blas_threads())
    assert blas_threads() == before


def test_the_command_line_pins_blas_before_numpy_loads():
    code = ("import os, sys\nfrom fastshade import cli\n"
            "assert 'numpy' not in sys.modules, 'the package must not load NumPy on import'\n"
            "print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])\n")
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "1"]
