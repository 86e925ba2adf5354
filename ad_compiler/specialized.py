"""Derivatives of functions taking parameter trees and static arguments.

``grad(loss)(params, X)`` with ``params = [(W1, b1), (W2, b2)]``, or
``grad(f)(w, kind="tanh")``: the derivative is compiled per call structure
(:func:`ad_compiler.trees.treedef` of every argument, and the leaves' shape
signature), the way JAX retraces per treedef and static argument:

* :class:`LeafFunction` is the user's function with the structure fixed: its IR
  takes the leaves as named parameters (``params_0_0`` ...; a static argument
  is a compile-time value, not a parameter) and it is differentiated like any
  function (every derivative kind, vector mode, Hessians);
* :class:`TreeDerivative` (``grad``, ``value_and_grad``) loads, per structure,
  one module: the leaves' derivative as emitted for numbers and arrays, and a
  small wrapper that reads the leaves out of the user's arguments and builds
  the gradient in the same structure (tuple stays tuple, list list, dict dict);
* :func:`tree_jvp`, :func:`tree_vjp` and :class:`TreeJacobian` do the same for
  ``jvp``, ``vjp``, ``jacfwd``/``jacrev``/``jacobian``/``hessian``, arranging
  the flat results in Python.

Layout (JAX's): a gradient, tangent or cotangent has its argument's structure;
a Jacobian is the output's structure outside and the input's inside, each block
of shape ``output_leaf.shape + input_leaf.shape``; a Hessian is the input's
structure of the input's structure, blocks ``leaf_i.shape + leaf_j.shape``.
With a tuple ``argnums`` the input structure is the tuple of those arguments.
"""

from __future__ import annotations

import inspect
import keyword
import textwrap

from ad_compiler import trees
from ad_compiler.backend.loader import load, raw_source_of, source_of
from ad_compiler.callables import (
    ArrayDerivative,
    Pullback,
    any_array,
    compile_derivative,
    register_tree_derivative,
    trace_cached,
)
from ad_compiler.driver import WHAT, lower
from ad_compiler.errors import UsageError
from ad_compiler.frontend.lower_trees import TreeNeeded
from ad_compiler.frontend.methods import source_and_scope
from ad_compiler.frontend.scope import recording_reads
from ad_compiler.guard import (
    COMPILE_LOCK,
    current_value,
    defaults_reads,
    is_current,
    unique,
)
from ad_compiler.ir import shapes

_LEAF_FUNCTIONS: dict = {}


def bind(f, args, kwargs, signature=None) -> tuple:
    """Every argument of a call of ``f``, defaults filled in, as Python binds it."""
    try:
        bound = (signature or inspect.signature(f)).bind(*args, **kwargs)
    except TypeError as e:
        raise UsageError(f"`{f.__name__}`: {e}") from None
    bound.apply_defaults()
    return tuple(bound.arguments.values())


def treedefs(f, args) -> tuple:
    try:
        return tuple(trees.treedef(a) for a in args)
    except TypeError as e:
        raise UsageError(f"`{f.__name__}`: {e}") from None


def has_static_defaults(f) -> bool:
    """Whether ``f`` has a default that is not a number or an array
    (``kind="tanh"``, ``None``, ``True``, a tuple)."""
    return any(not trees.is_leaf(d) for d in getattr(f, "__defaults__", None) or ())


def leaf_function(f, tdefs: tuple) -> "LeafFunction":
    """The (cached) :class:`LeafFunction` of ``f`` for these treedefs, lowered
    anew when a global or closure value it read has been rebound since."""
    key = (f, getattr(f, "__code__", None), tdefs)
    found = _LEAF_FUNCTIONS.get(key)
    if found is not None and not found.current():
        found = None  # a new object: the derivatives cached for the old go unused
    if found is None:
        with COMPILE_LOCK:
            found = _LEAF_FUNCTIONS.get(key)
            if found is None or not found.current():
                found = _LEAF_FUNCTIONS[key] = LeafFunction(f, tdefs)
    return found


