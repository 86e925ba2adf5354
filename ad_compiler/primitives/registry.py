"""The row a primitive is declared by, the registry of rows, and the helpers that declare them.

A :class:`Primitive` holds, in one place, everything the compiler knows about
one operation:

* **how user code reaches it**: ``names``, the qualified Python names that
  lower to it (``"math.sin"``, ``"numpy.sin"``, ``"builtins.abs"``, a method
  ``"ndarray.sum"``), and ``call``, how lowering reads a call by one of them;
* **what it computes**: ``arity``, ``evaluate`` (on Python numbers or arrays,
  with the equation's params as keywords), ``shape`` (the abstract shape rule,
  see :mod:`ad_compiler.ir.shapes`), ``result`` (float-, int- or bool-valued),
  ``memory`` (a fresh array, or one that may share memory with an input);
* **how emitted Python spells it**: ``infix``/``prefix``/``prec`` for
  operators, ``math_name``/``np_name``/``py_name`` by the library the user
  called, ``render`` when a plain call will not do, and ``helper`` when it is a
  call of a helper function written into the emitted module;
* **its derivatives**: ``jvp`` and ``vjp`` with one signature for every row::

      jvp(b, p, out, *ins, *dins) -> dout        (None: zero)
      vjp(b, p, out, g, *ins)     -> (x̄, ...)    (one per input; None: zero)

  where ``b`` is the ops object (:class:`Ops`), ``p`` the equation's params as
  a dict (empty for most rows), ``out`` the primal output;
* **its vector-mode rule** ``batch(bt, e, p, *ins)``: the equation ``e``
  rewritten for inputs that carry a leading axis of directions, through the
  batching context ``bt`` (:class:`Batching`); elementwise rows get one by
  default, a row without one is refused in vector mode with a located error;
* **its SymPy translation** ``sympy(sp, *args)`` (None: ``sp.<name>``).

This module imports nothing of the compiler's: the rows (which need IR atoms
and shapes) import it, and :mod:`ad_compiler.ir.nodes` reads :data:`REGISTRY`
without importing them.  :mod:`ad_compiler.primitives.table` loads every row.

The helpers :func:`unary` (an elementwise function declared by its derivative),
:func:`linear` (a primitive linear in one input: its tangent is itself applied
to the tangent, its adjoint its transpose) and :func:`constant` (piecewise
constant: zero derivative) make the common rows one call each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, NoReturn, Protocol

import numpy

from ad_compiler.errors import CompileError

# Python operator precedence, higher binds tighter; used to parenthesise.
PREC_SELECT, PREC_NOT, PREC_CMP = 1, 2, 3
PREC_ADD, PREC_MUL, PREC_NEG, PREC_POW, PREC_ATOM = 4, 5, 6, 7, 9

Params = Mapping[str, Any]
Value = Any  # an IR atom (IRBuilder), a number (NumericOps), a SymPy expression


class Ops(Protocol):
    """What a rule row may call on ``b``: the one interface behind the IR builder
    (:class:`ad_compiler.ir.builder.IRBuilder`), numeric evaluation
    (``NumericOps``), SymPy (``SympyOps``) and the trace tables' text.

    ``None`` is a symbolic zero: the linear operations absorb it.
    """

    loc: Any

    def apply(self, prim: str, *ins: Value, **params: Any) -> Value: ...
    def lit(self, value: bool | int | float) -> Value: ...
    def position(self, k: int) -> Value: ...  # an int operand: an axis, an index
    def shape(self, x: Value) -> Any: ...
    def rank(self, x: Value) -> int | None: ...
    def sum_to(self, g: Value, x: Value) -> Value: ...
    def like(self, t: Value, x: Value, copy: bool = False) -> Value: ...
    def zeros(self, x: Value) -> Value: ...
    def add(self, x: Value, y: Value) -> Value: ...
    def sub(self, x: Value, y: Value) -> Value: ...
    def mul(self, x: Value, y: Value) -> Value: ...
    def div(self, x: Value, y: Value) -> Value: ...
    def neg(self, x: Value) -> Value: ...
    def select(self, c: Value, x: Value, y: Value) -> Value: ...

    # the nonlinear primitives the rows call by name (any primitive works: the
    # builder defines one method per row)
    def sin(self, x: Value) -> Value: ...
    def cos(self, x: Value) -> Value: ...
    def sinh(self, x: Value) -> Value: ...
    def cosh(self, x: Value) -> Value: ...
    def exp(self, x: Value) -> Value: ...
    def log(self, x: Value) -> Value: ...
    def sqrt(self, x: Value) -> Value: ...
    def pow(self, x: Value, y: Value) -> Value: ...
    def round(self, x: Value) -> Value: ...


Rule = Callable[..., Any]
# an ir.nodes.Eqn (ir.nodes reads this module, so it is not imported here)
Equation = Any


class Batching(Protocol):
    """What a vector-mode rule may call on ``bt``: the rewrite in progress
    (:class:`ad_compiler.ad.batching._Batcher`).

    A value "has directions" when it carries the leading axis of ``k``
    directions; its rank is its number of axes without that axis.  A rule
    appends the equations that replace ``e`` to ``out`` (or makes them with
    :meth:`new`), and must bind ``e``'s outputs, or record in ``alias`` that an
    output is another value.
    """

    out: list  # the statements written so far
    loc: Any  # the location of the equation being rewritten
    k: Any  # the IR variable holding the number of directions
    env: Mapping[str, Any]  # abstract shapes (without directions) by name
    alias: dict[str, Any]  # outputs found to be another value

    def has(self, a: Value) -> bool:
        """Whether ``a`` carries the direction axis."""
        ...

    def rank(self, a: Value) -> int:
        """``a``'s number of axes without the direction axis (an error if unknown)."""
        ...

    def new(
        self, prim: str, *ins: Any, out: Any = None, ns: str = "np", **params: Any
    ) -> Any:
        """Append ``prim(*ins)`` (numbers become constants); its output variable."""
        ...

    def expand(self, a: Value, by: int) -> Value:
        """``a`` (with directions) with ``by`` length-1 axes after the direction axis."""
        ...

    def materialize(self, a: Value, rank: int) -> Value:
        """``a`` (without directions) broadcast to carry them, as ``rank`` axes."""
        ...

    def template(self, a: Value) -> Value:
        """A value of ``a``'s shape without directions (its first direction)."""
        ...

    def rename(self, v: Any, out: Any) -> None:
        """Make the last equation, which defined ``v``, define ``out`` instead."""
        ...

    def error(self, what: str) -> NoReturn:
        """Raise the located error "``what`` is not supported in vector mode"."""
        ...

    def apply(self, prim: str, *ins: Any, **params: Any) -> Any:
        """``prim(*ins)`` through its own vector-mode rule (inputs with or
        without directions); its output variable."""
        ...


