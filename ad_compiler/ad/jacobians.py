"""Jacobians, Hessians and Hessian-vector products, from the emitted code.

Everything here is one emitted pass, run once:

* ``jacfwd(f)`` calls ``f``'s forward-mode code with every input direction at
  once: the tangent of input ``j`` is the unit vector ``e_j``, an array, and
  since a tangent only ever meets the primal values linearly (``cos(x) * ẋ``),
  the emitted scalar code runs unchanged and each output's tangent comes out
  as a row of the Jacobian (*vector mode*);
* ``jacrev(f)`` does the same in reverse mode, with the seeds ``ȳ_i = e_i``:
  each input's adjoint comes out as a column;
* ``jacobian(f)`` picks forward mode when ``f`` has at most as many inputs as
  outputs and reverse mode otherwise, as the seeds prescribe (a forward pass
  per input column, a reverse pass per output row), and says which in ``.mode``;
* ``hessian(f)`` is forward over reverse: the IR of ``grad(f)`` differentiated
  again in forward mode (no text is re-read), run in vector mode; ``hvp(f)``
  is the same code with one direction, ``H·v`` without forming ``H``.

For array code the directions are a leading axis of every tangent (or seed)
and the derivative's IR is rewritten to carry it (:mod:`ad_compiler.ad.batching`):
a Jacobian of ``f: R^(s_in) -> R^(s_out)`` comes back as an array of shape
``s_out + s_in`` and a Hessian as ``s + s``, as JAX returns them.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable

import numpy

from ad_compiler.backend.loader import source_of
from ad_compiler.callables import (
    ArrayDerivative,
    compile_derivative,
    register_forward_gradient,
    signature_ir,
    wrt_of,
    wrt_of_arity,
)
from ad_compiler.errors import UsageError
from ad_compiler.ir.nodes import Function, Var
from ad_compiler.specialized import TreeJacobian, needs_trees
from ad_compiler.trees import is_plain

__all__ = ["jacfwd", "jacrev", "jacobian", "hessian", "hvp", "gauss_newton"]


def _primal_ir(f) -> Function:
    return signature_ir(f)


def _unit_vectors(k: int) -> list:
    return list(numpy.eye(k))


def _row(value, k: int) -> numpy.ndarray:
    """A tangent or adjoint as k numbers (a zero comes back as the scalar 0.0)."""
    return numpy.broadcast_to(numpy.asarray(value, dtype=float), (k,))


def _shape_by(tree, items: list):
    """``items`` arranged as ``tree`` (an int: one item; a tuple: a tuple)."""
    if isinstance(tree, int):
        return items[tree]
    if tree == tuple(range(len(items))):
        return tuple(items)  # the flat tuple: no walk per element
    return tuple(_shape_by(t, items) for t in tree)


def _matrix(values, k: int) -> list:
    """Tangents or adjoints (arrays of k, or a scalar zero) as rows of Python
    floats, converted by NumPy in one go (a float() per element costs more than
    the emitted code at n = 1,000)."""
    rows = [
        v if type(v) is numpy.ndarray and v.shape == (k,) else _row(v, k)
        for v in values
    ]
    return numpy.array(rows, dtype=float).tolist()


class Derived:
    """A Jacobian or Hessian function: one call of emitted code in vector mode.

    A call is ``post(compiled(*args, *directions), args, context)``: ``pre(args)``
    gives the directions (unit vectors: constants) and a context, ``post``
    arranges the results, linearly.  :meth:`variant` says which emitted code,
    ``pre`` and ``post`` a call uses (code for numbers or for arrays).  That
    linearity is what lets a Derived be differentiated again in forward mode
    (:func:`forward_of_derived`): nested vector mode, to any order.

    ``.mode`` is ``"forward"``, ``"reverse"`` ...; ``.source`` and ``.ir`` are
    those of the emitted function the last call used.  ``depth`` counts the
    direction axes the values of its code for numbers carry (one per nesting).
    """

    def __init__(
        self,
        compiled,
        mode: str,
        name: str,
        n: int,
        variant=None,
        run=None,
        defaults=(),
        names=(),
    ):
        self.compiled, self.mode, self.n = compiled, mode, n
        self.names = tuple(names)  # of the parameters, for keyword arguments
        self.variant, self._run = variant, run
        self.defaults = tuple(defaults)  # of the last parameters, as f has them
        self.depth = 1
        self.trees = None  # the TreeJacobian for calls with trees (_with_trees)
        # args -> the result, or None to take the variant's way (see direct)
        self.fast: Callable[[tuple], Any] | None = None
        self.__name__ = self.__qualname__ = name
        self.__doc__ = f"{name}: {mode}-mode code run once in vector mode."

    def __call__(self, *args, **kwargs):
        if self.trees is not None and not is_plain(args):
            return self.trees(*args, **kwargs)  # parameter trees, static arguments
        if kwargs:
            args = with_keywords(self.__name__, self.names, self.defaults, args, kwargs)
        args = with_defaults(self.__name__, self.n, self.defaults, args)
        if self._run is not None:
            return self._run(*args)
        return self.direct(args)

    def direct(self, args: tuple):
        """The call with every argument in place: through ``fast`` when there
        is one (jacrev of array code), else ``variant``'s pre, code and post."""
        if self.fast is not None:
            done = self.fast(args)
            if done is not None:
                return done
        compiled, pre, post = self.variant(args)
        self.compiled = compiled
        directions, context = pre(args)
        return post(compiled(*args[: self.n], *directions), args, context)

    def interface(self) -> Function:
        """Its parameters (those of the function it differentiates)."""
        params = tuple(Var(f"x{i}") for i in range(self.n))
        return Function(self.__name__, params, (), (Var("y"),))

    def derivative(self, kind: str, argnums):
        """Its derivative ``kind`` (``jvp``, ``grad``, ``value_and_grad``): forward
        mode through it (what :func:`ad_compiler.callables.compile_derivative`
        makes of a Jacobian or Hessian function)."""
        if kind == "jvp":
            return jvp_of_derived(self, argnums)
        if kind not in ("grad", "value_and_grad"):
            raise UsageError(
                f"{kind} of `{self.__name__}` is not supported: reverse mode through "
                "a jacobian or hessian is not written; jvp, jacfwd and grad are"
            )
        derived = forward_of_derived(self, argnums, f"{self.__name__}_grad")
        if kind == "grad":
            return derived
        return lambda *args: (self(*args), derived(*args))

    @property
    def source(self) -> str:
        header = f"# {self.__name__}: {self.mode} mode, all directions in one call\n"
        return header + source_of(self.compiled)

    @property
    def ir(self):
        return self.compiled.ir


