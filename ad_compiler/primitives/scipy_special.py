"""Functions of ``scipy.special``, reached when the user's code calls SciPy.

SciPy is optional: these rows are spelled ``scipy.special.<name>`` in emitted
code, which then imports ``scipy.special`` as the user's code did, and they
are evaluated (constant folding, the registry test) by importing SciPy when
first needed (:func:`~ad_compiler.primitives.registry.scipy_module`: a clear
error if it is not installed).
"""

from __future__ import annotations

from ad_compiler.primitives.registry import Ops, Value, register, scipy_module, unary


def _special(name: str):
    """``scipy.special.<name>``, imported when first called."""

    def evaluate(*args):
        return getattr(scipy_module("scipy.special"), name)(*args)

    evaluate.__name__ = name
    return evaluate


def _logistic_slope(b: Ops, out: Value, x: Value) -> Value:
    return b.mul(out, b.sub(b.lit(1), out))  # σ'(x) = σ(x)(1 − σ(x))


register(
    # expit(x) = σ(x) = 1 / (1 + e^(−x)), the logistic function
    unary(
        "expit",
        _special("expit"),
        names=("scipy.special.expit",),
        scipy_name="scipy.special.expit",
        result="float",
        slope=_logistic_slope,
        sympy=lambda sp, x: 1 / (1 + sp.exp(-x)),
        domain=((-4, 4),),
        convention="smooth everywhere",
    ),
)
