"""One image on several threads: the same bytes for any thread count (issue 21, point 5).

The parallel kernels of the eigensolve (``jit_parallel``) split their rows into fixed chunks;
each kernel's parallel twin is run here on 1 and on 2 Numba threads over inputs that span
several chunks, beside the serial kernel, and all three must give the same bytes; a whole
shading on the twins (``parallel_from(0)``) gives the serial run's bytes, and the ``shade``
command writes the same file with ``--threads 1`` and ``--threads 2``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from fastshade.kernels import blockops
from fastshade.threads import PARALLEL_MIN_ROWS, available_cores, image_threads, parallel_from, threaded

ROOT = Path(__file__).resolve().parents[1]
TWO = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba has one thread here")


def _on_threads(n: int, kernel, *args) -> None:
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        kernel(*args)
    finally:
        numba.set_num_threads(previous)


def _case(rows: int, m: int, seed: int):
    rng = np.random.default_rng(seed)
    M = sp.random(rows, rows, density=min(1.0, 6.0 / rows), format="csr", random_state=seed)
    A = (M + M.T + sp.identity(rows) * 4.0).tocsr()
    b = rng.standard_normal(A.nnz)
    X = rng.standard_normal((rows, m))
    R = rng.standard_normal((rows, m))
    return A, b, X, R, rng


def _both(kernel, make_outputs, *inputs):
    """Run the serial ``kernel(*inputs, *outputs)`` and its parallel twin on 1 and on 2 threads;
    return the twin's two output tuples after checking the serial kernel's equal them.
    """
    results = []
    for run, n in ((kernel, 1), (kernel.parallel, 1), (kernel.parallel, 2)):
        outs = make_outputs()
        _on_threads(n, run, *inputs, *outs)
        results.append(outs)
    for a, c in zip(results[0], results[1], strict=True):
        np.testing.assert_array_equal(a, c, err_msg=f"{kernel.__name__}: serial vs parallel twin")
    return results[1:]


@TWO
@pytest.mark.parametrize("rows", [1, blockops.ROW_CHUNK - 1, 3 * blockops.ROW_CHUNK + 17])
def test_parallel_kernels_give_the_same_bytes_on_one_and_two_threads(rows):
    m = 12
    A, b, X, R, rng = _case(rows, m, seed=rows)
    new = lambda: (np.full((rows, m), np.nan),)  # noqa: E731
    pair = lambda: (np.full((rows, m), np.nan), np.full((rows, m), np.nan))  # noqa: E731
    wdinv = (2.0 / 3.0) / A.diagonal()
    cases = [
        (blockops.csr_matmat, new, (A.indptr, A.indices, A.data, X)),
        (blockops.csr_matmat_pair, pair, (A.indptr, A.indices, A.data, b, X)),
        (blockops.csr_residual, new, (A.indptr, A.indices, A.data, X, R)),
        (blockops.jacobi_sweep, new, (A.indptr, A.indices, A.data, wdinv, X, R)),
        (blockops.jacobi_start, pair, (A.indptr, A.indices, A.data, wdinv, R)),
    ]
    for kernel, outputs, inputs in cases:
        one, two = _both(kernel, outputs, *inputs)
        for a, c in zip(one, two, strict=True):
            assert not np.isnan(a).any(), kernel.__name__
            np.testing.assert_array_equal(a, c, err_msg=kernel.__name__)
    # the update kernels, in place
    Y0 = rng.standard_normal((rows, m))
    one, two = _both(blockops.csr_matmat_add, lambda: (Y0.copy(),), A.indptr, A.indices, A.data, X)
    np.testing.assert_array_equal(one[0], two[0])
    c = rng.standard_normal(m)
    V = [Y0.copy() for _ in range(3)]
    for run, n, v in zip((blockops.subtract_outer, blockops.subtract_outer.parallel,
                          blockops.subtract_outer.parallel), (1, 1, 2), V, strict=True):
        _on_threads(n, run, v, R[:, 0], c)
    np.testing.assert_array_equal(V[0], V[1])
    np.testing.assert_array_equal(V[1], V[2])
    # the reductions: per-chunk partial sums added in chunk order
    C = rng.standard_normal((m, 8))
    lam = rng.standard_normal(8)
    one, two = _both(blockops.rotate_residual, lambda: (np.empty((rows, 8)), np.empty(8)), X, R, C, lam)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    np.testing.assert_allclose(one[1], ((R @ C - (X @ C) * lam) ** 2).sum(axis=0), rtol=1e-11)
    lam12 = rng.standard_normal(m)
    one, two = _both(blockops.ritz_residual, lambda: (np.empty((rows, m)), np.empty(m)), X, R, lam12)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


def test_threaded_picks_the_parallel_twin_only_for_big_work_on_several_threads():
    kernel = blockops.csr_matmat
    assert kernel.parallel is not kernel and kernel.parallel.targetoptions["parallel"]
    assert "parallel" not in kernel.targetoptions
    assert threaded(blockops.column_sumsq_extrema, 1 << 30) is blockops.column_sumsq_extrema  # serial only
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert threaded(kernel, 10 * PARALLEL_MIN_ROWS) is kernel  # one thread: never the twin
        if numba.config.NUMBA_NUM_THREADS >= 2:
            numba.set_num_threads(2)
            assert threaded(kernel, PARALLEL_MIN_ROWS - 1) is kernel
            assert threaded(kernel, PARALLEL_MIN_ROWS) is kernel.parallel
            with parallel_from(0):
                assert threaded(kernel, 1) is kernel.parallel
            assert threaded(kernel, 1) is kernel
    finally:
        numba.set_num_threads(previous)


@TWO
@pytest.mark.parametrize("style", ["v12", "brush"])
def test_a_shading_on_the_parallel_twins_gives_the_serial_bytes(style):
    # (brush on threads also splits its Gaussians among them: pipeline/filters)
    from fastshade.demo import demo_image
    from fastshade.styles import shade_arrays
    from fastshade.threads import limit_threads

    image = demo_image(200, 160)
    with limit_threads(numba_threads=1):
        serial = shade_arrays(image, None, {"style": style})
    with limit_threads(numba_threads=2), parallel_from(0):
        twins = shade_arrays(image, None, {"style": style})
    assert serial.stats["changed_pixels"] > 1000
    np.testing.assert_array_equal(serial.image, twins.image)
    assert twins.stats["placements"] == serial.stats["placements"]
    assert twins.stats["changed_by_stage"] == serial.stats["changed_by_stage"]


def test_image_threads_policy():
    assert image_threads(None) == available_cores()
    assert image_threads(3) == 3
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="--threads"):
            image_threads(bad)


def _shade(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    return subprocess.run([sys.executable, "-m", "fastshade", "shade", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(available_cores() < 2, reason="one core")
def test_shade_threads_one_and_two_write_the_same_bytes(tmp_path):
    outs = []
    for n in (1, 2):
        out = tmp_path / f"demo-{n}.png"
        done = _shade(tmp_path, "--demo", "-o", str(out), "--threads", str(n))
        assert done.returncode == 0, done.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_shade_threads_zero_is_one_line(tmp_path):
    done = _shade(tmp_path, "--demo", "-o", str(tmp_path / "x.png"), "--threads", "0")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--threads" in done.stderr
    assert not (tmp_path / "x.png").exists()
