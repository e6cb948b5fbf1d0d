"""The basis's memory savings on big images change no value (issue 21, point 1).

Levels of at least ``LAZY_ROWS`` rows drop ``P^T`` (and on level 0 ``A``, its inverse diagonal
and ``P`` itself, which keeps its aggregates) after the setup, to be formed again by the first
V-cycle there or the cascade's prolongation: lowering the threshold
to 0 makes a small image take that path, and the vectors, residuals and contract bound must be
bit-identical to the default path, on a pixel level that stops at its start and on ones that
iterate (V-cycles on level 0, the contract's own V-cycle).

A pixel level of at least ``BANDED_ROWS`` rows never forms ``L X0`` whole: its start's sums go
band by band, so they agree with the whole-block products to rounding (checked against SciPy and
NumPy), give the same bits for any thread count, and the basis they give agrees with the default
path's to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import fastshade.spectral.amg as amg
import fastshade.spectral.cascade as cascade
import fastshade.spectral.lobpcg as lobpcg
from fastshade.demo import demo_image
from fastshade.kernels.blockops import csr_matmat, rotate_residual
from fastshade.pipeline.gates import carrier_of
from fastshade.pipeline.graph import image_laplacian
from fastshade.spectral import spectral_basis
from fastshade.threads import parallel_from


def _symmetric_csr(n: int, seed: int) -> sp.csr_matrix:
    A = sp.random(n, n, density=min(1.0, 6.0 / n), format="csr", random_state=seed)
    return (A + A.T + sp.eye(n)).tocsr()


@pytest.mark.parametrize("n,band", [(1000, 257), (1000, 1000), (1001, 1000), (700, 4096), (1, 1), (96, 7)])
@pytest.mark.parametrize("m", [1, 5, 12])
def test_banded_sums_match_scipy_and_numpy(n, band, m, monkeypatch):
    monkeypatch.setattr(lobpcg, "BAND_ROWS", band)
    rng = np.random.default_rng(n + band + m)
    L = _symmetric_csr(n, seed=m)
    X = rng.standard_normal((n, m))
    C = np.ascontiguousarray(rng.standard_normal((m, max(1, m - 1))))
    lam = rng.standard_normal(C.shape[1])
    GA, GB = lobpcg.banded_gram(csr_matmat, L, X)
    LX = L @ X
    np.testing.assert_allclose(GA, X.T @ LX, rtol=1e-12, atol=1e-12 * np.abs(X.T @ LX).max())
    np.testing.assert_allclose(GB, X.T @ X, rtol=1e-12, atol=1e-12 * np.abs(X.T @ X).max())
    rsq = lobpcg.banded_ritz_residuals(csr_matmat, rotate_residual, L, X, C, lam)
    ref = ((LX @ C - (X @ C) * lam[None, :]) ** 2).sum(axis=0)
    np.testing.assert_allclose(rsq, ref, rtol=1e-12, atol=1e-14 * ref.max())
    # the parallel twins (on however many threads Numba runs here): the same bands, the same bits
    GA2, GB2 = lobpcg.banded_gram(csr_matmat.parallel, L, X)
    rsq2 = lobpcg.banded_ritz_residuals(csr_matmat.parallel, rotate_residual.parallel, L, X, C, lam)
    np.testing.assert_array_equal(GA2, GA)
    np.testing.assert_array_equal(GB2, GB)
    np.testing.assert_array_equal(rsq2, rsq)


@pytest.mark.parametrize("size,tol", [(256, 1e-2), (512, 1e-2), (256, 1e-6)])
def test_a_banded_pixel_level_gives_the_basis_of_the_whole_block_to_rounding(size, tol, monkeypatch):
    c = carrier_of(demo_image(size, size))
    L = image_laplacian(c, connectivity=4, kind="grid", tau=0.1, weight_floor=0.0)

    def solve():
        return spectral_basis(c, k=8, tol=tol, laplacian=L, seed=42)

    ref = solve()
    monkeypatch.setattr(lobpcg, "BANDED_ROWS", 0)
    monkeypatch.setattr(lobpcg, "BAND_ROWS", 10007)  # several bands and a short last one
    banded = solve()
    assert banded.info["iterations"] == ref.info["iterations"]
    np.testing.assert_allclose(banded.values, ref.values, rtol=1e-10)
    np.testing.assert_allclose(banded.info["residuals"], ref.info["residuals"], rtol=1e-6)
    # the same vectors: unit columns, the same signs (finish_columns), rounding apart
    np.testing.assert_allclose(banded.vectors, ref.vectors, atol=1e-10 * np.abs(ref.vectors).max())
    with parallel_from(0):  # the parallel twins on the banded path: the same bits
        np.testing.assert_array_equal(solve().vectors, banded.vectors)


@pytest.mark.parametrize("size,tol,contract", [(256, 1e-2, "off"), (512, 1e-2, "off"), (256, 1e-6, "check")])
def test_lazy_hierarchy_paths_give_the_same_bits(size, tol, contract, monkeypatch):
    c = carrier_of(demo_image(size, size))
    L = image_laplacian(c, connectivity=4, kind="grid", tau=0.1, weight_floor=0.0)

    def solve():
        return spectral_basis(c, k=8, tol=tol, laplacian=L, seed=42, contract=contract)

    ref = solve()
    monkeypatch.setattr(amg, "LAZY_ROWS", 0)
    monkeypatch.setattr(cascade, "LAZY_ROWS", 0)  # the pixel level drops P[0] after its start
    H = amg.build_hierarchy(L, min_coarse=60)
    assert H.A[0] is None and H.Dinv[0] is None and all(pt is None for pt in H.PT)
    assert H.P[0] is None and H.agg0 is not None and H.agg0.dtype == np.int32  # formed again on demand
    big = solve()
    np.testing.assert_array_equal(big.vectors, ref.vectors)
    np.testing.assert_array_equal(big.values, ref.values)
    assert big.info["residuals"] == ref.info["residuals"]
    assert big.info["iterations"] == ref.info["iterations"]
    assert big.info.get("subspace_error_bound") == ref.info.get("subspace_error_bound")
    # a V-cycle on level 0 forms what was dropped, with the values of the setup
    monkeypatch.setattr(amg, "LAZY_ROWS", 1 << 40)
    full = amg.build_hierarchy(L, min_coarse=60)
    R = np.random.default_rng(0).standard_normal((L.shape[0], 3))
    np.testing.assert_array_equal(amg.vcycle(H, 0, R), amg.vcycle(full, 0, R))
    assert (H.A[0] != full.A[0]).nnz == 0 and np.array_equal(H.Dinv[0], full.Dinv[0])
    for lev in range(1, len(full.L)):  # the coarse levels: the same arrays (level 1's mass was
        # summed with a P[0] formed again from the kept aggregates)
        for got, want in ((H.L[lev], full.L[lev]), (H.B[lev], full.B[lev]), (H.A[lev], full.A[lev])):
            for a, b in ((got.indptr, want.indptr), (got.indices, want.indices), (got.data, want.data)):
                assert a.tobytes() == b.tobytes()
    for got, want in ((H.P[0].indptr, full.P[0].indptr), (H.P[0].indices, full.P[0].indices),
                      (H.P[0].data, full.P[0].data)):  # (from the kept aggregates)
        assert got.tobytes() == want.tobytes() and got.dtype == want.dtype


@pytest.mark.parametrize("size,tol,iterates", [(256, 1e-6, True), (200, 1e-2, True), (512, 1e-2, False)])
def test_a_big_pixel_level_without_a_contract_drops_the_coarse_levels_and_sets_them_up_again_to_iterate(
        size, tol, iterates, monkeypatch):
    """With no contract the coarse levels are dropped before the pixel level; an iterating pixel
    level sets the hierarchy up again at its first V-cycle: the same bits as keeping it."""
    c = carrier_of(demo_image(size, size))
    L = image_laplacian(c)
    ref = spectral_basis(c, k=8, tol=tol, laplacian=L, seed=42, contract="off")
    monkeypatch.setattr(amg, "LAZY_ROWS", 0)
    monkeypatch.setattr(cascade, "LAZY_ROWS", 0)
    setups = []
    build = cascade.build_hierarchy
    monkeypatch.setattr(cascade, "build_hierarchy", lambda *a, **kw: setups.append(1) or build(*a, **kw))
    parts = []
    part = cascade.prolongation_part
    monkeypatch.setattr(cascade, "prolongation_part", lambda H: parts.append(len(H.L)) or part(H))
    got = spectral_basis(c, k=8, tol=tol, laplacian=L, seed=42, contract="off",
                         laplacian_reform=lambda: image_laplacian(c))
    assert len(parts) == 1 and parts[0] > 2  # the coarse levels dropped before the pixel level
    assert (ref.info["iterations"] > 0) == iterates
    assert len(setups) == (2 if iterates else 1)  # set up again only to iterate
    np.testing.assert_array_equal(got.vectors, ref.vectors)
    np.testing.assert_array_equal(got.values, ref.values)
    assert got.info["residuals"] == ref.info["residuals"]
    assert got.info["iterations"] == ref.info["iterations"]
    assert got.info["hierarchy_notes"] == ref.info["hierarchy_notes"]


def _use_solver(monkeypatch, solver):
    """Every level of the cascade solved by ``solver`` (the default bound at definition included)."""
    monkeypatch.setattr(cascade, "block_lobpcg", solver)
    for fn in (cascade.cascade_solve, cascade.solve_graph):
        monkeypatch.setitem(fn.__kwdefaults__, "solver", solver)


def _arrays(M):
    return [a.tobytes() for a in (M.indptr, M.indices, M.data)] + [str(a.dtype) for a in (M.indptr, M.indices, M.data)]


@pytest.mark.parametrize("size,tol,contract", [(256, 1e-2, "off"), (256, 1e-6, "check"), (200, 1e-6, "enforce")])
def test_an_emptied_level0_operator_is_refilled_with_the_same_bits(size, tol, contract, monkeypatch):
    """With ``laplacian_reform`` a big image's L is empty while the coarse levels are solved, the
    basis is the same bits, and the caller's matrix (the same object) has its arrays back."""
    c = carrier_of(demo_image(size, size))
    graph = dict(connectivity=4, kind="grid", tau=0.1, weight_floor=0.0)
    L = image_laplacian(c, **graph)
    before = _arrays(L)
    ref = spectral_basis(c, k=8, tol=tol, laplacian=L, seed=42, contract=contract)
    monkeypatch.setattr(amg, "LAZY_ROWS", 0)
    monkeypatch.setattr(cascade, "LAZY_ROWS", 0)
    seen = []  # the level-0 operator's indptr size at each coarse level's solve
    solver = cascade.block_lobpcg

    def watching(Lv, *args, **kw):
        seen.append((Lv.shape[0], L.indptr.size))
        return solver(Lv, *args, **kw)

    _use_solver(monkeypatch, watching)
    reforms = []

    def reform():
        reforms.append(1)
        return image_laplacian(c, **graph)

    got = spectral_basis(c, k=8, tol=tol, laplacian=L, seed=42, contract=contract, laplacian_reform=reform)
    assert reforms == [1]
    coarse = [size_ for n, size_ in seen if n < L.shape[0]]
    assert coarse and all(size_ == 0 for size_ in coarse)  # empty on every coarse level
    assert all(size_ == L.shape[0] + 1 for n, size_ in seen if n == L.shape[0])  # whole at the pixel level
    assert _arrays(L) == before  # the caller's matrix: its arrays back, the same bytes
    np.testing.assert_array_equal(got.vectors, ref.vectors)
    np.testing.assert_array_equal(got.values, ref.values)
    assert got.info["residuals"] == ref.info["residuals"]
    assert got.info.get("subspace_error_bound") == ref.info.get("subspace_error_bound")
    # without a reform a given L is never emptied
    seen.clear()
    spectral_basis(c, k=8, tol=tol, laplacian=L, seed=42, contract=contract)
    assert all(size_ == L.shape[0] + 1 for _, size_ in seen)


