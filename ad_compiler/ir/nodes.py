"""The intermediate representation: an evaluation trace, as in the seeds.

A :class:`Function` is plain, immutable data: parameters, a body of equations
and the results.  Each :class:`Eqn` applies one primitive to atoms (variables
or constants) and binds its output variables::

    def f(x1, x2):
        v1 = log(x1)            # f.py:3
        v2 = x1 * x2            # f.py:3
        ...
        return v5

Guarantees (checked by :func:`verify`):

* single assignment: every variable is bound once (a parameter or one equation's
  output) before any use, so a transform can treat names as values;
* every equation names a known primitive with the right number of inputs and
  carries the :class:`~ad_compiler.errors.Loc` of the user's source it came from;
* ``str(function)`` is stable: the same IR always prints the same text.

Derivatives are ordinary ``Function`` values, so they can be optimised,
printed, checked and differentiated again without re-parsing text.

Naming is owned by one :class:`Namer`: user names are kept, temporaries are
``v1 … vN`` (never colliding with a user name), tangents ``<name>_dot`` and
adjoints ``<name>_bar``.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field, replace
from typing import Any, Union

from ad_compiler.errors import Loc, VerificationError
from ad_compiler.primitives.lists import MUTATORS as LIST_MUTATORS

# the rows are registered by ad_compiler.primitives.table (which imports this
# module): nodes read the registry, they never load it
from ad_compiler.primitives.registry import REGISTRY as PRIMITIVES


@dataclass(frozen=True, slots=True)
class Var:
    """A named value."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Const:
    """A literal number."""

    value: bool | int | float

    def __post_init__(self):
        # bools are the flags lowering makes for `break` and `return` in loops
        v = self.value
        if not isinstance(v, (bool, int, float)):
            raise TypeError(f"Const holds a bool, int or float, not {v!r}")
        # Only the exact built-in types: a constant is printed into emitted code
        # with repr, and a subclass (np.float64, a user's float) may print as
        # anything at all.  float.__float__/int.__int__ give the plain value.
        if type(v) not in (bool, int, float):
            plain = float.__float__(v) if isinstance(v, float) else int.__int__(v)
            object.__setattr__(self, "value", plain)

    def __str__(self) -> str:
        return repr(self.value)


Atom = Union[Var, Const]


@dataclass(frozen=True, slots=True)
class Eqn:
    """``outs = prim(*ins)``: one primitive applied to atoms.

    ``params`` holds static, hashable settings of the primitive as sorted
    ``(key, value)`` pairs; ``ns`` says which library the user called (``py`` for
    operators and builtins, ``math`` or ``np``) so emitted code keeps the user's
    semantics (``math.fabs`` returns a float, ``abs`` keeps an int).
    """

    prim: str
    outs: tuple[Var, ...]
    ins: tuple[Atom, ...]
    loc: Loc | None = None
    ns: str = "py"
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        prim = PRIMITIVES.get(self.prim)
        if prim is None:
            raise ValueError(f"unknown primitive {self.prim!r}")
        if prim.arity >= 0 and len(self.ins) != prim.arity:
            raise ValueError(
                f"{self.prim} takes {prim.arity} inputs, got {len(self.ins)}"
            )

    @property
    def out(self) -> Var:
        return self.outs[0]

    def param(self, key: str, default=None):
        return dict(self.params).get(key, default)

    def with_ins(self, ins: tuple) -> "Eqn":
        """The same equation on other inputs (cheaper than dataclasses.replace)."""
        return Eqn(self.prim, self.outs, ins, self.loc, self.ns, self.params)

    def __str__(self) -> str:
        if self.prim == "call":
            rhs = f"{self.param('fn')}({', '.join(str(a) for a in self.ins)})"
        else:
            rhs = PRIMITIVES[self.prim].show(self.ins, self.ns, self.params)
        if not self.outs:  # push(tape, ...)
            return rhs
        return f"{', '.join(o.name for o in self.outs)} = {rhs}"


