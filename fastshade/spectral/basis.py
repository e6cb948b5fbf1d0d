"""The public spectral basis: :class:`SpectralBasis` and :func:`spectral_basis`.

:func:`spectral_basis` returns the ``k`` lowest **non-trivial** eigenvectors of the weighted
pixel-graph Laplacian ``L`` (``original-system.md`` §1), globally (the AMG cascade,
:mod:`fastshade.spectral.cascade`) or per overlapping tile (§2.3, :mod:`fastshade.spectral.tiles`),
or the original's 50-step Krylov field (``--basis krylov``, §2.1,
:mod:`fastshade.spectral.krylov`).  It validates the inputs, builds ``L`` when it is not given,
and returns the columns in the conventions of :mod:`fastshade.spectral.columns` (ascending,
unit norm, max-abs entry positive, zero-padded to ``k``).  Vectors of a degenerate cluster are
not unique: the returned basis of the cluster is the one the cascade produces; compare
subspaces (principal angles) or the gates, not single vectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import scipy.sparse as sp

from fastshade.checks import check_integer, check_real
from fastshade.options import MAX_K
from fastshade.pipeline.graph import image_laplacian
from fastshade.spectral.amg import refill_operator
from fastshade.spectral.cascade import solve_graph
from fastshade.spectral.columns import finish_columns, finish_energy
from fastshade.spectral.contract import (
    CONTRACT_MODES,
    DEFAULT_SUBSPACE_TOL,
    contract_record,
    dense_error_bound,
)
from fastshade.spectral.dense import dense_solve
from fastshade.spectral.krylov import krylov_basis
from fastshade.spectral.tiles import tiled_solve

__all__ = ["DEFAULT_TOL", "SpectralBasis", "spectral_basis"]

DEFAULT_TOL = 1e-2
"""Default residual tolerance ``||L v - λ v||_2`` per unit column (``tol=None``).

