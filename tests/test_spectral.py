"""fastshade.spectral against dense references (fastshade.reference)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import fastshade.spectral as spectral
from fastshade.bench.scipy_cascade import scipy_cascade_basis
from fastshade.pipeline.graph import image_laplacian
from fastshade.reference import (
    blend_weights_1d_numpy,
    dense_spectrum_numpy,
    laplacian_coo,
    principal_angles,
    sign_flip_numpy,
    tile_starts_numpy,
)
from fastshade.spectral import amg, blend_weights_1d, cascade, sign_flip, spectral_basis, tile_starts
from fastshade.threads import parallel_from

ROOT = Path(__file__).resolve().parents[1]


def strokes(h: int, w: int, seed: int = 0, n_strokes: int = 4) -> np.ndarray:
    """White carrier with a few dark anti-aliased line segments (synthetic line art)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    c = np.ones((h, w))
    for _ in range(n_strokes):
        p, q = rng.random(2) * (h, w), rng.random(2) * (h, w)
        d = q - p
        t = np.clip(((yy - p[0]) * d[0] + (xx - p[1]) * d[1]) / max(d @ d, 1e-9), 0, 1)
        dist = np.hypot(yy - p[0] - t * d[0], xx - p[1] - t * d[1])
        c = np.minimum(c, np.clip(dist - 0.5, 0, 1))
    return c


def toof_crop() -> np.ndarray:
    p = ROOT.parent / "shared" / "images" / "toof.png"
    if not p.is_file():
        pytest.skip(f"{p} not present (the ../shared/images test images are optional)")
    import imageio.v3 as iio

    rgb = iio.imread(p, mode="RGB").astype(np.float64) / 255.0
    c = rgb.mean(axis=2)
    ys, xs = np.nonzero(c < 0.5)
    y0, x0 = int(np.median(ys)) - 20, int(np.median(xs)) - 20
    y0, x0 = min(max(y0, 0), c.shape[0] - 40), min(max(x0, 0), c.shape[1] - 40)
    return c[y0:y0 + 40, x0:x0 + 40]


CASES = {
    "random12x10": lambda: np.random.default_rng(3).random((12, 10)),
    "strokes24": lambda: strokes(24, 24, seed=1),
    "strokes40x36": lambda: strokes(40, 36, seed=5, n_strokes=6),
}


@pytest.fixture
def force_cascade(monkeypatch):
    """Make the multilevel LOBPCG path run even on small graphs (several levels)."""
    monkeypatch.setattr(cascade, "DENSE_MAX_N", 0)
    monkeypatch.setattr(amg, "MAX_COARSE", 30)


_DENSE_CACHE: dict = {}


def full_spectrum(c: np.ndarray, connectivity: int = 4, weight_floor: float = 0.0):
    """All eigenpairs of the reference Laplacian of ``c`` (dense eigh, cached per carrier)."""
    key = (c.shape, c.tobytes(), connectivity, weight_floor)
    if key not in _DENSE_CACHE:
        L = laplacian_coo(c, connectivity=connectivity, weight_floor=weight_floor)
        _DENSE_CACHE[key] = dense_spectrum_numpy(L, c.size)
    return _DENSE_CACHE[key]


def check_against_dense(c: np.ndarray, k: int, basis) -> None:
    vals, vecs = full_spectrum(c)
    lam, V = vals[1:k + 1], vecs[:, 1:k + 1]
    np.testing.assert_allclose(basis.values, lam, rtol=1e-6, atol=1e-13)
    # subspaces of the first j columns wherever the spectrum has a gap after column j
    full = vals[1:]
    for j in range(1, k + 1):
        if (full[j] - full[j - 1]) > 1e-3 * max(full[j], 1e-12):
            ang = principal_angles(basis.vectors[:, :j], V[:, :j])
            assert ang.max() < 1e-3, (j, ang)
    np.testing.assert_allclose(np.linalg.norm(basis.vectors, axis=0), 1.0, atol=1e-10)
    np.testing.assert_allclose(basis.vectors.sum(axis=0), 0.0, atol=1e-6)  # constant excluded