def defaults_of(f) -> tuple:
    """The default values of ``f``'s last parameters (numbers, as lowered)."""
    return tuple(c.value for c in _primal_ir(f).defaults)


def names_of(f) -> tuple:
    """The names of ``f``'s parameters (for keyword arguments)."""
    return tuple(p.name for p in _primal_ir(f).params)


def with_keywords(name: str, names: tuple, defaults: tuple, args, kwargs) -> tuple:
    """``args`` and ``kwargs`` bound to the parameters ``names`` as Python binds
    a call (the defaults filling the rest); a TypeError as Python's otherwise."""
    kwargs = dict(kwargs)
    for key in kwargs:
        if key not in names:
            raise TypeError(f"{name}() got an unexpected keyword argument '{key}'")
        if names.index(key) < len(args):
            raise TypeError(f"{name}() got multiple values for argument '{key}'")
    plain = len(names) - len(defaults)
    bound = list(args)
    for i in range(len(args), len(names)):
        if names[i] in kwargs:
            bound.append(kwargs[names[i]])
        elif i >= plain:
            bound.append(defaults[i - plain])
        else:
            raise TypeError(f"{name}() missing required argument: '{names[i]}'")
    return tuple(bound)


def with_defaults(name: str, n: int, defaults: tuple, args: tuple) -> tuple:
    """``args`` completed to ``n`` with the defaults of the parameters left out,
    as calling the function itself would be; a TypeError as Python's if too few."""
    missing = n - len(args)
    if missing <= 0:
        return args
    if missing > len(defaults):
        raise TypeError(
            f"{name}() takes {n - len(defaults)} to {n} positional arguments "
            f"but {len(args)} were given"
        )
    return args + defaults[len(defaults) - missing :]


def _constant(k: int):
    """``pre`` for code for numbers: the k unit vectors as the directions."""
    return lambda args: (_unit_vectors(k), None)


def _unit_directions(wrt: tuple):
    """``pre`` for array code: unit directions shaped like the arguments at wrt,
    and their :class:`_Blocks` (``post`` cuts the results with them)."""

    def pre(args):
        inputs = blocks_of([numpy.shape(args[i]) for i in wrt])
        return inputs.directions(), inputs

    return pre