@dataclass(frozen=True, slots=True)
class If:
    """``if cond: then else: orelse``, merging values into ``outs`` (SSA phi nodes).

    Each branch ends by giving every ``outs[i]`` a value: ``then_vals[i]`` or
    ``else_vals[i]``.  Names bound inside a branch are visible after it only
    through ``outs`` — or inside a later ``If`` on the *same* condition variable,
    in the branch of the same polarity: reverse mode replays a branch that way
    and reuses the values its forward branch computed.
    """

    cond: Atom
    then: tuple
    orelse: tuple
    outs: tuple[Var, ...] = ()
    then_vals: tuple = ()
    else_vals: tuple = ()
    loc: Loc | None = None

    def __post_init__(self):
        if not (len(self.outs) == len(self.then_vals) == len(self.else_vals)):
            raise ValueError("an If needs one then- and one else-value per output")


@dataclass(frozen=True, slots=True)
class For:
    """A counted loop, ``for index in range(*args)`` or ``for index in reversed(tape)``.

    The loop binds its ``carried`` variables (SSA loop parameters): inside the
    body each holds its value at the start of the iteration, starting from
    ``inits``; the body ends by giving the next iteration ``nexts``; after the
    loop each holds its final value (``inits`` if the body never ran).  Every
    other name the body binds is local to one iteration.  If ``brk`` is given the
    loop stops after any iteration in which it is true (``break``), with the
    carried values of that iteration's ``nexts``.

    ``over`` is ``"range"`` (``args`` = start, stop, step; one index),
    ``"reversed_range"`` (the same range, last index first), or ``"tape"``
    (``args`` = one tape, or a tape and where the rows to walk start and stop;
    the index unpacks what each ``push`` stored, last pushed first): reverse
    mode walks a loop's iterations backwards that way.

    ``items``: the loop runs over the items of a tuple written in the source
    (``for W in (W1, W2)``), picked by the index; array code unrolls it
    (:mod:`ad_compiler.opt.tuple_loops`).
    """

    over: str
    index: tuple[Var, ...]
    args: tuple
    carried: tuple[Var, ...]
    inits: tuple
    body: tuple
    nexts: tuple
    brk: Any = None
    loc: Loc | None = None
    items: bool = False

    def __post_init__(self):
        _check_carried(self)

    test = ()  # a For has no test block (see While)
    cond = None


@dataclass(frozen=True, slots=True)
class While:
    """``while cond: body``: ``test`` computes ``cond`` before every iteration.

    ``carried``, ``inits``, ``nexts`` and ``brk`` are as for :class:`For`; the
    values ``test`` binds are visible only to ``cond``.
    """

    carried: tuple[Var, ...]
    inits: tuple
    test: tuple
    cond: Any
    body: tuple
    nexts: tuple
    brk: Any = None
    loc: Loc | None = None

    def __post_init__(self):
        _check_carried(self)

    over = "while"
    index = ()
    args = ()


Loop = (For, While)


def _check_carried(s) -> None:
    if len(s.carried) != len(s.inits) or len(s.carried) != len(s.nexts):
        raise ValueError("a loop needs one init and one next per carried value")


Stmt = Union[Eqn, If, For, While]


def own_reads(s) -> tuple:
    """The atoms a statement reads itself, not counting the blocks inside it."""
    if isinstance(s, Eqn):
        return s.ins
    if isinstance(s, If):
        return (s.cond,) + s.then_vals + s.else_vals
    cond = (s.cond,) if s.cond is not None else ()
    return loop_reads(s) + cond + body_reads(s)


def blocks(s) -> tuple:
    """The blocks nested in a statement."""
    if isinstance(s, If):
        return (s.then, s.orelse)
    if isinstance(s, (For, While)):
        return (s.test, s.body)
    return ()


def loop_reads(s) -> tuple:
    """The atoms a loop reads at its own level, outside its body."""
    return tuple(s.args) + tuple(s.inits)


def body_reads(s) -> tuple:
    """The atoms a loop reads at the end of its body (``nexts`` and ``brk``)."""
    return tuple(s.nexts) + ((s.brk,) if s.brk is not None else ())