@pytest.mark.parametrize("name", sorted(CASES))
def test_cascade_matches_dense_eigh(name, force_cascade):
    c = CASES[name]()
    b = spectral_basis(c, k=6, tol=1e-10)
    assert b.method == "lobpcg" and b.info["converged"]
    if c.size >= 500:
        assert len(b.info["level_sizes"]) >= 2
    check_against_dense(c, 6, b)


@pytest.mark.parametrize("name", ["strokes40x36", "strokes24"])
def test_block_lobpcg_matches_scipy_lobpcg_on_the_same_cascade(name, force_cascade, monkeypatch):
    """The product never calls ``scipy.sparse.linalg.lobpcg``; the SciPy reference
    (:func:`fastshade.bench.scipy_cascade.scipy_cascade_basis`: SciPy's LOBPCG on every level of the same
    hierarchy and block V-cycle) calls it on every LOBPCG level, and both find the pairs of
    dense eigh."""
    import scipy.sparse.linalg as spla

    calls = []
    real = spla.lobpcg

    def spy(A, X, **kw):
        calls.append((A.shape, X.shape, kw["M"].shape))
        return real(A, X, **kw)

    monkeypatch.setattr(spla, "lobpcg", spy)
    c = CASES[name]()
    ours = spectral_basis(c, k=6, tol=1e-10)
    assert not calls
    assert ours.info["pixel_solver"] == "block"
    ref = scipy_cascade_basis(image_laplacian(c), 6, tol=1e-10)
    assert calls and calls[-1][0] == (c.size, c.size)  # the pixel level last
    # every LOBPCG level (the coarsest is solved densely)
    assert {A[0] for A, _, _ in calls} == set(ref.info["level_sizes"][:len(calls)])
    assert ref.info["method"] == "lobpcg" and ref.converged and ref.residuals.max() <= 1e-10
    check_against_dense(c, 6, ref)
    np.testing.assert_allclose(ours.values, ref.values, rtol=1e-6, atol=1e-13)


def test_toof_crop_matches_dense_eigh():
    c = toof_crop()
    b = spectral_basis(c, k=8, tol=1e-10)
    assert b.method == "lobpcg"
    check_against_dense(c, 8, b)
    # the default tolerance keeps what the shader uses: the thicken reach on contour pixels
    from fastshade.pipeline.gates import contour_mask
    from fastshade.pipeline.shading import thickening_budget

    d = spectral_basis(c, k=8)
    assert d.info["tol"] == spectral.DEFAULT_TOL and max(d.info["residuals"]) <= spectral.DEFAULT_TOL
    on = contour_mask(c).ravel()
    reach_d = np.floor(thickening_budget(d.vectors, 3, 0.7))[on]
    reach_b = np.floor(thickening_budget(b.vectors, 3, 0.7))[on]
    assert np.mean(reach_d == reach_b) >= 0.99
    # a basis of the wrong subspace would change it (the check can fail)
    wrong = np.roll(b.vectors, 1, axis=1)
    wrong[:, 2:] = np.random.default_rng(0).standard_normal((c.size, 6))
    assert np.mean(np.floor(thickening_budget(wrong, 3, 0.7))[on] == reach_b) < 0.99


@pytest.mark.parametrize("name", sorted(CASES))
def test_dense_path_matches_reference(name):
    c = CASES[name]()
    b = spectral_basis(c, k=5, method="dense")
    assert b.method == "dense"
    check_against_dense(c, 5, b)


def test_laplacian_matches_reference_and_prebuilt_is_used():
    c = strokes(20, 17, seed=2)
    L = image_laplacian(c)
    assert abs(L - laplacian_coo(c)).max() < 1e-12
    a = spectral_basis(c, k=4)
    b = spectral_basis(c, k=4, laplacian=L)
    assert a.vectors.tobytes() == b.vectors.tobytes()
    # a different operator passed in must change the result
    c2 = spectral_basis(c, k=4, laplacian=laplacian_coo(c, connectivity=8))
    assert not np.allclose(np.abs(c2.vectors), np.abs(a.vectors))