def _vector_mode(f, kind: str, wrt: tuple, mode: str, name: str, scalar_io, array_io):
    """A :class:`Derived` calling the emitted ``kind`` code in vector mode:
    ``scalar_io`` (pre, post) for code compiled for numbers (directions as 1-D
    arrays broadcast through it), ``array_io`` for array code or a call with
    arrays, where the ``_vector`` variant carries the directions as a leading
    axis."""
    scalar = compile_derivative(f, kind, wrt)
    array_code = isinstance(scalar, ArrayDerivative) or getattr(scalar, "arrays", False)
    primal = _primal_ir(f)
    # (an ArrayDerivative's interface has no body: its primal's IR says)
    own = getattr(f, "fn", None) if isinstance(f, ArrayDerivative) else None
    recursive = bool((own if isinstance(own, Function) else primal).callees)

    def vector():
        if recursive:  # its emitted calls take one direction: see PerDirection
            single = compile_derivative(f, kind, wrt, arrays=True)
            seeds = len(primal.results) if kind == "vjp" else len(wrt)
            return PerDirection(single, kind, wrt, seeds, f)
        return compile_derivative(f, f"{kind}_vector", wrt, arrays=True)

    def variant(args):
        if array_code or any(isinstance(a, numpy.ndarray) for a in args):
            return (vector(), *array_io)
        return (scalar, *scalar_io)

    n = len(_primal_ir(f).params)
    compiled = vector() if array_code else scalar
    return Derived(
        compiled, mode, name, n, variant, defaults=defaults_of(f), names=names_of(f)
    )


class PerDirection:
    """The vector-mode calling convention of an ``hvp``, a ``jvp`` or a
    ``vjp`` (the point, then ``seeds`` stacks of directions along a leading
    axis: per input at ``wrt``, or per output for a ``vjp``) by one call of
    the one-direction code per direction: an ``hvp`` gives per input the
    stack of its results, a ``jvp`` the values and the stack of their
    tangents, a ``vjp`` the values (``primal`` called once) and per input the
    stack of its adjoints.

    For a function that calls a recursive function: vector mode cannot carry
    the directions through the emitted call (``g``, ``g_adjoint`` and
    ``g_tangent`` take one direction), while forward mode (over reverse)
    through them, one direction at a time, is what :func:`ad_compiler.api.jvp`
    does.  The cost is one call per direction (a loop in Python), where
    vector mode makes one call."""

    def __init__(self, single, kind: str, wrt: tuple, seeds: int, primal):
        self.single, self.kind, self.wrt = single, kind, wrt
        self.seeds, self.primal = seeds, primal

    def __call__(self, *args):
        n = len(args) - self.seeds
        point, directions = args[:n], args[n:]
        count = len(directions[0])
        rows = [self.single(*point, *(d[j] for d in directions)) for j in range(count)]
        if self.kind in ("hvp", "vjp"):
            shapes = [numpy.shape(point[w]) for w in self.wrt]
            rows = [r if isinstance(r, tuple) else (r,) for r in rows]
            per_input = tuple(
                _stack([r[i] for r in rows], s) for i, s in enumerate(shapes)
            )
            if self.kind == "hvp":
                return per_input
            return self.primal(*point), per_input
        if not rows:  # no direction: the values, from a zero tangent
            zero = [numpy.zeros(numpy.shape(d)[1:]) for d in directions]
            rows = [self.single(*point, *zero)]
            count = 0
        values = rows[0][0]
        if isinstance(values, tuple):  # one stack per output
            dots = tuple(
                _stack([r[1][i] for r in rows], numpy.shape(y))[:count]
                for i, y in enumerate(values)
            )
            return values, dots
        return values, _stack([r[1] for r in rows], numpy.shape(values))[:count]

    @property
    def source(self) -> str:
        note = "# called once per direction (it calls a recursive function)\n"
        return note + source_of(self.single)

    @property
    def ir(self):
        return self.single.ir


def _stack(results: list, shape: tuple) -> numpy.ndarray:
    """One call's results per direction, stacked along a new first axis (a
    zero may come back as the number 0.0: it is made ``shape``)."""
    return numpy.stack(
        [numpy.broadcast_to(numpy.asarray(r, dtype=float), shape) for r in results]
    ).reshape((len(results),) + tuple(shape))


