"""Forward mode: IR -> tangent IR (Jacobian-vector product).

For every equation ``v = p(u1, …, uk)`` the tangent function also computes
``v_dot = Σ_j ∂p/∂u_j · u_j_dot`` (the seeds' v̇ᵢ = Σ_{j∈pa(i)} v̇ⱼ ∂vᵢ/∂vⱼ), right
after it, using the primitive's tangent rule from :mod:`ad_compiler.rules`.

Given ``def f(x1, x2): … return y`` and ``wrt=(0,)`` the result is
``def f_jvp(x1, x2, x1_dot): … return y, y_dot``.

Guarantees: primal and tangent equations are interleaved in program order;
tangents are named ``<value>_dot``; a value that does not depend on a ``wrt``
input has no tangent (a symbolic zero) and costs nothing; a result with a zero
tangent returns the literal ``0.0``.
"""

from __future__ import annotations

from .builder import IRBuilder
from .ir import Const, Function, Namer, Var, shift_tree, verify
from .rules import rule_for


def jvp(fn: Function, wrt: tuple[int, ...]) -> Function:
    """The tangent function of ``fn`` with respect to the parameters at ``wrt``."""
    namer = Namer.for_function(fn)
    b = IRBuilder(namer)
    tangent: dict[str, object] = {}
    dot_params = []
    for i in wrt:
        p = fn.params[i]
        dot = namer.fresh(f"{p.name}_dot")
        tangent[p.name] = dot
        dot_params.append(dot)
    for eqn in fn.body:
        b.emit(eqn)
        dins = [tangent.get(a.name) if isinstance(a, Var) else None for a in eqn.ins]
        if all(d is None for d in dins):
            continue
        rule = rule_for(eqn.prim, eqn.loc)
        with b.at(eqn.loc, eqn.ns):
            dout = rule.jvp(b, eqn.out, *eqn.ins, *dins)
        if dout is not None:
            tangent[eqn.out.name] = b.bind(dout, f"{eqn.out.name}_dot")
    dots = []
    for r in fn.results:
        d = tangent.get(r.name) if isinstance(r, Var) else None
        dots.append(Const(0.0) if d is None else d)
    n = len(fn.results)
    return verify(
        Function(
            name=f"{fn.name}_jvp",
            params=fn.params + tuple(dot_params),
            body=tuple(b.eqns),
            results=fn.results + tuple(dots),
            tree=(fn.tree, shift_tree(fn.tree, n)),
            loc=fn.loc,
            doc=fn.doc,
            user_names=fn.user_names,
        )
    )
