"""fastshade.checks: the shared argument checks (one-line ValueErrors)."""

from __future__ import annotations

import numpy as np
import pytest

from fastshade.checks import check_integer, check_real, check_real_array


def test_check_real_array_is_exact_for_huge_finite_values():
    big = np.full(4, 1e308)  # the sum overflows, but every value is finite
    assert check_real_array("x", big) is big
    for bad in (np.nan, np.inf, -np.inf):
        arr = big.copy()
        arr[2] = bad
        with pytest.raises(ValueError, match="x contains NaN or inf"):
            check_real_array("x", arr)
    with pytest.raises(ValueError, match="real dtype"):
        check_real_array("x", np.zeros(2, dtype=complex))


@pytest.mark.parametrize(("value", "ok"), [(3, True), (np.int16(3), True), (True, False),
                                           (np.bool_(True), False), (3.0, False), ("3", False)])
def test_check_integer_types(value, ok):
    if ok:
        assert check_integer("n", value, 0, 5) == 3 and type(check_integer("n", value)) is int
    else:
        with pytest.raises(ValueError, match="n must be an integer"):
            check_integer("n", value)


def test_check_real_ranges_and_types():
    assert check_real("t", np.float32(0.5), 0.0, 1.0) == 0.5
    assert check_real("t", 2) == 2.0
    for value, match in ((0.0, r"in \(0.0, 1.0\], got 0.0"), (float("nan"), "finite"), (10**400, "finite"),
                         (True, "real number"), ("1", "real number"), (1.5, r"in \(0.0, 1.0\]")):
        with pytest.raises(ValueError, match=match):
            check_real("t", value, 0.0, 1.0, lo_open=True)