def _show_loop(s, indent: str) -> list[str]:
    carry = ", ".join(f"{c} = {i}" for c, i in zip(s.carried, s.inits))
    lines = []
    if isinstance(s, While):
        lines.append(f"{indent}while:" + (f"  carry {carry}" if carry else ""))
        lines += show_block(s.test, indent + "    ")
        lines.append(f"{indent}    test {s.cond}")
    else:
        index = ", ".join(str(i) for i in s.index)
        args = ", ".join(str(a) for a in s.args)
        source = {
            "range": f"range({args})",
            "tape": (
                f"reversed({s.args[0]}[{s.args[1]}:{s.args[2]}])"
                if len(s.args) == 3
                else f"reversed({args})"
            ),
            "reversed_range": f"reversed(range({args}))",
        }[s.over]
        head = f"{indent}for {index} in {source}:" + (
            f"  carry {carry}" if carry else ""
        )
        lines.append(head)
    lines += show_block(s.body, indent + "    ")
    lines += [f"{indent}    {c} := {n}" for c, n in zip(s.carried, s.nexts)]
    if s.brk is not None:
        lines.append(f"{indent}    break if {s.brk}")
    if s.loc is not None:
        lines[0] = f"{lines[0]:<36}  # line {s.loc.line}"
    return lines


def show_block(stmts, indent: str) -> list[str]:
    """Print statements the way ``str(Function)`` does, at an indentation."""
    lines = []
    for s in stmts:
        if isinstance(s, Loop):
            lines += _show_loop(s, indent)
            continue
        if isinstance(s, If):
            head = f"{indent}if {s.cond}:"
            if s.loc is not None:
                head = f"{head:<36}  # line {s.loc.line}"
            lines.append(head.rstrip())
            for block, vals, word in (
                (s.then, s.then_vals, None),
                (s.orelse, s.else_vals, "else:"),
            ):
                if word:
                    lines.append(f"{indent}{word}")
                lines += show_block(block, indent + "    ")
                lines += [f"{indent}    {o} := {v}" for o, v in zip(s.outs, vals)]
                if not block and not vals:
                    lines.append(f"{indent}    pass")
            continue
        text = f"{indent}{s}"
        if s.loc is not None:
            text = f"{text:<36}  # line {s.loc.line}"
        lines.append(text.rstrip())
    return lines


def iter_eqns(stmts):
    """Every equation in a body, nested blocks included, in program order."""
    for s in stmts:
        if isinstance(s, If):
            yield from iter_eqns(s.then)
            yield from iter_eqns(s.orelse)
        elif isinstance(s, Loop):
            yield from iter_eqns(s.test)
            yield from iter_eqns(s.body)
        else:
            yield s


def without_prints(stmts) -> tuple:
    """The body without the user's ``print`` equations, nested blocks included
    (code that recomputes values another part already computed and printed)."""
    out = []
    for s in stmts:
        if isinstance(s, Eqn) and s.prim == "print":
            continue
        if isinstance(s, If):
            s = replace(s, then=without_prints(s.then), orelse=without_prints(s.orelse))
        elif isinstance(s, While):
            s = replace(s, test=without_prints(s.test), body=without_prints(s.body))
        elif isinstance(s, For):
            s = replace(s, body=without_prints(s.body))
        out.append(s)
    return tuple(out)


def defined_names(stmts) -> set[str]:
    """Every name a body binds, nested blocks included."""
    names: set[str] = set()
    for s in stmts:
        if isinstance(s, If):
            names.update(o.name for o in s.outs)
            names |= defined_names(s.then) | defined_names(s.orelse)
        elif isinstance(s, Loop):
            names.update(v.name for v in s.carried + s.index)
            names |= defined_names(s.test) | defined_names(s.body)
        else:
            names.update(o.name for o in s.outs)
    return names


