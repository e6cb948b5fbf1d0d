"""kernels.blockops (AMG setup products) against SciPy sparse references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.blockops import (
    smoothed_prolongator,
    smoothed_prolongator_row_nnz,
    spgemm_pair,
    spgemm_row_nnz,
)


def _random_csr(rows: int, cols: int, density: float, seed: int) -> sp.csr_matrix:
    return sp.random(rows, cols, density=density, format="csr", random_state=seed,
                     dtype=np.float64)


def _pair(X: sp.csr_matrix, x2: np.ndarray, Y: sp.csr_matrix, y2: np.ndarray):
    r, c = X.shape[0], Y.shape[1]
    pos = np.full(c, -1, np.int64)
    counts = np.empty(r, np.int64)
    spgemm_row_nnz(X.indptr, X.indices, Y.indptr, Y.indices, pos, counts)
    indptr = np.zeros(r + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    nnz = int(indptr[-1])
    indices = np.empty(nnz, np.int64)
    c1, c2 = np.empty(nnz), np.empty(nnz)
    pos.fill(-1)
    acc1, acc2 = np.zeros(c), np.zeros(c)
    spgemm_pair(X.indptr, X.indices, X.data, x2, Y.indptr, Y.indices, Y.data, y2,
                indptr, pos, acc1, acc2, indices, c1, c2)
    assert not acc1.any() and not acc2.any()  # work arrays left zeroed
    C1 = sp.csr_matrix((c1, indices, indptr), shape=(r, c))
    C2 = sp.csr_matrix((c2, indices, indptr), shape=(r, c))
    return C1, C2, counts


def _check_pair(rows: int, inner: int, cols: int, density: float, seed: int) -> None:
    X = _random_csr(rows, inner, density, seed)
    Y = _random_csr(inner, cols, density, seed + 1)
    rng = np.random.default_rng(seed)
    x2 = rng.standard_normal(X.nnz)
    y2 = rng.standard_normal(Y.nnz)
    X2 = sp.csr_matrix((x2, X.indices, X.indptr), shape=X.shape)
    Y2 = sp.csr_matrix((y2, Y.indices, Y.indptr), shape=Y.shape)
    C1, C2, counts = _pair(X, x2, Y, y2)
    np.testing.assert_allclose(C1.toarray(), (X @ Y).toarray(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(C2.toarray(), (X2 @ Y2).toarray(), rtol=1e-12, atol=1e-12)
    # symbolic count = structural pattern of the product (no cancellation dropped)
    Xs = sp.csr_matrix((np.ones(X.nnz), X.indices, X.indptr), shape=X.shape)
    Ys = sp.csr_matrix((np.ones(Y.nnz), Y.indices, Y.indptr), shape=Y.shape)
    np.testing.assert_array_equal(counts, np.diff((Xs @ Ys).indptr))
    # no duplicate columns within a row
    for i in range(rows):
        row = C1.indices[C1.indptr[i]:C1.indptr[i + 1]]
        assert np.unique(row).size == row.size


@pytest.mark.parametrize("rows,inner,cols,density", [
    (1, 1, 1, 1.0), (1, 7, 1, 0.5), (7, 1, 5, 0.6), (1, 9, 9, 0.4), (9, 9, 1, 0.4),
    (30, 20, 25, 0.2), (50, 50, 50, 0.0), (40, 60, 30, 0.9),
])
def test_spgemm_pair_matches_scipy(rows, inner, cols, density):
    _check_pair(rows, inner, cols, density, seed=3)


@settings(max_examples=25)
@given(st.integers(1, 25), st.integers(1, 25), st.integers(1, 25),
       st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_spgemm_pair_property(rows, inner, cols, density, seed):
    _check_pair(rows, inner, cols, density, seed)


def _reference_prolongator(A: sp.csr_matrix, dinv, omega, agg, t, nc) -> np.ndarray:
    n = A.shape[0]
    T = sp.csr_matrix((t, (np.arange(n), agg)), shape=(n, nc))
    return (T - omega * sp.diags(dinv) @ (A @ T)).toarray()


def _check_prolongator(n: int, nc: int, density: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    M = _random_csr(n, n, density, seed)
    A = (M + M.T + sp.identity(n) * (n + 1.0)).tocsr()  # square, stored diagonal
    agg = np.concatenate([np.arange(nc), rng.integers(0, nc, n - nc)]) if n >= nc else None
    rng.shuffle(agg)
    t = rng.uniform(0.1, 1.0, n)
    dinv = 1.0 / A.diagonal()
    pos = np.full(nc, -1, np.int64)
    counts = np.empty(n, np.int64)
    smoothed_prolongator_row_nnz(A.indptr, A.indices, agg, pos, counts)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(indptr[-1], np.int64)
    data = np.empty(indptr[-1])
    pos.fill(-1)
    smoothed_prolongator(A.indptr, A.indices, A.data, dinv, 2.0 / 3.0, agg, t, indptr, pos,
                         indices, data)
    P = sp.csr_matrix((data, indices, indptr), shape=(n, nc))
    np.testing.assert_allclose(P.toarray(), _reference_prolongator(A, dinv, 2.0 / 3.0, agg, t, nc),
                               rtol=1e-12, atol=1e-14)
    # own aggregate first in every row, no duplicates
    np.testing.assert_array_equal(indices[indptr[:-1]], agg)
    for i in range(n):
        row = indices[indptr[i]:indptr[i + 1]]
        assert np.unique(row).size == row.size


@pytest.mark.parametrize("n,nc,density", [(1, 1, 0.0), (2, 1, 1.0), (5, 5, 0.3), (40, 7, 0.1),
                                          (60, 60, 0.05), (30, 3, 0.0)])
def test_smoothed_prolongator_matches_scipy(n, nc, density):
    _check_prolongator(n, nc, density, seed=11)


@settings(max_examples=25)
@given(st.integers(1, 40), st.integers(1, 40), st.floats(0.0, 0.5), st.integers(0, 10_000))
def test_smoothed_prolongator_property(n, nc, density, seed):
    _check_prolongator(max(n, nc), nc, density, seed)
