"""The operations derivative rules are written with, and the builder that turns them into IR.

Rules in :mod:`ad_compiler.ad.rules` never build strings or IR by hand: they call
``b.mul(x, y)``, ``b.cos(x)``... on an :class:`Ops`.  What the calls produce
depends on ``b``:

* :class:`IRBuilder` appends equations to an IR body (forward and reverse mode);
* :class:`NumericOps` computes Python floats (tests evaluate a rule at a point);
* ``symbolic.SympyOps`` builds SymPy expressions (the rule table is proved
  against ``sympy.diff``).

``None`` is a *symbolic zero*: a tangent or adjoint known to be zero.  The
linear operations absorb it (``add(x, None) = x``, ``mul(x, None) = None``), so a
rule never emits work for an input that is constant or inactive.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from typing import Any, Callable

import numpy

from ad_compiler.errors import Loc
from ad_compiler.ir import shapes
from ad_compiler.ir.nodes import (
    Atom,
    Const,
    Eqn,
    If,
    Namer,
    Var,
    blocks,
    own_reads,
)
from ad_compiler.primitives.registry import Ops as RuleOps
from ad_compiler.primitives.table import PRIMITIVES


class Ops:
    """Arithmetic with symbolic zeros; subclasses define :meth:`apply`, :meth:`lit`
    and :meth:`shape` (the abstract shape of a value, see :mod:`ad_compiler.ir.shapes`).
    """

    loc: Loc | None = None  # where errors point (the IR builder's current location)
    # one method per primitive, applying it (defined below for every row; the
    # ones rules call by name are declared for the type checker)
    sin: Callable[[Any], Any]
    cos: Callable[[Any], Any]
    sinh: Callable[[Any], Any]
    cosh: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    sqrt: Callable[[Any], Any]
    pow: Callable[[Any, Any], Any]
    round: Callable[[Any], Any]

    def apply(self, prim: str, *ins: Any, **params: Any) -> Any:
        raise NotImplementedError

    def lit(self, value: bool | int | float) -> Any:
        raise NotImplementedError

    def position(self, k: int) -> Any:
        """The int ``k`` as an operand: an axis or an index (``lit`` makes
        every number a float, as derivatives are)."""
        raise NotImplementedError

    def shape(self, x: Any) -> Any:
        return shapes.SCALAR

    def rank(self, x: Any) -> int | None:
        s = self.shape(x)
        return None if s is None or s == shapes.TUPLE else len(s)

    def sum_to(self, g: Any, x: Any) -> Any:
        """``g`` summed back to ``x``'s shape: the adjoint of NumPy's broadcasting.

        ``x + b`` with ``x`` of shape (n, m) and ``b`` of shape (m,) stretches
        ``b`` along axis 0, so ``b̄ = Σ_axis0 ḡ``.  Where the shapes say which
        axes were stretched this is one ``np.sum``; where they do not, a helper
        decides at run time.
        """
        if g is None:
            return None
        how = shapes.reduced_axes(self.shape(g), self.shape(x))
        if how is None:
            return self.apply("sum_to", g, x)
        lead, keep = how
        if lead:  # g is an array here: summed with its method, g.sum(axis=0)
            axis = 0 if lead == 1 else tuple(range(lead))
            g = self.apply("sum", g, axis=axis, method=True)
        if keep:
            axis = keep[0] if len(keep) == 1 else keep
            g = self.apply("sum", g, axis=axis, keepdims=True, method=True)
        return g

    def like(self, t: Any, x: Any, copy: bool = False) -> Any:
        """The tangent ``t`` with ``x``'s full shape (a scalar may stand for an array);
        ``copy``: as a writable array of its own (a result returned to the user)."""
        if t is None:
            return None
        st, sx = self.shape(t), self.shape(x)
        if st == sx and sx is not None and shapes.ANY not in sx:
            return t
        if sx == shapes.SCALAR and st == shapes.SCALAR:
            return t
        if copy:
            return self.apply("like", t, x, copy=True)
        return self.apply("like", t, x)

    def zeros(self, x: Any) -> Any:
        """A float array of zeros with ``x``'s shape."""
        shape = self.shape(x)
        if shape == shapes.SCALAR:
            return self.lit(0.0)
        # of a value of unknown shape, which may be a Python number at run
        # time (an unannotated parameter of `adc compile`): np.shape(x)
        size = (
            self.apply("shape", x, function=True)
            if shape is None
            else self.apply("shape", x)
        )
        return self.apply("construct", size, fn="zeros", args=(("", -1),))

    def add(self, x: Any, y: Any) -> Any:
        if x is None:
            return y
        if y is None:
            return x
        return self.apply("add", x, y)

    def sub(self, x: Any, y: Any) -> Any:
        if y is None:
            return x
        if x is None:
            return self.neg(y)
        return self.apply("sub", x, y)

    def mul(self, x: Any, y: Any) -> Any:
        if x is None or y is None:
            return None
        return self.apply("mul", x, y)

    def div(self, x: Any, y: Any) -> Any:
        if x is None:
            return None
        return self.apply("div", x, y)

    def neg(self, x: Any) -> Any:
        if x is None:
            return None
        return self.apply("neg", x)

    def select(self, c: Any, x: Any, y: Any) -> Any:
        """``x if c else y``; a symbolic zero on one side becomes the literal 0.0."""
        if x is None and y is None:
            return None
        zero = self.lit(0.0)
        return self.apply(
            "select", c, zero if x is None else x, zero if y is None else y
        )


