"""Which primitives' emitted spellings stay lazy on Dask arrays: the table of
docs/scaling.md, generated from the registry (``python tests/dask_table.py``).

Each row of the registry (ad_compiler/primitives/table.py) is applied once, as
emitted code applies it: a function of one equation is emitted by the code
generator (with the helpers it calls) and run on the row's sample inputs made
Dask arrays of two chunks along each axis (a static input, an int, stays a
literal).  It runs under a scheduler that raises, with warnings as errors,
and is then recorded as

* ``lazy``: a Dask array out, nothing computed, and its value (computed
  afterwards) NumPy's;
* ``shape only``: a number or tuple out (a size, a shape), read without
  computing, and NumPy's;
* ``computes``: the spelling asked Dask for a value (``np.asarray``, a Python
  ``float`` ...);
* ``warns``: a warning (Dask's FutureWarning for a NumPy function it does
  not implement, which then computes);
* ``NumPy out``: a NumPy array, made without reading the Dask inputs' values;
* ``differs``: lazy, but the value is not NumPy's;
* ``fails``: an exception (its type is given);
* ``not for arrays``: an elementwise row's spelling for numbers (``x if c
  else y``, ``math.erf``), which fails on NumPy arrays too (array code is
  spelled with another row).

A row with several samples shows each outcome met and on how many samples.
The elementwise rows follow, grouped by outcome, applied to 3 x 4 arrays.
"""

from __future__ import annotations

import math
import sys
import textwrap
import warnings

import numpy

from ad_compiler.backend.codegen import emit_function, helpers_for, imports_for
from ad_compiler.backend.lazy_form import _SHAPES_ONLY
from ad_compiler.ir import shapes
from ad_compiler.ir.nodes import Const, Eqn, Function, Var
from ad_compiler.primitives.table import PRIMITIVES

# inputs for the rows that declare no samples (they read shapes or make arrays)
EXTRA_SAMPLES = {
    "shape": [(((3, 4),), {})],
    "len": [(((3, 4),), {})],
    "size": [(((3, 4),), {})],
    "size_of_shape": [(((3, 4),), {}), (((3, 1), (4,)), {})],
    "broadcast": [(((3, 1), (4,)), {})],
    "broadcast_of_shapes": [(((3, 1), (4,)), {})],
    "linalg_eye": [(((3, 3),), {})],
}
# rows with no sample that the table cannot run: why
NOT_RUN = {"construct": "makes a constant array from literals (no array input)"}

ORDER = (
    "lazy",
    "shape only",
    "NumPy out",
    "warns",
    "computes",
    "differs",
    "fails",
    "not for arrays",
)


class Computed(Exception):
    """The scheduler was asked to compute."""


def _computing(*args, **kwargs):
    raise Computed


def one_equation(prim: str, values: list, params: dict, ns: str) -> Function:
    """``f`` applying ``prim`` once: each array of ``values`` a parameter
    (x0, x1 ...), each int a literal."""
    ins = tuple(
        Const(v) if isinstance(v, int) else Var(f"x{j}") for j, v in enumerate(values)
    )
    out = Var("y")
    return Function(
        name="f",
        params=tuple(a for a in ins if isinstance(a, Var)),
        body=(Eqn(prim, (out,), ins, None, ns, tuple(sorted(params.items()))),),
        results=(out,),
        param_shapes=tuple(
            shapes.of_value(v) for v in values if not isinstance(v, int)
        ),
    )


def emitted(fn: Function):
    """The emitted function and the text of what it returns."""
    namespace = {"np": numpy, "math": math}
    text = emit_function(fn)
    exec("\n".join(imports_for([fn])), namespace)  # import scipy.special ...
    for helper in helpers_for([fn]):
        exec(helper, namespace)
    exec(text, namespace)
    # the line that computes y (the rest: the signature and `return y`)
    (line,) = [t.strip() for t in text.split("\n") if t.strip().startswith("y = ")]
    return namespace[fn.name], line.removeprefix("y = ")


def _is_array(value) -> bool:
    return isinstance(value, numpy.ndarray) and value.dtype != object


def _values(prim: str, sample) -> list:
    """NumPy inputs of one sample: a shape is a random array (inside the
    row's domain for an elementwise row), an array or an int as given."""
    row = PRIMITIVES[prim]
    rng = numpy.random.default_rng(len(prim))
    ins = sample[0]
    domain = row.domain or ((0.5, 2.0),) * len(ins)
    values = []
    for k, s in enumerate(ins):
        if isinstance(s, tuple):
            lo, hi = domain[k] if k < len(domain) else (0.5, 2.0)
            values.append(rng.uniform(max(lo, -1e3), min(hi, 1e3), size=s))
        else:
            values.append(s)
    return values


