"""The subspace contract of the spectral basis: when ``info["converged"]`` may say True.

A residual tolerance alone says little about the returned *span*: the wanted eigenvalues of
line-art Laplacians are 1e-7 … 1e-3 and the gap after the ``k``-th one can be 1e-7, so a unit
column with ``||L v - θ v|| = 5e-3`` can be orthogonal to the true eigenspace (``1bit
redraw.png`` at ``tol=1e-2``: smallest principal-angle cosine 0.005).  The contract is on the
subspace instead: the sine of the largest principal angle between the returned span ``X`` and
the true lowest-``k`` eigenspace ``U`` is at most ``subspace_tol``.

**The bound** (a Davis–Kahan ``sin Θ`` bound in its preconditioned-residual form).  With
``A = L + s I`` (``s`` the AMG shift), Ritz pairs ``(θ_j, x_j)`` orthogonal to the constant,
``R = L X - X diag(θ)`` and ``λ_{k+1} > θ_k``, every eigen-component ``i > k`` of ``x_j`` is
``u_i^T r_j / (λ_i - θ_j)`` and ``(λ_i + s) / (λ_i - θ_j)`` decreases in ``λ_i``, so::

    sin θ_max  <=  ||sin Θ||_F  <=  (λ_{k+1} + s) / (λ_{k+1} - θ_k) * ||A^-1 R||_F

(a theorem).  Compared with the plain ``||R||_F / (λ_{k+1} - θ_k)``, which is 10³–10⁴ times the
measured angle here, weighting the residual by ``A^-1`` discounts its high-frequency part, which
barely moves the span.  :func:`subspace_error_bound` evaluates it with two substitutions, which
make it an *estimate*:

* ``A^-1 R`` is replaced by ``T R``, one block V-cycle of the AMG hierarchy (the LOBPCG
  preconditioner; ``T R`` is 0.09–0.98 times ``A^-1 R`` in norm on the shared images);
* ``λ_{k+1}`` by the first guard Ritz value ``θ_{k+1} >= λ_{k+1}``.

The relative-gap factor is 7–143 on the shared images, more than the V-cycle loses.
Validation (``docs/tolerance.md``, ``bench/tolerance_study.py``): on every pixel-level iterate
of every shared image and the demo at 512² and 1024² (244 iterates) the estimate is at least the
measured ``sin θ_max`` against ARPACK (shift-invert, tol 1e-10): ratio 1.68–25, median 6.3.
It is no theorem: when the block has not found the eigenspace at all the Ritz gap can mislead
it (4 of 288 small random solves at ``tol=1e-2``: estimate 0.23–0.91 against a measured
0.55–0.96, all far above ``subspace_tol``, so the verdict held).

**The dense solve** (small graphs) is exact: its bound is the plain theorem
``||R||_F / (λ_{k+1} - λ_k)`` with the exact ``λ_{k+1}`` (:func:`dense_error_bound`).

A bound that cannot be formed (no guard value, or ``θ_{k+1} <= θ_k``: the gap is not resolved)
is None, and the contract does not hold.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

__all__ = [
    "CONTRACT_MODES",
    "DEFAULT_SUBSPACE_TOL",
    "RESIDUAL_FLOOR",
    "ContractMode",
    "contract_record",
    "dense_error_bound",
    "subspace_error_bound",
]

ContractMode = Literal["enforce", "check", "off"]
CONTRACT_MODES: tuple[str, ...] = ("enforce", "check", "off")
"""``enforce``: LOBPCG iterates until the residuals meet ``tol`` *and* the bound meets
``subspace_tol`` (or ``maxiter``); ``check``: it stops on ``tol`` alone and the bound is
reported (a warning when it is not met); ``off``: no bound is formed (``converged`` is False:
the caller does not need the eigenspace)."""

DEFAULT_SUBSPACE_TOL = 0.05
"""Default bound on ``sin θ_max`` (cosine >= 0.99875).  Measured where it first holds: the
smallest principal-angle cosine to ARPACK is >= 0.99992 on every shared image and the demo
(the bound is 1.7–25 times the measured sine there)."""

RESIDUAL_FLOOR = 100.0 * np.finfo(np.float64).eps
"""Relative residual floor (times ``||L||_inf``): ``enforce`` also stops there, since LOBPCG
cannot reduce the residuals further (a gap below rounding never gives a bound)."""


def subspace_error_bound(ritz_values: np.ndarray, k: int, shift: float,
                         preconditioned_residual: float) -> float | None:
    """``(θ_{k+1} + s) ||T R||_F / (θ_{k+1} - θ_k)``: the estimated bound on ``sin θ_max``.

    Parameters
    ----------
    ritz_values : ndarray (m,), ascending
        Ritz values of the whole LOBPCG block, guards included (``m > k`` needed).
    k : int
        Number of wanted columns.
    shift : float
        The AMG shift ``s`` of ``A = L + s I`` (the operator the V-cycle ``T`` approximates).
    preconditioned_residual : float
        ``||T R||_F`` over the ``k`` wanted unit columns.

    Returns
    -------
    float or None
        None when ``m <= k`` or the Ritz gap ``θ_{k+1} - θ_k`` is not positive.
    """
    theta = np.asarray(ritz_values, dtype=np.float64)
    if theta.size <= k or k < 1:
        return None
    gap = float(theta[k] - theta[k - 1])
    if not gap > 0.0:
        return None
    bound = (float(theta[k]) + shift) * float(preconditioned_residual) / gap
    return bound if math.isfinite(bound) else None


def dense_error_bound(values: np.ndarray, k: int, residual: float) -> float | None:
    """Davis–Kahan ``||R||_F / (λ_{k+1} - λ_k)`` of an exact (dense) solve.

    ``values`` (m,) ascending exact eigenvalues, ``m >= k + 1`` unless the whole complement of
    the constant is returned (then 0.0: the span is the whole space).  None when the gap is
    not positive (a degenerate ``λ_k = λ_{k+1}``: the lowest-``k`` eigenspace is not unique).
    """
    lam = np.asarray(values, dtype=np.float64)
    if lam.size <= k:
        return 0.0
    gap = float(lam[k] - lam[k - 1])
    if not gap > 0.0:
        return None
    bound = float(residual) / gap
    return bound if math.isfinite(bound) else None


def contract_record(mode: str, bound: float | None, subspace_tol: float, *,
                    estimate: str, gap: float | None = None) -> tuple[bool, dict[str, Any]]:
    """Whether the contract holds, and its JSON record for ``info["contract"]``.

    ``mode`` one of :data:`CONTRACT_MODES`; ``bound`` from :func:`subspace_error_bound` or
    :func:`dense_error_bound` (None: not formed); ``estimate`` names the formula used.
    """
    holds = mode != "off" and bound is not None and bound <= subspace_tol
    rec: dict[str, Any] = dict(mode=mode, subspace_tol=float(subspace_tol), holds=bool(holds),
                               estimate=estimate)
    if gap is not None:
        rec["gap"] = float(gap)
    return holds, rec
