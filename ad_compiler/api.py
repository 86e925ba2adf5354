"""The public API: JAX's names and conventions.

* ``grad(f, argnums=0)`` — ∂f/∂args[argnums] (a tuple when ``argnums`` is a tuple);
  also ``@grad`` and ``@grad(argnums=(0, 1))``;
* ``value_and_grad(f, argnums=0)`` — ``(f(*args), grad(f)(*args))``;
* ``jvp(f, primals, tangents)`` — ``(y, ẏ)``;
* ``vjp(f, *primals)`` — ``(y, pullback)`` with ``pullback(ȳ)`` the tuple of input adjoints;
* ``trace(f)`` — the IR of ``f``;
* ``check(f)`` — the emitted derivatives proved equal to SymPy's;
* ``custom_derivative(partials)`` — give a function its derivative.

The functions returned are the derivative objects of :mod:`ad_compiler.callables`
(the emitted code itself, loaded, with ``.source`` and ``.ir``: ``grad`` and
``value_and_grad`` of scalar code hand out the emitted function itself, whose
``.source`` is formatted now, since a function's attribute cannot be computed
when read; every other ``.source`` is formatted when first read); the pipeline
that makes them is :mod:`ad_compiler.driver`.  The Jacobians and Hessians
(``jacfwd``, ``hessian`` ...) are in :mod:`ad_compiler.ad.jacobians`.
"""

from __future__ import annotations

import functools

from ad_compiler.backend.loader import expose
from ad_compiler.callables import (
    ArrayDerivative,
    Pullback,
    any_array,
    compile_derivative,
    signature_ir,
    trace,
)
from ad_compiler.errors import UsageError
from ad_compiler.specialized import needs_trees, tree_jvp, tree_vjp
from ad_compiler.trees import is_plain

__all__ = [
    "grad",
    "value_and_grad",
    "jvp",
    "vjp",
    "trace",
    "check",
    "custom_derivative",
    "checkpoint",
]


def custom_derivative(partials):
    """Give a function the derivative ad_compiler cannot work out itself.

    ``partials`` is a plain function with the same parameters that returns the
    partial derivatives ``(∂f/∂x1, ∂f/∂x2, ...)`` (one number for one
    parameter), written in the subset ad_compiler reads.  Derivatives through
    ``f`` call ``f`` as it is and use ``partials`` for the chain rule; the
    emitted module carries a copy of ``f``'s ``def`` and the imports it uses::

        def erf_partials(x):
            return 2 / math.sqrt(math.pi) * math.exp(-x * x)

        @custom_derivative(erf_partials)
        def erf(x):
            return math.erf(x)

    The CLI recognises the decorator by name, without running the file.
    """

    def mark(f):
        f.__adc_partials__ = partials
        return f

    return mark


def _checkpoint(checkpoint, snapshots) -> tuple:
    """The checkpointing option of the IR: ``("revolve", k)`` or ``()``."""
    if checkpoint is None:
        if snapshots is not None:
            raise UsageError('snapshots= goes with checkpoint="revolve"')
        return ()
    if checkpoint != "revolve":
        raise UsageError(f'checkpoint must be "revolve" or None, got {checkpoint!r}')
    if snapshots is None:
        snapshots = 10
    if not isinstance(snapshots, int) or isinstance(snapshots, bool) or snapshots < 1:
        raise UsageError(f"snapshots must be an int >= 1, got {snapshots!r}")
    return ("revolve", snapshots)


def checkpoint(f):
    """Mark a helper function for rematerialisation (JAX's ``remat``).

    A function differentiated in reverse mode that calls ``@checkpoint`` helpers
    keeps only each call's arguments in its forward sweep and runs the call
    again, taped, when the reverse sweep needs its adjoint (the emitted
    ``helper_adjoint``): memory of the arguments instead of the helper's
    intermediate values, for one more run of the helper.  At run time the
    decorator returns ``f`` itself, marked; the CLI reads it from the source.
    """
    f.__adc_checkpoint__ = True
    return f


