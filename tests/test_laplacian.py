"""Pixel-graph Laplacian (kernel + wrapper) against the SciPy COO reference (fastshade.reference).

The kernel's CSR must equal the reference exactly in structure (same
``indptr``, identical ``indices``) and to ``rtol=1e-12, atol=0`` in values,
for grey and RGB carriers, 4/8/dither graphs, weight floors 0 and 0.05,
float32 and float64, over fixed, seeded-random and edge shapes, plus
Hypothesis properties (symmetry, zero row sums, PSD, nnz count).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastshade.pipeline.graph as graph
from fastshade.kernels import laplacian as kl
from fastshade.pipeline.graph import image_laplacian, laplacian_offsets
from fastshade.reference import (
    DITHER_RADII,
    laplacian_coo,
    laplacian_nnz_loop,
    laplacian_offset_table,
)
from tests.conftest import GRAPH_IDS, GRAPHS

EDGE_SHAPES = [(1, 1), (1, 9), (9, 1), (2, 2), (7, 5), (16, 23)]


# --------------------------------------------------------------------------- helpers


def assert_same_csr(got, ref):
    """Same shape, structure and dtype; values to rtol 1e-12, atol 0."""
    assert isinstance(got, sp.csr_matrix)
    assert got.shape == ref.shape
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got.indptr, ref.indptr)
    np.testing.assert_array_equal(got.indices, ref.indices)
    np.testing.assert_allclose(got.data, ref.data, rtol=1e-12, atol=0)


def assert_rows_sorted_with_diagonal(L):
    n = L.shape[0]
    for i in range(n):
        cols = L.indices[L.indptr[i] : L.indptr[i + 1]]
        assert np.all(np.diff(cols) > 0), f"row {i} not strictly ascending"
        assert i in cols, f"row {i} has no stored diagonal"


def carrier_of(shape, seed, rgb):
    rng = np.random.default_rng(seed)
    return rng.random(shape + (3,)) if rgb else rng.random(shape)


def stroke_carrier(h=24, w=31):
    """White paper with a dark ring and a grey bar: the structure of line art."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h / 2, xx - w / 2)
    c = np.ones((h, w))
    c[np.abs(r - min(h, w) / 3) < 1.2] = 0.0
    c[2:4, :] = 0.5
    return c


def compare(carrier, kind, connectivity, floor=0.0, dtype=np.float64, tau=0.1):
    got = image_laplacian(
        carrier, kind=kind, connectivity=connectivity, weight_floor=floor, dtype=dtype, tau=tau
    )
    ref = laplacian_coo(carrier, kind=kind, connectivity=connectivity, tau=tau, weight_floor=floor, dtype=dtype)
    assert_same_csr(got, ref)
    return got


# --------------------------------------------------------------------------- kernel vs reference


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("floor", [0.0, 0.05], ids=["floor0", "floor.05"])
@pytest.mark.parametrize(("kind", "connectivity"), GRAPHS, ids=GRAPH_IDS)
@pytest.mark.parametrize("rgb", [False, True], ids=["grey", "rgb"])
@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=[f"{h}x{w}" for h, w in EDGE_SHAPES])
def test_matches_reference_random_and_edge_shapes(shape, rgb, kind, connectivity, floor, dtype):
    carrier = carrier_of(shape, seed=shape[0] * 100 + shape[1], rgb=rgb)
    L = compare(carrier, kind, connectivity, floor, dtype)
    assert L.has_sorted_indices
    assert_rows_sorted_with_diagonal(L)


@pytest.mark.parametrize(("kind", "connectivity"), GRAPHS, ids=GRAPH_IDS)
@pytest.mark.parametrize("tau", [0.1, 0.15, 2.0])
def test_matches_reference_fixed_line_art(kind, connectivity, tau):
    c = stroke_carrier()
    compare(c, kind, connectivity, tau=tau)
    compare(np.stack([c, 1 - c, c * c], axis=-1), kind, connectivity, tau=tau)


@pytest.mark.parametrize(("kind", "connectivity"), GRAPHS, ids=GRAPH_IDS)
def test_constant_carrier_has_multiplier_weights(kind, connectivity):
    L = compare(np.full((14, 13), 0.3), kind, connectivity)
    offsets = laplacian_offset_table(kind, connectivity)
    w = 13
    i = 7 * w + 6  # every offset of reach <= 6 stays inside the image
    for (dy, dx), mult in offsets.items():
        assert L[i, i + dy * w + dx] == pytest.approx(-mult, rel=1e-15)
        assert L[i + dy * w + dx, i] == pytest.approx(-mult, rel=1e-15)


