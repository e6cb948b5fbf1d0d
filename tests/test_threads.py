"""One image on several threads: the same bytes for any thread count (issue 21, point 5).

The parallel kernels of the eigensolve (``jit_parallel``) split their rows into fixed chunks;
each is run here on 1 and on 2 Numba threads over inputs that span several chunks, and the
``shade`` command writes the same file with ``--threads 1`` and ``--threads 2``.
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
from fastshade.threads import available_cores, image_threads

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
    """Run ``kernel(*inputs, *outputs)`` on 1 and 2 threads; return both output tuples."""
    results = []
    for n in (1, 2):
        outs = make_outputs()
        _on_threads(n, kernel, *inputs, *outs)
        results.append(outs)
    return results


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
    V1, V2 = Y0.copy(), Y0.copy()
    _on_threads(1, blockops.subtract_outer, V1, R[:, 0], c)
    _on_threads(2, blockops.subtract_outer, V2, R[:, 0], c)
    np.testing.assert_array_equal(V1, V2)
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