def _forward(f, argnums, fn: Function, name: str) -> Derived:
    """J[i][j] = ∂y_i/∂x_j from one jvp call with ẋ_j = e_j."""
    if isinstance(f, Derived):
        return forward_of_derived(f, argnums, name)
    wrt, wrt_tree = wrt_of(fn, argnums)
    k = len(wrt)

    def post(out, args, _):
        _, dots = out
        outs = list(dots) if isinstance(fn.tree, tuple) else [dots]
        per_output = [_shape_by(wrt_tree, row) for row in _matrix(outs, k)]
        return _shape_by(fn.tree, per_output)

    def post_arrays(out, args, inputs):  # inputs: pre's blocks
        _, dots = out
        per_output = [
            _shape_by(wrt_tree, [inputs.jacobian_block(d, j) for j in range(k)])
            for d in _leaves_of(fn.tree, dots)
        ]
        return _shape_by(fn.tree, per_output)

    io, io_arrays = (_constant(k), post), (_unit_directions(wrt), post_arrays)
    return _vector_mode(f, "jvp", wrt, "forward", name, io, io_arrays)


def _reverse(f, argnums, fn: Function, name: str) -> Derived:
    """J[i][j] = ∂y_i/∂x_j from one vjp call with ȳ_i = e_i."""
    if isinstance(f, Derived):
        raise UsageError(
            f"reverse mode through `{f.__name__}` is not supported: use jacfwd "
            "(forward mode differentiates a jacobian or hessian again)"
        )
    wrt, wrt_tree = wrt_of(fn, argnums)
    m = len(fn.results)

    def post(bars, args, _):
        bars = bars if isinstance(bars, tuple) else (bars,)
        rows = numpy.array(_matrix(bars, m)).T.tolist()  # one column per input
        per_output = [_shape_by(wrt_tree, row) for row in rows]
        return _shape_by(fn.tree, per_output)

    def pre_arrays(args):
        # the seeds need the outputs' shapes: one call of f says them
        outputs = blocks_of([numpy.shape(y) for y in _leaves_of(fn.tree, f(*args))])
        return outputs.directions(), outputs

    def post_arrays(out, args, outputs):  # (values, adjoints: one per wrt, flat)
        _, bars = out
        inputs = [numpy.shape(args[j]) for j in wrt]
        per_output = [
            _shape_by(
                wrt_tree,
                [outputs.gradient_block(b, i, s) for b, s in zip(bars, inputs)],
            )
            for i in range(m)
        ]
        return _shape_by(fn.tree, per_output)

    io, io_arrays = (_constant(m), post), (pre_arrays, post_arrays)
    derived = _vector_mode(f, "vjp", wrt, "reverse", name, io, io_arrays)
    seen: dict = {}  # argument shapes -> the outputs' blocks of the last such call

    def fast(args):
        """Seeds shaped like the outputs of the last call with these argument
        shapes, checked against the values the code returns with the adjoints
        (a shape that depends on values, not only on shapes, is seeded again:
        after the code returns other shapes, or raises on the stale seeds)."""
        compiled, pre, _ = derived.variant(args)
        if pre is not pre_arrays:
            return None  # code for numbers
        key = tuple(numpy.shape(a) for a in args)
        outputs = seen.get(key)
        derived.compiled = compiled
        if outputs is None:
            _, outputs = pre_arrays(args)
            out = compiled(*args[: derived.n], *outputs.directions())
        else:
            try:
                out = compiled(*args[: derived.n], *outputs.directions())
            except Exception:
                _, fresh = pre_arrays(args)
                if fresh.shapes == outputs.shapes:
                    raise  # not the seeds' fault
                outputs = fresh
                out = compiled(*args[: derived.n], *outputs.directions())
        ys = _leaves_of(fn.tree, out[0])
        if [numpy.shape(y) for y in ys] != outputs.shapes:
            outputs = blocks_of([numpy.shape(y) for y in ys])
            out = compiled(*args[: derived.n], *outputs.directions())
        seen[key] = outputs
        return post_arrays(out, args, outputs)

    derived.fast = fast
    return derived