def off_diagonal_values(L):
    rows = np.repeat(np.arange(L.shape[0]), np.diff(L.indptr))
    return L.data[rows != L.indices]


def test_underflowing_weights_are_stored_and_floored():
    c = np.zeros((3, 4))
    c[:, 2:] = 1.0  # |dc| = 1 with tau = 1e-3: exp(-1000) underflows to 0
    L = compare(c, "grid", 8, tau=1e-3)
    assert L.nnz == laplacian_nnz_loop(3, 4, laplacian_offset_table("grid", 8))
    # 7 pairs cross the step (3 horizontal, 2 + 2 diagonal), both directions stored as 0.
    assert np.count_nonzero(off_diagonal_values(L) == 0.0) == 2 * 7
    L = compare(c, "grid", 8, floor=0.05, tau=1e-3)
    assert off_diagonal_values(L).max() == -0.05 and off_diagonal_values(L).min() == -1.0


def test_float32_is_float64_rounded_once():
    c = carrier_of((11, 13), 5, rgb=True)
    for kind, conn in GRAPHS:
        L64 = image_laplacian(c, kind=kind, connectivity=conn)
        L32 = image_laplacian(c, kind=kind, connectivity=conn, dtype=np.float32)
        assert L32.dtype == np.float32
        np.testing.assert_array_equal(L32.data, L64.data.astype(np.float32))


def test_single_pixel_and_empty_images():
    for kind, conn in GRAPHS:
        L = image_laplacian(np.array([[0.7]]), kind=kind, connectivity=conn)
        assert L.shape == (1, 1) and L.nnz == 1 and L.toarray().tolist() == [[0.0]]
        for shape in [(0, 5), (4, 0), (0, 0), (0, 3, 3)]:
            E = image_laplacian(np.zeros(shape), kind=kind, connectivity=conn)
            assert E.shape == (0, 0) and E.nnz == 0 and E.indptr.tolist() == [0]


def test_any_real_dtype_and_layout_is_accepted():
    rng = np.random.default_rng(3)
    u8 = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    expected = laplacian_coo(u8.astype(np.float64), tau=40.0)
    assert_same_csr(image_laplacian(u8, tau=40.0), expected)
    f = rng.random((8, 10))
    view = f[::2, ::-3]  # non-contiguous view
    assert_same_csr(image_laplacian(view), laplacian_coo(view.copy()))
    assert_same_csr(image_laplacian(f.astype(np.float32)),
                    laplacian_coo(f.astype(np.float32).astype(np.float64)))
    assert_same_csr(image_laplacian(f > 0.5), laplacian_coo((f > 0.5) * 1.0))


def test_wrapper_returns_kernel_arrays_without_copy(monkeypatch):
    captured = {}
    original = graph.laplacian_kernels.assemble_laplacian_csr

    def spy(*args):
        captured["indptr"], captured["indices"], captured["data"] = args[6], args[7], args[8]
        return original(*args)

    monkeypatch.setattr(graph.laplacian_kernels, "assemble_laplacian_csr", spy)
    L = image_laplacian(carrier_of((12, 9), 1, rgb=False), connectivity=8)
    for name in ("indptr", "indices", "data"):
        assert np.shares_memory(getattr(L, name), captured[name]), name
    assert L.indices.dtype == np.int32 and L.indptr.dtype == np.int32
    assert L.has_sorted_indices and L.has_canonical_format


# --------------------------------------------------------------------------- offsets, §1.2 table


def test_grid_offsets():
    dy, dx, mult = laplacian_offsets("grid", 4)
    assert list(zip(dy.tolist(), dx.tolist())) == [(0, 1), (1, 0)] and mult.tolist() == [1.0, 1.0]
    dy, dx, mult = laplacian_offsets("grid", 8)
    assert sorted(zip(dy.tolist(), dx.tolist())) == sorted(laplacian_offset_table("grid", 8))
    assert dy.dtype == np.int64 and dx.dtype == np.int64 and mult.dtype == np.float64


