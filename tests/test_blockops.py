"""fastshade.kernels.blockops and .spgemm (AMG setup products) against SciPy sparse references."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fastshade.kernels.blockops import (
    ROW_CHUNK,
    column_sumsq_extrema,
    csr_diagonal,
    csr_matmat,
    csr_matmat_add,
    csr_matmat_pair,
    csr_residual,
    gather_scaled_columns,
    jacobi_start,
    jacobi_sweep,
    main_diagonal_entries,
    ritz_residual,
    rotate_residual,
    scaled_column_energy,
    strength_pattern,
    subtract_outer,
)
from fastshade.kernels.spgemm import (
    smoothed_prolongator,
    smoothed_prolongator_row_nnz,
    spgemm_bound,
    spgemm_pair_bounded,
)
from fastshade.threads import limit_threads


def _random_csr(rows: int, cols: int, density: float, seed: int) -> sp.csr_matrix:
    return sp.random(rows, cols, density=density, format="csr", random_state=seed,
                     dtype=np.float64)


def _reference_prolongator(A: sp.csr_matrix, dinv, omega, agg, t, nc) -> np.ndarray:
    n = A.shape[0]
    T = sp.csr_matrix((t, (np.arange(n), agg)), shape=(n, nc))
    return (T - omega * sp.diags(dinv) @ (A @ T)).toarray()


def _run_prolongator(A: sp.csr_matrix, shift: float, dinv, agg, t, nc: int, twin: bool = False,
                     stale: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two kernel passes of the smoothed prolongator: ``(indptr, indices, data)`` (``twin``:
    the parallel twins; ``stale``: the numeric pass's positions start as garbage)."""
    n = A.shape[0]
    count = smoothed_prolongator_row_nnz.parallel if twin else smoothed_prolongator_row_nnz
    numeric = smoothed_prolongator.parallel if twin else smoothed_prolongator
    pos = np.full((numba.get_num_threads() if twin else 1, nc), -1, np.int64)
    counts = np.empty(n, np.int64)
    count(A.indptr, A.indices, agg, pos, counts)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(indptr[-1], np.int64)
    data = np.empty(indptr[-1])
    if stale:
        pos[:] = np.random.default_rng(n).integers(-1, max(1, indptr[-1]), pos.shape)
    numeric(A.indptr, A.indices, A.data, shift, dinv, 2.0 / 3.0, agg, t, indptr, pos, indices, data)
    return indptr, indices, data