def test_eight_connectivity_and_floor_options(force_cascade):
    c = strokes(30, 30, seed=4)
    for conn, floor in ((8, 0.0), (4, 0.05)):
        b = spectral_basis(c, k=4, connectivity=conn, weight_floor=floor, tol=1e-10)
        vals, _ = full_spectrum(c, connectivity=conn, weight_floor=floor)
        np.testing.assert_allclose(b.values, vals[1:5], rtol=1e-6)


def test_sign_convention():
    v = np.array([[1.0, -3.0, 0.0], [-2.0, 3.0, 0.0], [0.5, 1.0, 0.0]])
    out = sign_flip(v.copy())
    np.testing.assert_array_equal(out, sign_flip_numpy(v))
    np.testing.assert_array_equal(out[:, 0], [-1.0, 2.0, -0.5])
    np.testing.assert_array_equal(out[:, 1], [3.0, -3.0, -1.0])  # tie -> lowest index positive
    b = spectral_basis(strokes(24, 24, seed=1), k=4)
    idx = np.argmax(np.abs(b.vectors), axis=0)
    assert (b.vectors[idx, np.arange(4)] > 0).all()


def test_deterministic_in_process_and_fresh_process(force_cascade):
    c = strokes(40, 36, seed=5, n_strokes=6)
    a = spectral_basis(c, k=6)
    b = spectral_basis(c, k=6)
    assert a.vectors.tobytes() == b.vectors.tobytes() and a.values.tobytes() == b.values.tobytes()
    digest = hashlib.sha256(a.vectors.tobytes() + a.values.tobytes()).hexdigest()
    code = (
        "import hashlib, numpy as np, fastshade.spectral as s\n"
        "from fastshade.spectral import amg, cascade\n"
        "from tests.test_spectral import strokes\n"
        "cascade.DENSE_MAX_N = 0; amg.MAX_COARSE = 30\n"
        "b = s.spectral_basis(strokes(40, 36, seed=5, n_strokes=6), k=6)\n"
        "print(hashlib.sha256(b.vectors.tobytes() + b.values.tobytes()).hexdigest())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
                                          "OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == digest


# ----------------------------------------------------------------------------------------
# tiles
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("length,tile,overlap", [(512, 64, 16), (100, 64, 16), (64, 64, 16),
                                                  (30, 64, 16), (97, 32, 8), (10, 4, 0)])
def test_tile_starts_and_weights_match_reference(length, tile, overlap):
    assert tile_starts(length, tile, overlap) == tile_starts_numpy(length, tile, overlap)
    np.testing.assert_array_equal(blend_weights_1d(min(tile, length), overlap),
                                  blend_weights_1d_numpy(min(tile, length), overlap))
    assert len(tile_starts(512, 64, 16)) == 11


def tiled_reference(c, k, tile, overlap):
    """Blend of per-tile dense eigenvectors (max-abs sign), tiles without contours skipped."""
    from fastshade.pipeline.gates import contour_mask

    h, w = c.shape
    contours = contour_mask(c)
    acc = np.zeros((h, w, k))
    wsum = np.zeros((h, w))
    for y0 in tile_starts_numpy(h, tile, overlap):
        for x0 in tile_starts_numpy(w, tile, overlap):
            sub = c[y0:y0 + tile, x0:x0 + tile]
            th, tw = sub.shape
            if th < 4 or tw < 4 or not contours[y0:y0 + th, x0:x0 + tw].any():
                continue
            vals, vecs = dense_spectrum_numpy(laplacian_coo(sub), k)
            v = np.zeros((th * tw, k))
            m = vecs.shape[1] - 1
            v[:, :m] = sign_flip_numpy(vecs[:, 1:])
            bw = np.outer(blend_weights_1d_numpy(th, overlap), blend_weights_1d_numpy(tw, overlap))
            acc[y0:y0 + th, x0:x0 + tw] += bw[:, :, None] * v.reshape(th, tw, k)
            wsum[y0:y0 + th, x0:x0 + tw] += bw
    f = (acc / np.maximum(wsum, 1e-10)[:, :, None]).reshape(h * w, k)
    n = np.linalg.norm(f, axis=0)
    return f / np.where(n > 0, n, 1)


def test_tiled_matches_per_tile_dense_reference():
    c = np.random.default_rng(7).random((26, 21))
    b = spectral_basis(c, k=3, tile_size=10, tile_overlap=3, tile_sign="max-abs")
    assert b.method == "lobpcg-tiled"
    np.testing.assert_allclose(b.vectors, tiled_reference(c, 3, 10, 3), atol=1e-8)
    assert np.all(np.diff(b.values) >= 0)


def test_tiled_cascade_tiles_match_dense_tiles(force_cascade):
    c = strokes(44, 40, seed=9, n_strokes=8)
    b = spectral_basis(c, k=2, tile_size=24, tile_overlap=6, tile_sign="max-abs", tol=1e-10)
    assert b.info["tile_methods"].get("lobpcg", 0) > 0
    ref = tiled_reference(c, 2, 24, 6)
    assert abs(b.vectors[:, 0] @ ref[:, 0]) > 1 - 1e-6


def test_tiled_blank_tiles_are_zero_and_seeded_signs_deterministic():
    c = np.ones((40, 40))
    c[2:6, 2:20] = 0.0  # ink only in the top-left tile
    b = spectral_basis(c, k=2, tile_size=16, tile_overlap=4)
    assert b.info["tiles_skipped"] > 0
    f = b.vectors[:, 0].reshape(40, 40)
    assert np.all(f[30:, 30:] == 0.0)
    b2 = spectral_basis(c, k=2, tile_size=16, tile_overlap=4)
    assert b.vectors.tobytes() == b2.vectors.tobytes()
    b3 = spectral_basis(c, k=2, tile_size=16, tile_overlap=4, seed=1)
    assert np.allclose(np.abs(b3.vectors), np.abs(b.vectors))


# ----------------------------------------------------------------------------------------
# degenerate inputs and validation
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2), (3, 3)])
@pytest.mark.parametrize("k", [1, 8])
def test_tiny_shapes(shape, k):
    c = np.random.default_rng(0).random(shape)
    b = spectral_basis(c, k=k)
    n = shape[0] * shape[1]
    assert b.vectors.shape == (n, k) and b.values.shape == (k,)
    assert np.isfinite(b.vectors).all() and np.isfinite(b.values).all()
    nv = b.info["n_valid"]
    assert nv == min(k, n - 1)
    assert np.all(b.vectors[:, nv:] == 0)
    assert np.all(np.diff(b.values) >= 0)
    if n == 1:
        assert b.method == "trivial"
    else:
        np.testing.assert_allclose(b.vectors[:, :nv].T @ b.vectors[:, :nv], np.eye(nv), atol=1e-10)