def map_atoms(stmts, f, rename_outs: bool = False) -> tuple:
    """The body with ``f`` applied to every atom read (and written, if asked).

    Statements that ``f`` leaves alone are shared, not copied.
    """
    out = []
    for s in stmts:
        if isinstance(s, Loop):
            out.append(_map_loop(s, f, rename_outs))
            continue
        if isinstance(s, If):
            then = map_atoms(s.then, f, rename_outs)
            orelse = map_atoms(s.orelse, f, rename_outs)
            cond = f(s.cond)
            tv = tuple(f(a) for a in s.then_vals)
            ev = tuple(f(a) for a in s.else_vals)
            outs = tuple(f(o) for o in s.outs) if rename_outs else s.outs
            same = (
                cond is s.cond
                and then is s.then
                and orelse is s.orelse
                and all(
                    a is b
                    for a, b in zip(tv + ev + outs, s.then_vals + s.else_vals + s.outs)
                )
            )
            out.append(s if same else If(cond, then, orelse, outs, tv, ev, s.loc))
            continue
        ins = tuple(f(a) for a in s.ins)
        outs = tuple(f(o) for o in s.outs) if rename_outs else s.outs
        if all(a is b for a, b in zip(ins + outs, s.ins + s.outs)):
            out.append(s)
        else:
            out.append(Eqn(s.prim, outs, ins, s.loc, s.ns, s.params))
    result = tuple(out)
    return (
        stmts
        if all(a is b for a, b in zip(result, stmts)) and len(result) == len(stmts)
        else result
    )


def _map_loop(s, f, rename_outs: bool):
    fields = {
        "inits": tuple(f(a) for a in s.inits),
        "test": map_atoms(s.test, f, rename_outs),
        "body": map_atoms(s.body, f, rename_outs),
        "nexts": tuple(f(a) for a in s.nexts),
        "brk": None if s.brk is None else f(s.brk),
    }
    if isinstance(s, While):
        fields["cond"] = f(s.cond)
    else:
        fields["args"] = tuple(f(a) for a in s.args)
        if rename_outs:
            fields["index"] = tuple(f(a) for a in s.index)
    if rename_outs:
        fields["carried"] = tuple(f(a) for a in s.carried)
    if isinstance(s, For):
        del fields["test"]
    return replace(s, **fields)


@dataclass(frozen=True, slots=True)
class Function:
    """A function in IR form.

    ``defaults`` are the default values of the last ``len(defaults)`` params.
    ``results`` is flat; ``tree`` gives the shape of what is returned, as indices
    into ``results`` nested in tuples: ``0`` for ``return a``, ``(0, 1)`` for
    ``return a, b``, ``((0, 1), (2,))`` for ``return (y1, y2), (x_bar,)``.  ``user_names`` are the
    names that came from the user's source, so later stages can prefer them.
    """

    name: str
    params: tuple[Var, ...]
    body: tuple[Stmt, ...]
    results: tuple[Atom, ...]
    tree: Any = 0
    defaults: tuple[Const, ...] = ()
    loc: Loc | None = None
    doc: str | None = None
    user_names: frozenset[str] = frozenset()
    # the user's functions this one calls rather than inlines (recursive ones),
    # and the source of those with a custom derivative, copied into emitted code
    callees: tuple = ()
    externals: tuple[tuple[str, str], ...] = ()
    # the abstract shape of each parameter (see shapes.py); None: all scalars
    param_shapes: tuple | None = None
    # compiled for arrays of a library other than NumPy (Dask, ...): emitted
    # without writes in place and with spellings that compute nothing
    # (docs/scaling.md; the rows' ``lazy_render``)
    lazy: bool = False
    # (value name, error): `x += v` through an alias, an error if x is an array
    hazards: tuple = ()
    # (name, value) of the parameters fixed to a static (non-numeric) value,
    # which are not parameters of the IR (see frontend/lower_trees.py)
    statics: tuple = ()
    # (param name, default source or None): parameters printed keyword-only,
    # after a `*` -- data read from the user's scope (see frontend/scope_data.py);
    # they stay in ``params`` (after the user's), so every pass sees them
    keyword_only: tuple = ()
    # (param name, where, key) of each keyword-only parameter read live from
    # the user's scope on every call (see callables.ArrayDerivative)
    scope_sources: tuple = field(default=(), compare=False, repr=False)
    # ("revolve", k): reverse mode checkpoints the outermost loops with at most
    # k snapshots each (docs/checkpointing.md); () tapes them as usual
    checkpoint: tuple = ()
    # what a derivative with checkpointed loops calls besides itself, emitted
    # beside it (ad/checkpoint_loops.py): its steps' IR, its drivers' text
    helpers: tuple = field(default=(), compare=False, repr=False)

    def __str__(self) -> str:
        lines = [f"def {self.name}({signature(self)}):"]
        lines += show_block(self.body, "    ")
        lines.append(
            f"    return {render_tree(self.tree, [str(r) for r in self.results])}"
        )
        return "\n".join(lines) + "\n"


