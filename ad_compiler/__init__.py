"""ad_compiler: a source-to-source automatic-differentiation compiler for Python.

Reads a function's source, lowers it to an evaluation trace and emits readable,
self-contained Python for its derivatives.  See README.md and docs/.
"""

from ad_compiler.ad.jacobians import gauss_newton, hvp, jacfwd, jacrev
from ad_compiler.api import (
    check,
    checkpoint,
    custom_derivative,
    grad,
    jvp,
    trace,
    value_and_grad,
    vjp,
)
from ad_compiler.errors import (
    AdError,
    CompileError,
    SourceUnavailableError,
    StaleSourceError,
    UsageError,
)
from ad_compiler.numba_jit import jit
from ad_compiler.sparsity.compressed import hessian, jacobian  # (sparse=)
from ad_compiler.sparsity.patterns import sparsity
from ad_compiler.version import __version__

__all__ = [
    "grad",
    "value_and_grad",
    "jvp",
    "vjp",
    "trace",
    "jacfwd",
    "jacrev",
    "jacobian",
    "hessian",
    "hvp",
    "gauss_newton",
    "check",
    "custom_derivative",
    "checkpoint",
    "jit",
    "sparsity",
    "AdError",
    "CompileError",
    "SourceUnavailableError",
    "StaleSourceError",
    "UsageError",
    "__version__",
]