def test_blank_and_all_ink_give_grid_modes():
    for value in (1.0, 0.0):
        c = np.full((30, 31), value)
        b = spectral_basis(c, k=3, tol=1e-9)
        # uniform H x W grid: lambda = (2 - 2 cos(pi i / H)) + (2 - 2 cos(pi j / W))
        mu = 2 - 2 * np.cos(np.pi * np.arange(30) / 30)
        nu = 2 - 2 * np.cos(np.pi * np.arange(31) / 31)
        lam = np.sort((mu[:, None] + nu[None, :]).ravel())[1:4]
        np.testing.assert_allclose(b.values, lam, rtol=1e-6)


def test_cluster_of_near_zero_eigenvalues(force_cascade):
    # many separate specks: more near-zero eigenvalues than k
    c = np.ones((40, 40))
    for y in range(3, 40, 6):
        for x in range(3, 40, 6):
            c[y:y + 2, x:x + 2] = 0.0
    b = spectral_basis(c, k=4, tol=1e-10)
    full, vecs = full_spectrum(c)
    np.testing.assert_allclose(b.values, full[1:5], rtol=1e-6, atol=1e-14)
    # cluster: compare against the whole near-zero eigenspace
    nclu = int(np.sum(full < 1e-2))
    assert nclu > 5
    ang = principal_angles(b.vectors, vecs[:, :nclu])
    assert ang.max() < 1e-4