class LeafFunction:
    """``f`` with the structure of its arguments fixed: a function of the leaves.

    ``.ir`` is ``f``'s IR with the leaves as parameters (named after the tree
    paths) and ``.src`` its source, so the derivative machinery differentiates
    it as it does a function; calling it rebuilds the arguments and calls ``f``.
    """

    def __init__(self, f, tdefs: tuple):
        self.f, self.tdefs = f, tdefs
        self.counts = [trees.count(t) for t in tdefs]
        self._lower()
        self.__name__ = self.__qualname__ = self.ir.name

    def _lower(self) -> None:
        src, scope = source_and_scope(self.f)  # (a bound method: without `self`)
        with recording_reads() as reads:
            fn = lower(src, scope, self.tdefs)
        self.src, self.__adc_deps__ = src, unique(reads)
        self.ir = fn.__class__(**{**_fields(fn), "name": f"{fn.name}_leaves"})

    def current(self) -> bool:
        """Whether the globals and closure values it was lowered with are bound still."""
        return not self.__adc_deps__ or is_current(self.__adc_deps__)

    def arguments(self, leaves) -> list:
        """The user's arguments rebuilt from the leaves (statics as given)."""
        it = iter(leaves)
        out = []
        for t, k in zip(self.tdefs, self.counts):
            if t[0] == "static":
                out.append(t[2])
            else:
                out.append(trees.unflatten(t, [next(it) for _ in range(k)]))
        return out

    def __call__(self, *leaves):
        return self.f(*self.arguments(leaves))

    def leaf_argnums(self, argnums, n: int) -> tuple[int, ...]:
        """The leaf indices of the arguments ``argnums`` (an int or a tuple)."""
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        starts = [0]
        for k in self.counts:
            starts.append(starts[-1] + k)
        out = []
        for i in nums:
            if not isinstance(i, int) or not -n <= i < n:
                raise UsageError(
                    f"argnums {i!r} is out of range: `{self.f.__name__}` has {n} "
                    "parameters"
                )
            i %= n
            if self.tdefs[i][0] == "static":
                raise UsageError(
                    f"cannot differentiate `{self.f.__name__}` with respect to "
                    f"argument {i}, {self.tdefs[i][2]!r}: it is a static "
                    "(non-numeric) argument; differentiate with respect to numbers, "
                    "arrays or tuples/lists/dicts of them"
                )
            out += range(starts[i], starts[i + 1])
        if not out:
            raise UsageError(
                f"the arguments {argnums!r} of `{self.f.__name__}` hold no numbers "
                "to differentiate"
            )
        return tuple(out)

    def input_tree(self, argnums):
        """The treedef the derivatives with respect to ``argnums`` are arranged in."""
        if isinstance(argnums, int):
            return self.tdefs[argnums % len(self.tdefs)]
        n = len(self.tdefs)
        return ("tuple", tuple(self.tdefs[i % n] for i in argnums))


def _fields(fn) -> dict:
    return {name: getattr(fn, name) for name in fn.__dataclass_fields__}


def _leaves(tdefs, args) -> list:
    return [leaf for a, t in zip(args, tdefs) for leaf in trees.flatten(a, t)]


