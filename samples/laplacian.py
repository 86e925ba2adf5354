"""A 2-D PDE residual: the Laplacian with a cubic reaction on the unit square.

    r(u) = -Δu + u³ - f        on an m x m grid of unknowns, zero boundary,

with the 5-point stencil, h = 1 / (m + 1).  Its Jacobian in u is sparse: row
(i, j) has non-zeros in columns (i, j) and its four neighbours, 5 a row (fewer
at the edges), n = m² unknowns.  Written twice: the boundary made by writing
u into a zero array, and by ``np.pad``.

    ad_compiler.jacobian(pde_residual, sparse=True)(u, f)

gives it as a ``scipy.sparse`` matrix from one compressed call (a handful of
directions, docs/sparsity.md); ``adc sparsity samples/laplacian.py --function
pde_residual --shape u=30,30 f=30,30`` draws its pattern from this text alone.
"""

import numpy as np


def pde_residual(u, f):
    m = u.shape[0]
    h = 1.0 / (m + 1)
    p = np.zeros((m + 2, m + 2))
    p[1:-1, 1:-1] = u
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * u
    return -lap / h**2 + u**3 - f


def pde_residual_padded(u, f):
    m = u.shape[0]
    p = np.pad(u, 1)
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * u
    return -lap * (m + 1) ** 2 + u**3 - f