def test_krylov_dispatch():
    from fastshade.spectral.krylov import krylov_basis

    c = strokes(30, 30, seed=3)
    b = spectral_basis(c, k=5, method="krylov", krylov_steps=20, seed=7)
    v, lam = krylov_basis(image_laplacian(c), 5, steps=20, seed=7)
    assert b.method == "krylov"
    np.testing.assert_array_equal(b.vectors, v)
    np.testing.assert_array_equal(b.values, lam)


@pytest.mark.parametrize("kwargs,match", [
    (dict(k=0), "k must"),
    (dict(k=10**6), "k must"),  # would allocate an (n, 10**6) basis
    (dict(k=3.0), "k must"),
    (dict(tile_size=2), "tile_size"),  # every tile below 4 px: an all-zero basis
    (dict(tol=float("nan")), "tol"),
    (dict(guard=-1), "guard"),
    (dict(laplacian=sp.diags(np.full(25, np.nan)).tocsr()), "NaN or inf"),
    (dict(method="eigsh"), "method"),
    (dict(tile_size=-1), "tile_size"),
    (dict(tile_size=8, tile_overlap=8), "tile_overlap"),
    (dict(tol=-1.0), "tol"),
    (dict(laplacian=np.eye(4)), "laplacian"),
    (dict(tile_sign="random"), "tile_sign"),
    (dict(maxiter=-1), "maxiter"),
    (dict(maxiter=2.5), "maxiter"),
])
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        spectral_basis(np.zeros((5, 5)), **kwargs)


