"""The AMG setup's CSR pieces that spare fresh pages (issue 21): the arrays written over others
read no more, and level 0's ``P^T A P`` without ``A P``.

Each gives the bits of the plain expression (or the two products) it replaces.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from fastshade.kernels.blockops import main_diagonal_entries
from fastshade.kernels.spgemm import compact_chunk_rows, galerkin_triple_bound
from fastshade.pipeline.graph import image_laplacian
from fastshade.spectral import amg, setup_csr
from fastshade.spectral.setup_csr import (
    constant_candidate,
    csr_from_counts,
    galerkin_triple_matrix,
    index_dtype,
    inverse_shifted,
    smoothed_prolongator_matrix,
    spgemm_pair_matrix,
)
from fastshade.threads import limit_threads, parallel_from


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inverse_shifted_is_the_plain_expression_written_over_the_diagonal(seed):
    rng = np.random.default_rng(seed)
    diag = np.concatenate([rng.random(1000) * 8.0, [0.0, -0.0, 1e-300, 4.0, 1e300]])
    for shift in (0.0, 1e-5, 4e-5 * 3.7, 1.0):
        with np.errstate(divide="ignore"):  # 1 / 0 and 1 / -0: the infinities of both
            want = 1.0 / (diag + shift)
            work = diag.copy()
            got = inverse_shifted(work, shift)
        assert got is work
        np.testing.assert_array_equal(got, want, strict=True)


@pytest.mark.parametrize("n,nc", [(1, 1), (17, 3), (5000, 611), (5000, 5000)])
def test_constant_candidate_is_the_ones_candidates_norms_and_t(n, nc):
    rng = np.random.default_rng(n + nc)
    agg = np.sort(rng.integers(0, nc, n)) if nc < n else rng.permutation(n)[:n] % nc
    cand = np.ones(n)
    norms_want = np.sqrt(np.bincount(agg, weights=cand * cand, minlength=nc))
    t_want = cand / norms_want[agg]
    norms, t = constant_candidate(agg, nc)
    np.testing.assert_array_equal(norms, norms_want, strict=True)
    np.testing.assert_array_equal(t, t_want, strict=True)
    given, t2 = constant_candidate(agg.astype(np.int32), nc, norms)
    assert given is norms
    np.testing.assert_array_equal(t2, t_want, strict=True)


def test_csr_from_counts_is_the_running_sum_in_the_index_type():
    counts = np.array([3, 0, 2, 7, 0, 1], dtype=np.int64)
    want = np.concatenate([[0], np.cumsum(counts)])
    small = csr_from_counts(counts, 10)
    assert small.dtype == np.int32
    np.testing.assert_array_equal(small, want)
    wide = csr_from_counts(counts, 2**31)  # columns past int32: int64 indices
    assert wide.dtype == np.int64
    np.testing.assert_array_equal(wide, want)
    assert csr_from_counts(np.zeros(0, dtype=np.int64), 1).tolist() == [0]
    assert index_dtype(2**31 - 2) == np.int32 and index_dtype(2**31 - 1) == np.int64


def _random_csr(rows: int, cols: int, density: float, seed: int) -> sp.csr_matrix:
    M = sp.random(rows, cols, density=density, format="csr", random_state=seed)
    M.data = np.random.default_rng(seed).standard_normal(M.nnz)
    return M


def _two_products(A: sp.csr_matrix, P: sp.csr_matrix, PT: sp.csr_matrix, a_shift: float) -> sp.csr_matrix:
    """``P^T (A P)`` as the setup formed it before: ``A P``, then ``P^T`` times it (pair kernel)."""
    AP = spgemm_pair_matrix(A, None, P, None, x_shift=a_shift)[0]
    return spgemm_pair_matrix(PT, None, AP, None)[0]


def _assert_same_csr(got: sp.csr_matrix, want: sp.csr_matrix) -> None:
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)  # (the same first-touch column order)
    assert got.data.tobytes() == want.data.tobytes()


def _level0(shape: tuple[int, int], seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix, float]:
    """An image Laplacian and its level-0 smoothed prolongator, as the setup forms them."""
    L = image_laplacian(np.random.default_rng(seed).random(shape)).tocsr()
    diag = L.diagonal()
    shift = amg.SHIFT_REL * float(diag.mean())
    agg, nc = amg.aggregate(L, amg.STRENGTH_THETA, shift=shift)
    norms, t = constant_candidate(agg, nc)
    return L, smoothed_prolongator_matrix(L, inverse_shifted(diag, shift), agg, t, nc, shift=shift), shift


@pytest.mark.parametrize("shape,seed", [((1, 2), 0), ((5, 7), 1), ((40, 33), 2), ((97, 61), 3), ((3, 400), 4)])
@pytest.mark.parametrize("guess", [None, 1])
def test_galerkin_triple_product_is_the_two_products_bit_for_bit(shape, seed, guess, monkeypatch):
    """Level 0's ``P^T (L + s I) P`` without ``A P``: the arrays of the two Gustavson products it
    replaces, bit for bit (room for one entry a row: the outputs grow, the same arrays), and
    SciPy's values."""
    if guess is not None:
        monkeypatch.setattr(setup_csr, "GALERKIN_ROW_GUESS", guess)
    L, P, shift = _level0(shape, seed)
    PT = P.T.tocsr()
    got = galerkin_triple_matrix(L, P, PT.indptr, PT.indices, shift)
    _assert_same_csr(got, _two_products(L, P, PT, shift))
    want = (PT @ (L + shift * sp.identity(L.shape[0])) @ P).toarray()
    np.testing.assert_allclose(got.toarray(), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n,nc,density,seed", [(1, 1, 1.0, 0), (6, 3, 0.0, 1), (30, 9, 0.3, 2),
                                               (80, 25, 0.08, 3), (50, 50, 0.5, 4)])
