"""Gates against the closed forms of original-system.md §3.4."""

import numpy as np
import pytest

from fastshade.pipeline.gates import activation, carrier_of, contour_gates, contour_mask, gate_masks, zscore


def test_closed_forms_of_default_gates():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(64, 64))
    contours = rng.random((64, 64)) < 0.5
    a = activation(f)
    high, low = gate_masks(a, contours)
    z = (f - f.mean()) / (f.std(ddof=1) + 1e-8)
    # high: a > 0.5 <=> z > 0 ; low: z < logit(0.16)/10
    np.testing.assert_array_equal(high, (z > 0) & contours)
    thr = np.log(0.16 / 0.84) / 10.0
    np.testing.assert_array_equal(low, (z < thr) & contours)
    assert not (high & low).any()


def test_contours_match_definition_and_degenerate():
    rng = np.random.default_rng(1)
    c = rng.random((20, 30))
    m = contour_mask(c, 0.5)
    np.testing.assert_array_equal(m, np.abs(c - c.mean()) > 0.5 * np.std(c, ddof=1))
    assert not contour_mask(np.ones((5, 5))).any()
    assert contour_mask(np.ones((1, 1))).shape == (1, 1)


def test_zscore_over_subset_and_constant():
    f = np.arange(10.0)
    where = f >= 5
    z = zscore(f, where)
    assert abs(z[where].mean()) < 1e-12
    assert np.all(zscore(np.ones(4)) == 0)


def test_carrier_rejects_wrong_shape():
    with pytest.raises(ValueError, match="RGB"):
        carrier_of(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="NaN or inf"):
        carrier_of(np.full((2, 2, 3), np.nan))
    with pytest.raises(ValueError, match="real dtype"):
        carrier_of(np.zeros((2, 2, 3), dtype=complex))
    np.testing.assert_allclose(carrier_of(np.ones((2, 2, 3)) * [0.0, 0.3, 0.6]), 0.3)


@pytest.mark.parametrize("call, match", [
    (lambda a, c: gate_masks(a, c, gamma_h="x"), "gamma_h must be a real number"),
    (lambda a, c: gate_masks(a, c, bias_l=float("nan")), "bias_l must be finite"),
    (lambda a, c: contour_gates(a, c, gamma_l=float("inf")), "gamma_l must be finite"),
    (lambda a, c: contour_mask(a, sigma=-0.5), "sigma must be >= 0"),
])
def test_gate_parameters_are_checked(call, match):
    a = np.random.default_rng(0).random((6, 5))
    with pytest.raises(ValueError, match=match):
        call(a, a > 0.5)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (6, 1), (40, 33)], ids=str)
def test_contour_gates_equal_the_full_activation_bitwise(shape):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    f = rng.standard_normal(shape)
    for contours in (rng.random(shape) < 0.3, np.zeros(shape, bool), np.ones(shape, bool)):
        ref = gate_masks(activation(f, 10.0), contours, 1.3, -0.15, 1.5, -0.08)
        got = contour_gates(f, contours, 10.0, 1.3, -0.15, 1.5, -0.08)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])


@pytest.mark.parametrize(("call", "match"), [
    (lambda: contour_gates(np.zeros((4, 4)), np.ones((2, 2), bool)), "contours has shape"),
    (lambda: gate_masks(np.zeros((4, 4)), np.ones((4, 3), bool)), "contours has shape"),
    (lambda: zscore(np.zeros((4, 4)), np.ones((2, 2), bool)), "where has shape"),
    (lambda: zscore(np.array([0.0, np.nan])), "NaN or inf"),
    (lambda: contour_gates(np.zeros((2, 2)), np.ones((2, 2), bool), gain=float("nan")), "gain"),
    (lambda: contour_mask(np.zeros((2, 2)), sigma=float("nan")), "sigma"),
])
def test_gate_functions_reject_mismatched_or_non_finite_input(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("seed", range(4))
def test_contour_gates_match_the_plain_numpy_reference(seed):
    from fastshade.reference import gates_numpy

    rng = np.random.default_rng(seed)
    carrier = np.where(rng.random((40, 50)) < 0.2, rng.random((40, 50)) * 0.3, 1.0)
    field = rng.standard_normal((40, 50)).cumsum(axis=1)  # a smooth-ish field
    contours_ref, high_ref, low_ref = gates_numpy(carrier, field)
    contours = contour_mask(carrier)
    high, low = contour_gates(field, contours)
    np.testing.assert_array_equal(contours, contours_ref)
    np.testing.assert_array_equal(high, high_ref)
    np.testing.assert_array_equal(low, low_ref)
    assert high.any() and low.any()