def test_dither_disc_sizes_match_spec():
    # original-system.md §1.2: 4 + 12 + 28 + 48 + 80 + 112 = 284 listed offsets, 112 distinct.
    span = range(-6, 7)
    sizes = [sum(1 for a in span for b in span if 0 < a * a + b * b <= r * r) for r in DITHER_RADII]
    assert sizes == [4, 12, 28, 48, 80, 112] and sum(sizes) == 284
    assert len(laplacian_offset_table("dither")) == 112 // 2


@pytest.mark.parametrize(
    ("offset", "table_value"),
    [((0, 1), 2.6), ((1, 1), 1.6), ((0, 2), 1.6), ((1, 2), 1.0), ((2, 2), 1.0), ((0, 3), 1.0),
     ((1, 3), 0.6), ((0, 4), 0.6), ((3, 4), 0.3), ((0, 5), 0.3), ((1, 5), 0.1), ((0, 6), 0.1)],
)
def test_dither_multipliers_match_spec_table(offset, table_value):
    # Reference multipliers come from the radii definition (every radius lists its disc,
    # coalescing sums the duplicates), then the kernel's flat-image entries are checked.
    reference = laplacian_offset_table("dither")
    assert reference[offset] == pytest.approx(table_value, abs=1e-12)
    dy, dx, mult = laplacian_offsets("dither")
    ours = dict(zip(zip(dy.tolist(), dx.tolist()), mult.tolist()))
    assert ours[offset] == reference[offset]
    L = image_laplacian(np.ones((14, 14)), kind="dither")
    i = 7 * 14 + 7
    j = (7 + offset[0]) * 14 + (7 + offset[1])
    assert L[i, j] == pytest.approx(-table_value, abs=1e-12)


def test_dither_flat_tile_matches_original_measurement():
    # original-system.md §1.2: flat 64x64 tile, A[(0,0),(0,1)] = 2.60, A[(0,0),(1,1)] = 1.60,
    # A[(0,0),(0,6)] = 0.10 (A = the adjacency, L = D - A).
    L = image_laplacian(np.full((64, 64), 0.5), kind="dither")
    assert -L[0, 1] == pytest.approx(2.6) and -L[0, 65] == pytest.approx(1.6)
    assert -L[0, 6] == pytest.approx(0.1)


@settings(deadline=None, max_examples=40)
@given(
    radii=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    data=st.data(),
)
def test_dither_offsets_match_reference_for_any_radii(radii, data):
    weights = data.draw(st.lists(st.floats(0.0, 2.0), min_size=len(radii), max_size=len(radii)))
    dy, dx, mult = laplacian_offsets("dither", radii=radii, radius_weights=weights)
    pairs = list(zip(dy.tolist(), dx.tolist()))
    assert pairs == sorted(pairs) and len(set(pairs)) == len(pairs)
    assert all(a > 0 or (a == 0 and b > 0) for a, b in pairs)
    reference = laplacian_offset_table("dither", radii=radii, radius_weights=weights)
    assert set(pairs) == set(reference)
    np.testing.assert_array_equal(mult, [reference[p] for p in pairs])


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("carrier", "kwargs", "match"),
    [
        (np.array([[0.0, np.nan]]), {}, "NaN or inf"),
        (np.array([[0.0, np.inf]]), {}, "NaN or inf"),
        (np.zeros(5), {}, "shape"),
        (np.zeros((2, 2, 2, 2)), {}, "shape"),
        (np.zeros((2, 2, 0)), {}, "channel"),
        (np.zeros((2, 2), dtype=complex), {}, "real dtype"),
        (np.array([["a"]]), {}, "real dtype"),
        (np.zeros((2, 2)), {"tau": 0.0}, "tau"),
        (np.zeros((2, 2)), {"tau": -1.0}, "tau"),
        (np.zeros((2, 2)), {"tau": float("nan")}, "tau"),
        (np.zeros((2, 2)), {"tau": 1e-310}, "1/tau overflows"),  # exp(-0 * inf) = NaN weights
        (np.zeros((2, 2)), {"tau": True}, "tau"),
        (np.zeros((2, 2)), {"connectivity": 6}, "connectivity"),
        (np.zeros((2, 2)), {"connectivity": 4.5}, "connectivity"),
        (np.zeros((2, 2)), {"kind": "hex"}, "kind"),
        (np.zeros((2, 2)), {"weight_floor": -0.1}, "weight_floor"),
        (np.zeros((2, 2)), {"dtype": np.int32}, "dtype"),
        (np.zeros((2, 2)), {"kind": "dither", "radii": (1, 2), "radius_weights": (1.0,)}, "length"),
        (np.zeros((2, 2)), {"kind": "dither", "radii": (0,), "radius_weights": (1.0,)}, "radii"),
        (np.zeros((2, 2)), {"kind": "dither", "radii": (), "radius_weights": ()}, "empty"),
        (np.zeros((2, 2)), {"kind": "dither", "radius_weights": (1, 1, 1, 1, 1, -1)}, ">= 0"),
    ],
)
def test_invalid_input_raises_one_line_value_error(carrier, kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        image_laplacian(carrier, **kwargs)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- properties


@st.composite
def laplacian_cases(draw):
    h = draw(st.integers(1, 9))
    w = draw(st.integers(1, 9))
    channels = draw(st.sampled_from([0, 1, 3]))  # 0 = a 2-D grey carrier
    shape = (h, w) if channels == 0 else (h, w, channels)
    carrier = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.0, 1.0, width=32)))
    kind, connectivity = draw(st.sampled_from(GRAPHS))
    floor = draw(st.sampled_from([0.0, 0.05]))
    tau = draw(st.sampled_from([0.05, 0.1, 1.0]))
    return carrier, kind, connectivity, floor, tau