def forward_of_derived(d: Derived, argnums, name: str) -> Derived:
    """The Jacobian of a Jacobian or Hessian function ``d``, in forward mode.

    ``d(x) = post(C(x, E))`` with C its emitted code, E constant directions and
    post linear, so ``d'(x)·u = post(C'(x, E)·u)``: the emitted code of C is
    differentiated again in forward mode (closure), in vector mode over the
    new directions u, and ``post`` is applied to each direction's tangents.
    For array code the new directions are another leading axis (the batching
    pass runs on code already batched); for code for numbers they broadcast
    against the directions already there, one axis further out (``depth``).
    """
    if d.variant is None:
        raise UsageError(f"`{d.__name__}` cannot be differentiated (it is not linear)")
    wrt, wrt_tree = wrt_of_arity(d.__name__, d.n, argnums)
    k = len(wrt)

    def variant(args):
        inner, pre, post = d.variant(args)
        arrays = (
            isinstance(inner, ArrayDerivative)
            or getattr(inner, "arrays", False)  # a pullback's derivative
            or any(isinstance(a, numpy.ndarray) for a in args)
        )
        compiled = compile_derivative(inner, "jvp_vector" if arrays else "jvp", wrt)

        def pre2(args):
            directions, context = pre(args)
            if arrays:
                new = blocks_of([numpy.shape(args[i]) for i in wrt]).directions()
            else:
                new = [e.reshape((k,) + (1,) * d.depth) for e in _unit_vectors(k)]
            return list(directions) + list(new), context

        def post2(out, args, context):
            inputs = blocks_of([numpy.shape(args[i]) for i in wrt])
            _, dots = out
            per_direction = [
                post(_direction(dots, j), args, context) for j in range(inputs.total)
            ]
            return _stacked_blocks(per_direction, inputs, wrt_tree, arrays)

        return compiled, pre2, post2

    derived = Derived(
        d.compiled, "forward", name, d.n, variant, defaults=d.defaults, names=d.names
    )
    derived.depth = d.depth + 1
    return derived


def _direction(value, j: int):
    """Direction j of every tangent in ``value`` (a tuple tree; a zero stays 0.0)."""
    if isinstance(value, tuple):
        return tuple(_direction(v, j) for v in value)
    return value[j] if numpy.ndim(value) else value


def _stacked_blocks(per_direction: list, inputs: "_Blocks", wrt_tree, arrays: bool):
    """Values (alike trees) along each unit direction, as Jacobian blocks per leaf."""
    first = per_direction[0]
    if isinstance(first, tuple):
        return tuple(
            _stacked_blocks([v[i] for v in per_direction], inputs, wrt_tree, arrays)
            for i in range(len(first))
        )
    stacked = numpy.array(per_direction, dtype=float)
    blocks = [inputs.jacobian_block(stacked, j) for j in range(len(inputs.shapes))]
    if not arrays:
        blocks = [float(b) for b in blocks]
    return _shape_by(wrt_tree, blocks)


def jvp_of_derived(d: Derived, argnums):
    """``(d(x), d'(x)·ẋ)``: the emitted code's tangent along ẋ, arranged as d's
    results (the directions d passes are constants)."""
    if d.variant is None:
        raise UsageError(f"`{d.__name__}` cannot be differentiated (it is not linear)")
    wrt, _ = wrt_of_arity(d.__name__, d.n, argnums)

    def call(*args_and_tangents):
        args, tangents = args_and_tangents[: d.n], args_and_tangents[d.n :]
        inner, pre, post = d.variant(args)
        directions, context = pre(args)
        compiled = compile_derivative(inner, "jvp", wrt)
        out, dots = compiled(*args, *directions, *tangents)
        return post(out, args, context), post(dots, args, context)

    return call


class _Blocks:
    """Arguments (or outputs) of shapes ``s_1 … s_m`` as one vector of
    ``K = Σ size(s_i)`` numbers: the unit directions e_1 … e_K of vector mode,
    cut into one array of shape ``(K,) + s_i`` per argument, and the blocks of a
    Jacobian or Hessian cut back out of the results."""

    def __init__(self, shapes: list):
        self.shapes = [tuple(s) for s in shapes]
        self.sizes = [math.prod(s) for s in self.shapes]
        self.starts = [sum(self.sizes[:i]) for i in range(len(self.sizes))]
        self.total = sum(self.sizes)
        self._directions: list | None = None

    def directions(self) -> list:
        """The unit directions, made once: read-only (emitted code never writes
        into its parameters; a bug that did would raise, not corrupt them)."""
        if self._directions is None:
            eye = numpy.eye(self.total)
            eye.flags.writeable = False
            self._directions = [
                eye[:, a : a + size].reshape((self.total,) + s)
                for a, size, s in zip(self.starts, self.sizes, self.shapes)
            ]
        return self._directions

    def jacobian_block(self, dots, j: int) -> numpy.ndarray:
        """∂y/∂x_j from y's tangents along all directions (``(K,) + s_y``): shape
        ``s_y + s_j``."""
        lazy = _foreign(dots)
        if not lazy and (
            type(dots) is not numpy.ndarray or dots.dtype != float or not dots.ndim
        ):
            dots = numpy.asarray(dots, dtype=float)
        if dots.shape[:1] != (self.total,):
            dots = numpy.broadcast_to(dots, (self.total,) + numpy.shape(dots)[1:])
        a, size = self.starts[j], self.sizes[j]
        s_y = dots.shape[1:]
        block = dots[a : a + size].reshape(size, -1).T.reshape(s_y + self.shapes[j])
        return block if lazy else numpy.array(block)  # writable, its own

    def gradient_block(self, bars, i: int, s_x: tuple) -> numpy.ndarray:
        """∂y_i/∂x from x's adjoints of all seeds (``(K,) + s_x``): shape
        ``s_i + s_x``."""
        lazy = _foreign(bars)
        if type(bars) is not numpy.ndarray or bars.shape != (self.total,) + s_x:
            bars = numpy.broadcast_to(
                bars if lazy else numpy.asarray(bars, dtype=float),
                (self.total,) + s_x,
            )
        a, size = self.starts[i], self.sizes[i]
        block = bars[a : a + size].reshape(self.shapes[i] + bars.shape[1:])
        return block if lazy else numpy.array(block)


