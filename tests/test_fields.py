"""Field kernels (CSR mat-vec, heat diffusion, forward gradient, unit vectors) vs NumPy/SciPy.

References (:mod:`fastshade.reference`): ``scipy.sparse`` mat-vecs (``heat_diffusion_scipy``),
``np.diff`` gradients, NumPy normalisation.  Mat-vec sums run in the same
order as SciPy's ``csr_matvec``; the only difference allowed is FMA
contraction, hence ``rtol=1e-12`` plus an ``atol`` of 1e-14 of the signal scale.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastshade.pipeline.graph as graph_module
from fastshade.kernels import fields as kf
from fastshade.pipeline.graph import forward_gradient, heat_diffusion, image_laplacian, unit_vectors
from fastshade.reference import forward_gradient_numpy, heat_diffusion_scipy, unit_vectors_numpy

SHAPES = [(1, 1), (1, 9), (9, 1), (2, 2), (7, 5), (32, 27)]
SHAPE_IDS = [f"{h}x{w}" for h, w in SHAPES]


def assert_close(got, ref, scale=1.0):
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14 * scale)


def random_csr(n_rows, n_cols, density, seed, dtype=np.float64, index_dtype=np.int32):
    A = sp.random(n_rows, n_cols, density=density, format="csr", dtype=dtype,
                  rng=np.random.default_rng(seed))
    A.data -= 0.5
    return sp.csr_matrix((A.data, A.indices.astype(index_dtype), A.indptr.astype(index_dtype)),
                         shape=A.shape)


# --------------------------------------------------------------------------- csr_matvec


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64], ids=["i32", "i64"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(("rows", "cols"), [(0, 0), (1, 1), (5, 3), (3, 5), (200, 200)])
def test_csr_matvec_matches_scipy(rows, cols, dtype, index_dtype):
    A = random_csr(rows, cols, 0.2, seed=rows * 7 + cols, dtype=dtype, index_dtype=index_dtype)
    x = np.random.default_rng(1).standard_normal(cols)
    out = np.full(rows, np.nan)
    kf.csr_matvec(A.indptr, A.indices, A.data, x, out)
    assert_close(out, A @ x)  # SciPy upcasts float32 data to float64 like the kernel


def test_csr_matvec_unsorted_duplicates_and_empty_rows():
    indptr = np.array([0, 3, 3, 5], np.int64)
    indices = np.array([2, 0, 2, 1, 0], np.int64)
    data = np.array([1.0, 2.0, 3.0, -1.0, 0.5])
    x = np.array([1.0, 10.0, 100.0])
    out = np.full(3, np.nan)
    kf.csr_matvec(indptr, indices, data, x, out)
    A = sp.csr_matrix((data, indices, indptr), shape=(3, 3))
    np.testing.assert_array_equal(out, [402.0, 0.0, -9.5])
    np.testing.assert_array_equal(out, A @ x)


# --------------------------------------------------------------------------- heat diffusion


@pytest.mark.parametrize("steps", [0, 1, 2, 7, 30])
@pytest.mark.parametrize(("kind", "connectivity", "alpha"), [("grid", 4, 0.1), ("grid", 8, 0.1),
                                                             ("dither", 4, 0.02)],
                         ids=["grid4", "grid8", "dither"])
def test_heat_diffusion_matches_scipy_loop(kind, connectivity, alpha, steps):
    rng = np.random.default_rng(steps)
    carrier = rng.random((13, 11))
    L = image_laplacian(carrier, kind=kind, connectivity=connectivity)
    x = (rng.random(carrier.size) < 0.2).astype(np.float64)
    got = heat_diffusion(L, x, alpha=alpha, steps=steps)
    assert got.dtype == np.float64 and got.shape == x.shape and got is not x
    assert_close(got, heat_diffusion_scipy(L, x, alpha, steps))


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_heat_diffusion_edge_shapes_and_float32_operator(shape):
    rng = np.random.default_rng(sum(shape))
    carrier = rng.random(shape)
    x = rng.random(shape)
    for dtype in (np.float64, np.float32):
        L = image_laplacian(carrier, dtype=dtype)
        got = heat_diffusion(L, x, steps=30)  # an (H, W) image in, an (H, W) image out
        assert got.shape == shape
        assert_close(got.ravel(), heat_diffusion_scipy(L, x.ravel(), 0.1, 30))


def test_heat_diffusion_several_signals_and_input_kinds():
    rng = np.random.default_rng(4)
    L = image_laplacian(rng.random((6, 7)), connectivity=8)
    X = rng.random((42, 3))
    got = heat_diffusion(L, X, alpha=0.05, steps=5)
    assert got.shape == (42, 3)
    for col in range(3):
        assert_close(got[:, col], heat_diffusion_scipy(L, X[:, col], 0.05, 5))
    mask = rng.random((6, 7)) < 0.3  # bool contour mask, as the shader passes it
    expected = heat_diffusion_scipy(L, mask.ravel() * 1.0, 0.1, 3)
    assert_close(heat_diffusion(L, mask, steps=3).ravel(), expected)
    assert_close(heat_diffusion(L.tocoo(), mask.ravel(), steps=3), expected)  # any sparse format
    zero_steps = heat_diffusion(L, mask, steps=0)
    np.testing.assert_array_equal(zero_steps, mask * 1.0)
    assert zero_steps.dtype == np.float64


@pytest.mark.parametrize("steps", [0, 1, 2, 7, 30])
@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (9, 1), (13, 11), (70, 90)])
def test_diagonal_heat_is_the_csr_heat_bit_for_bit(steps, connectivity, shape):
    from fastshade.pipeline.graph import diagonal_heat, diagonal_storage

    rng = np.random.default_rng(steps * 31 + connectivity + shape[0])
    L = image_laplacian(rng.random(shape), connectivity=connectivity)
    dia = diagonal_storage(L)
    if dia is None:  # a 1x1 image has no off-diagonal entries
        assert shape == (1, 1)
        return
    x = rng.standard_normal(shape)
    for alpha in (0.1, 1.0 / 16):
        got = diagonal_heat(dia, x, alpha=alpha, steps=steps)
        np.testing.assert_array_equal(got, heat_diffusion(L, x, alpha=alpha, steps=steps), strict=True)
        assert_close(got.ravel(), heat_diffusion_scipy(L, x.ravel(), alpha, steps))
    X = rng.standard_normal((L.shape[0], 3))
    np.testing.assert_array_equal(diagonal_heat(dia, X, alpha=0.1, steps=steps),
                                  heat_diffusion(L, X, alpha=0.1, steps=steps), strict=True)


def test_diagonal_heat_rejects_what_heat_diffusion_rejects():
    from fastshade.pipeline.graph import diagonal_heat, diagonal_storage

    dia = diagonal_storage(image_laplacian(np.random.default_rng(0).random((5, 4))))
    with pytest.raises(ValueError, match="x must have 20 entries"):
        diagonal_heat(dia, np.zeros(21))
    with pytest.raises(ValueError, match="steps"):
        diagonal_heat(dia, np.zeros(20), steps=-1)
    with pytest.raises(ValueError, match="float64"):
        diagonal_heat((dia[0], dia[1].astype(np.float32), dia[2]), np.zeros(20))


@pytest.mark.parametrize("laplacian", ["grid", "dither"])
def test_a_grid_heat_operator_keeps_no_csr_and_diffuses_the_same_bits(laplacian):
    from fastshade.options import ShadeOptions
    from fastshade.pipeline.fields import HeatOperator
    from fastshade.pipeline.graph import diagonal_storage

    opts = ShadeOptions(laplacian=laplacian)
    rng = np.random.default_rng(3)
    L = image_laplacian(rng.random((30, 26)), **opts.graph())
    dia = diagonal_storage(L) if laplacian == "grid" else None
    op = HeatOperator(L, opts, dia)
    assert (op.lap is None) == (laplacian == "grid")  # a grid's CSR is not kept alive
    x = rng.standard_normal(L.shape[0])
    with_csr = HeatOperator(L, opts, None)  # no diagonal storage: the CSR steps
    assert with_csr.lap is L
    np.testing.assert_array_equal(op.diffuse(x, 0.1, 40), with_csr.diffuse(x, 0.1, 40), strict=True)


@pytest.mark.parametrize("steps", [0, 1, 2, 3])
def test_heat_kernel_ping_pong_lands_in_out(steps):
    L = image_laplacian(np.random.default_rng(0).random((4, 5)))
    x = np.arange(20.0)
    out = np.full(20, np.nan)
    work = np.full(20, np.nan)
    kf.heat_diffusion_csr(L.indptr, L.indices, L.data, x, 0.1, steps, out, work)
    assert_close(out, heat_diffusion_scipy(L, x, 0.1, steps), scale=20.0)
    np.testing.assert_array_equal(x, np.arange(20.0))  # input untouched


# --------------------------------------------------------------------------- diagonal storage


def plain_csr_heat(L, x, alpha, steps):
    """The unblocked CSR kernel: the bit-for-bit reference of the blocked diagonal path."""
    out, work = np.empty(x.size), np.empty(x.size)
    kf.heat_diffusion_csr(L.indptr, L.indices, L.data, x, alpha, steps, out, work)
    return out


def diagonals_of(L):
    n = L.shape[0]
    present = np.zeros(2 * n - 1, dtype=bool)
    assert kf.csr_diagonal_mask(L.indptr, L.indices, present)
    offsets = np.flatnonzero(present).astype(np.int64) - (n - 1)
    band = int(np.abs(offsets).max())
    diagonals = np.full((offsets.size, L.shape[0]), np.nan)
    kf.csr_to_diagonals(L.indptr, L.indices, L.data, offsets, diagonals)
    twin = np.full_like(diagonals, np.nan)  # the parallel twin: the same bits
    kf.csr_to_diagonals.parallel(L.indptr, L.indices, L.data, offsets, twin)
    np.testing.assert_array_equal(twin, diagonals)
    return offsets, diagonals, band


@pytest.mark.parametrize(("kind", "connectivity"), [("grid", 4), ("grid", 8), ("dither", 4)],
                         ids=["grid4", "grid8", "dither"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (7, 5), (40, 23), (317, 450)], ids=str)
def test_csr_to_diagonals_matches_scipy(kind, connectivity, shape):
    L = image_laplacian(np.random.default_rng(3).random(shape), kind=kind,
                        connectivity=connectivity)
    offsets, diagonals, band = diagonals_of(L)
    coo = L.tocoo()
    assert band == (np.abs(coo.col - coo.row).max() if coo.nnz else 0)
    np.testing.assert_array_equal(offsets, np.unique(coo.col - coo.row))
    for k, o in enumerate(offsets):  # scipy: A.diagonal(o)[i] = A[i, i + o] (i >= 0, i + o >= 0)
        ref = np.zeros(L.shape[0])
        d = L.diagonal(o)
        if o >= 0:
            ref[:d.size] = d
        else:
            ref[-o:] = d
        np.testing.assert_array_equal(diagonals[k], ref)


@pytest.mark.parametrize(("kind", "connectivity", "alpha"), [("grid", 4, 0.1), ("grid", 8, 0.1),
                                                             ("dither", 4, 0.02)],
                         ids=["grid4", "grid8", "dither"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 30), (30, 1), (2, 3), (37, 29), (64, 16)], ids=str)
@pytest.mark.parametrize(("depth", "slots"), [(1, 3), (2, 3), (3, 4), (5, 8), (31, 3)],
                         ids=["plain", "d2s3", "d3s4", "d5s8", "d31s3"])
def test_blocked_dia_heat_is_bitwise_the_csr_heat(kind, connectivity, alpha, shape, depth, slots):
    rng = np.random.default_rng(shape[0] * 31 + shape[1])
    L = image_laplacian(rng.random(shape), kind=kind, connectivity=connectivity)
    offsets, diagonals, band = diagonals_of(L)
    x = rng.standard_normal(L.shape[0])
    chunk = max(band, 1)
    threads = numba.get_num_threads()
    assert kf.dia_mirrored(offsets, diagonals)
    # several sweeps with a remainder: 3 * depth + 2 (the deepest windows stop at one sweep + 1:
    # their 95 steps on the dither operator took half a minute of CI and cover no other branch)
    several = (3 * depth + 2,) if depth < 31 else ()
    for steps in (0, 1, 2, depth, depth + 1, *several, 30):
        plain = plain_csr_heat(L, x, alpha, steps)
        for bands in (1, 2, 5, x.size + 3):  # any bands: the same bytes
            if bands > x.size and steps not in (0, 1, 2, depth + 1):
                continue  # more bands than rows: their bookkeeping, on a few step counts (seconds each)
            # an image Laplacian's storage is symmetric bit for bit: the mirrored reads on every
            # band count, the general ones on one band and on more bands than rows
            for mirror in (True, False) if bands in (1, x.size + 3) else (True,):
                windows = np.full((threads, depth, slots * chunk), np.nan)  # garbage must never be read
                out, work = np.full(x.size, np.nan), np.full(x.size, np.nan)
                kf.heat_diffusion_dia(offsets, diagonals, x, alpha, steps, chunk, bands, out, work, windows,
                                      mirror)
                np.testing.assert_array_equal(out, plain, strict=True)
        assert_close(out, heat_diffusion_scipy(L, x, alpha, steps), scale=10.0)


def _mirrored_numpy(offsets: np.ndarray, diagonals: np.ndarray) -> bool:
    """dia_mirrored's reference: every lower diagonal has the bits of its mirror, shifted."""
    nd, n = diagonals.shape
    if not np.array_equal(offsets, -offsets[::-1]):
        return False
    bits = diagonals.view(np.uint64)
    return all(np.array_equal(bits[k, -o:], bits[nd - 1 - k, :n + o]) for k, o in enumerate(offsets[:nd // 2]))


@pytest.mark.parametrize(("kind", "connectivity"), [("grid", 4), ("grid", 8), ("dither", 4)],
                         ids=["grid4", "grid8", "dither"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (6, 7), (23, 17)])
def test_dia_mirrored_tells_a_symmetric_storage(kind, connectivity, shape):
    rng = np.random.default_rng(shape[0] + 7 * shape[1])
    offsets, diagonals, _ = diagonals_of(image_laplacian(rng.random(shape), kind=kind, connectivity=connectivity))
    assert kf.dia_mirrored(offsets, diagonals) and _mirrored_numpy(offsets, diagonals)
    nd, n = diagonals.shape
    if nd == 1:
        return
    k = int(np.flatnonzero(offsets < 0)[-1])  # the lower diagonal nearest the main one
    i = n - 1  # its last row, whose mirror entry is stored in row n - 1 + offsets[k]
    for value in (diagonals[k, i] + 1e-3, -diagonals[k, i] if diagonals[k, i] == 0 else np.nan):
        broken = diagonals.copy()
        broken[k, i] = value  # one entry off (a signed zero, or NaN: bits differ)
        assert not kf.dia_mirrored(offsets, broken) and not _mirrored_numpy(offsets, broken)
    shifted = offsets.copy()
    shifted[0] -= 1  # offsets no longer symmetric
    assert not kf.dia_mirrored(shifted, diagonals) and not _mirrored_numpy(shifted, diagonals)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba has one thread here")
@pytest.mark.parametrize(("connectivity", "depth"), [(4, 1), (4, 4), (8, 3)])
def test_parallel_dia_heat_gives_the_same_bytes_on_one_and_two_threads(connectivity, depth):
    """(And the diagonal storage of a bigger grid, on 1 and 2 threads.)"""
    big = image_laplacian(np.random.default_rng(9).random((300, 500)), connectivity=connectivity)
    previous = numba.get_num_threads()
    stored = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            stored.append(diagonals_of(big)[1])
        finally:
            numba.set_num_threads(previous)
    np.testing.assert_array_equal(stored[0], stored[1])
    rng = np.random.default_rng(depth)
    L = image_laplacian(rng.random((97, 23)), connectivity=connectivity)
    offsets, diagonals, band = diagonals_of(L)
    x = rng.standard_normal(L.shape[0])
    previous = numba.get_num_threads()
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            out, work = np.full(x.size, np.nan), np.full(x.size, np.nan)
            windows = np.full((threads, depth, 4 * band), np.nan)
            kf.heat_diffusion_dia.parallel(offsets, diagonals, x, 0.1, 3 * depth + 1, band, 7, out, work,
                                           windows, True)
        finally:
            numba.set_num_threads(previous)
        results.append(out)
    np.testing.assert_array_equal(results[0], results[1])
    out, work = np.full(x.size, np.nan), np.full(x.size, np.nan)  # the serial kernel: one window
    kf.heat_diffusion_dia(offsets, diagonals, x, 0.1, 3 * depth + 1, band, 7, out, work,
                          np.full((1, depth, 4 * band), np.nan), False)
    np.testing.assert_array_equal(out, results[0])
    np.testing.assert_array_equal(results[0], plain_csr_heat(L, x, 0.1, 3 * depth + 1))


def test_heat_bands_are_even_from_two_minimum_bands_and_depth_follows_the_budget():
    band_rows = graph_module.HEAT_BAND_MIN_ROWS
    # 1024² (two minimum bands; one band by the margin rule): two bands, one per thread of two
    assert graph_module._heat_windows(5, 1024, 1024 * 1024, 150, 2)[1] == 2
    # A4 at 600 dpi: the margin rule gives an odd count (7), rounded up to 8
    chunk, bands, windows = graph_module._heat_windows(5, 4960, 4960 * 7016, 150, 2)
    assert bands % 2 == 0 and bands >= 8 and windows.shape[:2] == (2, 8)
    assert 8 * chunk * (5 + graph_module.HEAT_WINDOW_SLOTS) * 8 <= graph_module.HEAT_BLOCK_BYTES
    for n in (band_rows, 2 * band_rows - 1):  # under two minimum bands: as the margin rule says
        assert graph_module._heat_windows(5, 64, n, 150, 1)[1] == -(-n // band_rows)


def test_heat_wrapper_blocks_real_sized_grids_and_falls_back_on_unsorted_csr(monkeypatch):
    rng = np.random.default_rng(11)
    L = image_laplacian(rng.random((640, 80)))
    x = rng.standard_normal(L.shape[0])
    plain = plain_csr_heat(L, x, 0.1, 150)
    # this size fits HEAT_FLAT_BYTES: one sweep per step
    assert graph_module._heat_windows(5, 80, L.shape[0], 150, 1)[2].shape[1] == 1
    np.testing.assert_array_equal(heat_diffusion(L, x, alpha=0.1, steps=150), plain)
    monkeypatch.setattr(graph_module, "HEAT_FLAT_BYTES", 0)  # a bigger image's blocked path
    chunk, _, windows = graph_module._heat_windows(5, 80, L.shape[0], 150, 1)
    # this size takes the blocked path, in chunks of whole image rows
    assert chunk % 80 == 0 and chunk >= graph_module.HEAT_CHUNK_ROWS and windows.shape[1] >= 2
    np.testing.assert_array_equal(heat_diffusion(L, x, alpha=0.1, steps=150), plain)
    # 8-connected (9 diagonals: the general per-diagonal rows), band 91: chunks of 23 x 91 rows
    L8 = image_laplacian(rng.random((400, 90)), connectivity=8)
    x8 = rng.standard_normal(L8.shape[0])
    offsets8, _, band8 = graph_module.diagonal_storage(L8)
    chunk8, _, windows8 = graph_module._heat_windows(offsets8.size, band8, L8.shape[0], 40, 1)
    assert offsets8.size == 9 and chunk8 % band8 == 0 and windows8.shape[1] >= 2
    np.testing.assert_array_equal(heat_diffusion(L8, x8, alpha=0.1, steps=40),
                                  plain_csr_heat(L8, x8, 0.1, 40))
    # reversed column order: the diagonal path would change the summation order -> CSR path
    rev = L.copy()
    for i in range(rev.shape[0]):
        a, b = rev.indptr[i], rev.indptr[i + 1]
        rev.indices[a:b] = rev.indices[a:b][::-1].copy()
        rev.data[a:b] = rev.data[a:b][::-1].copy()
    rev.has_sorted_indices = False
    assert graph_module.diagonal_storage(rev) is None
    np.testing.assert_array_equal(heat_diffusion(rev, x, steps=7), plain_csr_heat(rev, x, 0.1, 7))
    assert_close(heat_diffusion(rev, x, steps=7), heat_diffusion_scipy(L, x, 0.1, 7))
    # many diagonals (a random sparse matrix): CSR path
    A = random_csr(300, 300, 0.05, 1)
    assert graph_module.diagonal_storage(A) is None


@settings(deadline=None, max_examples=40)
@given(
    h=st.integers(1, 8),
    w=st.integers(1, 8),
    steps=st.integers(0, 12),
    seed=st.integers(0, 2**16),
)
def test_heat_conserves_mass_and_matches_reference(h, w, steps, seed):
    rng = np.random.default_rng(seed)
    L = image_laplacian(rng.random((h, w)), connectivity=8)
    x = rng.random(h * w)
    got = heat_diffusion(L, x, alpha=0.1, steps=steps)
    assert got.sum() == pytest.approx(x.sum(), rel=1e-12)  # columns of L sum to 0
    assert np.all(got >= -1e-15)  # alpha * lambda_max < 1 here: a positivity-preserving step
    assert_close(got, heat_diffusion_scipy(L, x, 0.1, steps))


@pytest.mark.parametrize(
    ("L", "x", "kwargs", "match"),
    [
        (np.eye(3), np.zeros(3), {}, "scipy.sparse"),
        (sp.eye(3, 4, format="csr"), np.zeros(3), {}, "square"),
        (sp.eye(3, format="csr"), np.zeros(4), {}, "entries"),
        (sp.eye(3, format="csr"), np.zeros((3, 2, 1)), {}, "entries"),
        (sp.eye(3, format="csr"), np.array([0.0, np.nan, 0.0]), {}, "NaN or inf"),
        (sp.csr_matrix(np.array([[np.inf]])), np.zeros(1), {}, "NaN or inf"),
        (sp.eye(3, format="csr"), np.zeros(3), {"steps": -1}, "steps"),
        (sp.eye(3, format="csr"), np.zeros(3), {"steps": 2.5}, "steps"),
        (sp.eye(3, format="csr"), np.zeros(3), {"alpha": float("inf")}, "alpha"),
        (sp.eye(3, format="csr"), np.zeros(3, dtype=complex), {}, "real dtype"),
    ],
)
def test_heat_diffusion_invalid_input(L, x, kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        heat_diffusion(L, x, **kwargs)
    assert "\n" not in str(info.value)


def test_heat_diffusion_integer_operator_is_cast():
    L = sp.csr_matrix(np.array([[1, -1], [-1, 1]], dtype=np.int64))
    assert_close(heat_diffusion(L, np.array([1.0, 0.0]), alpha=0.25, steps=2),
                 heat_diffusion_scipy(L.astype(np.float64), np.array([1.0, 0.0]), 0.25, 2))


# --------------------------------------------------------------------------- gradient, unit vectors


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_forward_gradient_matches_np_diff(shape):
    f = np.random.default_rng(sum(shape)).standard_normal(shape)
    gy, gx = forward_gradient(f)
    ry, rx = forward_gradient_numpy(f)
    np.testing.assert_array_equal(gy, ry)
    np.testing.assert_array_equal(gx, rx)
    assert np.all(gy[-1, :] == 0) and np.all(gx[:, -1] == 0)
    assert gy.dtype == np.float64 and gy.shape == shape


def test_forward_gradient_fixed_values_and_dtypes():
    f = np.array([[0, 1, 3], [2, 4, 8]], dtype=np.int16)
    gy, gx = forward_gradient(f)
    assert gy.tolist() == [[2.0, 3.0, 5.0], [0.0, 0.0, 0.0]]
    assert gx.tolist() == [[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]]
    view = np.arange(30.0).reshape(5, 6)[::2, ::-1]  # non-contiguous view
    gy, gx = forward_gradient(view)
    ry, rx = forward_gradient_numpy(view)
    np.testing.assert_array_equal(gy, ry)
    np.testing.assert_array_equal(gx, rx)
    gy, gx = forward_gradient(np.zeros((0, 4)))
    assert gy.shape == (0, 4) and gx.shape == (0, 4)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_unit_vectors_match_numpy(shape):
    rng = np.random.default_rng(sum(shape) + 1)
    gy = rng.standard_normal(shape) * 10.0 ** rng.integers(-12, 3, shape)
    gx = rng.standard_normal(shape) * 10.0 ** rng.integers(-12, 3, shape)
    gy.flat[0] = 0.0
    gx.flat[0] = 0.0  # zero vector stays zero
    uy, ux = unit_vectors(gy, gx)
    ry, rx = unit_vectors_numpy(gy, gx)
    assert_close(uy, ry)
    assert_close(ux, rx)
    assert uy.shape == shape and uy.flat[0] == 0.0 and ux.flat[0] == 0.0


@pytest.mark.parametrize("eps", [1e-300, 1e-8])
def test_unit_vectors_extreme_magnitudes(eps):
    # lengths whose squares over- or underflow float64 are still normalised to unit length
    gy = np.array([1e200, 3e-200, -1e308, 5e-324, 1e-160, 0.0, 1e154])
    gx = np.array([1e200, 4e-200, 1e308, 0.0, -1e-160, -1e-310, 1e154])
    uy, ux = unit_vectors(gy, gx, eps=eps)
    ry, rx = unit_vectors_numpy(gy, gx, eps)
    assert_close(uy, ry)
    assert_close(ux, rx)
    assert np.isfinite(uy).all() and np.isfinite(ux).all()
    long = np.hypot(gy, gx) >= eps
    np.testing.assert_allclose(np.hypot(uy, ux)[long], 1.0, rtol=1e-14)


@settings(deadline=None, max_examples=60)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)),
               elements=st.floats(-1e308, 1e308)),
    st.data(),
)
def test_unit_vector_properties(gy, data):
    elements = st.one_of(st.floats(-1e3, 1e3), st.floats(-1e308, 1e308))
    gx = data.draw(hnp.arrays(np.float64, gy.shape, elements=elements))
    eps = data.draw(st.sampled_from([1e-300, 1e-8, 1e-3, 1.0]))
    uy, ux = unit_vectors(gy, gx, eps=eps)
    norm = np.hypot(gy, gx)  # hypot: no underflow for tiny components (gy**2 would flush to 0)
    unit_norm = np.hypot(uy, ux)
    long = norm >= eps
    np.testing.assert_allclose(unit_norm[long], 1.0, rtol=1e-14)
    np.testing.assert_allclose(unit_norm[~long], norm[~long] / eps, rtol=1e-12, atol=1e-300)
    ry, rx = unit_vectors_numpy(gy, gx, eps)
    assert_close(uy, ry)
    assert_close(ux, rx)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: forward_gradient(np.zeros(4)), "2-D"),
        (lambda: forward_gradient(np.zeros((2, 2, 2))), "2-D"),
        (lambda: forward_gradient(np.array([[np.nan]])), "NaN or inf"),
        (lambda: forward_gradient(np.zeros((2, 2), dtype=complex)), "real dtype"),
        (lambda: unit_vectors(np.zeros(3), np.zeros(4)), "shape"),
        (lambda: unit_vectors(np.zeros(3), np.zeros(3), eps=0.0), "eps"),
        (lambda: unit_vectors(np.zeros(3), np.array([1.0, np.inf, 0.0])), "NaN or inf"),
    ],
)
def test_field_wrappers_invalid_input(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- embedding contract


@numba.njit
def user_fields(indptr, indices, data, f, alpha, steps):
    """A user's own njit code chaining the field kernels on arrays it allocates."""
    h, w = f.shape
    n = h * w
    out = np.empty(n)
    work = np.empty(n)
    kf.heat_diffusion_csr(indptr, indices, data, f.ravel(), alpha, steps, out, work)
    present = np.zeros(2 * n - 1, dtype=np.bool_)
    sorted_rows = kf.csr_diagonal_mask(indptr, indices, present)
    offsets = np.flatnonzero(present).astype(np.int64) - (n - 1)
    band = np.abs(offsets).max()
    diagonals = np.empty((offsets.shape[0], n))
    kf.csr_to_diagonals(indptr, indices, data, offsets, diagonals)
    blocked = np.empty(n)
    windows = np.empty((numba.get_num_threads(), 4, 3 * max(band, 1)))
    kf.heat_diffusion_dia(offsets, diagonals, f.ravel(), alpha, steps, max(band, 1), 2, blocked,
                          work, windows, kf.dia_mirrored(offsets, diagonals))
    for i in range(n):
        if blocked[i] != out[i] or not sorted_rows:
            out[:] = np.nan  # the caller's comparison then fails loudly
    lx = np.empty(n)
    kf.csr_matvec(indptr, indices, data, out, lx)
    gy = np.empty((h, w))
    gx = np.empty((h, w))
    kf.forward_gradient(out.reshape(h, w), gy, gx)
    uy = np.empty(n)
    ux = np.empty(n)
    kf.unit_vectors(gy.ravel(), gx.ravel(), 1e-8, uy, ux)
    return out, lx, uy.reshape(h, w), ux.reshape(h, w)


def test_kernels_callable_from_user_njit():
    rng = np.random.default_rng(8)
    L = image_laplacian(rng.random((9, 10)), connectivity=8)
    f = (rng.random((9, 10)) < 0.3).astype(np.float64)
    heat, lx, uy, ux = user_fields(L.indptr, L.indices, L.data, f, 0.1, 30)
    ref_heat = heat_diffusion_scipy(L, f.ravel(), 0.1, 30)
    assert_close(heat, ref_heat)
    assert_close(lx, L @ heat)
    ry, rx = unit_vectors_numpy(*forward_gradient_numpy(heat.reshape(9, 10)))
    assert_close(uy, ry)
    assert_close(ux, rx)


@pytest.mark.parametrize("alpha", [0.0, -0.1])
def test_heat_diffusion_rejects_non_positive_alpha(alpha):
    L = image_laplacian(np.random.default_rng(0).random((4, 5)))
    with pytest.raises(ValueError, match="alpha must be > 0"):
        heat_diffusion(L, np.ones(20), alpha=alpha, steps=3)


def test_heat_diffusion_reuses_given_diagonals_and_rejects_mismatched_ones():
    rng = np.random.default_rng(5)
    L = image_laplacian(rng.random((40, 31)))
    x = rng.standard_normal(L.shape[0])
    dia = graph_module.diagonal_storage(L)
    np.testing.assert_array_equal(heat_diffusion(L, x, steps=20, diagonals=dia),
                                  plain_csr_heat(L, x, 0.1, 20))
    other = graph_module.diagonal_storage(image_laplacian(rng.random((8, 8))))
    with pytest.raises(ValueError, match="diagonals do not match L"):
        heat_diffusion(L, x, steps=20, diagonals=other)


def test_csr_diagonal_mask_flags_unsorted_and_duplicate_columns():
    def mask(A):
        present = np.zeros(A.shape[0] + A.shape[1] - 1, dtype=bool)
        return kf.csr_diagonal_mask(A.indptr, A.indices, present), present

    A = sp.csr_matrix((np.ones(3), np.array([2, 0, 1]), np.array([0, 3, 3, 3])), shape=(3, 3))
    assert not mask(A)[0]
    D = sp.csr_matrix((np.ones(2), np.array([1, 1]), np.array([0, 0, 2, 2])), shape=(3, 3))
    assert not mask(D)[0]
    S = sp.csr_matrix((np.ones(3), np.array([0, 2, 0]), np.array([0, 2, 2, 3])), shape=(3, 3))
    ok, present = mask(S)
    assert ok
    # entries (0, 0), (0, 2), (2, 0): offsets 0, +2, -2 at index offset + 2
    np.testing.assert_array_equal(np.flatnonzero(present) - 2, [-2, 0, 2])


@pytest.mark.parametrize(("kind", "connectivity"), [("grid", 4), ("grid", 8), ("dither", 4)],
                         ids=["grid4", "grid8", "dither"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 30), (30, 1), (2, 3), (37, 29)], ids=str)
