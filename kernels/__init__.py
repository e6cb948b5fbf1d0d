"""Raw Numba kernels of fastshade.

Contract (see ``../shared/spec/style.md`` §1.7): module-level ``@jit``
functions from :mod:`fastshade.kernels._jit`, raw NumPy arrays and CSR pieces in,
caller-allocated outputs, no validation, no raising, no Python objects.
Every kernel can be called from Python or from a user's own ``@njit`` code.
Validated, allocating wrappers live in :mod:`fastshade`.
"""