def render_tree(tree, items: list[str], top: bool = True) -> str:
    """Print a result tree: ``a``, ``a, b``, ``(a, b), (c,)``."""
    if isinstance(tree, int):
        return items[tree]
    inner = ", ".join(render_tree(t, items, top=False) for t in tree)
    if len(tree) == 1:
        inner += ","
    return inner if top and len(tree) > 0 else f"({inner})"


def tree_leaves(tree) -> list[int]:
    """The result indices in a tree, left to right."""
    if isinstance(tree, int):
        return [tree]
    return [i for t in tree for i in tree_leaves(t)]


def shift_tree(tree, n: int):
    """The same tree with every index moved up by ``n``."""
    if isinstance(tree, int):
        return tree + n
    return tuple(shift_tree(t, n) for t in tree)


def rename_vars(fn: Function, renames: dict[str, str]) -> Function:
    """The same function with variables renamed (``renames`` maps old to new names)."""
    if not renames:
        return fn

    def r(a):
        if isinstance(a, Var) and a.name in renames:
            return Var(renames[a.name])
        return a

    body = map_atoms(fn.body, r, rename_outs=True)
    params = tuple(r(p) for p in fn.params)
    named = tuple((renames.get(n, n), d) for n, d in fn.keyword_only)
    return replace(
        fn,
        params=params,
        body=body,
        results=tuple(r(a) for a in fn.results),
        keyword_only=named,
    )


def signature(fn: Function) -> str:
    """``x1, x2=0.5, *, X``: the parameter list with defaults, the
    keyword-only ones last."""
    params = positional(fn)
    plain = len(params) - len(fn.defaults)
    parts = [p.name for p in params[:plain]]
    parts += [
        f"{p.name}={default_source(d)}" for p, d in zip(params[plain:], fn.defaults)
    ]
    if fn.keyword_only:
        parts.append("*")
        parts += [n if d is None else f"{n}={d}" for n, d in fn.keyword_only]
    return ", ".join(parts)


def ir_indices(fn: Function, wrt: tuple[int, ...]) -> tuple[int, ...]:
    """Indices of positional parameters (as a caller counts them) as indices
    into ``fn.params``, where keyword-only ones may come between (a derivative
    of a function reading scope arrays: ``(w, X, w_dot)`` called ``(w, w_dot, X=)``)."""
    if not fn.keyword_only:
        return wrt
    index = {p.name: i for i, p in enumerate(fn.params)}
    params = positional(fn)
    return tuple(index[params[i].name] for i in wrt)


def positional(fn: Function) -> tuple[Var, ...]:
    """The parameters a call passes by position (all but the keyword-only)."""
    if not fn.keyword_only:
        return fn.params
    named = {n for n, _ in fn.keyword_only}
    return tuple(p for p in fn.params if p.name not in named)


def default_source(c: Const) -> str:
    """A default value as Python source that needs no import: ``1e999`` is
    ``float("inf")`` (its repr ``inf`` is a name, undefined in the module)."""
    v = c.value
    if isinstance(v, float) and v != v:
        return 'float("nan")'
    if isinstance(v, float) and v in (_INF, -_INF):
        return 'float("inf")' if v > 0 else '-float("inf")'
    return str(c)


_INF = float("inf")


def verify(fn: Function, after: str | None = None) -> Function:
    """Check the IR invariants; return ``fn``, or raise :class:`VerificationError`
    naming the broken one (and ``after``, the pass that ran last).

    The invariants: single assignment (function-wide), every name bound before
    it is read (in its block, its branch or its loop body), results bound,
    names that are identifiers, at most one default per parameter, and a result
    tree numbering the results.
    """
    try:
        _verify_function(fn)
    except _Broken as broken:
        raise VerificationError(str(broken), fn.name, after) from None
    return fn