@pytest.mark.parametrize("block", [1, 7, 4096])
def test_dia_matvec_matches_scipy(kind, connectivity, shape, block):
    rng = np.random.default_rng(shape[0] * 13 + shape[1])
    L = image_laplacian(rng.random(shape), kind=kind, connectivity=connectivity)
    offsets, diagonals, _ = diagonals_of(L)
    x = rng.standard_normal(L.shape[0])
    out = np.full(x.size, np.nan)
    kf.dia_matvec(offsets, diagonals, x, out, np.empty(block))
    assert_close(out, L @ x, scale=10.0)
    # float32 storage: float32 products summed in float64 and rounded to float32 once, within
    # a few float32 ulps of the exact product of the float32 inputs
    d32, x32 = diagonals.astype(np.float32), x.astype(np.float32)
    out32 = np.full(x.size, np.nan, dtype=np.float32)
    kf.dia_matvec(offsets, d32, x32, out32, np.empty(block))
    exact = L.astype(np.float32).astype(np.float64) @ x32.astype(np.float64)
    np.testing.assert_allclose(out32, exact, rtol=2e-7, atol=2e-7 * np.abs(exact).max(initial=1.0))


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (7, 9), (40, 33)])
def test_heat_operator_reads_the_max_degree_from_its_diagonal_storage(connectivity, shape):
    from fastshade.options import ShadeOptions
    from fastshade.pipeline.fields import HeatOperator, stable_heat_schedule
    from fastshade.pipeline.graph import diagonal_storage

    L = image_laplacian(np.random.default_rng(shape[0]).random(shape), connectivity=connectivity)
    dia = diagonal_storage(L)
    op = HeatOperator(L, ShadeOptions(connectivity=connectivity), dia)
    if dia is None:
        assert op.max_degree() is None
        return
    assert op.max_degree() == float(L.diagonal().max())
    assert HeatOperator(L, ShadeOptions(connectivity=connectivity)).max_degree() is None
    for alpha, steps in ((0.1, 150), (0.2, 30)):
        assert stable_heat_schedule(L, alpha, steps, None, op.max_degree()) == stable_heat_schedule(L, alpha, steps)