def grad(f=None, argnums=0, checkpoint=None, snapshots=None):
    """∂f/∂args[argnums] as emitted Python; usable as ``@grad`` or ``@grad(argnums=...)``.

    An argument may be a parameter tree (a tuple, list or dict of numbers,
    arrays and trees): its gradient has the same structure.  A string,
    ``None`` or ``bool`` argument or default is static: the derivative is
    compiled for its value (see docs/subset.md, "Parameter trees" and "Static
    arguments").

    ``checkpoint="revolve", snapshots=k`` (k = 10 by default): the reverse
    sweep of each outermost ``for ... in range(...)`` loop keeps at most ``k``
    snapshots of the loop's state and runs the loop forward again between them
    (binomial checkpointing, docs/checkpointing.md): memory O(k) instead of
    O(iterations).
    """
    ck = _checkpoint(checkpoint, snapshots)
    if f is None:
        return functools.partial(
            grad, argnums=argnums, checkpoint=checkpoint, snapshots=snapshots
        )
    return expose(compile_derivative(f, "grad", argnums, checkpoint=ck))


def value_and_grad(f=None, argnums=0, checkpoint=None, snapshots=None):
    """A function returning ``(f(*args), grad(f, argnums)(*args))`` in one pass
    (``checkpoint``, ``snapshots``: as for :func:`grad`)."""
    ck = _checkpoint(checkpoint, snapshots)
    if f is None:
        return functools.partial(
            value_and_grad, argnums=argnums, checkpoint=checkpoint, snapshots=snapshots
        )
    return expose(compile_derivative(f, "value_and_grad", argnums, checkpoint=ck))


def _all_argnums(f, primals) -> tuple[tuple[int, ...], tuple]:
    """The argnums of ``primals`` (every parameter, or as JAX a prefix of them
    when the rest have defaults) and the primals completed with those defaults."""
    ir = signature_ir(f)
    n, defaults = len(ir.params), tuple(c.value for c in ir.defaults)
    if not n - len(defaults) <= len(primals) <= n:
        takes = f"{n}" if not defaults else f"{n - len(defaults)} to {n}"
        raise UsageError(
            f"`{f.__name__}` takes {takes} arguments, got {len(primals)} primals"
        )
    missing = n - len(primals)
    filled = tuple(primals) + (defaults[len(defaults) - missing :] if missing else ())
    return tuple(range(len(primals))), filled


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J·tangents)``; outputs shaped like ``f``'s.

    A primal may be a parameter tree; its tangent then has the same structure.
    The tangent of a static primal (a string, ``None``, a ``bool``) is ignored.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if not is_plain(primals) or needs_trees(f):  # parameter trees, static arguments
        return tree_jvp(f, primals, tangents)
    argnums, filled = _all_argnums(f, primals)
    if len(tangents) != len(primals):
        raise UsageError(f"got {len(primals)} primals but {len(tangents)} tangents")
    compiled = compile_derivative(f, "jvp", argnums, any_array(primals))
    return compiled(*filled, *tangents)  # the defaults' tangents are 0


def vjp(f, *primals, checkpoint=None, snapshots=None):
    """Reverse mode: ``(f(*primals), pullback)`` with ``pullback(ȳ) = ȳᵀ·J`` per input.

    For parameter trees among the primals, ``pullback`` returns each input's
    cotangent in that input's structure (``None`` for a static primal).
    ``checkpoint``, ``snapshots``: as for :func:`grad`.
    """
    ck = _checkpoint(checkpoint, snapshots)
    if not is_plain(primals) or needs_trees(f):  # parameter trees, static arguments
        if ck:
            raise UsageError("checkpoint= is not supported with parameter trees")
        return tree_vjp(f, primals)
    argnums, filled = _all_argnums(f, primals)
    compiled = compile_derivative(f, "vjp", argnums, any_array(primals), checkpoint=ck)
    if isinstance(compiled, ArrayDerivative) and compiled.live:
        compiled._last = compiled.code_for(*filled)  # it passes the scope arrays
    elif isinstance(compiled, ArrayDerivative):
        compiled = compiled.code_for(*filled)
    return f(*primals), Pullback(compiled, filled)


def check(f, points=None, seconds: float | None = 60.0):
    """Prove the emitted derivatives of ``f`` equal to SymPy's; a
    :class:`~ad_compiler.symbolic.check.CheckReport` (``.ok``, ``.text()``).

    ``points`` — ``{name: value}`` dicts or tuples of arguments — are where to
    check along the path taken when ``f`` has no closed form (a loop until a
    tolerance), and where to compare numerically when needed.
    """
    from ad_compiler.symbolic.check import check_function  # SymPy: only when asked

    fn = trace(f)
    names = [p.name for p in fn.params]
    given = [p if isinstance(p, dict) else dict(zip(names, p)) for p in points or ()]
    return check_function(fn, given or None, seconds)