def test_a_converted_laplacian_is_never_emptied(monkeypatch):
    """A given Laplacian that is not a float64 CSR matrix is solved as a converted copy: the
    reform is not called and the caller's matrix keeps its arrays."""
    c = carrier_of(demo_image(128, 128))
    L32 = image_laplacian(c, dtype=np.float32)
    before = _arrays(L32)
    monkeypatch.setattr(amg, "LAZY_ROWS", 0)
    monkeypatch.setattr(cascade, "LAZY_ROWS", 0)
    calls = []
    basis = spectral_basis(c, k=8, laplacian=L32, contract="off",
                           laplacian_reform=lambda: calls.append(1) or image_laplacian(c, dtype=np.float32))
    assert calls == [] and _arrays(L32) == before
    assert basis.vectors.shape == (c.size, 8)


def test_an_emptied_level0_operator_is_refilled_when_a_coarse_level_raises(monkeypatch):
    c = carrier_of(demo_image(128, 128))
    L = image_laplacian(c)
    before = _arrays(L)
    monkeypatch.setattr(amg, "LAZY_ROWS", 0)
    monkeypatch.setattr(cascade, "LAZY_ROWS", 0)

    def failing(Lv, *args, **kw):
        assert L.indptr.size == 0  # (emptied by the setup)
        raise np.linalg.LinAlgError("a coarse level failed")

    _use_solver(monkeypatch, failing)
    with pytest.raises(np.linalg.LinAlgError, match="coarse level failed"):
        spectral_basis(c, k=8, laplacian=L, contract="off", laplacian_reform=lambda: image_laplacian(c))
    assert _arrays(L) == before
    # a reform that breaks its contract is a bug, said so
    monkeypatch.undo()
    monkeypatch.setattr(amg, "LAZY_ROWS", 0)
    monkeypatch.setattr(cascade, "LAZY_ROWS", 0)
    with pytest.raises(RuntimeError, match="formed again"):
        spectral_basis(c, k=8, laplacian=L, contract="off",
                       laplacian_reform=lambda: image_laplacian(c, dtype=np.float32))


@pytest.mark.parametrize("size", [96, 256])
def test_the_level0_prolongator_is_formed_again_with_the_same_bits(size):
    c = carrier_of(demo_image(size, size))
    L = image_laplacian(c, connectivity=4, kind="grid", tau=0.1, weight_floor=0.0)
    H = amg.build_hierarchy(L, min_coarse=60)
    assert amg.prolongator0_reformable(H)
    P = H.P[0]
    again = amg.level0_prolongator(H)
    for a, b in [(P.indptr, again.indptr), (P.indices, again.indices), (P.data, again.data)]:
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    guided = amg.build_hierarchy(image_laplacian(c, connectivity=4, kind="dither", tau=0.1, weight_floor=0.0),
                                 min_coarse=60, guide=L)
    assert not amg.prolongator0_reformable(guided)  # its level 0 is the guide's tentative one