class TreeDerivative:
    """``grad`` / ``value_and_grad`` of a function of trees or static arguments,
    compiled per call structure (see the module docstring); ``.source`` and
    ``.ir`` are those of the last call's compilation."""

    def __init__(self, f, kind: str, argnums, error=None):
        if kind not in ("grad", "value_and_grad"):
            raise UsageError(
                f"{kind} of `{f.__name__}`, which takes parameter trees or static "
                "arguments, is not supported: use grad, value_and_grad, jvp, vjp, "
                "jacfwd, jacrev, jacobian or hessian"
            )
        self.f, self.kind, self.argnums = f, kind, argnums
        self.error = error  # lowering it for numbers failed with this
        self._by_structure: dict = {}
        self._by_key: dict = {}  # trees.call_key of the arguments: the fast path
        self._last = None
        self._signature = inspect.signature(f)
        self._defaults = defaults_reads(f)  # what the signature holds
        self._arity = len(self._signature.parameters)
        # the emitted wrapper is `def <name>_grad(...)`: only a checked identifier
        # (f.__name__ may be set to any text)
        base = f.__name__ if _plain_identifier(f.__name__) else "function"
        self.__name__ = self.__qualname__ = f"{base}_{kind}"
        self.__doc__ = (
            f"{WHAT[kind]} of {f.__name__} (compiled per argument structure)."
        )

    def __call__(self, *args, **kwargs):
        full = self.bind(args, kwargs)
        compiled = self.for_arguments(full)
        if compiled.live:  # arrays it reads from the function's scope, as bound now
            return compiled(*full, **_live_arguments(compiled.live, self.__name__))
        return compiled(*full)

    def bind(self, args, kwargs=None) -> tuple:
        """Every argument of a call, the defaults filled in."""
        if not kwargs and len(args) == self._arity:  # (Python's binding: the same)
            return tuple(args)
        if not is_current(self._defaults):  # f.__defaults__ reassigned since
            self._signature = inspect.signature(self.f)
            self._defaults = defaults_reads(self.f)
        return bind(self.f, args, kwargs or {}, self._signature)

    def for_arguments(self, full):
        """The loaded wrapper for (all the) arguments structured like ``full``."""
        try:
            fast = tuple(trees.call_key(a) for a in full)
            compiled = self._by_key.get(fast)
        except TypeError:  # an unhashable static: the slow path says so
            fast = compiled = None
        if compiled is not None and compiled.leaves.current() and _fits_live(compiled):
            self._last = compiled
            return compiled
        compiled = self._structured(full)
        if fast is not None and len(self._by_key) < 256:
            self._by_key[fast] = compiled
        return compiled

    def _structured(self, full):
        """:meth:`for_arguments` by treedefs and shape signature."""
        tdefs = treedefs(self.f, full)
        if self.error is not None and all(t == trees.LEAF for t in tdefs):
            if not getattr(self.error, "leaves_suffice", False):
                raise self.error  # numbers only: the error lowering met at first
        leaves = _leaves(tdefs, full)
        key = (tdefs, shapes.signature(leaves))
        compiled = self._by_structure.get(key)
        if compiled is not None and not (
            compiled.leaves.current() and _fits_live(compiled)
        ):
            compiled = None  # a global or closure value it read was rebound, or
            # a scope array it reads has a new shape pattern (X 2-D, now 1-D)
        if compiled is None:
            with COMPILE_LOCK:
                compiled = self._compile(tdefs, leaves)
            if len(self._by_structure) < 64:
                self._by_structure[key] = compiled
        self._last = compiled
        return compiled

    def _compile(self, tdefs, leaves):
        from_leaves = leaf_function(self.f, tdefs)
        wrt = from_leaves.leaf_argnums(self.argnums, len(tdefs))
        inner, live = _compile(from_leaves, self.kind, wrt, shapes_of=leaves)
        text = (  # (raw: formatted when its source is read)
            raw_source_of(inner)
            + "\n\n"
            + wrapper_source(self, from_leaves, inner.__name__)
        )
        compiled = load(text, self.__name__, f"{self.kind} of {self.f.__name__}")
        compiled.ir, compiled.leaves = inner.ir, from_leaves
        compiled.live = live
        compiled.live_signature = _live_signature(live, self.__name__)
        return compiled

    def _current(self):
        if self._last is None:
            raise UsageError(
                f"`{self.__name__}` is compiled per argument structure: call it "
                "once, then read .source"
            )
        return self._last

    variant = None  # (what marks a derivative object differentiated by .derivative)

    def derivative(self, kind: str, argnums):
        """A derivative of this one: not supported (say what is)."""
        raise UsageError(
            f"{kind} of `{self.__name__}` (a derivative of a function of parameter "
            "trees or static arguments) is not supported; hessian, jacfwd and "
            "jacrev of the function itself are"
        )

    def interface(self):
        self.derivative("a Jacobian", None)

    @property
    def source(self) -> str:
        return source_of(self._current())

    @property
    def ir(self):
        return self._current().ir


def _compile(from_leaves: LeafFunction, kind: str, wrt, shapes_of):
    """The emitted derivative ``kind`` of a leaf function for leaves like
    ``shapes_of``, and the arrays it reads from the scope (``(parameter, where,
    key)``: passed by keyword on each call, see :mod:`.frontend.scope_data`)."""
    inner = compile_derivative(from_leaves, kind, wrt, any_array(shapes_of))
    live = ()
    if isinstance(inner, ArrayDerivative):
        live = inner.live
        inner = inner.code_for(*shapes_of)
    return inner, live


def _with_live(compiled, live, name: str):
    """``compiled`` with the scope arrays it reads passed as they are bound now
    (a pullback keeps the data of the point it was made at, as it keeps the
    primals)."""
    if not live:
        return compiled
    values = _live_arguments(live, name)

    def call(*args):
        return compiled(*args, **values)

    # (_adc_loaded: its source, formatted when read, see backend/loader.py)
    for attribute in ("primal_ir", "_adc_loaded", "ir", "__name__"):
        setattr(call, attribute, getattr(compiled, attribute))
    return call


def _live_signature(live, name: str) -> tuple:
    """The shape pattern of the scope arrays a derivative reads, as bound now
    (its code was specialised on it, as on the arguments')."""
    return shapes.signature(tuple(_live_arguments(live, name).values()))


def _fits_live(compiled) -> bool:
    """Whether ``compiled`` was specialised for the scope arrays' shapes now."""
    if not compiled.live:
        return True
    return _live_signature(compiled.live, compiled.__name__) == compiled.live_signature