def _nonlinear(name):
    def op(self, *ins):
        if any(i is None for i in ins):
            raise ValueError(f"{name} applied to a symbolic zero (a rule bug)")
        return self.apply(name, *ins)

    op.__name__ = name
    return op


for _name in PRIMITIVES:
    if not hasattr(Ops, _name):
        setattr(Ops, _name, _nonlinear(_name))


class NumericOps(Ops):
    """Evaluates rules on Python numbers."""

    def apply(self, prim, *ins, **params):
        row = PRIMITIVES[prim]
        if row.elementwise and row.np_name and any(numpy.ndim(a) for a in ins):
            # arrays (an array row's rule): NumPy's twin, as emitted code calls
            # it (a row's evaluate may be math.exp, which takes numbers)
            return row.evaluator("np")(*ins, **params)
        return row.evaluate(*ins, **params)

    def lit(self, value):
        return value

    def position(self, k: int) -> int:
        return k

    def shape(self, x):
        return shapes.of_value(x)


class IRBuilder(Ops):
    """Appends equations to a body, stamping each with the current location and library."""

    def __init__(self, namer: Namer, shape_of: dict | None = None):
        self.namer = namer
        # abstract shapes by name (see shapes.py); without them every value is a scalar
        self.shapes: dict = {} if shape_of is None else dict(shape_of)
        self.default_shape = shapes.SCALAR if shape_of is None else None
        self.eqns: list[Eqn] = []
        self.loc: Loc | None = None
        self.ns = "py"
        self._fresh: dict[str, int] = {}  # temp name -> index of its defining equation
        # while lowering: how many loops deep (inlined functions' too), and the
        # loop indices known to be >= 0 (frontend/lower_runlists.py)
        self.loop_depth = 0
        self.nonneg: set[str] = set()

    @contextmanager
    def at(self, loc: Loc | None, ns: str = "py"):
        """Equations built inside the block point at ``loc`` and use library ``ns``."""
        saved = self.loc, self.ns
        self.loc, self.ns = loc, ns
        try:
            yield self
        finally:
            self.loc, self.ns = saved

    @contextmanager
    def block(self):
        """Build the statements of a nested block (an ``If`` branch) into a new list."""
        saved = self.eqns, self._fresh
        self.eqns, self._fresh = [], {}
        try:
            yield self.eqns
        finally:
            block = self.eqns
            self.eqns, self._fresh = saved
            self._used(block)  # a value the block reads must keep its name outside

    def _used(self, stmts) -> None:
        """Forget renameability of every name these statements read."""
        for s in stmts:
            for a in own_reads(s):
                if isinstance(a, Var):
                    self._fresh.pop(a.name, None)
            for block in blocks(s):
                self._used(block)

    def lit(self, value: bool | int | float) -> Const:
        # a rule's constants are floats: CPython's float fast paths skip an int
        # operand (``2 * g`` costs twice ``2.0 * g``), and derivatives are floats
        if type(value) is int:
            value = float(value)
        return Const(value)

    def position(self, k: int) -> Const:
        return Const(int(k))

    def shape(self, x):
        if isinstance(x, Var):
            return self.shapes.get(x.name, self.default_shape)
        return shapes.SCALAR

    def apply(self, prim: str, *ins: Any, **params: Any) -> Var:
        atoms = tuple(i if isinstance(i, (Var, Const)) else Const(i) for i in ins)
        for a in atoms:
            if isinstance(a, Var):
                self._fresh.pop(
                    a.name, None
                )  # used: renaming it now would break this use
        out = self.namer.temp()
        self._fresh[out.name] = len(self.eqns)
        p = PRIMITIVES[prim]
        in_shapes = [self.shape(a) for a in atoms]
        ns = self.ns
        arrays = any(s is not None and s != shapes.SCALAR for s in in_shapes)
        spelled = ns == "math" or (ns == "py" and not (p.infix or p.prefix))
        if arrays and p.np_name and spelled:
            ns = "np"  # math.cos, `x if c else y`, max(x, y) do not take arrays
        if ns == "scipy" and not p.scipy_name:
            # a rule of a SciPy function: what SciPy lacks is NumPy's (arrays too)
            ns = "np"
        p.refuse_arrays(in_shapes, self.loc, ns)
        if p.shape is None:
            shape = shapes.broadcast(*in_shapes)
        else:
            shape = p.shape(params, *in_shapes, loc=self.loc)
        self.shapes[out.name] = shape
        eqn = Eqn(prim, (out,), atoms, self.loc, ns, tuple(sorted(params.items())))
        self.eqns.append(eqn)
        return out

    def renameable(self, out: Var) -> None:
        """The next statement emitted (a one-output ``If``) may be renamed by ``bind``."""
        self._fresh[out.name] = len(self.eqns)

    def emit(self, eqn) -> None:
        """Append a statement built elsewhere (a primal one copied into a derivative)."""
        self._used([eqn])
        self.eqns.append(eqn)

    def keep_names(self, atoms) -> None:
        """Never rename these values (they are referenced from more than one place)."""
        for a in atoms:
            if isinstance(a, Var):
                self._fresh.pop(a.name, None)
            elif isinstance(a, tuple):
                self.keep_names(a)
            elif hasattr(a, "items"):
                self.keep_names(a.items)

    def bind(self, atom: Atom | None, name: str, reserved: bool = False) -> Atom | None:
        """Give the value ``atom`` the readable name ``name`` where that costs nothing.

        A temporary this builder just made, and nobody has used yet, is renamed
        (its equation rewritten); anything else (a parameter, a constant, an
        already named value) is returned as it is and serves as an alias.
        ``reserved`` says ``name`` is already set aside for this value (a user's
        local variable), so it is used as it is rather than made unique.
        """
        if not isinstance(atom, Var) or atom.name not in self._fresh:
            return atom
        index = self._fresh.pop(atom.name)
        stmt = self.eqns[index]
        new = Var(name) if reserved else self.namer.fresh(name)
        if isinstance(stmt, If):
            self.eqns[index] = dataclasses.replace(stmt, outs=(new,))
        else:
            self.eqns[index] = Eqn(
                stmt.prim, (new,), stmt.ins, stmt.loc, stmt.ns, stmt.params
            )
        if atom.name in self.shapes:
            self.shapes[new.name] = self.shapes[atom.name]
        if atom.name == f"v{self.namer.counter}":
            self.namer.counter -= 1  # give the number back so temps stay v1, v2, v3...
        self.namer.release(atom.name)
        return new


def _conforms(b: IRBuilder, n: NumericOps) -> tuple[RuleOps, RuleOps]:
    """(never called: mypy checks here that both builders are what a rule row
    may be given, the :class:`~ad_compiler.primitives.registry.Ops` protocol)"""
    return b, n