BatchRule = Callable[..., None]  # (bt: Batching, e, p, *ins) -> None


@dataclass(frozen=True)
class Primitive:
    """One operation: its row in the registry (see the module docstring).

    ``infix`` is the Python operator for binary operators (``+``), ``prefix`` for
    unary ones (``-``).  Calls are spelled by the library the user called, the
    equation's ``ns``: ``py`` (operators and builtins: ``py_name``), ``math``
    (``math_name``), ``np`` (``np_name``) or ``scipy`` (``scipy_name``); a name
    may be a ``{0}``-template.
    ``x ** y``, ``math.pow(x, y)`` and ``np.power(x, y)`` are one primitive spelled
    three ways, because their domain errors differ and the user's choice is kept.
    """

    name: str
    arity: int  # -1: any number of inputs
    evaluate: Callable | None
    # --- how user code reaches it ---
    # qualified names: "math.sin", "numpy.sin", "builtins.abs", "ndarray.sum" (a method)
    names: tuple[str, ...] = ()
    # how lowering reads a call by one of ``names``: "plain" (``arity`` positional
    # arguments), "reduction" or "static" (one array, then the ``static`` params;
    # a reduction is also a method, x.sum(0)), "list" (a literal list of arrays,
    # then the ``static`` params), or "own" (code of its own: einsum's spec ...)
    call: str = "plain"
    # the params lowering reads from literal arguments (``axis=1``), by keyword
    # or, the first, by position after the array(s): ``np.sum(x, 0)``
    static: tuple[str, ...] = ()
    # --- spelling ---
    infix: str | None = None
    prefix: str | None = None
    prec: int = PREC_ATOM
    math_name: str | None = None
    np_name: str | None = None
    py_name: str | None = None
    # the spelling when the user called SciPy (``scipy.special.gammaln``): the
    # emitted module then imports that SciPy module, as the user's did
    scipy_name: str | None = None
    commutative: bool = False
    effect: bool = False  # the tape operations: never merged, folded or differentiated
    # Array primitives: ``shape(params, *in_shapes, loc=)`` gives the abstract
    # output shape (see :mod:`ad_compiler.ir.shapes`); None means elementwise, the
    # broadcast of the inputs' shapes.  ``render(params, texts, atoms)`` spells the
    # call when a plain ``name(args)`` will not do (keywords, methods, indexing).
    shape: Callable | None = None
    render: Callable | None = None
    differentiable: bool = True  # False: zero derivative, never active (np.zeros)
    # repeats(params): the inputs the spelling writes twice; the emitted code
    # names them rather than writing (and computing) an expression twice
    repeats: Callable | None = None
    # the module a ``render`` spelling calls (for the emitted imports)
    render_module: str = "np"
    # spelled as a conditional expression: always its own statement, never
    # folded into a larger expression (which it would make hard to read)
    statement: bool = False
    # how the trace tables show it, when that is not its spelling (a template)
    shown: str | None = None
    # the helper function the spelling calls (a name, or params -> name or None),
    # whose text is in HELPERS and is written into the emitted module
    helper: str | Callable | None = None
    # --- values ---
    # "float": always a float; "int": an int (or bool) for any inputs; "bool": a
    # bool; "closed": an int when its inputs are ints; "any": not known
    result: str = "any"
    # "new": always a fresh array nobody else holds; "fresh": a fresh array
    # whenever the result is an array (NumPy's arithmetic operators); "copy":
    # keeps no reference to its inputs (a reduction, a product, a number);
    # "view": may hold on to an input or share memory with it; "elementwise":
    # computed per element (Python's max(a, b) returns a itself)
    memory: str = "elementwise"
    # vector mode: the inputs that contribute only their shape, and the input
    # whose shape the result has (None: computed by the shape rule)
    shape_only: tuple[int, ...] = ()
    shaped_like: int | None = None
    # batch(bt, e, p, *ins): the equation rewritten for inputs with a leading
    # axis of directions (elementwise rows: batch_elementwise unless given)
    batch: BatchRule | None = None
    # --- derivatives and SymPy ---
    jvp: Rule | None = None
    vjp: Rule | None = None
    sympy: Callable | None = None  # (sp, *args) -> expression; None: sp.<name>
    logical: bool = False  # SymPy reads its inputs as truth values, not numbers
    # inputs whose derivative has no closed form (a distribution's shape
    # parameter inside an incomplete gamma or beta function), as (index, name):
    # the rules give None for them, and differentiating with one of them
    # active is a located error (ad_compiler.ad.rules); constant: fine
    underivable: tuple[tuple[int, str], ...] = ()
    # where the registry test samples it: (low, high) per input; signed: also
    # at the negated point; None: (-2, 2) for every input
    domain: tuple | None = None
    signed: bool = False
    # the params it is sampled with (polygamma's order n)
    sample_params: tuple = ({},)
    # array rows: the samples the registry test differentiates, each
    # ``(inputs, params)`` with an input a shape (a random float array of that
    # shape, differentiated) or a static value (a length, an index)
    samples: tuple = ()
    # --- documentation ---
    # what the derivative is where the function is not differentiable (ties of
    # max, |x| at 0, a pole ...), for the generated table of supported functions
    convention: str = ""

    def __post_init__(self) -> None:
        # an elementwise row needs no vector-mode rule of its own: NumPy's
        # broadcasting does the work once the operands' axes are aligned
        if self.batch is None and self.elementwise:
            object.__setattr__(self, "batch", batch_elementwise)

    @property
    def elementwise(self) -> bool:
        return self.shape is None and not self.effect and self.name != "call"

    @property
    def scalar_only(self) -> bool:
        """A ``math`` function NumPy has no twin of (``math.erf``): it takes numbers."""
        return self.elementwise and bool(self.math_name) and not self.np_name

    def refuse_arrays(self, in_shapes, loc, ns: str = "math") -> None:
        """A located error if this ``scalar_only`` row is applied to an array
        (``in_shapes``: the inputs' abstract shapes; unknown ones pass) by its
        ``math`` spelling (SciPy's twin, when the user called it, takes arrays)."""
        if ns == "scipy" and self.scipy_name:
            return
        if self.scalar_only and any(s not in (None, ()) for s in in_shapes):
            raise CompileError(
                f"`{self.math_name}` takes numbers, not arrays "
                "(NumPy has no twin of it)",
                loc,
                hint=(
                    f"call `{self.scipy_name}`, which takes arrays"
                    if self.scipy_name
                    else "apply it to each element in a loop over the array"
                ),
            )

    def call_name(self, ns: str) -> str | None:
        """The function to call for library ``ns``; None means use the operator."""
        if ns == "np" and self.np_name:
            return self.np_name
        if ns == "math" and self.math_name:
            return self.math_name
        if ns == "scipy" and self.scipy_name:
            return self.scipy_name
        if self.infix or self.prefix:
            return None
        return self.py_name or self.math_name or self.np_name or self.scipy_name

    def evaluator(self, ns: str) -> Callable:
        """The Python function computing this primitive as library ``ns`` does it.

        Constant folding must give bit-for-bit what the user's code gives, and
        ``np.tanh`` and ``math.tanh`` can differ in the last place.
        """
        name = self.call_name(ns)
        if name and "{" not in name:
            module, _, attr = name.rpartition(".")
            lib = {"np": numpy, "math": math}.get(module)
            if lib is not None:
                return getattr(lib, attr)
            if module.startswith("scipy."):
                return scipy_attribute(name)
        assert self.evaluate is not None  # (call and push are never folded)
        return self.evaluate

    def show(self, ins, ns: str = "py", params=()) -> str:
        """How the trace prints an application: ``x1 * x2``, ``log(x1)``."""
        args = [str(a) for a in ins]
        if self.shown is not None:
            return self.shown.format(*args)
        if self.render is not None:
            return self.render(dict(params), args, args)[0]
        if self.call_name(ns) is not None and (self.infix or self.prefix):
            return f"{self.call_name(ns)}({', '.join(args)})"
        if self.infix:
            return f"{args[0]} {self.infix} {args[1]}"
        if self.prefix:
            return f"{self.prefix}{args[0]}"
        name = self.call_name(ns) or self.name
        if "{" in name or ns == "py":
            name = self.name
        elif ns == "math":
            # the seeds write log(x1), not math.log(x1)
            name = name.removeprefix("math.")
        return f"{name}({', '.join(args)})"