def test_galerkin_triple_product_matches_scipy_on_random_matrices(n, nc, density, seed, monkeypatch):
    """Any square ``A`` (unshifted; and shifted when it stores its diagonal once) and any ``P``,
    empty rows and columns among them; room for one entry a row, then the default room."""
    A = _random_csr(n, n, density, seed)
    P = _random_csr(n, nc, max(density, 0.1), seed + 1)
    PT = P.T.tocsr()
    cases = [(A, 0.0)]
    Ad = (A + sp.identity(n)).tocsr()
    on_diag = np.empty(Ad.nnz, dtype=bool)
    if main_diagonal_entries(Ad.indptr, Ad.indices, on_diag) == n:
        cases.append((Ad, 0.25))
    for guess in (1, setup_csr.GALERKIN_ROW_GUESS):
        monkeypatch.setattr(setup_csr, "GALERKIN_ROW_GUESS", guess)
        for M, s in cases:
            got = galerkin_triple_matrix(M, P, PT.indptr, PT.indices, s)
            _assert_same_csr(got, _two_products(M, P, PT, s))
            want = PT.toarray() @ (M.toarray() + s * np.eye(n)) @ P.toarray()
            np.testing.assert_allclose(got.toarray(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n,nc,density,seed", [(1, 1, 1.0, 0), (7, 3, 0.0, 1), (40, 12, 0.2, 2)])
def test_galerkin_triple_bound_is_the_row_length_sums(n, nc, density, seed):
    A = _random_csr(n, n, density, seed)
    P = _random_csr(n, nc, 0.3, seed + 1)
    p_len = np.diff(P.indptr)
    r = np.array([p_len[A.indices[A.indptr[i]:A.indptr[i + 1]]].sum() for i in range(n)], dtype=np.int64)
    total, longest = galerkin_triple_bound(A.indptr, A.indices, P.indptr)
    assert total == int((p_len * r).sum()) and longest == int(r.max())
    AP, C = A @ P, P.T @ A @ P
    assert longest >= np.diff(AP.indptr).max(initial=0) and total >= C.nnz


def test_build_hierarchy_level1_is_the_two_products_of_level0(monkeypatch):
    """A big level 0 forms its level-1 operator without ``A P`` (here forced: LAZY_ROWS 0), a
    small one with it: the same arrays, the two products'."""
    L = image_laplacian(np.random.default_rng(5).random((120, 90))).tocsr()
    small = amg.build_hierarchy(L)
    P = small.P[0]
    _assert_same_csr(small.A[1], _two_products(L, P, P.T.tocsr(), small.shift))
    calls = []
    triple = amg.galerkin_triple_matrix
    monkeypatch.setattr(amg, "galerkin_triple_matrix", lambda *a: calls.append(1) or triple(*a))
    monkeypatch.setattr(amg, "LAZY_ROWS", 0)
    big = amg.build_hierarchy(L)
    assert calls == [1] and big.P[0] is None  # (P[0] formed again from the kept aggregates)
    _assert_same_csr(big.A[1], small.A[1])
    np.testing.assert_array_equal(amg.level0_prolongator(big).toarray(), P.toarray())


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two Numba threads (NUMBA_NUM_THREADS=1)")
@pytest.mark.parametrize("shape,seed", [((40, 33), 2), ((97, 61), 3), ((3, 400), 4)])
@pytest.mark.parametrize("chunk_rows,guess,chunked", [(1, 16, True), (7, 16, True), (100000, 16, True),
                                                      (1000, 1, False)])
def test_galerkin_triple_product_in_parallel_chunks_is_the_serial_bits(shape, seed, chunk_rows, guess, chunked,
                                                                      monkeypatch):
    """On two threads a big level's rows go in chunks (any chunk size: the same arrays); a chunk
    without room for its rows hands the product back to the serial kernel (the same arrays)."""
    L, P, shift = _level0(shape, seed)
    PT = P.T.tocsr()
    want = galerkin_triple_matrix(L, P, PT.indptr, PT.indices, shift)  # (a small level: serial)
    seen = []
    in_chunks = setup_csr._galerkin_in_chunks
    monkeypatch.setattr(setup_csr, "_galerkin_in_chunks", lambda *a: seen.append(in_chunks(*a)) or seen[-1])
    monkeypatch.setattr(setup_csr, "GALERKIN_CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(setup_csr, "GALERKIN_ROW_GUESS", guess)
    with parallel_from(0), limit_threads(numba_threads=2):
        got = galerkin_triple_matrix(L, P, PT.indptr, PT.indices, shift)
    _assert_same_csr(got, want)
    assert got.indices.dtype == want.indices.dtype
    assert len(seen) == 1 and (seen[0] is not None) == chunked


@pytest.mark.parametrize("nc,chunk_rows,region,seed", [(1, 1, 3, 0), (10, 3, 7, 1), (50, 7, 40, 2), (64, 64, 900, 3),
                                                       (33, 4, 16, 4)])
def test_compacting_chunked_rows_in_place_is_concatenating_them(nc, chunk_rows, region, seed):
    """Chunk k's rows sit from k * region (a row's entries after the row before it); moved down in
    place they are the plain concatenation of the chunks' entries (NumPy), and indptr their ends."""
    rng = np.random.default_rng(seed)
    count = -(-nc // chunk_rows)
    lengths = np.zeros(nc, dtype=np.int64)
    for k in range(count):  # each chunk's rows fill at most its region (every entry possible)
        rows = range(k * chunk_rows, min(nc, (k + 1) * chunk_rows))
        budget = int(rng.integers(0, region + 1)) if k % 3 else region
        cuts = np.sort(rng.integers(0, budget + 1, len(rows) - 1))
        lengths[list(rows)] = np.diff(np.concatenate([[0], cuts, [budget]]))
    indices = rng.integers(0, 1000, count * region).astype(np.int32)
    data = rng.standard_normal(count * region)
    pieces_i, pieces_d, ends = [], [], np.empty(nc, dtype=np.int64)
    for k in range(count):
        rows = slice(k * chunk_rows, min(nc, (k + 1) * chunk_rows))
        used = int(lengths[rows].sum())
        pieces_i.append(indices[k * region:k * region + used].copy())
        pieces_d.append(data[k * region:k * region + used].copy())
        ends[rows] = np.cumsum(lengths[rows])
    lasts = np.minimum(nc, (np.arange(count) + 1) * chunk_rows)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(ends[lasts - 1], out=offsets[1:])
    indptr = np.empty(nc + 1, dtype=np.int32)
    indptr[0] = 0
    compact_chunk_rows(chunk_rows, region, ends, offsets, indptr, indices, data)
    nnz = int(offsets[-1])
    np.testing.assert_array_equal(indices[:nnz], np.concatenate(pieces_i))
    np.testing.assert_array_equal(data[:nnz], np.concatenate(pieces_d))
    np.testing.assert_array_equal(indptr, np.concatenate([[0], np.cumsum(lengths)]))