def _to_dask(value):
    import dask.array as da

    if not _is_array(value):
        return value
    return da.from_array(value, chunks=tuple(max(1, -(-d // 2)) for d in value.shape))


def _same(got, expected) -> bool:
    if isinstance(expected, tuple) or isinstance(got, tuple):
        return (
            isinstance(got, tuple)
            and isinstance(expected, tuple)
            and len(got) == len(expected)
            and all(_same(g, e) for g, e in zip(got, expected))
        )
    got, expected = numpy.asarray(got), numpy.asarray(expected)
    if got.shape != expected.shape:
        return False
    if got.dtype.kind in "fc" or expected.dtype.kind in "fc":
        return bool(
            numpy.allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
        )
    return bool(numpy.array_equal(got, expected))


def outcome(prim: str, sample, ns: str) -> str:
    """What one sample of the row does on Dask inputs (the module docstring)."""
    import dask

    values = _values(prim, sample)
    params = dict(sample[1])
    f, _ = emitted(one_equation(prim, values, params, ns))
    try:  # (on copies: a helper writing into its input would change them)
        expected = f(*(numpy.copy(v) for v in values if not isinstance(v, int)))
    except Exception:  # a spelling for numbers (`x if c else y`, math.erf)
        return "not for arrays"
    lazy_ins = [_to_dask(v) for v in values if not isinstance(v, int)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with dask.config.set(scheduler=_computing):
                got = f(*lazy_ins)
    except Computed:
        return "computes"
    except Warning as w:
        return f"warns ({type(w).__name__})"
    except Exception as e:  # what Dask or NumPy raise
        return f"fails ({type(e).__name__})"
    outs = got if isinstance(got, tuple) else (got,)
    try:
        with dask.config.set(scheduler="sync"):
            (computed,) = dask.compute(got)
    except Exception as e:
        return f"fails when computed ({type(e).__name__})"
    if not _same(computed, expected):
        return "differs"
    if any(isinstance(o, dask.array.Array) for o in outs):
        return "lazy"
    if any(_is_array(o) and o.ndim for o in outs):
        return "NumPy out"
    return "shape only"


def _spelling_ns(row) -> str:
    """The library a row is called from here: NumPy's twin when it has one,
    else SciPy's, else math's, else Python's (as tests/test_registry.py)."""
    if row.np_name:
        return "np"
    return "scipy" if row.scipy_name else "math" if row.math_name else "py"


def _rank(result: str) -> int:
    return next(i for i, k in enumerate(ORDER) if result.startswith(k))


def row_result(prim: str, samples) -> tuple[str, str]:
    """(the emitted spelling of the first sample, the outcomes over samples)."""
    row = PRIMITIVES[prim]
    ns = _spelling_ns(row) if row.elementwise else "np"
    first = samples[0]
    _, spelled = emitted(one_equation(prim, _values(prim, first), dict(first[1]), ns))
    results = [outcome(prim, s, ns) for s in samples]
    distinct = sorted(set(results), key=lambda r: (_rank(r), r))
    if len(distinct) == 1:
        return spelled, distinct[0]
    shown = [f"{r} ({results.count(r)} of {len(results)})" for r in distinct]
    return spelled, "; ".join(shown)


def _array_rows() -> list[str]:
    return sorted(
        n
        for n, r in PRIMITIVES.items()
        if not r.effect and n != "call" and not r.elementwise
    )


def _elementwise_rows() -> list[str]:
    return sorted(
        n
        for n, r in PRIMITIVES.items()
        if not r.effect and n != "call" and r.elementwise
    )


def array_table() -> list[str]:
    """One line per array row: its name, its emitted spelling on the first
    sample, what that does on Dask arrays; in aligned columns."""
    rows = []
    for prim in _array_rows():
        row = PRIMITIVES[prim]
        samples = list(row.samples) or EXTRA_SAMPLES.get(prim, [])
        if not samples:
            rows.append((prim, "", f"not run: {NOT_RUN[prim]}"))
            continue
        spelled, result = row_result(prim, samples)
        if prim in _SHAPES_ONLY:
            result += f"; the lazy form spells it {_SHAPES_ONLY[prim]}"
        rows.append((prim, spelled, result))
    head = ("row", "emitted spelling (first sample)", "on Dask arrays")
    widths = [max(len(r[k]) for r in rows + [head]) for k in range(2)]
    return [
        f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in [head] + rows
    ]


def elementwise_table() -> list[str]:
    """The elementwise rows (on 3 x 4 arrays) grouped by what they do."""
    by_result: dict[str, list[str]] = {}
    for prim in _elementwise_rows():
        row = PRIMITIVES[prim]
        sample = (((3, 4),) * row.arity, dict(row.sample_params[0]))
        _, result = row_result(prim, [sample])
        by_result.setdefault(result, []).append(prim)
    lines = []
    for result in sorted(by_result, key=lambda r: (_rank(r), r)):
        names = ", ".join(by_result[result])
        lines += textwrap.wrap(
            f"{result} ({len(by_result[result])}): {names}",
            width=88,
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
    return lines


def table() -> str:
    """Both tables, as docs/scaling.md shows them."""
    return "\n".join(
        array_table() + ["", "elementwise rows, on 3 x 4 arrays:"] + elementwise_table()
    )


if __name__ == "__main__":
    try:
        import dask  # noqa: F401
    except ImportError:
        sys.exit("dask is not installed: pip install 'ad_compiler[dask]'")
    print(table())
