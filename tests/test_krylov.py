"""``fastshade.spectral.krylov.krylov_basis`` against the plain reference in :mod:`fastshade.reference`."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fastshade.reference import krylov_basis_numpy, laplacian_coo
from fastshade.spectral.krylov import RITZ_FLOOR, krylov_basis


def _random_laplacian(h: int, w: int, seed: int, connectivity: int = 4) -> sp.csr_matrix:
    carrier = np.random.default_rng(seed).random((h, w))
    return laplacian_coo(carrier, tau=0.1, connectivity=connectivity)


def _line_art_laplacian(h: int = 24, w: int = 28) -> sp.csr_matrix:
    """White paper with a dark ring: nearly disconnected, like the real drawings."""
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(yy - h / 2, xx - w / 2)
    carrier = np.where(np.abs(r - min(h, w) / 3) < 1.2, 0.05, 1.0)
    return laplacian_coo(carrier, tau=0.1)


@pytest.mark.parametrize(
    ("h", "w", "conn", "steps", "k"),
    [(12, 15, 4, 50, 8), (9, 9, 8, 50, 8), (1, 40, 4, 20, 4), (37, 1, 4, 50, 3), (20, 20, 4, 7, 8)],
    ids=["12x15", "9x9-8conn", "1x40", "37x1", "few-steps"],
)
def test_float64_matches_reference(h, w, conn, steps, k):
    L = _random_laplacian(h, w, seed=h * 100 + w, connectivity=conn)
    X, theta = krylov_basis(L, k, steps=steps, seed=7, dtype=np.float64)
    Xr, thr = krylov_basis_numpy(L, k, steps=steps, seed=7)
    assert X.shape == (h * w, k) and X.dtype == np.float64
    assert theta.shape == (k,) and theta.dtype == np.float64
    np.testing.assert_allclose(theta, thr, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(X, Xr, rtol=0, atol=1e-8)


def test_mean_deflation_every_step_on_a_non_laplacian():
    # For a Laplacian, L v is already mean-free and the per-step ``w -= mean(w)`` only
    # removes rounding drift.  With a diagonal perturbation it does real work: the run is
    # Lanczos on P A P (P = projector off the constant) and the Ritz vectors stay mean-free.
    L = _random_laplacian(10, 11, seed=4)
    A = sp.csr_matrix(L + sp.diags(np.random.default_rng(4).random(L.shape[0])))
    X, theta = krylov_basis(A, 6, steps=30, dtype=np.float64)
    Xr, thr = krylov_basis_numpy(A, 6, steps=30)
    np.testing.assert_allclose(theta, thr, rtol=1e-10)
    np.testing.assert_allclose(X, Xr, atol=1e-8)
    np.testing.assert_allclose(X.sum(axis=0), 0.0, atol=1e-10)
    # with enough steps: the eigenpairs of P A P restricted to the mean-free subspace
    n = A.shape[0]
    P = np.eye(n) - 1.0 / n
    lam = np.linalg.eigvalsh(P @ A.toarray() @ P)
    lam = lam[lam > 1e-6]
    X, theta = krylov_basis(A, 6, steps=n, dtype=np.float64)
    np.testing.assert_allclose(theta, lam[:6], rtol=1e-8)


def test_line_art_float64_and_float32_match_reference():
    L = _line_art_laplacian()
    X, theta = krylov_basis(L, 8, dtype=np.float64)
    Xr, thr = krylov_basis_numpy(L, 8)
    np.testing.assert_allclose(theta, thr, rtol=1e-9)
    np.testing.assert_allclose(X, Xr, atol=1e-8)
    # float32 arithmetic follows the same path, to float32 accuracy
    X32, th32 = krylov_basis(L, 8)
    Xr32, thr32 = krylov_basis_numpy(L, 8, dtype=np.float32)
    np.testing.assert_allclose(th32, thr32, rtol=1e-4)
    np.testing.assert_allclose(X32, Xr32, atol=2e-3)
    np.testing.assert_allclose(X32, X, atol=2e-3)


@settings(deadline=None, max_examples=25)
@given(
    h=st.integers(1, 11),
    w=st.integers(1, 11),
    seed=st.integers(0, 2**16),
    k=st.integers(1, 9),
    steps=st.integers(0, 60),
)
def test_property_matches_reference_and_is_orthonormal(h, w, seed, k, steps):
    L = _random_laplacian(h, w, seed)
    X, theta = krylov_basis(L, k, steps=steps, seed=seed, dtype=np.float64)
    Xr, thr = krylov_basis_numpy(L, k, steps=steps, seed=seed)
    np.testing.assert_allclose(theta, thr, rtol=1e-9, atol=1e-12)
    genuine = theta > 0
    # Ritz vectors of (nearly) equal Ritz values are not individually defined: compare
    # only columns whose Ritz value is separated from its neighbours.
    t = thr[genuine]
    gaps = np.minimum(np.diff(t, prepend=-np.inf), np.diff(t, append=np.inf))
    ok = np.flatnonzero(genuine)[gaps > 1e-6 * max(t.max(initial=1.0), 1.0)]
    np.testing.assert_allclose(X[:, ok], Xr[:, ok], atol=1e-7)
    G = X[:, genuine].T @ X[:, genuine]
    np.testing.assert_allclose(G, np.eye(G.shape[0]), atol=1e-8)
    assert np.all(X[:, ~genuine] == 0)
    assert np.all(theta[genuine] > RITZ_FLOOR)
    assert np.all(np.diff(theta[genuine]) >= 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_basis_is_orthonormal_and_mean_free(dtype):
    L = _random_laplacian(30, 25, seed=3)
    X, theta = krylov_basis(L, 8, dtype=dtype)
    atol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(X.T @ X, np.eye(8), atol=atol)
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=atol)


def test_ritz_values_bounded_ascending_and_rayleigh():
    L = _random_laplacian(16, 18, seed=11)
    lam = np.linalg.eigvalsh(L.toarray())
    X, theta = krylov_basis(L, 8, steps=20, dtype=np.float64)
    assert np.all(theta > RITZ_FLOOR) and np.all(theta <= lam[-1] * (1 + 1e-12))
    assert np.all(np.diff(theta) > 0)
    # each Ritz value is the Rayleigh quotient of its Ritz vector
    rq = np.einsum("ij,ij->j", X, L @ X) / np.einsum("ij,ij->j", X, X)
    np.testing.assert_allclose(rq, theta, rtol=1e-9)
    # 20 steps are far from converged on 288 nodes: the smallest Ritz value is above lambda_2
    assert theta[0] > lam[1]


def test_enough_steps_give_the_exact_eigenpairs():
    L = _random_laplacian(6, 7, seed=5)  # n = 42, so 50 steps exhaust the mean-free space
    lam, U = np.linalg.eigh(L.toarray())
    X, theta = krylov_basis(L, 8, steps=50, dtype=np.float64)
    np.testing.assert_allclose(theta, lam[1:9], rtol=1e-8)
    cos = np.abs(np.einsum("ij,ij->j", X, U[:, 1:9]))
    np.testing.assert_allclose(cos, 1.0, atol=1e-8)


def test_deterministic_and_seed_dependent():
    L = _line_art_laplacian()
    a = krylov_basis(L, 8)
    b = krylov_basis(L, 8)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    c = krylov_basis(L, 8, seed=43)
    assert not np.allclose(np.abs(a[0][:, 1]), np.abs(c[0][:, 1]), atol=1e-3)
    assert krylov_basis(L.tocoo(), 8)[0].tobytes() == a[0].tobytes()  # any sparse format


def test_column_one_is_the_second_kept_ritz_vector():
    L = _random_laplacian(10, 12, seed=2)
    X8, th8 = krylov_basis(L, 8, dtype=np.float64)
    X2, th2 = krylov_basis(L, 2, dtype=np.float64)
    np.testing.assert_array_equal(X2, X8[:, :2])
    np.testing.assert_array_equal(th2, th8[:2])


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_graphs_give_all_zero_basis(n):
    L = _random_laplacian(1, n, seed=0)
    X, theta = krylov_basis(L, 8)
    assert X.shape == (n, 8) and theta.shape == (8,)
    assert not X.any() and not theta.any()


def test_fewer_kept_pairs_than_k_are_zero_padded():
    L = _random_laplacian(1, 4, seed=1)  # n = 4: at most 3 non-trivial pairs
    X, theta = krylov_basis(L, 8, dtype=np.float64)
    lam, U = np.linalg.eigh(L.toarray())
    np.testing.assert_allclose(theta[:3], lam[1:], rtol=1e-9)
    assert not theta[3:].any() and not X[:, 3:].any()
    np.testing.assert_allclose(np.abs(np.einsum("ij,ij->j", X[:, :3], U[:, 1:])), 1.0, atol=1e-9)


def test_blank_image_and_null_operator():
    # constant carrier = uniform grid: a valid, well-behaved basis
    L = laplacian_coo(np.full((16, 16), 0.7))
    X, theta = krylov_basis(L, 8)
    assert np.isfinite(X).all() and np.all(theta > RITZ_FLOOR)
    np.testing.assert_allclose(X.T @ X, np.eye(8), atol=2e-5)
    # all-zero operator (every weight underflowed): the start vector is invariant, beta_0 = 0
    Z = sp.csr_matrix((64, 64))
    X, theta = krylov_basis(Z, 8)
    assert not X.any() and not theta.any()
    # steps = 0 or 1: fewer than two completed steps
    for steps in (0, 1):
        X, theta = krylov_basis(L, 4, steps=steps)
        assert not X.any() and not theta.any()


def test_early_breakdown_stops_cleanly():
    # two disconnected 3-node paths: the mean-free Krylov space has dimension <= 5
    path = np.array([[1, -1, 0], [-1, 2, -1], [0, -1, 1]], dtype=float)
    L = sp.csr_matrix(sp.block_diag([path, 2 * path]))
    X, theta = krylov_basis(L, 8, dtype=np.float64)
    Xr, thr = krylov_basis_numpy(L, 8)
    np.testing.assert_allclose(theta, thr, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(X, Xr, atol=1e-8)
    lam = np.linalg.eigvalsh(L.toarray())
    for t in theta[theta > 0]:
        assert np.min(np.abs(lam - t)) < 1e-8


def test_input_validation():
    L = _random_laplacian(4, 4, seed=0)
    with pytest.raises(ValueError, match="square scipy.sparse"):
        krylov_basis(L.toarray())
    with pytest.raises(ValueError, match="square scipy.sparse"):
        krylov_basis(sp.csr_matrix((3, 4)))
    with pytest.raises(ValueError, match="k must be"):
        krylov_basis(L, 0)
    with pytest.raises(ValueError, match="steps must be"):
        krylov_basis(L, 2, steps=-1)
    with pytest.raises(ValueError, match="dtype must be"):
        krylov_basis(L, 2, dtype=np.int32)
    bad = L.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        krylov_basis(bad, 2)


def test_toof_reproduces_the_original_statistics():
    """Seed 42, column 1: the v12 gate statistics fall in the issue's band (toof 12-26)."""
    from scipy import ndimage

    from fastshade.pipeline.gates import activation, contour_mask, gate_masks
    from tests.conftest import load_rgb

    carrier = load_rgb("toof.png").mean(axis=2)
    try:
        from fastshade.pipeline.graph import image_laplacian

        L = image_laplacian(carrier)
    except ImportError:  # pragma: no cover - graph.py is written in parallel
        pytest.skip("fastshade.pipeline.graph not available")
    X, theta = krylov_basis(L, 8)
    contours = contour_mask(carrier)
    high, low = gate_masks(activation(X[:, 1].reshape(carrier.shape)), contours)
    labels, _ = ndimage.label(low, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    assert 12 <= int((sizes >= 10).sum()) <= 26
    assert 450 <= int(low.sum()) <= 650 and 450 <= int(high.sum()) <= 650


def test_float32_keeps_orthogonality_when_ritz_values_converge():
    # n = 42 and 50 steps exhaust the mean-free Krylov space: plain Lanczos would lose
    # orthogonality here, so the re-orthogonalisation must apply the large coefficients.
    L = _random_laplacian(6, 7, seed=5)
    lam = np.linalg.eigvalsh(L.toarray())
    X, theta = krylov_basis(L, 8, steps=50)
    np.testing.assert_allclose(X.T @ X, np.eye(8), atol=1e-5)
    np.testing.assert_allclose(theta, lam[1:9], rtol=1e-4)
    X64, th64 = krylov_basis(L, 8, steps=50, dtype=np.float64)
    np.testing.assert_allclose(np.abs(np.einsum("ij,ij->j", X, X64)), 1.0, atol=1e-4)