def _foreign(value) -> bool:
    """An array of another library that NumPy's functions hand themselves to
    (a Dask array): its blocks are cut in its own library, computing nothing
    (docs/scaling.md)."""
    return hasattr(value, "__array_function__") and not isinstance(value, numpy.ndarray)


_BLOCKS: dict = {}  # shapes -> _Blocks, while their unit directions are small
_CACHED = 1 << 16  # at most K² = 65,536 numbers (512 kB) of directions each


def blocks_of(shapes: list) -> _Blocks:
    """``_Blocks(shapes)``, kept for the next call with the same shapes when
    its K x K identity is small (a large one costs little to make beside the
    derivative it feeds, and much to keep)."""
    key = tuple(tuple(s) for s in shapes)
    found = _BLOCKS.get(key)
    if found is None:
        found = _Blocks(list(key))
        if found.total * found.total <= _CACHED and len(_BLOCKS) < 256:
            _BLOCKS[key] = found
    return found


def _leaves_of(tree, value) -> list:
    """The values at the leaves of ``tree`` in ``value`` (a tuple nested as ``tree``)."""
    if isinstance(tree, int):
        return [value]
    return [leaf for t, v in zip(tree, value) for leaf in _leaves_of(t, v)]


_TREES_DOC = """

    For arguments that are parameter trees (tuples, lists, dicts) the result
    is arranged as JAX arranges it: the output's structure outside, the
    input's inside (for a Hessian the input's structure twice), each block of
    shape ``output_leaf.shape + input_leaf.shape``; static arguments (strings,
    ``None``, ``bool``) are compiled for their values."""


def _with_trees(make):
    """``make`` (jacfwd ...) also for functions of parameter trees and static
    arguments: per call structure (:class:`ad_compiler.specialized.TreeJacobian`,
    blocks arranged as JAX arranges them)."""

    name = make.__name__.lstrip("_")

    def public(f, argnums=0):
        if needs_trees(f):
            return TreeJacobian(f, name, argnums, make)
        derived = make(f, argnums)
        if inspect.isfunction(f) and not hasattr(f, "ir"):  # the user's function
            derived.trees = TreeJacobian(f, name, argnums, make)
        return derived

    public.__name__ = public.__qualname__ = name
    public.__doc__ = make.__doc__ + _TREES_DOC
    return public


def _jacfwd(f, argnums=0) -> Derived:
    """The Jacobian of ``f`` in forward mode: ``J[output][argnum]`` (for arrays,
    each of shape ``output.shape + argument.shape``)."""
    fn = _primal_ir(f)
    return _forward(f, argnums, fn, f"{fn.name}_jacfwd")


def _jacrev(f, argnums=0) -> Derived:
    """The Jacobian of ``f`` in reverse mode: ``J[output][argnum]``."""
    fn = _primal_ir(f)
    return _reverse(f, argnums, fn, f"{fn.name}_jacrev")


# Element operations costing about as much as one NumPy call's overhead (~1 µs
# against ~1 ns): see _jacobian.
_CALL_COST = 1000


