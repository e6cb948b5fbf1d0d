"""Galerkin product of a tentative (piecewise-constant) prolongator: ``T^T A T`` in one pass.

Raw kernels: module-level ``@jit`` functions, CSR pieces in, caller-allocated outputs, no
validation, no raising.  The validated caller is :func:`fastshade.spectral.amg.build_hierarchy`
(the level 0 of a guided hierarchy, the wide ``dither`` operator).

``T[i, agg[i]] = t[i]`` has one entry per row, so ``(T^T A T)[I, J] = sum over i in aggregate I,
j in aggregate J of t[i] a_ij t[j]``: coarse row ``I`` is one scan of the rows of its members,
accumulated per coarse column.  The general Gustavson pair (``A T`` then ``T^T (A T)``,
:func:`fastshade.kernels.blockops.spgemm_pair_bounded`) forms the intermediate ``A T`` (on the
dither operator ~20 entries per pixel) and a mass product; this forms neither.

The members of each aggregate come as the CSR pattern of ``T^T`` (``members_ptr``,
``members``: aggregate ``I`` holds ``members[members_ptr[I]:members_ptr[I + 1]]``).  Within a
coarse row, columns are stored in first-touch order (as the Gustavson kernels do); the sums run
over the members in ``members`` order and each member's entries in stored order.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

__all__ = ["tentative_galerkin", "tentative_galerkin_row_nnz"]


@jit
def tentative_galerkin_row_nnz(a_indptr, a_indices, members_ptr, members, agg, pos, counts):
    """Entries of every coarse row of ``T^T A T`` (first pass).

    ``pos`` int64 (nc,) all -1 on entry (left marked with row numbers); ``counts`` int64 (nc,)
    receives the entry count of each coarse row.
    """
    for ci in range(members_ptr.shape[0] - 1):
        c = 0
        for q in range(np.intp(members_ptr[ci]), np.intp(members_ptr[ci + 1])):
            i = np.intp(members[q])
            for p in range(np.intp(a_indptr[i]), np.intp(a_indptr[i + 1])):
                cj = np.intp(agg[np.intp(a_indices[p])])
                if pos[cj] != ci:
                    pos[cj] = ci
                    c += 1
        counts[ci] = c


@jit
def tentative_galerkin(a_indptr, a_indices, a_data, members_ptr, members, agg, t, pos, acc,
                       c_indptr, c_indices, c_data):
    """``C = T^T A T`` into the CSR arrays ``c_indptr`` (filled by the caller from the counts of
    :func:`tentative_galerkin_row_nnz`), ``c_indices``, ``c_data`` (second pass).

    ``t`` float64 (n,) the values of ``T``; ``pos`` int64 (nc,) all -1 on entry; ``acc``
    float64 (nc,) scratch (any content).
    """
    for ci in range(members_ptr.shape[0] - 1):
        start = np.intp(c_indptr[ci])
        end = start
        for q in range(np.intp(members_ptr[ci]), np.intp(members_ptr[ci + 1])):
            i = np.intp(members[q])
            ti = t[i]
            for p in range(np.intp(a_indptr[i]), np.intp(a_indptr[i + 1])):
                j = np.intp(a_indices[p])
                cj = np.intp(agg[j])
                v = ti * a_data[p] * t[j]
                if pos[cj] < start:
                    pos[cj] = end
                    c_indices[end] = cj
                    acc[cj] = v
                    end += 1
                else:
                    acc[cj] += v
        for r in range(start, end):
            c_data[r] = acc[np.intp(c_indices[r])]