# Every row, by name.  Filled by the row modules (loaded by primitives.table).
REGISTRY: dict[str, Primitive] = {}
# The helper functions emitted code calls, by name: their text, written into
# each module that uses them (the emitted code imports only math and numpy).
HELPERS: dict[str, str] = {}


def register(*rows: Primitive) -> None:
    """Add rows to the registry; a name registered twice is an error."""
    for row in rows:
        if row.name in REGISTRY:
            raise KeyError(f"primitive {row.name!r} registered twice")
        if not row.effect and row.name != "call":
            if row.jvp is None or row.vjp is None:  # (zero_jvp for no derivative)
                raise KeyError(f"primitive {row.name!r} needs both jvp and vjp")
        REGISTRY[row.name] = row


def scipy_module(name: str):
    """The SciPy module ``name`` (``"scipy.special"``), imported now: SciPy is
    optional, and only code that calls it needs it (a clear error otherwise)."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise CompileError(
            f"`{name}` is needed to compile this code (it calls SciPy), and SciPy "
            "is not installed",
            None,
            hint="install it: pip install 'ad_compiler[scipy]' (or pip install scipy)",
        ) from None


def helper_function(name: str, namespace: dict | None = None) -> Callable:
    """The helper ``name`` as a Python function: the evaluator is the emitted
    text itself (one text, two uses)."""
    scope = {"np": numpy, "math": math, **(namespace or {})}
    exec(HELPERS[name], scope)
    return scope[name]


# --- vector mode -------------------------------------------------------------------------


def batch_elementwise(bt: Batching, e: Equation, p: Params, *ins: Value) -> None:
    """Vector mode of an elementwise row: NumPy aligns axes from the right, so an
    operand with directions and fewer axes than the result gets length-1 axes
    after its direction axis (``x_dot`` of shape ``(k,)`` against ``y`` of
    shape ``(n,)`` would otherwise pair directions with elements: with k = n,
    silently).  ``math.sin``, ``max(a, b)`` ... do not take arrays; the call
    becomes their NumPy twin, and is refused where there is none."""
    row = REGISTRY[e.prim]
    r = max(bt.rank(a) for a in ins)
    aligned = tuple(bt.expand(a, r - bt.rank(a)) if bt.has(a) else a for a in ins)
    ns = e.ns
    # (operators and `a if c else b` on a condition without directions take arrays)
    by_name = ns not in ("np", "scipy") and row.call_name(ns) is not None
    if by_name and not (e.prim == "select" and not bt.has(ins[0])):
        if not row.np_name:
            bt.error(f"`{e.prim}` of a value with directions")
        ns = "np"
    bt.out.append(replace(e, ins=aligned, ns=ns))


def batch_numbers_only(*tested: int, branches: tuple[int, ...] = ()) -> BatchRule:
    """The vector-mode rule of an elementwise row whose spelling takes numbers
    only in the inputs ``tested`` (all of them when none is given): a truth
    test ``... if d else ...``, a helper written for floats.  Directions there
    are refused with a located error (an array's truth value would raise when
    the emitted code runs); elsewhere the elementwise rule applies.

    ``branches``: the inputs that are the result on different paths (``a / d``,
    or ``at_zero`` where ``d`` is 0).  When some carry directions the others
    are given them too (broadcast), or the path taken could drop the axis.
    """

    def rule(bt: Batching, e: Equation, p: Params, *ins: Value) -> None:
        if any(bt.has(ins[i]) for i in tested or range(len(ins))):
            bt.error(f"`{e.prim}` of a value with directions")
        if not any(
            bt.has(ins[i]) and not bt.has(ins[j]) for i in branches for j in branches
        ):
            batch_elementwise(bt, e, p, *ins)
            return
        r = max(bt.rank(ins[i]) for i in branches)
        filled = tuple(
            bt.materialize(a, r) if i in branches and not bt.has(a) else a
            for i, a in enumerate(ins)
        )
        # (the tested inputs are numbers: no axes to align with the branches')
        bt.out.append(replace(e, ins=filled))

    return rule


# --- helpers declaring rows ------------------------------------------------------------


def unary(
    name: str,
    evaluate: Callable,
    *,
    slope: Callable | None = None,
    divisor: Callable | None = None,
    divide: Callable | None = None,
    negated: bool = False,
    **fields: Any,
) -> Primitive:
    """An elementwise function of one input, declared by its derivative.

    Give ``slope(b, out, x)``, the derivative ∂out/∂x (``b.cos(x)`` for sin):
    the tangent is ``slope · ẋ`` and the adjoint ``slope · g``.  Or give
    ``divisor(b, out, x)`` when the derivative is ``1 / divisor`` (``x`` for log):
    the tangent is ``ẋ / divisor``, divided by ``divide(b, t, d)`` (default
    ``b.div``; the rows at the edge of a domain divide without raising).
    ``negated``: the derivative is minus that (``-sin(x)`` for cos).
    """

    def scaled(b: Ops, t: Value, x: Value, out: Value) -> Value:
        if slope is not None:
            d = b.mul(slope(b, out, x), t)
        else:
            assert divisor is not None
            d = (divide or _plain_div)(b, t, divisor(b, out, x))
        return b.neg(d) if negated else d

    def jvp(b: Ops, p: Params, out: Value, x: Value, dx: Value) -> Value:
        return scaled(b, dx, x, out)

    def vjp(b: Ops, p: Params, out: Value, g: Value, x: Value) -> tuple:
        return (scaled(b, g, x, out),)

    return Primitive(name, 1, evaluate, jvp=jvp, vjp=vjp, **fields)


def _plain_div(b: Ops, t: Value, d: Value) -> Value:
    return b.div(t, d)


def linear(
    name: str,
    arity: int,
    evaluate: Callable,
    *,
    transpose: Callable,
    at: int = 0,
    **fields: Any,
) -> Primitive:
    """A primitive linear in its input ``at`` (the others are static: dims, an
    index, a length), declared by its transpose ``transpose(b, p, out, g, *ins)``.

    Its tangent is the primitive itself applied to the tangent of input
    ``at``, the other inputs and params kept; its adjoint is the transpose.
    """
    rules = linear_rules(name, transpose, at)
    return Primitive(name, arity, evaluate, **rules, **fields)


def linear_rules(name: str, transpose: Callable, at: int = 0) -> dict:
    """The ``jvp`` and ``vjp`` of a primitive linear in input ``at`` (see
    :func:`linear`), for rows built by another helper."""

    def jvp(b: Ops, p: Params, out: Value, *args: Value) -> Value:
        ins, dins = halves(args)
        if dins[at] is None:
            return None
        moved = list(ins)
        moved[at] = dins[at]
        return b.apply(name, *moved, **p)

    return {"jvp": jvp, "vjp": transpose}


def zero_jvp(b: Ops, p: Params, out: Value, *ins_and_tangents: Value) -> None:
    return None


def zero_vjp(b: Ops, p: Params, out: Value, g: Value, *ins: Value) -> tuple:
    return (None,) * len(ins)


def constant(name: str, arity: int, evaluate: Callable, **fields: Any) -> Primitive:
    """A piecewise-constant primitive (a comparison, floor): its derivative is
    zero wherever it exists."""
    return Primitive(name, arity, evaluate, jvp=zero_jvp, vjp=zero_vjp, **fields)


def halves(args: tuple) -> tuple[tuple, tuple]:
    """A tangent rule's ``(*ins, *dins)`` split into the inputs and their tangents
    (for primitives with any number of inputs)."""
    half = len(args) // 2
    return args[:half], args[half:]


def by_slopes(slopes: Callable) -> dict:
    """The ``jvp`` and ``vjp`` of an elementwise function of two inputs given by
    its partial derivatives ``slopes(b, out, x, y) -> (∂out/∂x, ∂out/∂y)``:
    the tangent ``∂x·ẋ + ∂y·ẏ``, the adjoints ``∂x·g`` and ``∂y·g``."""

    def jvp(b: Ops, p: Params, out: Value, x, y, dx, dy) -> Value:
        sx, sy = slopes(b, out, x, y)
        return b.add(b.mul(sx, dx), b.mul(sy, dy))

    def vjp(b: Ops, p: Params, out: Value, g: Value, x, y) -> tuple:
        sx, sy = slopes(b, out, x, y)
        return (b.mul(sx, g), b.mul(sy, g))

    return {"jvp": jvp, "vjp": vjp}


def scipy_attribute(name: str):
    """The SciPy object ``name`` names: a function of a module
    (``scipy.special.gammaln``) or of a namespace object in one
    (``scipy.stats.norm.logpdf``), its module imported now."""
    parts = name.split(".")
    obj = scipy_module(".".join(parts[:2]))
    for part in parts[2:]:
        obj = getattr(obj, part)
    return obj