def _live_arguments(live, name: str) -> dict:
    """The scope arrays a derivative reads, as they are bound now."""
    try:
        return {p: current_value(w, k) for p, w, k in live}
    except (KeyError, ValueError):
        raise UsageError(
            f"`{name}` reads an array from the scope of the function it "
            "differentiates, but that name is no longer bound; bind it again"
        ) from None


def _free(name: str, taken: set) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def wrapper_source(d: TreeDerivative, from_leaves: LeafFunction, inner: str) -> str:
    """The emitted wrapper: the leaves read out of the arguments, the leaves'
    derivative called, the gradient built in the arguments' structure."""
    f, tdefs = d.f, from_leaves.tdefs
    scope = [n for n, _ in from_leaves.ir.keyword_only]  # arrays from f's scope
    params = [p.name for p in from_leaves.ir.params if p.name not in scope]
    names = list(inspect.signature(f).parameters)
    taken = set(names) | set(params) | set(scope) | {inner}
    lines, it = [], iter(params)
    statics = []
    for name, t, k in zip(names, tdefs, from_leaves.counts):
        leaf_params = [next(it) for _ in range(k)]
        if t[0] == "static":
            statics.append(f"{name}={t[2]!r}")
        elif t != trees.LEAF:
            for leaf, path in zip(leaf_params, trees.paths(name, t)):
                lines.append(f"    {leaf} = {path}")
    wrt = from_leaves.leaf_argnums(d.argnums, len(tdefs))
    grads = _free("grads", taken)
    value = _free("value", taken)
    call = f"{inner}({', '.join(params + [f'{n}={n}' for n in scope])})"
    if d.kind == "grad":
        lines.append(f"    {grads} = {call}")
    else:
        lines.append(f"    {value}, {grads} = {call}")
    position = {leaf: j for j, leaf in enumerate(wrt)}
    starts = [0]
    for k in from_leaves.counts:
        starts.append(starts[-1] + k)

    def rebuilt(i: int) -> str:
        i %= len(tdefs)
        exprs = [f"{grads}[{position[j]}]" for j in range(starts[i], starts[i + 1])]
        return trees.rebuild_text(tdefs[i], exprs)

    if isinstance(d.argnums, int):
        result = rebuilt(d.argnums)
    else:
        parts = [rebuilt(i) for i in d.argnums]
        result = "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    lines.append(
        f"    return {result}" if d.kind == "grad" else f"    return {value}, {result}"
    )
    shown = ", ".join(
        f"{n} {trees.describe(t)}"
        for n, t in zip(names, tdefs)
        if t != trees.LEAF and t[0] != "static"
    )
    text = f"{WHAT[d.kind]} of {f.__name__}: "
    if shown:
        text += f"reads the leaves of {shown}, calls {inner} and builds the result "
        text += "in the same structure."
    else:
        text += f"calls {inner}."
    if statics:
        text += f" Compiled for the static arguments {', '.join(statics)} only."
    body = textwrap.fill(
        _docstring_safe(text), 80, initial_indent="    ", subsequent_indent="    "
    )
    doc = f'    """{body.strip()}\n    """'
    signature = ", ".join(names + (["*"] + scope if scope else []))
    return f"def {d.__name__}({signature}):\n{doc}\n" + "\n".join(lines) + "\n"


def _plain_identifier(name) -> bool:
    """Whether ``name`` is an exact str spelling a Python identifier, not a keyword."""
    return type(name) is str and name.isidentifier() and not keyword.iskeyword(name)


def _docstring_safe(text: str) -> str:
    """``text`` (which holds reprs of the caller's dict keys and static values,
    any text at all) made safe inside a ``\"\"\"`` docstring: backslashes and
    double quotes escaped, so it can neither close the docstring nor end in an
    escape, and characters that are not printable spelled as escapes."""
    text = str.__str__(text).replace("\\", "\\\\").replace('"', '\\"')
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def needs_trees(f) -> bool:
    """Whether ``f`` (a Python function) can only be compiled once its
    arguments are seen: it has a non-numeric default, or lowering it for
    numbers met a parameter used as a tree or a static value."""
    if not inspect.isfunction(f) and not inspect.ismethod(f):
        return False
    if hasattr(f, "ir") or hasattr(f, "__adc_partials__"):
        return False
    try:
        if has_static_defaults(f):
            return True
        trace_cached(f)
    except TreeNeeded:
        return True
    except Exception:  # other errors are the derivative's to raise
        return False
    return False


