"""The basis's memory savings on big images change no value (issue 21, point 1).

A pixel level of at least ``IN_PLACE_ROWS`` rows rotates its Ritz vectors into the storage of
``L X0``, and levels of at least ``LAZY_ROWS`` rows drop ``P^T`` (and on level 0 ``A`` and its
inverse diagonal) after the setup, to be formed again by the first V-cycle there.  Lowering both
thresholds to 0 makes a small image take those paths: the vectors, residuals and contract bound
must be bit-identical to the default path, on a pixel level that stops at its start and on ones
that iterate (V-cycles on level 0, the contract's own V-cycle).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastshade.spectral.amg as amg
import fastshade.spectral.cascade as cascade
import fastshade.spectral.lobpcg as lobpcg
from fastshade.demo import demo_image
from fastshade.pipeline.gates import carrier_of
from fastshade.pipeline.graph import image_laplacian
from fastshade.spectral import spectral_basis


@pytest.mark.parametrize("size,tol,contract", [(256, 1e-2, "off"), (512, 1e-2, "off"), (256, 1e-6, "check")])
def test_big_image_paths_give_the_same_bits(size, tol, contract, monkeypatch):
    c = carrier_of(demo_image(size, size))
    L = image_laplacian(c, connectivity=4, kind="grid", tau=0.1, weight_floor=0.0)

    def solve():
        return spectral_basis(c, k=8, tol=tol, laplacian=L, seed=42, contract=contract)

    ref = solve()
    monkeypatch.setattr(lobpcg, "IN_PLACE_ROWS", 0)
    monkeypatch.setattr(amg, "LAZY_ROWS", 0)
    monkeypatch.setattr(cascade, "LAZY_ROWS", 0)  # the pixel level drops P[0] after its start
    H = amg.build_hierarchy(L, min_coarse=60)
    assert H.A[0] is None and H.Dinv[0] is None and all(pt is None for pt in H.PT)
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