def _jacobian(f, argnums=0) -> Derived:
    """The Jacobian of ``f`` in the cheaper mode: forward when ``f`` has no more
    inputs (in ``argnums``) than outputs, reverse otherwise; ``.mode`` says which.

    For array code the numbers of inputs and outputs are the arrays' sizes, so
    the choice is made per call (and ``.mode`` says the last one): the first
    call with new argument shapes runs ``f`` once to learn its outputs' sizes.
    Vector mode runs one sweep with K directions at once, so a mode's cost is
    per NumPy call, not per direction: forward mode makes about one call per
    primal operation fewer than reverse mode (no second sweep), and carries
    ``K_in − K_out`` more directions through each, about ``(K_in − K_out) × s``
    more element operations (``s`` the size of the largest argument).  Forward
    mode is therefore also picked when that is below one call's overhead
    (``_CALL_COST`` element operations): small arrays, such as one
    bundle-adjustment observation's 2 x 15 Jacobian (measured in
    ``benchmarks/bench_ba.py``: forward 4.9x the objective, reverse 7.0x).
    """
    if isinstance(f, Derived):  # forward mode is the one that goes through it
        return forward_of_derived(f, argnums, f"{f.__name__}_jacobian")
    fn = _primal_ir(f)
    wrt, _ = wrt_of(fn, argnums)
    name = f"{fn.name}_jacobian"
    forward, reverse = _forward(f, argnums, fn, name), _reverse(f, argnums, fn, name)
    chosen: dict = {}  # argument shapes -> the mode's Derived

    def variant(args):
        key = tuple(numpy.shape(a) for a in args)
        pick = chosen.get(key)
        if pick is None:
            inputs = sum(int(numpy.size(args[i])) for i in wrt)
            if any(isinstance(a, numpy.ndarray) for a in args):
                ys = _leaves_of(fn.tree, f(*args))
                outputs = sum(int(numpy.size(y)) for y in ys)
                largest = max(int(numpy.size(a)) for a in args)
                cheap = (inputs - outputs) * largest <= _CALL_COST
            else:
                outputs, cheap = len(fn.results), False
            pick = forward if inputs <= outputs or cheap else reverse
            chosen[key] = pick
        derived.mode = pick.mode
        return pick.variant(args)

    # numbers in and out: the counts decide now; arrays: their sizes, per call
    static = forward if len(wrt) <= len(fn.results) else reverse
    derived = Derived(
        static.compiled,
        static.mode,
        name,
        len(fn.params),
        variant,
        defaults=static.defaults,
        names=static.names,
    )
    if isinstance(static.compiled, ArrayDerivative):
        derived.mode = "chosen per call"

    def fast(args):
        pick = chosen.get(tuple(numpy.shape(a) for a in args))
        if pick is None:
            return None  # the first call with these shapes: variant picks
        result = pick.direct(args)
        derived.mode, derived.compiled = pick.mode, pick.compiled
        return result

    derived.fast = fast
    return derived


def hvp(f, argnums=0):
    """``(x, v) ↦ H(x)·v`` without forming H: the emitted forward-over-reverse
    code, called with the point and one direction per argnum (``.source``)."""
    if isinstance(f, Derived):
        raise UsageError(
            f"hvp of `{f.__name__}` is not supported: jvp of its grad is (forward "
            "mode differentiates a jacobian or hessian again)"
        )
    compiled = compile_derivative(f, "hvp", argnums)
    return _HvpWithDefaults(
        compiled, len(_primal_ir(f).params), defaults_of(f), names_of(f)
    )


class _HvpWithDefaults:
    """An hvp of a function with defaults: ``(x..., v...)`` with the last
    arguments the directions (one per argnum) and the point's trailing
    parameters left out taking their defaults.  Everything else is the
    emitted function's (``.source``, ``.ir`` ...)."""

    def __init__(self, compiled, n: int, defaults: tuple, names: tuple):
        self.compiled, self.n, self.defaults = compiled, n, defaults
        self.names = names  # of the point's parameters, for keyword arguments
        self.k = len(signature_ir(compiled).params) - n  # the directions
        self.__name__ = getattr(compiled, "__name__", "hvp")

    def __call__(self, *args, **kwargs):
        point, directions = args[: len(args) - self.k], args[len(args) - self.k :]
        if kwargs:
            point = with_keywords(
                self.__name__, self.names, self.defaults, point, kwargs
            )
        point = with_defaults(self.__name__, self.n, self.defaults, point)
        return self.compiled(*point, *directions)

    @property
    def source(self) -> str:
        return source_of(self.compiled)

    def __getattr__(self, name):
        return getattr(self.compiled, name)