def _spread(f, primals) -> tuple:
    """(the leaf function, the leaves, the number of leaves of the primals given)."""
    full = bind(f, primals, {})
    tdefs = treedefs(f, full)
    from_leaves = leaf_function(f, tdefs)
    leaves = _leaves(tdefs, full)
    given = sum(from_leaves.counts[: len(primals)])
    return from_leaves, leaves, given


def tree_jvp(f, primals, tangents):
    """``jvp`` with trees: tangents shaped as the primals, outputs as ``f``'s."""
    if len(tangents) != len(primals):
        raise UsageError(f"got {len(primals)} primals but {len(tangents)} tangents")
    from_leaves, leaves, given = _spread(f, primals)
    dots = []
    for t, tangent in zip(from_leaves.tdefs, tangents):
        if t[0] == "static":
            continue
        try:
            if not trees.same_keys(trees.treedef(tangent), t):
                raise TypeError
            dots += trees.flatten(tangent, t)
        except TypeError:
            raise UsageError(
                f"a tangent of `{f.__name__}` is not structured as its primal "
                f"({trees.describe(t)}): give a number or array of the same shape "
                "for each leaf, and repeat each static value (a str, None, bool) "
                "as it is in the primal"
            ) from None
    wrt = tuple(range(given))
    if not wrt:
        raise UsageError(f"the primals of `{f.__name__}` hold no numbers")
    compiled, live = _compile(from_leaves, "jvp", wrt, leaves)
    return _with_live(compiled, live, f.__name__)(*leaves, *dots)


class TreePullback:
    """A pullback returning one cotangent per primal, structured as the primal
    (``None`` for a static argument)."""

    def __init__(self, pullback, from_leaves: LeafFunction, primals: int):
        self.pullback, self.from_leaves, self.primals = pullback, from_leaves, primals
        self.ir = pullback.ir
        self.__name__ = pullback.__name__

    @property
    def source(self) -> str:
        return source_of(self.pullback)

    def __call__(self, y_bar):
        flat = list(self.pullback(y_bar))
        out, it = [], iter(flat)
        for t, k in zip(
            self.from_leaves.tdefs[: self.primals], self.from_leaves.counts
        ):
            out.append(trees.unflatten(t, [next(it) for _ in range(k)]))
        return tuple(out)


def tree_vjp(f, primals):
    """``vjp`` with trees: ``(f(*primals), pullback)``, cotangents shaped as the primals."""
    from_leaves, leaves, given = _spread(f, primals)
    wrt = tuple(range(given))
    if not wrt:
        raise UsageError(f"the primals of `{f.__name__}` hold no numbers")
    compiled, live = _compile(from_leaves, "vjp", wrt, leaves)
    pullback = Pullback(_with_live(compiled, live, f.__name__), tuple(leaves))
    return f(*primals), TreePullback(pullback, from_leaves, len(primals))


class TreeJacobian:
    """``jacfwd``/``jacrev``/``jacobian``/``hessian`` of a function of trees,
    per call structure, arranged as JAX arranges them (module docstring)."""

    def __init__(self, f, which: str, argnums, make):
        self.f, self.which, self.argnums, self.make = f, which, argnums, make
        self._by_structure: dict = {}
        self.__name__ = self.__qualname__ = f"{f.__name__}_{which}"
        self._last = None

    def __call__(self, *args, **kwargs):
        full = bind(self.f, args, kwargs)
        tdefs = treedefs(self.f, full)
        derived = self._by_structure.get(tdefs)
        from_leaves = leaf_function(self.f, tdefs)
        if derived is None or derived.leaves is not from_leaves:
            wrt = from_leaves.leaf_argnums(self.argnums, len(tdefs))
            derived = self._by_structure[tdefs] = self.make(from_leaves, wrt)
            derived.leaves = from_leaves
        self._last = derived
        flat = derived(*_leaves(tdefs, full))
        inputs = from_leaves.input_tree(self.argnums)
        if self.which == "hessian":
            return trees.unflatten(inputs, [trees.unflatten(inputs, r) for r in flat])
        return _per_output(from_leaves.ir.tree, flat, inputs)

    @property
    def source(self) -> str:
        if self._last is None:
            raise UsageError(f"call `{self.__name__}` once, then read .source")
        return source_of(self._last)

    @property
    def mode(self) -> str:
        return getattr(self._last, "mode", "per call")


def _per_output(tree, flat, inputs):
    """Each output's row of derivatives (``flat``, nested as ``tree``) as a tree
    shaped like the inputs."""
    if isinstance(tree, int):
        return trees.unflatten(inputs, flat)
    return tuple(_per_output(t, v, inputs) for t, v in zip(tree, flat))


register_tree_derivative(TreeDerivative, has_static_defaults)
