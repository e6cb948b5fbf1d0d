"""The heat schedule of wide operators and the Chebyshev heat filter (issue 17, defect 3).

References (:mod:`fastshade.reference`): SciPy mat-vecs for the products and the series
(``chebyshev_series_scipy``), the explicit steps (``heat_diffusion_scipy``), the closed-form
binomial coefficients (``heat_series_binomial``), the lattice symbol summed term by term
(``lattice_symbol_max_numpy``), and dense / ARPACK eigenvalues for the spectral bound.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from fastshade.demo import demo_image
from fastshade.kernels import chebyshev as kc
from fastshade.options import ShadeOptions
from fastshade.pipeline.chebyshev import HEAT_FILTER_TOL, chebyshev_heat, heat_series, symmetric_storage
from fastshade.pipeline.fields import HeatOperator, contour_heat, gating_field, stable_heat_schedule
from fastshade.pipeline.gates import carrier_of, contour_gates, contour_mask
from fastshade.pipeline.graph import diagonal_storage, heat_diffusion, image_laplacian, laplacian_bound
from fastshade.reference import (
    chebyshev_series_scipy,
    heat_diffusion_scipy,
    heat_series_binomial,
    laplacian_offset_table,
    lattice_symbol_max_numpy,
)
from fastshade.seeds import seeded_generator
from tests.conftest import GRAPH_IDS, GRAPHS

SHAPES = [(1, 1), (1, 9), (9, 1), (2, 3), (7, 5), (13, 11), (40, 23)]


def storage64(L):
    return symmetric_storage(L, dtype=np.float64)


# --------------------------------------------------------------------------- symmetric storage


@pytest.mark.parametrize(("kind", "connectivity"), GRAPHS, ids=GRAPH_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_symmetric_storage_matches_scipy_diagonals(kind, connectivity, shape):
    L = image_laplacian(np.random.default_rng(3).random(shape), kind=kind, connectivity=connectivity)
    offsets, upper, diag = storage64(L)
    coo = L.tocoo()
    np.testing.assert_array_equal(offsets, np.unique((coo.col - coo.row)[coo.col > coo.row]))
    np.testing.assert_array_equal(diag, L.diagonal())
    for k, d in enumerate(offsets):
        ref = np.zeros(L.shape[0])
        ref[:L.shape[0] - d] = L.diagonal(d)
        np.testing.assert_array_equal(upper[k], ref)
    o32, u32, d32 = symmetric_storage(L)
    assert u32.dtype == np.float32 and d32.dtype == np.float64
    np.testing.assert_array_equal(o32, offsets)
    np.testing.assert_array_equal(u32, upper.astype(np.float32))


def test_symmetric_storage_canonicalises_and_refuses_asymmetric_patterns():
    L = image_laplacian(np.random.default_rng(1).random((6, 5)), kind="dither")
    rev = L.copy()
    for i in range(rev.shape[0]):  # reversed column order in every row
        a, b = rev.indptr[i], rev.indptr[i + 1]
        rev.indices[a:b] = rev.indices[a:b][::-1].copy()
        rev.data[a:b] = rev.data[a:b][::-1].copy()
    rev.has_sorted_indices = False
    for got, ref in zip(storage64(rev), storage64(L), strict=True):
        np.testing.assert_array_equal(got, ref)
    with pytest.raises(ValueError, match="symmetric"):
        symmetric_storage(sp.csr_matrix(np.triu(np.ones((4, 4)))))
    with pytest.raises(ValueError, match="dtype"):
        symmetric_storage(L, dtype=np.int32)


@pytest.mark.parametrize(("kind", "connectivity"), GRAPHS, ids=GRAPH_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("width", [1, 3, 64, 4096])
def test_sym_dia_matvec_matches_scipy(kind, connectivity, shape, width):
    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    L = image_laplacian(rng.random(shape), kind=kind, connectivity=connectivity)
    x = rng.standard_normal(L.shape[0])
    offsets, upper, diag = storage64(L)
    out = np.full(x.size, np.nan)
    kc.sym_dia_matvec(offsets, upper, diag, x, out, np.full(width, np.nan))
    np.testing.assert_allclose(out, L @ x, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- the series


@pytest.mark.parametrize(("kind", "connectivity"), GRAPHS, ids=GRAPH_IDS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (7, 5), (40, 23)], ids=str)
@pytest.mark.parametrize("width", [1, 5, 4096])
@pytest.mark.parametrize("terms", [1, 2, 3, 8, 40])
def test_chebyshev_filter_matches_scipy_recurrence(kind, connectivity, shape, width, terms):
    rng = np.random.default_rng(terms)
    L = image_laplacian(rng.random(shape), kind=kind, connectivity=connectivity)
    x = rng.standard_normal(L.shape[0])
    coeffs = rng.standard_normal(terms)
    scale = 2.0 / laplacian_bound(kind, connectivity)
    offsets, upper, diag = storage64(L)
    out, cur, prev = (np.full(x.size, np.nan) for _ in range(3))
    kc.chebyshev_filter(offsets, upper, diag, x, coeffs, scale, out, cur, prev, np.full(width, np.nan))
    ref = chebyshev_series_scipy(L, x, coeffs, scale)
    np.testing.assert_allclose(out, ref, rtol=1e-11, atol=1e-11 * np.abs(coeffs).sum())


@pytest.mark.parametrize("steps", [0, 1, 2, 5, 30, 207, 1036])
def test_heat_series_is_the_binomial_closed_form(steps):
    got = heat_series(1.0 / 69.0, steps, 69.0, tol=0.0)  # alpha * bound = 1: ((1 - t) / 2)^T
    assert got.size == steps + 1
    np.testing.assert_allclose(got, heat_series_binomial(steps, steps + 1), rtol=0, atol=1e-13)
    tail = np.append(np.cumsum(np.abs(got[::-1]))[::-1], 0.0)  # tail[m] = sum_{k >= m} |c_k|
    m = heat_series(1.0 / 69.0, steps, 69.0).size  # default tol: the shortest run within it
    assert tail[m] <= HEAT_FILTER_TOL and (m == 1 or tail[m - 1] > HEAT_FILTER_TOL)


def test_heat_series_with_a_short_step_matches_the_steps():
    # alpha * bound < 1: the general polynomial (1 - alpha lambda)^T, checked on scalars
    lam = np.linspace(0.0, 12.0, 50)
    coeffs = heat_series(0.05, 40, 12.0, tol=0.0)
    series = np.polynomial.chebyshev.chebval(2.0 * lam / 12.0 - 1.0, coeffs)
    np.testing.assert_allclose(series, (1.0 - 0.05 * lam) ** 40, rtol=1e-10, atol=1e-14)
    assert heat_series(0.1, 0, 1.0).tolist() == [1.0]


def test_chebyshev_heat_equals_the_explicit_steps_at_full_length():
    rng = np.random.default_rng(9)
    L = image_laplacian(rng.random((12, 14)), kind="dither")
    bound = laplacian_bound("dither")
    x = rng.standard_normal((12, 14))
    a, steps = 1.0 / bound, 60
    got = chebyshev_heat(L, x, alpha=a, steps=steps, bound=bound, tol=0.0, storage=storage64(L))
    assert got.shape == x.shape
    np.testing.assert_allclose(got.ravel(), heat_diffusion_scipy(L, x.ravel(), a, steps),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": np.zeros(5)}, "entries"),
        ({"bound": 0.0}, "bound"),
        ({"alpha": -1.0}, "alpha"),
        ({"steps": -1}, "steps"),
        ({"tol": -1e-3}, "tol"),
        ({"storage": (np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(3))}, "storage"),
    ],
)
def test_chebyshev_heat_invalid_input(kwargs, match):
    L = image_laplacian(np.zeros((3, 4)))
    args = {"x": np.zeros(12), "alpha": 0.1, "steps": 3, "bound": 8.0, **kwargs}
    x = args.pop("x")
    with pytest.raises(ValueError, match=match) as info:
        chebyshev_heat(L, x, **args)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- the spectral bound


@pytest.mark.parametrize(("kind", "connectivity"), GRAPHS, ids=GRAPH_IDS)
@pytest.mark.parametrize("weight_floor", [0.0, 0.05, 3.0])
def test_laplacian_bound_bounds_every_laplacian_and_is_tight_on_the_lattice(kind, connectivity,
                                                                          weight_floor):
    bound = laplacian_bound(kind, connectivity, weight_floor)
    table = laplacian_offset_table(kind, connectivity)
    lattice = lattice_symbol_max_numpy(table, weight_floor, grid=256)
    assert lattice <= bound <= lattice * 1.002
    rng = np.random.default_rng(int(weight_floor * 100) + connectivity)
    for shape in [(1, 2), (5, 7), (16, 16), (9, 30)]:
        for carrier in (np.zeros(shape), rng.random(shape), (rng.random(shape) < 0.5) * 1.0,
                        rng.random(shape + (3,))):
            L = image_laplacian(carrier, kind=kind, connectivity=connectivity, weight_floor=weight_floor)
            for dtype in (np.float64, np.float32):
                top = np.linalg.eigvalsh(L.astype(dtype).toarray().astype(np.float64))[-1]
                assert top <= bound, (shape, top, bound)


def test_dither_bound_is_tight_on_a_flat_image():
    L = image_laplacian(np.zeros((32, 32)), kind="dither")
    top = np.linalg.eigvalsh(L.toarray())[-1]
    bound = laplacian_bound("dither")
    assert top <= bound <= 1.02 * top  # the degree bound is 128: 1.85x the spectrum
    assert 2.0 * L.diagonal().max() == pytest.approx(128.0)


# --------------------------------------------------------------------------- schedules (defect 3)


def test_dither_heat_schedule_uses_the_spectral_bound_not_the_degree_bound():
    """Issue 17, defect 3: the step came from 2 max degree = 128 (1920 heat-field steps);
    lambda_max is 69, so the bound-based step needs 1036, and the series 111 products."""
    L = image_laplacian(np.zeros((32, 32)), kind="dither")
    bound = laplacian_bound("dither")
    a, steps = stable_heat_schedule(L, 0.1, 150, bound)
    assert a == 1.0 / bound and steps == round(15.0 * bound) <= 1040
    assert stable_heat_schedule(L, 0.1, 150) == (pytest.approx(1.0 / 128.0), 1920)  # degree bound
    op = HeatOperator(L, ShadeOptions(laplacian="dither"))
    assert op.bound == bound
    assert heat_series(a, steps, bound).size - 1 <= 120  # products of the heat field
    assert heat_series(*stable_heat_schedule(L, 0.1, 30, bound), bound).size - 1 <= 60  # void


@pytest.mark.parametrize("connectivity", [4, 8])
def test_grid_fields_keep_the_explicit_schedule_bit_for_bit(connectivity):
    rng = np.random.default_rng(connectivity)
    carrier = (rng.random((37, 29)) < 0.1) * 1.0  # sparse ink: flat paper has the full degree
    L = image_laplacian(carrier, connectivity=connectivity)
    opts = ShadeOptions(connectivity=connectivity)
    op = HeatOperator(L, opts, diagonal_storage(L))
    assert op.bound is None
    # the field as it was computed before the spectral bound existed
    a, steps = 0.1, 150
    max_degree = float(L.diagonal().max())
    if a > 1.0 / (2.0 * max_degree):
        a = 1.0 / (2.0 * max_degree)
        steps = max(1, int(round(0.1 * 150 / a)))
    assert (a, steps) == ((0.1, 150) if connectivity == 4 else (1.0 / 16.0, 240))
    xi = seeded_generator(opts.seed).standard_normal(L.shape[0])
    old = heat_diffusion(L, xi, alpha=a, steps=steps)
    old -= old.mean()
    np.testing.assert_array_equal(gating_field(L, None, carrier.shape, opts, operator=op),
                                  old.reshape(carrier.shape))
    contours = contour_mask(carrier)
    a, steps = stable_heat_schedule(L, 0.1, 30)
    np.testing.assert_array_equal(contour_heat(op, contours, opts),
                                  heat_diffusion(L, contours.ravel() * 1.0, alpha=a, steps=steps)
                                  .reshape(carrier.shape))


def test_dither_fields_match_the_explicit_schedule_within_the_documented_tolerance():
    """The series against the explicit steps it replaces, on a 96 x 96 line drawing: the bound
    ``tol ||x||`` (plus the float32 storage), a relative L2 error below 1e-4 (here 1.3e-5; toof
    and snek-heavy measure 1e-5, docs/heat-filter.md) and the same gates but for a pixel."""
    carrier = carrier_of(demo_image(96, 96))
    opts = ShadeOptions(laplacian="dither")
    L = image_laplacian(carrier, kind="dither")
    op = HeatOperator(L, opts)
    f = gating_field(L, None, carrier.shape, opts, operator=op)
    a, steps = stable_heat_schedule(L, 0.1, 150, op.bound)
    xi = seeded_generator(opts.seed).standard_normal(L.shape[0])
    exact = heat_diffusion(L, xi, alpha=a, steps=steps)
    exact -= exact.mean()
    exact = exact.reshape(carrier.shape)
    assert np.linalg.norm(f - exact) <= 2.0 * HEAT_FILTER_TOL * np.linalg.norm(xi)
    assert np.linalg.norm(f - exact) <= 1e-4 * np.linalg.norm(exact)
    contours = contour_mask(carrier)
    for got, ref in zip(contour_gates(f, contours, 10.0, 1.3, -0.15, 1.5, -0.08),
                        contour_gates(exact, contours, 10.0, 1.3, -0.15, 1.5, -0.08), strict=True):
        assert np.count_nonzero(got != ref) <= 1  # of ~1000 gate pixels: one sits on a threshold
    void = contour_heat(op, contours, opts)
    a, steps = stable_heat_schedule(L, 0.1, 30, op.bound)
    void_exact = heat_diffusion(L, contours.ravel() * 1.0, alpha=a, steps=steps).reshape(carrier.shape)
    assert np.linalg.norm(void - void_exact) <= 1e-5 * np.linalg.norm(void_exact)


# --------------------------------------------------------------------------- embedding contract


@numba.njit
def user_series(indptr, indices, data, offsets, x, coeffs, scale):
    n = x.shape[0]
    upper = np.empty((offsets.shape[0], n))
    diag = np.empty(n)
    kc.csr_upper_diagonals(indptr, indices, data, offsets, upper, diag)
    out = np.empty(n)
    kc.chebyshev_filter(offsets, upper, diag, x, coeffs, scale, out, np.empty(n), np.empty(n),
                        np.empty(16))
    return out


def test_chebyshev_kernels_callable_from_user_njit():
    rng = np.random.default_rng(2)
    L = image_laplacian(rng.random((9, 10)), kind="dither")
    offsets = storage64(L)[0]
    x = rng.standard_normal(90)
    coeffs = heat_series(1.0 / 69.1, 100, 69.1)
    got = user_series(L.indptr, L.indices, L.data, offsets, x, coeffs, 2.0 / 69.1)
    np.testing.assert_allclose(got, chebyshev_series_scipy(L, x, coeffs, 2.0 / 69.1), rtol=1e-11,
                               atol=1e-13)