def _hessian(f, argnums=0) -> Derived:
    """∂²f/∂x_i∂x_j, forward over reverse, in one vector-mode call: ``H[i][j]``
    (a number for an int ``argnums``; for array code, arrays of shape
    ``x_i.shape + x_j.shape``)."""
    if isinstance(f, Derived):  # forward over forward through it
        name = f"{f.__name__}_hessian"
        return forward_of_derived(forward_of_derived(f, argnums, name), argnums, name)
    fn = _primal_ir(f)  # (one number returned: checked where it is compiled)
    wrt, wrt_tree = wrt_of(fn, argnums)
    k = len(wrt)

    def post(rows, args, _):
        rows = rows if isinstance(rows, tuple) else (rows,)
        matrix = _matrix(rows, k)
        if isinstance(wrt_tree, int):
            return matrix[0][0]
        return tuple(_shape_by(wrt_tree, row) for row in matrix)

    def post_arrays(rows, args, inputs):  # rows: one per wrt, flat; pre's blocks
        blocks = [[inputs.jacobian_block(r, j) for j in range(k)] for r in rows]
        if isinstance(wrt_tree, int):
            return blocks[0][0]
        return tuple(_shape_by(wrt_tree, row) for row in blocks)

    name, mode = f"{fn.name}_hessian", "forward over reverse"
    io, io_arrays = (_constant(k), post), (_unit_directions(wrt), post_arrays)
    return _vector_mode(f, "hvp", wrt, mode, name, io, io_arrays)


def gauss_newton(residuals, argnums=0) -> Derived:
    """The outer-product approximation of the Hessian of E = ½ Σₙ rₙ² (the seeds'
    H ≈ Σₙ ∇rₙ ∇rₙᵀ): ``JᵀJ`` from one Jacobian of ``residuals`` (a function
    returning the tuple of the rₙ, or an array of them), in the mode
    :func:`jacobian` picks.

    The exact Hessian is JᵀJ + Σₙ rₙ ∇²rₙ; the second term vanishes where the
    residuals do, or where they are linear in the parameters, and JᵀJ is
    positive semi-definite everywhere, which is what Gauss–Newton and
    Levenberg–Marquardt steps need.
    """
    jac = _jacobian(residuals, argnums)
    fn = _primal_ir(residuals)
    wrt, wrt_tree = wrt_of(fn, argnums)

    def run(*args):
        J = jac(*args)
        per_output = [_leaves_of(wrt_tree, row) for row in _leaves_of(fn.tree, J)]
        shapes = [numpy.shape(args[i]) for i in wrt]
        sizes = [int(numpy.prod(s)) for s in shapes]
        # one row per residual element, one column per parameter element
        rows = [
            numpy.concatenate(
                [numpy.reshape(b, (-1, size)) for b, size in zip(blocks, sizes)], axis=1
            )
            for blocks in per_output
        ]
        J = numpy.concatenate(rows, axis=0)
        G = J.T @ J
        starts = numpy.cumsum([0] + sizes)
        grid = [
            [
                G[starts[i] : starts[i + 1], starts[j] : starts[j + 1]].reshape(
                    shapes[i] + shapes[j]
                )
                for j in range(len(wrt))
            ]
            for i in range(len(wrt))
        ]
        arrays = any(s != () for s in shapes) or isinstance(
            jac.compiled, ArrayDerivative
        )
        if not arrays:
            grid = [[float(b) for b in row] for row in grid]
        if isinstance(wrt_tree, int):
            return grid[0][0]
        return tuple(tuple(row) for row in grid)

    name = f"{fn.name}_gauss_newton"
    return Derived(  # (not linear)
        jac,
        jac.mode,
        name,
        len(fn.params),
        run=run,
        defaults=jac.defaults,
        names=jac.names,
    )


def forward_gradient(f, argnums, fn: Function, value: bool) -> Derived:
    """``grad`` of a derivative whose code holds a tape (a reverse sweep over a
    loop): forward mode in vector mode through it, one call."""
    wrt, wrt_tree = wrt_of(fn, argnums)
    compiled = compile_derivative(f, "jvp", tuple(wrt))
    k = len(wrt)

    def post(out, args, _):
        y, dot = out
        g = _shape_by(wrt_tree, _row(dot, k).tolist())
        return (y, g) if value else g

    def variant(args):
        return compiled, _constant(k), post

    name = f"{fn.name}_grad"
    n, defaults = len(fn.params), tuple(c.value for c in fn.defaults)
    names = tuple(p.name for p in fn.params)
    return Derived(
        compiled, "forward", name, n, variant, defaults=defaults, names=names
    )


register_forward_gradient(forward_gradient)

jacfwd = _with_trees(_jacfwd)
jacrev = _with_trees(_jacrev)
jacobian = _with_trees(_jacobian)
hessian = _with_trees(_hessian)