_checked: set[str] = set()  # names already found to be valid identifiers


def _valid_name(name: str) -> bool:
    if name.isidentifier() and not keyword.iskeyword(name):
        if len(_checked) < 100_000:  # (bounded: names come from user code)
            _checked.add(name)
        return True
    return False


class _Broken(Exception):
    """An invariant that does not hold (turned into a VerificationError by verify)."""


def _verify_function(fn: Function) -> None:
    bound: set[str] = set()
    for p in fn.params:
        if p.name in bound:
            raise _Broken(f"parameter {p.name} bound twice")
        bound.add(p.name)
    _verify_block(fn.body, bound, set(bound), {})
    for r in fn.results:
        if isinstance(r, Var) and r.name not in bound:
            raise _Broken(f"result {r.name} is never bound")
    if len(fn.defaults) > len(fn.params):
        raise _Broken("more defaults than parameters")
    if sorted(tree_leaves(fn.tree)) != list(range(len(fn.results))):
        raise _Broken(
            f"result tree {fn.tree!r} does not number its {len(fn.results)} results"
        )


def _verify_block(stmts, bound: set, everywhere: set, branch_defs: dict) -> None:
    """``bound``: names visible here; ``everywhere``: names bound anywhere so far
    (single assignment is function-wide); ``branch_defs[(cond, polarity)]``: names
    a branch on that condition bound, visible again in a later branch on it."""

    def use(a, where):
        if isinstance(a, Var) and a.name not in bound:
            raise _Broken(f"{a.name} is read before it is bound, in `{where}`")

    def define(o, where):
        if o.name in everywhere:
            raise _Broken(f"{o.name} is bound twice, in `{where}`")
        if not _valid_name(o.name):
            raise _Broken(f"{o.name!r} is not a valid name, in `{where}`")
        everywhere.add(o.name)
        bound.add(o.name)

    for s in stmts:
        if isinstance(s, Loop):
            where = f"loop at {s.loc}"
            for a in loop_reads(s):
                use(a, where)
            for v in s.carried:
                define(v, where)
            inner = set(bound)
            _verify_block(s.test, inner, everywhere, dict(branch_defs))
            if isinstance(s, While):
                if isinstance(s.cond, Var) and s.cond.name not in inner:
                    raise _Broken(f"the condition {s.cond} of the {where} is not bound")
            inner = set(bound)
            for v in s.index:
                if v.name in everywhere:
                    raise _Broken(
                        f"{v.name} is bound twice, as the index of the {where}"
                    )
                everywhere.add(v.name)
                inner.add(v.name)
            _verify_block(s.body, inner, everywhere, dict(branch_defs))
            for a in body_reads(s):
                if isinstance(a, Var) and a.name not in inner:
                    raise _Broken(f"{a.name} is not bound in the body of the {where}")
            continue
        if isinstance(s, If):
            use(s.cond, f"if {s.cond}")
            for polarity, block, vals in (
                (True, s.then, s.then_vals),
                (False, s.orelse, s.else_vals),
            ):
                key = (str(s.cond), polarity)
                inner = set(bound) | branch_defs.get(key, set())
                _verify_block(block, inner, everywhere, branch_defs)
                for v in vals:
                    if isinstance(v, Var) and v.name not in inner:
                        raise _Broken(
                            f"{v.name} is not bound in its branch of `if {s.cond}`"
                        )
                branch_defs.setdefault(key, set()).update(inner - bound)
            for o in s.outs:
                define(o, f"if {s.cond}")
            continue
        # an equation: the common case, checked inline (verify runs after every pass)
        for a in s.ins:
            if a.__class__ is Var and a.name not in bound:
                use(a, s)
        for o in s.outs:
            name = o.name
            if name in everywhere or name not in _checked and not _valid_name(name):
                define(o, s)
            everywhere.add(name)
            bound.add(name)