By itself a residual tolerance certifies nothing about the span (the wanted eigenvalues are
1e-7 … 1e-3): at 1e-2 the span of ``1bit redraw.png`` has a smallest principal-angle cosine of
0.005 against ARPACK, at 1e-5 the bound of the contract still fails there, and only 1e-6
meets it on every shared image (0.5–17 s).  So the default is the **subspace
contract** (``contract="enforce"``, :mod:`fastshade.spectral.contract`): LOBPCG iterates until
the estimated ``sin θ_max`` is at most 0.05, which takes what each image needs (enso 3
iterations, toof 8, 1bit redraw 48) and gave cosines >= 0.99992 on every shared image and the
demo at 512² and 1024².  With the contract enforced this residual tolerance never binds there
(a tighter one only adds iterations: 1e-4 costs 28–66 % more on the easy images for no
gain the shader or a caller needs), so it stays 1e-2, which is also what the shader passes for
its thicken budget (``ShadeOptions.tol``, ``contract="off"``).  The measurements, per image and
tolerance: ``docs/tolerance.md`` (``bench/tolerance_study.py``).
"""


@dataclass(frozen=True)
class SpectralBasis:
    """``k`` non-trivial basis vectors of the pixel-graph Laplacian of an ``(H, W)`` image.

    vectors : float64 (H*W, k); column ``j`` is the ``j``-th non-trivial vector (the constant
        vector is excluded), unit 2-norm (zero columns only as padding, see ``info["n_valid"]``).
        (H*W, 0) when the caller asked for the row energy alone (``energy``).
    values : float64 (k,), ascending Rayleigh quotients, NaN-free.
    shape : (H, W).
    method : "lobpcg", "lobpcg-tiled", "krylov", "dense" or "trivial".
    info : JSON-serialisable diagnostics (iterations, residuals, tol, timings, warnings).
    energy : float64 (H*W,) or None; ``sum_{j >= 2} vectors[:, j]**2`` of the ``k`` columns (the
        thicken budget's E, :func:`fastshade.pipeline.shading.thickening_budget`) when the basis
        was asked for it alone (``spectral_basis(energy_only=True)``), else None.
    """

    vectors: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]
    method: str
    info: dict[str, Any] = field(default_factory=dict)
    energy: np.ndarray | None = None

    @property
    def k(self) -> int:
        """The number of basis columns (``len(values)``; the vectors may be the energy alone)."""
        return int(self.values.shape[0])


def _residual_norms(L: sp.csr_matrix, values: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``||L v_j - λ_j v_j||_2`` of every column ``j`` (float64 (m,))."""
    if vectors.shape[1] == 0:
        return np.zeros(0)
    r = L @ vectors - vectors * values[None, :]
    return np.linalg.norm(r, axis=0)


def _check_carrier(carrier: np.ndarray) -> np.ndarray:
    """Return the carrier as float64 (H, W); ValueError unless 2-D, real, non-empty, finite."""
    c = np.asarray(carrier)
    if c.ndim != 2:
        raise ValueError(f"carrier must be a 2-D (H, W) array, got shape {c.shape}")
    if c.dtype.kind not in "biuf":
        raise ValueError(f"carrier must have a real dtype, got {c.dtype}")
    c = c.astype(np.float64, copy=False)
    if c.size == 0:
        raise ValueError(f"carrier must have at least one pixel, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("carrier contains NaN or inf")
    return c



def spectral_basis(
    carrier: np.ndarray,
    *,
    method: str = "lobpcg",
    k: int = 8,
    connectivity: int = 4,
    kind: str = "grid",
    tau: float = 0.1,
    weight_floor: float = 0.0,
    tile_size: int = 0,
    tile_overlap: int = 16,
    seed: int = 42,
    tol: float | None = None,
    krylov_steps: int = 50,
    laplacian: sp.spmatrix | None = None,
    guard: int = 4,
    tile_sign: str = "seeded",
    maxiter: int = 200,
    diagonals: tuple | None = None,
    contract: str = "enforce",
    subspace_tol: float | None = None,
    energy_only: bool = False,
    laplacian_reform: Callable[[], sp.spmatrix] | None = None,
) -> SpectralBasis:
    """Compute the ``k`` lowest non-trivial eigenvectors (or the Krylov field) of an image's graph.

    Parameters
    ----------
    carrier : array (H, W), real, finite (usually in [0, 1])
    method : {"lobpcg", "krylov", "dense"}
        ``lobpcg``: AMG-cascade block LOBPCG (global, or tiled when ``tile_size > 0``);
        ``krylov``: :func:`fastshade.spectral.krylov.krylov_basis` (the original's Lanczos field);
        ``dense``: exact dense ``eigh`` (small images / reference only).
    k : int in [1, ``fastshade.options.MAX_K``]
        Number of non-trivial vectors (zero-padded beyond ``H*W - 1``).
    connectivity, kind, tau, weight_floor
        Passed to :func:`fastshade.pipeline.graph.image_laplacian` (ignored when ``laplacian`` is given).
    tile_size, tile_overlap : int
        ``tile_size = 0``: global solve; ``>= 4``: tiled basis (§2.3), ``0 <= overlap < tile``.
    seed : int
        Seed of the Krylov start, of padding start columns and of the per-tile signs.
    tol : float or None
        Residual tolerance ``||L v - λ v||_2`` for every unit column; None = :data:`DEFAULT_TOL`.
    krylov_steps : int
        Lanczos steps of ``method="krylov"``.
    laplacian : scipy sparse (H*W, H*W) or None
        Prebuilt Laplacian of ``carrier`` (not modified).
    guard : int >= 0
        Extra LOBPCG block vectors beyond ``k`` (faster convergence of the ``k``-th pair).
    tile_sign : {"seeded", "max-abs"}
        Per-tile sign: seeded random ±1 after the max-abs convention, or max-abs only.
    maxiter : int
        LOBPCG iteration cap on the pixel level (``info["converged"]`` reports the outcome).
    diagonals : tuple or None
        ``fastshade.pipeline.graph.diagonal_storage(laplacian)`` if the caller has it (used by
        ``method="krylov"`` for its mat-vecs; saves converting the graph twice).
    contract : {"enforce", "check", "off"}
        The subspace contract (:mod:`fastshade.spectral.contract`) of a global basis.
        ``enforce`` (default): LOBPCG iterates until the residuals meet ``tol`` *and* the
        estimated bound on the sine of the largest principal angle to the true lowest-``k``
        eigenspace is at most ``subspace_tol`` (or ``maxiter``); ``check``: it stops on ``tol``
        alone and the bound is reported; ``off``: no bound is formed (for callers that do not
        need the eigenspace; ``converged`` is then False).
    subspace_tol : float or None
        The contract's bound; None = :data:`fastshade.spectral.contract.DEFAULT_SUBSPACE_TOL`.
    energy_only : bool
        Return the row energy of columns 2.. (``SpectralBasis.energy``, the thicken budget's only
        input) instead of the columns (``vectors`` (H*W, 0)): the same sums as reading them from
        the columns, without the (H*W, k) array (64 B a pixel at 35 Mpx).  Honoured by the global
        LOBPCG basis of ``k > 2`` columns whose pixel-level residuals the cascade measured;
        otherwise the columns are returned as usual (``energy`` None).
    laplacian_reform : callable or None
        With ``laplacian``: a zero-argument callable that forms it again (the same arrays, e.g.
        ``functools.partial(image_laplacian, carrier, ...)``).  A big image's global basis then
        empties ``laplacian``'s arrays in place while the coarse levels are set up and solved (64
        B a pixel less at their peaks; formed again where those levels' blocks were freed) and
        puts them back, so the matrix has its arrays when this returns or raises.  Without it, or
        when ``laplacian`` is not a float64 CSR matrix (a converted copy is solved), a given
        ``laplacian`` is not touched.  (A Laplacian built here is formed again the same way.)

    Returns
    -------
    SpectralBasis
        ``vectors`` float64 (H*W, k) newly allocated, ``values`` float64 (k,).  ``info``:
        ``converged`` is True only when the contract holds (and the residuals meet ``tol``):
        ``subspace_error_bound`` (float, or None when not formed) ``<= subspace_tol``;
        ``contract`` records the mode, the tolerance, the verdict and the formula.  When a
        requested contract (``enforce``/``check``) does not hold, ``info["warnings"]`` says so.
        The Krylov field and the tiled basis are not eigenvectors of ``L``: their contract is
        "not applicable" and ``converged`` is False.

    Raises
    ------
    ValueError
        On an invalid carrier, option or ``laplacian`` (the message names it).
    """
    t_start = time.perf_counter()
    c = _check_carrier(carrier)
    h, w = c.shape
    n = h * w
    k = check_integer("k", k, 1, MAX_K)
    if method not in ("lobpcg", "krylov", "dense"):
        raise ValueError(f"method must be 'lobpcg', 'krylov' or 'dense', got {method!r}")
    tile_size = check_integer("tile_size", tile_size, 0)
    if 0 < tile_size < 4:
        raise ValueError(f"tile_size must be 0 (global) or >= 4, got {tile_size}")
    if tile_size:
        tile_overlap = check_integer("tile_overlap", tile_overlap, 0, tile_size - 1)
    tol = check_real("tol", DEFAULT_TOL if tol is None else tol, 0.0)
    if contract not in CONTRACT_MODES:
        raise ValueError(f"contract must be one of {', '.join(CONTRACT_MODES)}, got {contract!r}")
    subspace_tol = check_real("subspace_tol",
                              DEFAULT_SUBSPACE_TOL if subspace_tol is None else subspace_tol, 0.0)
    guard = check_integer("guard", guard, 0)
    maxiter = check_integer("maxiter", maxiter, 0)
    if tile_sign not in ("seeded", "max-abs"):
        raise ValueError(f"tile_sign must be 'seeded' or 'max-abs', got {tile_sign!r}")
    if laplacian is None:
        laplacian_reform = partial(image_laplacian, c, connectivity=connectivity, kind=kind, tau=tau,
                                   weight_floor=weight_floor)
        L = laplacian_reform().tocsr()
    else:
        if not sp.issparse(laplacian) or laplacian.shape != (n, n):
            raise ValueError(f"laplacian must be a sparse ({n}, {n}) matrix, got "
                             f"{type(laplacian).__name__} {getattr(laplacian, 'shape', None)}")
        L = laplacian.tocsr()
        if not np.isfinite(L.data).all():
            raise ValueError("laplacian contains NaN or inf")
        if L.dtype != np.float64 or L is not laplacian:  # a converted copy: nothing is emptied
            L = L.astype(np.float64) if L.dtype != np.float64 else L
            laplacian_reform = None
    info: dict[str, Any] = dict(tol=float(tol), k=k, guard=int(guard), warnings=[], n_valid=min(k, n - 1))

    if n == 1:
        info["seconds"] = time.perf_counter() - t_start
        info["n_valid"] = 0
        info.update(converged=False, subspace_error_bound=None,
                    contract=_not_applicable("a single pixel has no non-trivial eigenvector"))
        return SpectralBasis(np.zeros((1, k)), np.zeros(k), (h, w), "trivial", info)

    if method == "krylov":
        vecs, vals = krylov_basis(L, k, steps=krylov_steps, seed=seed, diagonals=diagonals)
        vecs = np.ascontiguousarray(vecs, dtype=np.float64)
        vals = np.nan_to_num(np.asarray(vals, dtype=np.float64))
        info.update(steps=int(krylov_steps), seed=int(seed), n_valid=int(np.count_nonzero(vals)))
        info.update(converged=False, subspace_error_bound=None,
                    contract=_not_applicable("the Krylov field is a Ritz field, not eigenvectors"))
        info["seconds"] = time.perf_counter() - t_start
        return SpectralBasis(vecs, vals, (h, w), "krylov", info)

    solve_kw: dict[str, Any] = dict(tol=float(tol), seed=int(seed), guard=int(guard), coarse_iters=3,
                                    maxiter=maxiter)
    if tile_size == 0 or method == "dense":
        if method == "dense":
            vals, vecs = dense_solve(L, k, extra_values=1)
            used = "dense"
            sinfo: dict[str, Any] = {"guard_values": vals[vecs.shape[1]:].tolist()}
            vals = vals[:vecs.shape[1]]
        else:
            # the dither operator's AMG aggregates on the 4-neighbour grid graph of the image
            # (fastshade.spectral.amg, "Wide operators")
            guide = (image_laplacian(c, connectivity=4, kind="grid", tau=tau,
                                     weight_floor=weight_floor).tocsr()
                     if kind == "dither" else None)
            try:
                vals, vecs, used, sinfo = solve_graph(L, k, **solve_kw, contract=contract,
                                                      subspace_tol=subspace_tol, guide=guide,
                                                      reform=laplacian_reform)
            except BaseException:
                refill_operator(L, laplacian_reform)  # (the setup may have emptied it)
                raise
        res_k = sinfo.pop("residuals_k", None)
        residuals_met = bool(sinfo.pop("residuals_met", True))
        info.update(sinfo)
        energy = None
        if energy_only and k > 2 and res_k is not None and res_k.size == k:
            energy, vals_out, norms = finish_energy(vals, vecs, n, k)
            vecs_out = np.empty((n, 0))
        else:
            vecs_out, vals_out, norms = finish_columns(vals, vecs, n, k)
        del vecs  # (the cascade's block: not alive beside what is returned)
        if res_k is not None and res_k.size == k:
            # the pixel-level LOBPCG residuals ||L x - λ x|| of exactly these columns (computed
            # from a fresh sparse L x), in finish_columns' order and scaled by its normalisation
            order = np.argsort(np.asarray(vals, dtype=np.float64), kind="stable")
            info["residuals"] = (res_k[order] / norms).tolist()
        else:
            info["residuals"] = _residual_norms(L, vals_out, vecs_out).tolist()
        if used == "lobpcg" and not residuals_met:
            info["warnings"].append(f"LOBPCG stopped at maxiter={maxiter} before tol={tol}")
        _judge(info, used, contract, subspace_tol, np.sort(np.asarray(vals, dtype=np.float64)),
               residuals_met, maxiter)
        info["seconds"] = time.perf_counter() - t_start
        return SpectralBasis(vecs_out, vals_out, (h, w), used, info, energy)

    vecs_out, vals_out, tinfo = tiled_solve(c, L, k, tile_size, int(tile_overlap), tile_sign, solve_kw)
    info.update(tinfo)
    info.update(converged=False, subspace_error_bound=None,
                contract=_not_applicable("a tiled basis blends per-tile eigenvectors; it is not "
                                         "an eigenspace of the image's Laplacian"))
    info["seconds"] = time.perf_counter() - t_start
    return SpectralBasis(vecs_out, vals_out, (h, w), "lobpcg-tiled", info)


def _not_applicable(why: str) -> dict[str, Any]:
    return dict(mode="not applicable", holds=False, reason=why)


def _judge(info: dict[str, Any], used: str, mode: str, subspace_tol: float, values: np.ndarray,
           residuals_met: bool, maxiter: int) -> None:
    """Set ``converged``, ``subspace_error_bound``, ``contract`` (and a warning) in ``info``.

    ``values`` the ascending values of the returned pairs; ``info`` already holds
    ``guard_values`` and ``residuals`` (and, from the cascade, ``subspace_error_bound``).
    """
    k_valid = values.size
    guard_values = np.asarray(info.get("guard_values", []), dtype=np.float64)
    bound: float | None = None
    gap: float | None = None
    if used == "dense":
        estimate = "||R||_F / (lambda_{k+1} - lambda_k), exact dense spectrum"
        lam = np.concatenate([values, guard_values])
        if guard_values.size:
            gap = float(lam[k_valid] - lam[k_valid - 1])
        if mode != "off":
            bound = dense_error_bound(lam, k_valid, float(np.linalg.norm(info["residuals"][:k_valid])))
    else:
        estimate = "(theta_{k+1} + s) ||T R||_F / (theta_{k+1} - theta_k), T = AMG V-cycle"
        if guard_values.size and k_valid:
            gap = float(guard_values[0] - values[-1])
        bound = info.pop("subspace_error_bound", None)
    holds, record = contract_record(mode, bound, subspace_tol, estimate=estimate, gap=gap)
    info["converged"] = bool(holds and residuals_met)
    info["subspace_error_bound"] = bound
    info["contract"] = record
    if mode == "off" or holds:  # (holds but the residuals missed tol: the maxiter warning says so)
        return
    if bound is None:
        why = ("the spectral gap after the k-th value is not resolved (no bound could be formed: "
               f"gap estimate {gap!r})")
    else:
        why = f"the subspace error bound {bound:.3g} exceeds subspace_tol={subspace_tol:g}"
    its = info.get("iterations", 0)
    hint = (f"after {its} pixel-level iterations, maxiter={maxiter}" if mode == "enforce"
            else f"at tol={info['tol']:g}; ask for contract='enforce' or a smaller tol")
    text = (f"the {k_valid} vectors are not certified as the lowest {k_valid} eigenvectors: {why} "
            f"({hint})")
    record["warning"] = text
    info["warnings"].append(text)