@settings(deadline=None, max_examples=60)
@given(laplacian_cases())
def test_laplacian_properties(case):
    carrier, kind, connectivity, floor, tau = case
    L = compare(carrier, kind, connectivity, floor, tau=tau)
    h, w = carrier.shape[:2]
    assert L.nnz == laplacian_nnz_loop(h, w, laplacian_offset_table(kind, connectivity))
    assert (L != L.T).nnz == 0  # exactly symmetric: one weight per undirected edge
    diag = L.diagonal()
    row_sums = np.asarray(L.sum(axis=1)).ravel()
    assert np.all(np.abs(row_sums) <= 1e-12 * np.maximum(diag, 1.0))
    assert np.all(diag >= 0)
    assert np.linalg.eigvalsh(L.toarray()).min() >= -1e-10
    assert_rows_sorted_with_diagonal(L)


# --------------------------------------------------------------------------- embedding contract


@numba.njit
def user_laplacian(carrier, dy, dx, mult, tau):
    """A user's own njit code assembling the Laplacian with raw arrays it allocates."""
    h, w = carrier.shape[0], carrier.shape[1]
    nnz = kl.laplacian_csr_nnz(h, w, dy, dx)
    indptr = np.empty(h * w + 1, np.int64)
    indices = np.empty(nnz, np.int64)
    data = np.empty(nnz, np.float64)
    work = np.empty((2, kl.laplacian_work_rows(dy), w), np.float64)
    written = kl.assemble_laplacian_csr(
        carrier, dy, dx, mult, tau, 0.0, indptr, indices, data, work
    )
    return indptr, indices, data, written


@pytest.mark.parametrize(("kind", "connectivity"), GRAPHS, ids=GRAPH_IDS)
def test_kernels_callable_from_user_njit(kind, connectivity):
    c = carrier_of((10, 12), 9, rgb=True)
    dy, dx, mult = laplacian_offsets(kind, connectivity)
    indptr, indices, data, written = user_laplacian(c, dy, dx, mult, 0.1)
    assert written == indptr[-1] == data.shape[0]
    got = sp.csr_matrix((data, indices, indptr), shape=(120, 120))
    assert_same_csr(got, laplacian_coo(c, kind=kind, connectivity=connectivity))


def test_kernel_leaves_entries_beyond_nnz_untouched():
    c = carrier_of((5, 6), 2, rgb=False)[:, :, None]
    dy, dx, mult = laplacian_offsets("grid", 8)
    nnz = kl.laplacian_csr_nnz(5, 6, dy, dx)
    indptr = np.full(31, -7, np.int64)
    indices = np.full(nnz + 4, -7, np.int64)
    data = np.full(nnz + 4, 9.5)
    work = np.full((2, kl.laplacian_work_rows(dy), 6), np.nan)
    assert kl.assemble_laplacian_csr(c, dy, dx, mult, 0.1, 0.0, indptr, indices, data, work) == nnz
    assert indices[nnz:].tolist() == [-7] * 4 and data[nnz:].tolist() == [9.5] * 4
    assert (indices[:nnz] >= 0).all() and np.isfinite(data[:nnz]).all()