def _check_prolongator(n: int, nc: int, density: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    M = _random_csr(n, n, density, seed)
    A = (M + M.T + sp.identity(n) * (n + 1.0)).tocsr()  # square, stored diagonal
    agg = np.concatenate([np.arange(nc), rng.integers(0, nc, n - nc)]) if n >= nc else None
    rng.shuffle(agg)
    t = rng.uniform(0.1, 1.0, n)
    dinv = 1.0 / A.diagonal()
    indptr, indices, data = _run_prolongator(A, 0.0, dinv, agg, t, nc)
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


@pytest.mark.parametrize("n,nc,shift", [(30, 5, 0.0), (50_000, 9000, 0.0), (50_000, 300, 0.3)])
def test_smoothed_prolongator_twins_and_stale_positions_give_the_same_bits(n, nc, shift):
    """The parallel twins (rows in chunks of 4096, one work row per thread, chunks in any order)
    and a numeric pass whose positions start as garbage give the serial kernels' arrays."""
    rng = np.random.default_rng(n + nc)
    edges = rng.integers(0, n, (2, 2 * n))  # (sp.random is slow at this density)
    M = sp.csr_matrix((rng.standard_normal(2 * n), (edges[0], edges[1])), shape=(n, n))
    A = (M + M.T + sp.identity(n) * 2.0).tocsr()  # every row stores its diagonal once
    agg = np.concatenate([np.arange(nc), rng.integers(0, nc, n - nc)])
    t = rng.uniform(0.1, 1.0, n)
    dinv = 1.0 / (A.diagonal() + shift)
    want = _run_prolongator(A, shift, dinv, agg, t, nc)
    with limit_threads(numba_threads=2):
        for twin, stale in ((True, False), (False, True), (True, True)):
            got = _run_prolongator(A, shift, dinv, agg, t, nc, twin=twin, stale=stale)
            for g, w in zip(got, want):
                assert g.tobytes() == w.tobytes()
    P = sp.csr_matrix((want[2], want[1], want[0]), shape=(n, nc))
    if n < 100:
        np.testing.assert_allclose(P.toarray(), _reference_prolongator(A + shift * sp.identity(n), dinv, 2.0 / 3.0,
                                                                         agg, t, nc), rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------------------
# dense-block products of the LOBPCG / V-cycle (references: SciPy sparse @ dense)
# ----------------------------------------------------------------------------------------


def _block_case(rows: int, cols: int, m: int, density: float, seed: int):
    A = _random_csr(rows, cols, density, seed)
    rng = np.random.default_rng(seed)
    b = rng.standard_normal(A.nnz)
    B = sp.csr_matrix((b, A.indices, A.indptr), shape=A.shape)
    X = rng.standard_normal((cols, m))
    return A, b, B, X, rng


def _check_block_products(rows: int, cols: int, m: int, density: float, seed: int) -> None:
    A, b, B, X, rng = _block_case(rows, cols, m, density, seed)
    Y = np.full((rows, m), np.nan)  # every entry must be written
    csr_matmat(A.indptr, A.indices, A.data, X, Y)
    np.testing.assert_allclose(Y, A @ X, rtol=1e-12, atol=1e-12)
    AX, BX = np.full((rows, m), np.nan), np.full((rows, m), np.nan)
    csr_matmat_pair(A.indptr, A.indices, A.data, b, X, AX, BX)
    np.testing.assert_array_equal(AX, Y)  # same summation order as csr_matmat
    np.testing.assert_allclose(BX, B @ X, rtol=1e-12, atol=1e-12)
    # strided views (column slices of a stacked block) in and out
    S = rng.standard_normal((cols, 3 * m))
    out = np.full((rows, 2 * m), np.nan)
    csr_matmat(A.indptr, A.indices, A.data, S[:, m:2 * m], out[:, m:])
    np.testing.assert_allclose(out[:, m:], A @ S[:, m:2 * m], rtol=1e-12, atol=1e-12)
    assert np.isnan(out[:, :m]).all()
    # Y += A X: the product rounded first, then added (the values of csr_matmat and +=)
    Z0 = rng.standard_normal((rows, m))
    Z = Z0.copy()
    csr_matmat_add(A.indptr, A.indices, A.data, X, Z)
    np.testing.assert_allclose(Z, Z0 + A @ X, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(Z, Z0 + Y)


@pytest.mark.parametrize("rows,cols,m,density", [
    (1, 1, 1, 1.0), (1, 9, 3, 0.5), (9, 1, 2, 0.6), (9, 9, 1, 0.0), (30, 20, 12, 0.2),
    (40, 40, 5, 0.9), (5, 5, 0, 0.5),
])
def test_csr_block_products_match_scipy(rows, cols, m, density):
    _check_block_products(rows, cols, m, density, seed=5)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 13), st.floats(0.0, 1.0),
       st.integers(0, 10_000))
def test_csr_block_products_property(rows, cols, m, density, seed):
    _check_block_products(rows, cols, m, density, seed)


def _check_smoother(n: int, m: int, density: float, seed: int) -> None:
    A, _, _, X, rng = _block_case(n, n, m, density, seed)
    A = (A + A.T + sp.identity(n) * 3.0).tocsr()
    R = rng.standard_normal((n, m))
    wdinv = (2.0 / 3.0) / A.diagonal()
    T = np.full((n, m), np.nan)
    csr_residual(A.indptr, A.indices, A.data, X, R, T)
    np.testing.assert_allclose(T, R - A @ X, rtol=1e-12, atol=1e-12)
    J = np.full((n, m), np.nan)
    jacobi_sweep(A.indptr, A.indices, A.data, wdinv, X, R, J)
    np.testing.assert_allclose(J, X + wdinv[:, None] * (R - A @ X), rtol=1e-12, atol=1e-12)
    # the first step from zero: X0 = wdinv R and R - A X0 in one pass, the same values as the
    # two-pass kernels (and SciPy's within rounding)
    X0, T0 = np.full((n, m), np.nan), np.full((n, m), np.nan)
    jacobi_start(A.indptr, A.indices, A.data, wdinv, R, X0, T0)
    np.testing.assert_array_equal(X0, R * wdinv[:, None])
    np.testing.assert_allclose(T0, R - A @ (R * wdinv[:, None]), rtol=1e-12, atol=1e-12)
    csr_residual(A.indptr, A.indices, A.data, R * wdinv[:, None], R, T)
    np.testing.assert_array_equal(T0, T)


@pytest.mark.parametrize("n,m,density", [(1, 1, 0.0), (1, 4, 1.0), (7, 1, 0.5), (25, 12, 0.2),
                                         (30, 3, 0.0)])
def test_vcycle_smoother_kernels_match_scipy(n, m, density):
    _check_smoother(n, m, density, seed=8)


@settings(deadline=None, max_examples=20)
@given(st.integers(1, 30), st.integers(1, 12), st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_vcycle_smoother_kernels_property(n, m, density, seed):
    _check_smoother(n, m, density, seed)


def _check_rotate(n: int, p: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X0 = rng.standard_normal((n, p))
    AX0 = rng.standard_normal((n, p))
    C = rng.standard_normal((p, m))
    lam = rng.standard_normal(m)
    X = np.full((n, m), np.nan)
    rsq = np.full(m, np.nan)
    rotate_residual(X0, AX0, C, lam, X, rsq)
    np.testing.assert_allclose(X, X0 @ C, rtol=1e-12, atol=1e-12)
    R = AX0 @ C - (X0 @ C) * lam
    np.testing.assert_allclose(rsq, (R * R).sum(axis=0), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("n,p,m", [(1, 1, 1), (1, 12, 8), (9, 1, 1), (50, 12, 12), (5, 3, 0)])
def test_rotate_residual_matches_numpy(n, p, m):
    _check_rotate(n, p, m, seed=2)


@settings(deadline=None, max_examples=20)
@given(st.integers(1, 40), st.integers(1, 13), st.integers(0, 13), st.integers(0, 10_000))
def test_rotate_residual_property(n, p, m, seed):
    _check_rotate(n, p, m, seed)


@pytest.mark.parametrize("n,p", [(1, 1), (7, 12), (5000, 12), (9000, 3)])
def test_rotate_residual_eight_columns_are_the_sums_of_a_wider_block_bit_for_bit(n, p):
    """m = 8 (the usual k): the same sums as the first eight of nine columns (columns are
    independent); in place over the first columns of AX0 too (a row is written after it is read)."""
    rng = np.random.default_rng(n + p)
    X0 = rng.standard_normal((n, p))
    AX0 = rng.standard_normal((n, p))
    C9 = rng.standard_normal((p, 9))
    lam9 = rng.standard_normal(9)
    X9, rsq9 = np.empty((n, 9)), np.empty(9)
    rotate_residual(X0, AX0, C9, lam9, X9, rsq9)
    C, lam = np.ascontiguousarray(C9[:, :8]), lam9[:8].copy()
    X, rsq = np.full((n, 8), np.nan), np.full(8, np.nan)
    rotate_residual(X0, AX0, C, lam, X, rsq)
    np.testing.assert_array_equal(X, X9[:, :8])
    np.testing.assert_array_equal(rsq, rsq9[:8])
    if p >= 8:  # in place: the first eight columns of AX0 (a row is written after it is read)
        A = AX0.copy()
        rotate_residual(X0, A, C, lam, A[:, :8], rsq)
        np.testing.assert_array_equal(A[:, :8], X9[:, :8])
        np.testing.assert_array_equal(rsq, rsq9[:8])


def _check_ritz_residual(n: int, m: int, seed: int, strided: bool) -> None:
    rng = np.random.default_rng(seed)
    AX = rng.standard_normal((n, m))
    BXfull = rng.standard_normal((n, 2 * m + 1))
    BX = BXfull[:, 1:m + 1] if strided else np.ascontiguousarray(BXfull[:, 1:m + 1])
    lam = rng.standard_normal(m)
    R = np.full((n, m), np.nan)
    rsq = np.full(m, np.nan)
    ritz_residual(AX, BX, lam, R, rsq)
    ref = AX - BX * lam
    # the house 'contract' flag may fuse the multiply-subtract: rounding-level differences
    np.testing.assert_allclose(R, ref, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(rsq, (ref * ref).sum(axis=0), rtol=1e-12, atol=0)


@pytest.mark.parametrize("n,m", [(1, 1), (1, 12), (7, 1), (300, 12), (4, 0)])
@pytest.mark.parametrize("strided", [False, True])
def test_ritz_residual_matches_numpy(n, m, strided):
    _check_ritz_residual(n, m, seed=3, strided=strided)


@settings(deadline=None, max_examples=20)
@given(st.integers(1, 60), st.integers(0, 13), st.integers(0, 10_000), st.booleans())
def test_ritz_residual_property(n, m, seed, strided):
    _check_ritz_residual(n, m, seed, strided)


def _check_column_stats(V: np.ndarray) -> None:
    m = V.shape[1]
    sumsq, vmax, vmin = (np.full(m, np.nan) for _ in range(3))
    column_sumsq_extrema(V, sumsq, vmax, vmin)
    np.testing.assert_array_equal(vmax, V.max(axis=0))
    np.testing.assert_array_equal(vmin, V.min(axis=0))
    np.testing.assert_allclose(sumsq, (V * V).sum(axis=0), rtol=1e-12, atol=0)


@pytest.mark.parametrize("shape", [(1, 1), (1, 8), (9, 1), (1000, 8), (5, 0)])
def test_column_sumsq_extrema_matches_numpy(shape):
    rng = np.random.default_rng(4)
    _check_column_stats(rng.standard_normal(shape))
    _check_column_stats(np.zeros(shape))  # zero (padding) columns
    _check_column_stats(-np.abs(rng.standard_normal(shape)))  # all negative: max < 0
    if shape[1]:
        V = rng.standard_normal(shape)
        _check_column_stats(V[:, ::-1])  # strided columns


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 80), st.integers(0, 10), st.integers(0, 10_000))
def test_column_sumsq_extrema_property(n, m, seed):
    _check_column_stats(np.random.default_rng(seed).standard_normal((n, m)))


def _gather_case(n: int, p: int, k: int, seed: int, strided: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(V, order, scale)``: random (n, p) columns (C order or a strided slice), ``nv <= min(p, k)``
    of them in a random order, and their scales (the first third 1.0)."""
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((n, 2 * p + 1))
    V = V[:, 1:p + 1] if strided else np.ascontiguousarray(V[:, 1:p + 1])
    nv = int(rng.integers(0, min(p, k) + 1))
    order = rng.permutation(p)[:nv].astype(np.int64)
    scale = rng.standard_normal(nv)
    scale[: nv // 3] = 1.0
    return V, order, scale


def _check_gather(n: int, p: int, k: int, seed: int, strided: bool) -> None:
    V, order, scale = _gather_case(n, p, k, seed, strided)
    nv = order.size
    ref = np.zeros((n, k))
    np.take(V, order, axis=1, out=ref[:, :nv])
    ref[:, :nv] *= scale
    for kernel in (gather_scaled_columns, gather_scaled_columns.parallel):  # the twins: the same bits
        out = np.full((n, k), np.nan)
        kernel(V, order, scale, out)
        np.testing.assert_array_equal(out, ref, strict=True)


@pytest.mark.parametrize("n,p,k", [(1, 1, 1), (1, 8, 8), (9, 1, 3), (1000, 8, 8), (50, 12, 8), (7, 3, 5), (4, 0, 2),
                                   (3 * 4096 + 17, 9, 8)])  # (several row chunks for the twin)
@pytest.mark.parametrize("strided", [False, True])
def test_gather_scaled_columns_is_take_then_scale(n, p, k, strided):
    _check_gather(n, p, k, seed=n + p + k, strided=strided)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 60), st.integers(0, 10), st.integers(0, 10), st.integers(0, 10_000))
def test_gather_scaled_columns_property(n, p, k, seed):
    _check_gather(n, p, k, seed, strided=bool(seed % 2))


def _check_scaled_energy(n: int, p: int, k: int, first: int, seed: int, strided: bool) -> None:
    from fastshade.kernels.shading import column_energy

    V, order, scale = _gather_case(n, p, k, seed, strided)
    nv = order.size
    # the reference of what it replaces: column_energy of gather_scaled_columns' columns, bit for bit
    columns = np.empty((n, k))
    gather_scaled_columns(V, order, scale, columns)
    ref = np.empty(n)
    column_energy(columns, first, ref)
    # and plain NumPy (its own rounding: the kernels may fuse a multiply-add)
    plain = np.zeros(n)
    for j in range(first, nv):
        plain += (V[:, order[j]] * scale[j]) ** 2
    for kernel in (scaled_column_energy, scaled_column_energy.parallel):  # the twins: the same bits
        out = np.full(n, np.nan)
        kernel(V, order, scale, first, out)
        np.testing.assert_array_equal(out, ref, strict=True)
        np.testing.assert_allclose(out, plain, rtol=1e-14, atol=0.0)


@pytest.mark.parametrize("n,p,k,first", [(1, 1, 1, 2), (1, 8, 8, 2), (9, 3, 3, 2), (1000, 8, 8, 2), (50, 12, 8, 0),
                                         (7, 3, 5, 1), (4, 0, 2, 2), (3 * 4096 + 17, 12, 8, 2)])
@pytest.mark.parametrize("strided", [False, True])
def test_scaled_column_energy_is_the_energy_of_the_gathered_columns(n, p, k, first, strided):
    _check_scaled_energy(n, p, k, first, seed=n + p + k + first, strided=strided)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 60), st.integers(0, 10), st.integers(0, 10), st.integers(0, 4), st.integers(0, 10_000))
def test_scaled_column_energy_property(n, p, k, first, seed):
    _check_scaled_energy(n, p, k, first, seed, strided=bool(seed % 2))


# ----------------------------------------------------------------------------------------
# strength pattern (reference: PyAMG's symmetric strength of connection)
# ----------------------------------------------------------------------------------------


def _check_strength(n: int, density: float, theta: float, seed: int) -> None:
    from pyamg.strength import symmetric_strength_of_connection

    M = _random_csr(n, n, density, seed)
    M.data -= 0.5  # mixed signs
    A = (M + M.T + sp.identity(n) * 0.7).tocsr()
    ref = symmetric_strength_of_connection(A, theta)
    indptr = np.empty_like(A.indptr)
    indices = np.empty_like(A.indices)
    nnz = strength_pattern(A.indptr, A.indices, A.data, np.abs(A.diagonal()), theta, indptr,
                           indices)
    assert nnz == ref.indptr[-1]
    np.testing.assert_array_equal(indptr, ref.indptr)
    np.testing.assert_array_equal(indices[:nnz], ref.indices[:nnz])  # same order as PyAMG


@pytest.mark.parametrize("n,density,theta", [(1, 0.0, 0.05), (1, 1.0, 0.0), (6, 0.0, 0.5),
                                             (30, 0.2, 0.0), (30, 0.2, 0.05), (40, 0.5, 0.9)])
def test_strength_pattern_matches_pyamg(n, density, theta):
    _check_strength(n, density, theta, seed=4)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 30), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_strength_pattern_property(n, density, theta, seed):
    _check_strength(n, density, theta, seed)


def _check_bounded(rows: int, inner: int, cols: int, density: float, seed: int,
                   zero_share: float = 0.0) -> None:
    X = _random_csr(rows, inner, density, seed)
    Y = _random_csr(inner, cols, density, seed + 1)
    rng = np.random.default_rng(seed)
    x2 = rng.standard_normal(X.nnz)
    x2[rng.random(X.nnz) < zero_share] = 0.0  # the pixel-level mass: zero off the diagonal
    y2 = rng.standard_normal(Y.nnz)
    X2 = sp.csr_matrix((x2, X.indices, X.indptr), shape=X.shape)
    Y2 = sp.csr_matrix((y2, Y.indices, Y.indptr), shape=Y.shape)
    bound = int(np.diff(Y.indptr)[X.indices].sum())
    indptr = np.full(rows + 1, -7, np.int64)
    indices = np.full(bound, -7, np.int64)
    c1, c2 = np.full(bound, np.nan), np.full(bound, np.nan)
    mark = np.full(cols, -1, np.int64)
    acc1, acc2 = np.zeros(cols), np.zeros(cols)
    nnz = spgemm_pair_bounded(X.indptr, X.indices, X.data, 0.0, x2, Y.indptr, Y.indices, Y.data,
                              y2, mark, acc1, acc2, indptr, indices, c1, c2)
    assert not acc1.any() and not acc2.any()  # work arrays left zeroed
    assert nnz <= bound and indptr[-1] == nnz
    C1 = sp.csr_matrix((c1[:nnz], indices[:nnz], indptr), shape=(rows, cols))
    C2 = sp.csr_matrix((c2[:nnz], indices[:nnz], indptr), shape=(rows, cols))
    np.testing.assert_allclose(C1.toarray(), (X @ Y).toarray(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(C2.toarray(), (X2 @ Y2).toarray(), rtol=1e-12, atol=1e-12)
    # structural pattern of the product (no cancellation dropped), no duplicate columns
    Xs = sp.csr_matrix((np.ones(X.nnz), X.indices, X.indptr), shape=X.shape)
    Ys = sp.csr_matrix((np.ones(Y.nnz), Y.indices, Y.indptr), shape=Y.shape)
    np.testing.assert_array_equal(np.diff(indptr), np.diff((Xs @ Ys).indptr))
    for i in range(rows):
        row = C1.indices[C1.indptr[i]:C1.indptr[i + 1]]
        assert np.unique(row).size == row.size


@pytest.mark.parametrize("rows,inner,cols,density", [
    (1, 1, 1, 1.0), (1, 7, 1, 0.5), (7, 1, 5, 0.6), (9, 9, 1, 0.4), (30, 20, 25, 0.2),
    (50, 50, 50, 0.0), (40, 60, 30, 0.9),
])
def test_spgemm_pair_bounded_matches_scipy(rows, inner, cols, density):
    _check_bounded(rows, inner, cols, density, seed=6)
    _check_bounded(rows, inner, cols, density, seed=6, zero_share=0.8)
    _check_bounded(rows, inner, cols, density, seed=6, zero_share=1.0)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 25), st.integers(1, 25), st.integers(1, 25),
       st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_spgemm_pair_bounded_property(rows, inner, cols, density, seed):
    _check_bounded(rows, inner, cols, density, seed)
    _check_bounded(rows, inner, cols, density, seed, zero_share=0.5)


@pytest.mark.parametrize("rows,cols,density,seed", [(1, 1, 1.0, 0), (6, 6, 0.0, 1), (50, 50, 0.3, 2),
                                                     (40, 70, 0.2, 3)])
def test_main_diagonal_entries_matches_numpy(rows, cols, density, seed):
    A = _random_csr(rows, cols, density, seed)
    if seed == 3:  # a row storing its diagonal twice (unsorted, duplicated)
        A = sp.csr_matrix((np.r_[A.data, 1.0, 2.0], np.r_[A.indices, 0, 0],
                           np.r_[A.indptr, A.nnz + 2]), shape=(rows + 1, cols))
    on_diag = np.ones(A.nnz, dtype=bool) if seed % 2 else np.zeros(A.nnz, dtype=bool)
    once = main_diagonal_entries(A.indptr, A.indices, on_diag)
    row_of = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    np.testing.assert_array_equal(on_diag, A.indices == row_of)
    per_row = np.bincount(row_of[A.indices == row_of], minlength=A.shape[0])
    assert once == int((per_row == 1).sum())
    L = sp.csr_matrix(sp.diags(np.arange(1.0, 6.0)) + sp.random(5, 5, density=0.4, random_state=4))
    assert main_diagonal_entries(L.indptr, L.indices, np.empty(L.nnz, dtype=bool)) == 5


@pytest.mark.parametrize("rows,inner,cols,density", [(1, 1, 1, 1.0), (7, 5, 3, 0.0), (40, 30, 20, 0.2),
                                                     (30, 60, 45, 0.6)])
def test_spgemm_bound_is_the_row_length_sum(rows, inner, cols, density):
    X = _random_csr(rows, inner, density, seed=5)
    Y = _random_csr(inner, cols, density, seed=6)
    ref = int(sum(np.diff(Y.indptr)[j] for j in X.indices))
    assert spgemm_bound(X.indices, Y.indptr) == ref
    assert ref >= (X @ Y).nnz  # an upper bound of the product's structural entries


@pytest.mark.parametrize("n,m", [(1, 1), (1, 12), (9, 1), (500, 12), (3, 0)])
@pytest.mark.parametrize("strided", [False, True])
def test_subtract_outer_matches_numpy(n, m, strided):
    rng = np.random.default_rng(7)
    full = rng.standard_normal((n, 2 * m + 1))
    V = full[:, ::2][:, :m] if strided else np.ascontiguousarray(full[:, :m])
    y = rng.standard_normal(n)
    c = rng.standard_normal(m)
    ref = V - np.outer(y, c)
    before = full.copy()
    subtract_outer(V, y, c)
    np.testing.assert_allclose(V, ref, rtol=1e-14, atol=1e-14)  # 'contract' may fuse
    if strided:  # entries outside the view untouched
        mask = np.ones(full.shape, dtype=bool)
        mask[:, ::2][:, :m] = False
        np.testing.assert_array_equal(full[mask], before[mask])


@pytest.mark.parametrize("shape,seed", [((40, 33), 2), ((120, 90), 3), ((17, 260), 4)])
def test_level0_galerkin_without_the_mass_product_gives_the_pair_arrays(shape, seed):
    # build_hierarchy's level 0 (B = I): A P alone, P^T (A P) alone and P^T P on its pattern
    # (the single-product kernel, galerkin_identity_mass) give exactly the pair products' arrays
    from fastshade.pipeline.graph import image_laplacian
    from fastshade.spectral.amg import _shifted, build_hierarchy
    from fastshade.spectral.setup_csr import spgemm_pair_matrix

    L = image_laplacian(np.random.default_rng(seed).random(shape)).tocsr()
    H = build_hierarchy(L)
    assert H.P, "these sizes have a coarser level"
    P = H.P[0]
    A0, mass = _shifted(L, H.shift)
    AP, bp = spgemm_pair_matrix(A0, mass, P, P.data)
    PT = P.T.tocsr()
    Ac, Bc_data = spgemm_pair_matrix(PT, PT.data, AP, bp)
    for got, want in ((H.A[1].indptr, Ac.indptr), (H.A[1].indices, Ac.indices), (H.A[1].data, Ac.data),
                      (H.B[1].data, Bc_data)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(H.B[1].toarray(), (PT @ P).toarray(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("rows,inner,cols,density,seed", [(1, 1, 1, 1.0, 0), (7, 5, 3, 0.0, 1),
                                                          (40, 30, 20, 0.2, 2), (30, 60, 45, 0.6, 3)])
def test_spgemm_single_product_is_the_pair_kernels_first_product(rows, inner, cols, density, seed):
    X = _random_csr(rows, inner, density, seed)
    Y = _random_csr(inner, cols, density, seed + 1)
    bound = int(spgemm_bound(X.indices, Y.indptr))
    pair = (np.empty(rows + 1, np.int64), np.empty(bound, np.int64), np.empty(bound), np.empty(bound))
    nnz = spgemm_pair_bounded(X.indptr, X.indices, X.data, 0.0, X.data, Y.indptr, Y.indices, Y.data,
                              Y.data, np.full(cols, -1, np.int64), np.zeros(cols), np.zeros(cols), *pair)
    one = (np.full(rows + 1, -7, np.int64), np.full(bound, -7, np.int64), np.full(bound, np.nan))
    acc = np.zeros(cols)
    assert spgemm_pair_bounded(X.indptr, X.indices, X.data, 0.0, None, Y.indptr, Y.indices, Y.data,
                               None, np.full(cols, -1, np.int64), acc, None, *one, None) == nnz
    assert not acc.any()
    np.testing.assert_array_equal(one[0], pair[0])
    np.testing.assert_array_equal(one[1][:nnz], pair[1][:nnz])
    np.testing.assert_array_equal(one[2][:nnz], pair[2][:nnz])
    C = sp.csr_matrix((one[2][:nnz], one[1][:nnz], one[0]), shape=(rows, cols))
    np.testing.assert_allclose(C.toarray(), (X @ Y).toarray(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n,nc,density,seed", [(1, 1, 1.0, 0), (12, 4, 0.4, 1), (60, 15, 0.15, 2), (80, 30, 0.05, 3)])
def test_galerkin_identity_mass_is_scipys_pt_p_on_the_galerkin_pattern(n, nc, density, seed):
    from fastshade.kernels.spgemm import galerkin_identity_mass

    rng = np.random.default_rng(seed)
    P = _random_csr(n, nc, density, seed)
    P.data[rng.random(P.nnz) < 0.2] = 0.0  # stored zeros: skipped as the pair kernel skips them
    A = (_random_csr(n, n, 0.2, seed + 1) + sp.identity(n)).tocsr()  # stores its diagonal
    PT = P.T.tocsr()

    def ones(M):  # the stored pattern, every entry 1 (so no product entry cancels)
        return sp.csr_matrix((np.ones(M.nnz), M.indices, M.indptr), shape=M.shape)

    C = (ones(PT) @ (ones(A) @ ones(P))).tocsr()  # the structural pattern of P^T (A P)
    outs = []
    with limit_threads(numba_threads=2):
        for kernel in (galerkin_identity_mass, galerkin_identity_mass.parallel):  # the twins: the same bits
            for pt_data in (PT.data, None):  # P^T's values stored, or read from P's rows: the same bits
                acc = np.zeros((2, nc))
                out = np.full(C.nnz, np.nan)
                kernel(PT.indptr, PT.indices, pt_data, P.indptr, P.indices, P.data, C.indptr, C.indices, acc, out)
                assert not acc.any() and not np.isnan(out).any()
                outs.append(out)
    assert len({out.tobytes() for out in outs}) == 1
    got = sp.csr_matrix((outs[0], C.indices, C.indptr), shape=C.shape).toarray()
    np.testing.assert_allclose(got, (PT @ P).toarray(), rtol=1e-13, atol=1e-15)


def _shift_case(n: int, density: float, seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix, float]:
    """A square CSR ``L`` storing its diagonal once per row (some off-diagonal zeros stored,
    negative zeros among them), ``A = L + s I`` formed as the hierarchy did (NumPy, on ``L``'s
    pattern), and ``s``."""
    rng = np.random.default_rng(seed)
    M = _random_csr(n, n, density, seed)
    L = (M + M.T + sp.identity(n)).tocsr()
    L.sort_indices()
    L.data = -np.abs(L.data)
    L.data[rng.random(L.nnz) < 0.2] = -0.0
    on_diag = np.empty(L.nnz, dtype=bool)
    assert main_diagonal_entries(L.indptr, L.indices, on_diag) == n
    L.data[on_diag] = rng.uniform(0.5, 3.0, n)
    shift = float(rng.uniform(0.01, 0.5))
    data = shift * on_diag
    np.add(L.data, data, out=data)
    return L, sp.csr_matrix((data, L.indices, L.indptr), shape=L.shape), shift


@pytest.mark.parametrize("n,nc,density,seed", [(1, 1, 0.0, 0), (5, 2, 0.5, 1), (40, 7, 0.1, 2), (60, 60, 0.05, 3)])
def test_the_kernels_shift_gives_the_bits_of_the_shifted_matrix(n, nc, density, seed):
    """Level 0 of the hierarchy reads ``L`` and adds the shift on the diagonal as it reads:
    the prolongator and ``A P`` must be bit for bit those of the ``A = L + s I`` formed first,
    and match SciPy."""
    L, A, shift = _shift_case(n, density, seed)
    rng = np.random.default_rng(seed)
    agg = np.concatenate([np.arange(nc), rng.integers(0, nc, n - nc)])
    rng.shuffle(agg)
    t = rng.uniform(0.1, 1.0, n)
    dinv = 1.0 / A.diagonal()
    out = {name: _run_prolongator(M, s, dinv, agg, t, nc)
           for name, (M, s) in {"formed": (A, 0.0), "read": (L, shift)}.items()}
    indptr = out["read"][0]
    np.testing.assert_array_equal(indptr, out["formed"][0])
    out = {name: arrays[1:] for name, arrays in out.items()}
    np.testing.assert_array_equal(out["read"][0], out["formed"][0])
    assert out["read"][1].tobytes() == out["formed"][1].tobytes()
    P = sp.csr_matrix((out["read"][1], out["read"][0], indptr), shape=(n, nc))
    np.testing.assert_allclose(P.toarray(), _reference_prolongator(A, dinv, 2.0 / 3.0, agg, t, nc),
                               rtol=1e-12, atol=1e-14)
    bound = int(spgemm_bound(L.indices, P.indptr))
    prods = {}
    for name, (M, s) in {"formed": (A, 0.0), "read": (L, shift)}.items():
        res = (np.empty(n + 1, np.int64), np.empty(bound, np.int64), np.empty(bound))
        nnz = spgemm_pair_bounded(M.indptr, M.indices, M.data, s, None, P.indptr, P.indices, P.data,
                                  None, np.full(nc, -1, np.int64), np.zeros(nc), None, *res, None)
        prods[name] = (nnz, res)
    nnz = prods["read"][0]
    assert nnz == prods["formed"][0]
    for got, want, size in zip(prods["read"][1], prods["formed"][1], (n + 1, nnz, nnz)):
        assert got[:size].tobytes() == want[:size].tobytes()
    AP = sp.csr_matrix((prods["read"][1][2][:nnz], prods["read"][1][1][:nnz], prods["read"][1][0]),
                       shape=(n, nc))
    Lf = L.toarray()
    np.testing.assert_allclose(AP.toarray(), (Lf + shift * np.eye(n)) @ P.toarray(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n,nc,m,density,seed", [(1, 1, 1, 0.0, 0), (5, 2, 3, 0.5, 1), (40, 7, 8, 0.1, 2),
                                                 (300, 60, 12, 0.03, 3), (9000, 1500, 5, 0.0005, 4)])
def test_prolongate_smoothed_is_the_formed_prolongator_times_x_bit_for_bit(n, nc, m, density, seed):
    """The pixel level's start of a big image applies P[0] row by row as it is formed: the bits
    of smoothed_prolongator (reading L + s I) followed by csr_matmat, and SciPy's values."""
    from fastshade.kernels.blockops import prolongate_smoothed

    L, A, shift = _shift_case(n, density, seed)
    rng = np.random.default_rng(seed)
    agg = np.concatenate([np.arange(nc), rng.integers(0, nc, n - nc)])
    rng.shuffle(agg)
    norms = np.sqrt(np.bincount(agg, weights=np.ones(n), minlength=nc))
    t = np.ones(n) / norms[agg]
    dinv = 1.0 / (L.diagonal() + shift)
    indptr, indices, data = _run_prolongator(L, shift, dinv, agg, t, nc)
    X = rng.standard_normal((nc, m))
    want = np.empty((n, m))
    csr_matmat(indptr, indices, data, X, want)
    for kernel, agg_t in ((prolongate_smoothed, agg), (prolongate_smoothed.parallel, agg.astype(np.int32))):
        got = np.full((n, m), np.nan)
        kernel(L.indptr, L.indices, L.data, shift, 2.0 / 3.0, agg_t, norms, X, got)
        assert got.tobytes() == want.tobytes()
    P = _reference_prolongator(A, dinv, 2.0 / 3.0, agg, t, nc)
    np.testing.assert_allclose(want, P @ X, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(P @ X).max()))


def _chunked_csr(seed: int, duplicated: bool = True) -> sp.csr_matrix:
    """A square CSR over three chunks of rows: empty rows, rows without their diagonal, and (when
    ``duplicated``) rows storing it twice, unsorted; a -0.0 and a 0.0 diagonal among them."""
    n = 3 * ROW_CHUNK + 17
    A = sp.random(n, n, density=4.0 / n, random_state=seed, format="csr") + sp.diags(
        np.where(np.arange(n) % 5 == 0, 0.0, np.arange(n, dtype=np.float64) - n / 2))
    A = sp.csr_matrix(A)
    A.data[np.flatnonzero(A.indices == np.repeat(np.arange(n), np.diff(A.indptr)))[:2]] = [-0.0, 0.0]
    if not duplicated:
        return A
    rows = np.arange(0, n, 997)  # a second diagonal entry in front of each of these rows
    extra = sp.csr_matrix((np.linspace(-1.0, 1.0, rows.size), (rows, rows)), shape=(n, n))
    coo = sp.vstack([extra.tocoo(), A.tocoo()]).tocoo()
    order = np.argsort(coo.row % n, kind="stable")
    row, col, val = coo.row[order] % n, coo.col[order], coo.data[order]
    return sp.csr_matrix((val, col, np.r_[0, np.cumsum(np.bincount(row, minlength=n))]), shape=(n, n))


@pytest.mark.parametrize("seed", [0, 1])
def test_csr_diagonal_is_scipys_bit_for_bit_with_its_twin(seed):
    """SciPy's ``diagonal()`` sums a row's diagonal entries from 0.0 in stored order; the kernel and
    its parallel twin (over several chunks, on Numba's threads) give the same bits."""
    from fastshade.spectral.setup_csr import main_diagonal

    A = _chunked_csr(seed)
    expected = A.diagonal()
    for kernel in (csr_diagonal, csr_diagonal.parallel):
        out = np.full(A.shape[0], np.nan)
        kernel(A.indptr, A.indices, A.data, out)
        np.testing.assert_array_equal(out.view(np.uint64), expected.view(np.uint64))
    from fastshade.threads import parallel_from

    np.testing.assert_array_equal(main_diagonal(A).view(np.uint64), expected.view(np.uint64))
    with parallel_from(0):  # the twin on Numba's threads (SciPy's loop on one)
        np.testing.assert_array_equal(main_diagonal(A).view(np.uint64), expected.view(np.uint64))
    for other in (A.astype(np.float32), A.tocsc(), sp.csr_matrix(np.ones((3, 4)))):  # SciPy's own
        np.testing.assert_array_equal(main_diagonal(other), other.diagonal())
    empty = sp.csr_matrix((0, 0))
    assert main_diagonal(empty).shape == (0,)


@pytest.mark.parametrize("duplicated", [False, True])
def test_main_diagonal_entries_twin_over_chunks(duplicated):
    A = _chunked_csr(3, duplicated)
    row_of = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    per_row = np.bincount(row_of[A.indices == row_of], minlength=A.shape[0])
    for kernel in (main_diagonal_entries, main_diagonal_entries.parallel):
        on_diag = np.zeros(A.nnz, dtype=bool)
        assert kernel(A.indptr, A.indices, on_diag) == int((per_row == 1).sum())
        np.testing.assert_array_equal(on_diag, A.indices == row_of)
    from fastshade.spectral.setup_csr import diagonal_stored_once

    assert diagonal_stored_once(A, np.empty(A.nnz, dtype=bool)) == bool((per_row == 1).all())
    once = sp.csr_matrix(sp.diags(np.arange(1.0, 9.0)) + sp.random(8, 8, density=0.3, random_state=5))
    assert diagonal_stored_once(once, np.empty(once.nnz, dtype=bool))
