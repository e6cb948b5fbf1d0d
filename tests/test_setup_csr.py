"""The AMG setup's CSR pieces that write over arrays read no more (issue 21: fresh pages).

Each gives the bits of the plain expression it replaces, and writes where it says it does.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastshade.pipeline.graph import image_laplacian
from fastshade.spectral import amg
from fastshade.spectral.setup_csr import (
    constant_candidate,
    csr_from_counts,
    index_dtype,
    inverse_shifted,
    reuse_or_empty,
    spgemm_pair_matrix,
)


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


def test_reuse_or_empty_takes_the_owner_of_a_prefix_view_and_nothing_else():
    owner = np.arange(100, dtype=np.int32)
    got = reuse_or_empty(owner[:60], 40, np.int32)  # a prefix view, as SciPy's CSR arrays hold
    assert got is owner and got.size == 40
    owner = np.arange(100.0)
    assert reuse_or_empty(owner, 100, np.float64) is owner  # the owner itself, full size
    for buf, size, dtype in [(np.arange(100.0)[10:], 10, np.float64),  # not from the first entry
                             (np.arange(100, dtype=np.int32), 10, np.int64),  # another type
                             (np.arange(10.0), 11, np.float64),  # no room
                             (np.zeros((10, 10))[0], 5, np.float64),  # a row of a 2-D array
                             (None, 7, np.float64)]:
        got = reuse_or_empty(buf, size, dtype)
        assert got.shape == (size,) and got.dtype == dtype
        assert buf is None or not np.shares_memory(got, buf)


@pytest.mark.parametrize("shape", [(40, 50), (97, 61)])
def test_the_mass_prolongator_formed_over_a_ps_arrays_is_the_same(shape):
    """Level 0's ``P`` formed again for the mass over ``A P``'s arrays (the setup of a big image)
    has the bits of the one formed in fresh arrays, and lives in ``A P``'s memory."""
    L = image_laplacian(np.random.default_rng(shape[0]).random(shape)).tocsr()
    H = amg.build_hierarchy(L)
    shift = H.shift
    A, a_shift = amg._level0_operator(L, shift)
    agg, nc = amg.aggregate(A, H.theta, shift=a_shift)
    norms = constant_candidate(agg, nc)[0]
    fresh = amg._plain_prolongator0(L, shift, agg, norms)
    AP, _ = spgemm_pair_matrix(A, None, fresh, None, x_shift=a_shift)
    assert AP.nnz >= fresh.nnz
    owners = (AP.indices.base if AP.indices.base is not None else AP.indices,
              AP.data.base if AP.data.base is not None else AP.data)
    pointers = [o.ctypes.data for o in owners]
    into, AP = (AP.indices, AP.data), None
    again = amg._plain_prolongator0(L, shift, agg.astype(np.int32), norms, into)
    for got, want in ((again.indptr, fresh.indptr), (again.indices, fresh.indices), (again.data, fresh.data)):
        np.testing.assert_array_equal(got, want, strict=True)
    assert [again.indices.ctypes.data, again.data.ctypes.data] == pointers
    np.testing.assert_array_equal(fresh.toarray(), H.P[0].toarray())  # what the setup formed