# --------------------------------------------------------------------------- real images


@pytest.mark.parametrize(
    "name",
    ["toof.png", "snek-heavy.png", "red-tonegraph.png", "1bit redraw.png",
     "mspaint-enso-i-couldnt-forget.png", "offhand_pleometric.png"],
)
def test_real_images_match_reference(name, shared_images_dir):
    import imageio.v3 as iio

    path = shared_images_dir / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    rgb = iio.imread(path, mode="RGB").astype(np.float64) / 255.0
    carrier = rgb.mean(axis=2)
    for connectivity in (4, 8):
        compare(carrier, "grid", connectivity)
    h, w = carrier.shape
    crop = (slice(h // 2 - 40, h // 2 + 40), slice(w // 2 - 40, w // 2 + 40))
    compare(carrier[crop], "dither", 4, floor=0.01, tau=0.15)
    compare(rgb[crop], "dither", 4, tau=0.15, dtype=np.float32)


# --------------------------------------------------------------------------- bands and threads


def _assemble(c, kind, connectivity, bands, threads=None):
    dy, dx, mult = laplacian_offsets(kind, connectivity)
    h, w = c.shape[:2]
    nnz = kl.laplacian_csr_nnz(h, w, dy, dx)
    indptr = np.full(h * w + 1, -1, np.int64)
    indices = np.full(nnz, -1, np.int64)
    data = np.full(nnz, np.nan)
    work = np.full((bands, kl.laplacian_work_rows(dy), w), np.nan)
    previous = numba.get_num_threads()
    numba.set_num_threads(threads or previous)
    try:
        written = kl.assemble_laplacian_csr(c, dy, dx, mult, 0.1, 0.0, indptr, indices, data, work)
    finally:
        numba.set_num_threads(previous)
    assert written == nnz
    return indptr, indices, data


@pytest.mark.parametrize(("kind", "connectivity"), GRAPHS, ids=GRAPH_IDS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (7, 8), (23, 17)])
def test_any_band_count_gives_the_same_bytes_as_the_reference(kind, connectivity, shape):
    c = carrier_of(shape, shape[0] + shape[1], rgb=True)
    one = _assemble(c, kind, connectivity, 1)
    n = shape[0] * shape[1]
    assert_same_csr(sp.csr_matrix((one[2], one[1], one[0]), shape=(n, n)),
                    laplacian_coo(c, kind=kind, connectivity=connectivity))
    for bands in (2, 3, shape[0], shape[0] + 5):
        for a, b in zip(one, _assemble(c, kind, connectivity, bands), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba has one thread here")
@pytest.mark.parametrize(("kind", "connectivity"), GRAPHS, ids=GRAPH_IDS)
def test_one_and_two_threads_give_the_same_bytes(kind, connectivity):
    c = carrier_of((61, 37), 5, rgb=True)
    one = _assemble(c, kind, connectivity, 9, threads=1)
    two = _assemble(c, kind, connectivity, 9, threads=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_entries_before_row_end_at_nnz():
    for kind, connectivity in GRAPHS:
        dy, dx, _ = laplacian_offsets(kind, connectivity)
        for h, w in [(0, 3), (1, 1), (4, 9), (13, 5)]:
            assert kl.csr_entries_before_row(h, w, dy, dx, h) == kl.laplacian_csr_nnz(h, w, dy, dx)
            assert kl.csr_entries_before_row(h, w, dy, dx, 0) == 0


def test_options_graph_are_the_laplacian_keywords():
    from fastshade.options import ShadeOptions

    opts = ShadeOptions(connectivity=8, tau=0.3, weight_floor=0.01)
    assert opts.graph() == {"connectivity": 8, "kind": "grid", "tau": 0.3, "weight_floor": 0.01}
    carrier = np.random.default_rng(3).random((9, 11))
    got = image_laplacian(carrier, **opts.graph())
    want = image_laplacian(carrier, connectivity=8, tau=0.3, weight_floor=0.01)
    assert (got != want).nnz == 0 and (got != image_laplacian(carrier)).nnz > 0