def test_rejects_bad_carrier():
    with pytest.raises(ValueError, match="2-D"):
        spectral_basis(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        spectral_basis(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="at least one"):
        spectral_basis(np.zeros((0, 3)))


@settings(deadline=None, max_examples=30)
@given(h=st.integers(1, 8), w=st.integers(1, 8), k=st.integers(1, 10),
       seed=st.integers(0, 2**16), tiled=st.booleans())
def test_random_small_shapes(h, w, k, seed, tiled):
    c = np.random.default_rng(seed).random((h, w))
    b = spectral_basis(c, k=k, tile_size=4 if tiled else 0, tile_overlap=1)
    n = h * w
    assert b.vectors.shape == (n, k) and b.values.shape == (k,)
    assert b.vectors.dtype == np.float64 and b.values.dtype == np.float64
    assert np.isfinite(b.vectors).all() and np.isfinite(b.values).all()
    nv = b.info["n_valid"]
    V = b.vectors[:, :nv]
    norms = np.linalg.norm(b.vectors, axis=0)
    assert np.all((np.abs(norms - 1) < 1e-10) | (norms == 0))
    if not tiled:
        np.testing.assert_allclose(V.T @ V, np.eye(nv), atol=1e-10)
        assert np.all(np.diff(b.values) >= 0)
    import json

    json.dumps(b.info)


@pytest.mark.parametrize("h, w, seed, kind", [(60, 50, 5, "anti-aliased"), (96, 80, 2, "binary"),
                                              (64, 64, 1, "noise")])
def test_hierarchy_is_pyamgs_smoothed_aggregation(h, w, seed, kind, monkeypatch):
    """The cascade's hierarchy is PyAMG's smoothed aggregation of ``A = L + s I``: PyAMG's
    symmetric strength and standard aggregation (nodes it leaves unaggregated become singleton
    aggregates here, the one structural change: they are the nearly cut-off specks that carry
    the tiny eigenvalues), the constant candidate, one Jacobi smoothing step
    ``(I - omega/rho D^-1 A) T`` with omega 4/3, Galerkin coarse operators.  The second change:
    ``rho(D^-1 A)`` is the Gershgorin bound 2, not PyAMG's Arnoldi estimate (90 % of PyAMG's
    setup time).  With that estimate replaced by 2 and the same aggregates, every prolongator
    and coarse operator equals ``pyamg.smoothed_aggregation_solver``'s, level by level, and
    the aggregates are PyAMG's own wherever it aggregates."""
    import pyamg.aggregation.smooth as pyamg_smooth
    import scipy.sparse as sps
    from pyamg import smoothed_aggregation_solver
    from pyamg.aggregation import standard_aggregation
    from pyamg.strength import symmetric_strength_of_connection

    monkeypatch.setattr(amg, "MAX_COARSE", 30)
    monkeypatch.setattr(pyamg_smooth, "approximate_spectral_radius", lambda *a, **k: 2.0)
    c = strokes(h, w, seed=seed, n_strokes=8)
    if kind == "binary":
        c = np.where(c < 1, 0.0, 1.0)
    elif kind == "noise":
        c = np.random.default_rng(seed).random((h, w))
    H = amg.build_hierarchy(image_laplacian(c))
    # levels before the first stalled-coarsening fallback (theta 0 / tentative prolongator,
    # which PyAMG does not have) are plain smoothed aggregation
    plain = min([int(note.split()[1].rstrip(":")) for note in H.notes] + [len(H.P)])
    assert plain >= 2
    agg_ops = []
    for lev in range(plain):
        agg, nc = amg.aggregate(amg.level_operator(H, lev), amg.STRENGTH_THETA)
        n = agg.size
        ref = standard_aggregation(symmetric_strength_of_connection(H.A[lev],
                                                                    amg.STRENGTH_THETA))[0]
        ref = ref.tocsr()
        has = np.diff(ref.indptr) > 0
        assert has.sum() < n  # the cases do have unaggregated nodes
        np.testing.assert_array_equal(agg[has], ref.indices[ref.indptr[:-1][has]])
        assert nc == ref.shape[1] + int((~has).sum())
        agg_ops.append(("predefined", {"AggOp": sps.csr_array(
            (np.ones(n), agg, np.arange(n + 1)), shape=(n, nc))}))
    ml = smoothed_aggregation_solver(
        H.A[0], B=np.ones((c.size, 1)), symmetry="symmetric", aggregate=agg_ops,
        smooth=("jacobi", {"omega": 4.0 / 3.0, "weighting": "diagonal"}),
        presmoother=None, postsmoother=None, improve_candidates=None,
        max_levels=plain + 1, max_coarse=1, keep=True)
    assert len(ml.levels) == plain + 1
    for lev, P in enumerate(H.P[:plain]):
        ref = ml.levels[lev].P.toarray()
        np.testing.assert_allclose(P.toarray(), ref, rtol=1e-10, atol=1e-14 * np.abs(ref).max())
        ref_A = ml.levels[lev + 1].A.toarray()
        np.testing.assert_allclose(H.A[lev + 1].toarray(), ref_A, rtol=1e-9,
                                   atol=1e-13 * np.abs(ref_A).max())


def test_maxiter_caps_the_pixel_level_updates(force_cascade):
    """``maxiter`` is the number of pixel-level LOBPCG updates; ``info["iterations"]`` reports
    it and more iterations reduce the residual."""
    c = CASES["strokes40x36"]()
    res = []
    for maxiter in (1, 3):
        b = spectral_basis(c, k=6, tol=0.0, maxiter=maxiter)
        assert b.info["iterations"] == maxiter and not b.info["converged"]
        res.append(max(b.info["residuals"]))
    assert res[1] < res[0]


@pytest.mark.parametrize("case, kw", [
    ("noise60", dict(k=100)),            # SciPy retires columns by index, then stops early
    ("binary60", dict(k=64, tol=1e-4)),  # SciPy returns its iterate of smallest mean residual
])
def test_default_solve_meets_tol_where_scipy_lobpcg_stops_early(case, kw):
    """Where ``scipy.sparse.linalg.lobpcg`` returns before its residuals meet ``tol`` (these
    inputs, found in review: it retires block columns by index, or returns its iterate of
    smallest mean residual), the block LOBPCG converges: the true float64 residuals of the
    returned pairs meet ``tol``."""
    rng = np.random.default_rng(1 if case == "noise60" else 0)
    c = rng.random((60, 60)) if case == "noise60" else (rng.random((60, 60)) < 0.5).astype(float)
    tol = kw.get("tol", spectral.DEFAULT_TOL)
    b = spectral_basis(c, **kw)
    assert b.info["converged"] and b.info["pixel_solver"] == "block"
    L = image_laplacian(c)
    assert np.linalg.norm(L @ b.vectors - b.vectors * b.values, axis=0).max() <= tol * 1.001


def _finish_columns_by_take(vals, vecs, n, k):
    """finish_columns as it was written: take the sorted columns, one stats pass, then scale."""
    from fastshade.kernels.blockops import column_sumsq_extrema
    from fastshade.spectral.columns import sign_flip as flip

    order = np.argsort(vals, kind="stable")
    vals = np.asarray(vals, dtype=np.float64)[order]
    nv = min(k, len(order))
    out_v = np.zeros((n, k))
    if nv:
        np.take(np.asarray(vecs, dtype=np.float64), order[:nv], axis=1, out=out_v[:, :nv], mode="clip")
    norms, hi, lo = np.zeros(k), np.zeros(k), np.zeros(k)
    if n:
        column_sumsq_extrema(out_v, norms, hi, lo)
        np.sqrt(norms, out=norms)
    norms[norms == 0] = 1.0
    signs = np.where(hi >= -lo, 1.0, -1.0)
    tie = (hi == -lo) & (hi != 0)
    out_v *= signs / norms
    for j in np.flatnonzero(tie):
        flip(out_v[:, j:j + 1])
    out_l = np.zeros(k)
    out_l[:nv] = vals[:nv]
    if nv < k:
        out_l[nv:] = vals[nv - 1] if nv else 0.0
    return out_v, np.nan_to_num(out_l), norms


def _finish_case(n: int, m: int, layout: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(vecs, vals)``: random (n, m) columns in ``layout`` ("C", "F" or a "strided" slice), with a
    zero column and a column whose max and min tie in size when ``m >= 3``, and random values."""
    rng = np.random.default_rng(seed)
    full = rng.standard_normal((n, m + 2))
    vecs = {"C": np.ascontiguousarray(full[:, :m]), "F": np.asfortranarray(full[:, :m]),
            "strided": full[:, 1:m + 1]}[layout]
    if m >= 3:
        vecs[:, 1] = 0.0  # a zero column
        vecs[:, 2] = np.where(np.arange(n) % 2, 1.0, -1.0)[:n]  # |max| == |min|: a tie
    return vecs, rng.standard_normal(m)


@pytest.mark.parametrize(("n", "m", "k"), [(1, 1, 1), (40, 12, 8), (40, 3, 8), (33, 8, 8), (5, 0, 3)])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_finish_columns_is_take_then_scale_bit_for_bit(n, m, k, layout):
    from fastshade.spectral.columns import finish_columns

    vecs, vals = _finish_case(n, m, layout, n * 7 + m)
    before = vecs.copy()
    got = finish_columns(vals, vecs, n, k)
    for a, b in zip(got, _finish_columns_by_take(vals, vecs, n, k)):
        np.testing.assert_array_equal(a, b, strict=True)
    np.testing.assert_array_equal(vecs, before)  # not modified


@pytest.mark.parametrize(("n", "m", "k"), [(1, 1, 1), (40, 12, 8), (40, 3, 8), (33, 8, 8), (5, 0, 3),
                                           (3 * 4096 + 5, 12, 8)])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_finish_energy_is_the_column_energy_of_finish_columns(n, m, k, layout):
    from fastshade.kernels.shading import column_energy
    from fastshade.spectral.columns import finish_columns, finish_energy

    vecs, vals = _finish_case(n, m, layout, n * 5 + m)  # (its sign tie: a square does not see it)
    before = vecs.copy()
    columns, out_l, norms = finish_columns(vals, vecs, n, k)
    expected = np.empty(n)
    column_energy(columns, 2, expected)
    for threads in (0, 1 << 40):  # the parallel twin from 0 rows, and the serial kernel
        with parallel_from(threads):
            energy, got_l, got_norms = finish_energy(vals, vecs, n, k)
        np.testing.assert_array_equal(energy, expected, strict=True)
        np.testing.assert_array_equal(got_l, out_l, strict=True)
        np.testing.assert_array_equal(got_norms, norms, strict=True)
    np.testing.assert_array_equal(vecs, before)  # not modified


@pytest.mark.parametrize(("shape", "k"), [((70, 60), 8), ((64, 64), 5), ((6, 5), 8), ((40, 30), 2)])
def test_an_energy_only_basis_is_the_energy_of_the_full_basis(shape, k):
    """Same values, info and residuals; the energy is the thicken budget's column energy of the
    columns, bit for bit; a dense graph (6x5) or k <= 2 returns the columns instead."""
    from fastshade.kernels.shading import column_energy

    rng = np.random.default_rng(shape[0] + k)
    c = (rng.random(shape) < 0.7).astype(float) * 0.8 + rng.random(shape) * 0.2
    full = spectral_basis(c, k=k, contract="off")
    lean = spectral_basis(c, k=k, contract="off", energy_only=True)
    np.testing.assert_array_equal(lean.values, full.values, strict=True)
    assert lean.k == full.k == k
    assert lean.info["residuals"] == full.info["residuals"]
    if full.method == "lobpcg" and k > 2:
        assert lean.vectors.shape == (c.size, 0) and full.energy is None
        expected = np.empty(c.size)
        column_energy(full.vectors, 2, expected)
        np.testing.assert_array_equal(lean.energy, expected, strict=True)
    else:  # not honoured: the columns, as without it
        assert lean.energy is None
        np.testing.assert_array_equal(lean.vectors, full.vectors, strict=True)
    from fastshade.pipeline.shading import basis_budget, thickening_budget

    sources = np.flatnonzero(c.ravel() > 0.5)  # the budget read either way: the same values
    expected_budget = thickening_budget(full.vectors, 3, 0.7, sources)
    for basis in (full, lean):
        np.testing.assert_array_equal(basis_budget(basis, None, 3, 0.7, sources), expected_budget, strict=True)


@pytest.mark.parametrize("maxiter", [0, 1, 3])
@pytest.mark.parametrize("dense_updates", [False, True])
def test_block_lobpcg_without_final_residuals_returns_the_same_pairs(maxiter, dense_updates):
    from fastshade.spectral.lobpcg import block_lobpcg

    rng = np.random.default_rng(maxiter)
    L = image_laplacian((rng.random((60, 50)) < 0.85).astype(float))
    H = amg.build_hierarchy(L, min_coarse=60)
    lev = 1  # a coarse level: mass matrix B, as the cascade solves it
    start = rng.standard_normal((H.L[lev].shape[0], 12))
    runs = [block_lobpcg(H.L[lev], H.B[lev], start.copy(), H.Y[lev], lambda R: amg.vcycle(H, lev, R),
                         tol=0.0, maxiter=maxiter, k=8, dense_updates=dense_updates, final_residuals=final)
            for final in (True, False)]
    np.testing.assert_array_equal(runs[0]["values"], runs[1]["values"])
    np.testing.assert_array_equal(runs[0]["vectors"], runs[1]["vectors"])
    assert runs[0]["iterations"] == runs[1]["iterations"] == maxiter
    assert np.isfinite(runs[0]["residuals"]).all()
    assert np.isnan(runs[1]["residuals"]).all() == (maxiter > 0)