def mark_active(stmts, active: set) -> None:
    """Add to ``active`` every name bound in ``stmts`` that depends on one in it.

    A loop's carried value is active if its init or its next is: the body is
    walked again until no carried value changes (at most once per carried value).
    """
    for s in stmts:
        if isinstance(s, If):
            mark_active(s.then, active)
            mark_active(s.orelse, active)
            for o, t, e in zip(s.outs, s.then_vals, s.else_vals):
                if any(isinstance(v, Var) and v.name in active for v in (t, e)):
                    active.add(o.name)
        elif isinstance(s, (For, While)):
            for c, init in zip(s.carried, s.inits):
                if isinstance(init, Var) and init.name in active:
                    active.add(c.name)
            if s.over == "tape" and s.args[0].name in active:
                active.update(i.name for i in s.index)  # what the tape holds
            # a list appended to in the body may become active after a read of it
            lists = any(e.prim in LIST_MUTATORS for e in iter_eqns(s.body))
            while True:
                before = len(active)
                mark_active(s.test, active)
                mark_active(s.body, active)
                new = {
                    c.name
                    for c, n in zip(s.carried, s.nexts)
                    if isinstance(n, Var) and n.name in active and c.name not in active
                }
                if not new and not (lists and len(active) > before):
                    break
                active |= new
        elif any(isinstance(a, Var) and a.name in active for a in s.ins):
            if s.prim == "push" or s.prim in LIST_MUTATORS:
                # a tape or a list holding active values
                active.add(s.ins[0].name)
            elif PRIMITIVES[s.prim].differentiable:  # len(x) is an int, not active
                active.update(o.name for o in s.outs)


def variables(fn: Function) -> set[str]:
    """Every name a function binds."""
    return {p.name for p in fn.params} | defined_names(fn.body)


_TEMP = re.compile(r"v(\d+)$")
_RESERVED = frozenset(keyword.kwlist) | {
    "math",
    "np",
    "numpy",
    "abs",
    "float",
    "int",
    "pow",
}


@dataclass
class Namer:
    """Hands out deterministic, collision-free names.

    Temporaries count up from ``v1`` (skipping any name already taken); derived
    names add a suffix (``x_dot``, ``x_bar``) and, on a clash, ``_1``, ``_2`` ...
    """

    taken: set[str] = field(default_factory=set)
    counter: int = 0
    # base -> the suffix its last fresh name got: the smallest free suffix is
    # never below it while nothing is released, so a name reassigned n times
    # costs O(n) in all, not O(n²) (a 20,000-line function reassigns a lot)
    _suffix: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def for_function(cls, fn: Function) -> "Namer":
        taken = variables(fn) | set(fn.user_names)
        counter = max(
            (int(m.group(1)) for n in taken if (m := _TEMP.match(n))), default=0
        )
        return cls(taken=taken, counter=counter)

    def temp(self) -> Var:
        while True:
            self.counter += 1
            name = f"v{self.counter}"
            if name not in self.taken and name not in _RESERVED:
                self.taken.add(name)
                return Var(name)

    def fresh(self, base: str) -> Var:
        """``base`` itself if free, else ``base_1``, ``base_2``, ...: the first free."""
        k = self._suffix.get(base, 0)
        name = f"{base}_{k}" if k else base
        while name in self.taken or name in _RESERVED:
            k += 1
            name = f"{base}_{k}"
        self._suffix[base] = k
        self.taken.add(name)
        return Var(name)

    def release(self, name: str) -> None:
        """Make ``name`` free again (for :meth:`fresh` and :meth:`temp`)."""
        self.taken.discard(name)
        self._suffix.pop(name, None)
        head, _, tail = name.rpartition("_")
        if head and tail.isdigit() and self._suffix.get(head, 0) >= int(tail):
            self._suffix[head] = int(tail) - 1 if int(tail) > 1 else 0


def base_name(name: str) -> str:
    """The user-level name a derived name comes from: ``x_1_bar`` -> ``x``."""
    while True:
        for suffix in ("_dot", "_bar"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        else:
            break
    return re.sub(r"_\d+$", "", name)


def name_rank(name: str, user_names: frozenset[str]) -> int:
    """How much a reader gains from seeing this name: user-derived 2, temp-derived 1, temp 0."""
    if name in user_names or base_name(name) in user_names:
        return 2
    if _TEMP.match(name):
        return 0
    return 1
