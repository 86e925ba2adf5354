"""Linear algebra I: solves, inverses, determinants and Cholesky factors.

The rows of ``np.linalg`` and ``scipy.linalg`` (spelled as the user called
them: an equation from SciPy carries the param ``scipy=True``, or ``ns`` is
``"scipy"`` for the plain calls).  Every row works on stacks of matrices the
way NumPy does (``...ij``): the last two axes are the matrix, the leading ones
a stack, so a leading axis of directions (vector mode) is one more stack axis.
The adjoints are the standard matrix-calculus forms, with a solve by the
matrix (or its factor) where a product by an inverse would do the same::

    Y = A⁻¹B (solve)      Ẏ = A⁻¹(Ḃ − ȦY)           B̄ = A⁻ᵀȲ,   Ā = −B̄Yᵀ
    Y = A⁻¹ (inv)         Ẏ = −YȦY                   Ā = −YᵀȲYᵀ
    d = det A             ḋ = d⟨A⁻ᵀ, Ȧ⟩              Ā = d̄ d A⁻ᵀ
    l = log|det A|        l̇ = ⟨A⁻ᵀ, Ȧ⟩               Ā = l̄ A⁻ᵀ     (the sign: zero)
    L = chol A            L̇ = L Φ(L⁻¹ȦL⁻ᵀ)           Ā = Φ(P + Pᵀ), P = L⁻ᵀΦ(LᵀL̄)L⁻¹
    X = T⁻¹B (triangular) Ẋ = T⁻¹(Ḃ − ṪX)            B̄ = T⁻ᵀX̄,   T̄ = −B̄Xᵀ (masked)

with Φ(X) the lower triangle of X with its diagonal halved, and ⟨X, Y⟩ the
sum of the elementwise product.  A function that reads one triangle of its
matrix (``cholesky``, ``eigh``, ``solve_triangular``) is differentiated as
that function of that triangle: the other triangle gets a zero adjoint, and
the symmetric adjoint P + Pᵀ of the mathematical function is folded onto the
triangle read (:func:`read_triangle`).  ``B`` may be a vector (one
axis, as NumPy 2 reads it) or a stack of matrices.

The rows of decompositions (``eigh``, ``qr``, ``svd`` ...) are in
:mod:`ad_compiler.primitives.linalg_decomp`.
"""

from __future__ import annotations

import numpy

from ad_compiler.errors import CompileError
from ad_compiler.ir import shapes
from ad_compiler.primitives.arrays import _swap
from ad_compiler.primitives.registry import (
    PREC_ATOM,
    Batching,
    Equation,
    Ops,
    Params,
    Primitive,
    Value,
    register,
    scipy_module,
    zero_jvp,
    zero_vjp,
)


def swap(b: Ops, x: Value) -> Value:
    """``x`` with its last two axes swapped (Xᵀ of each matrix; None, a zero, stays)."""
    return None if x is None else _swap(b, x)


# --- small helpers the rules share ------------------------------------------------------
def mm(b: Ops, x: Value, y: Value) -> Value:
    """``x @ y`` (None, a zero, absorbs)."""
    if x is None or y is None:
        return None
    return b.apply("matmul", x, y)


def col(b: Ops, v: Value) -> Value:
    """``v[..., :, None]``: a stack of vectors as a stack of one-column matrices."""
    return b.apply("expand_dims", v, axis=-1)


def row(b: Ops, v: Value) -> Value:
    """``v[..., None, :]``: a stack of vectors as a stack of one-row matrices."""
    return b.apply("expand_dims", v, axis=-2)


def rank_of(b: Ops, x: Value, what: str) -> int:
    """``x``'s number of axes, or a located error asking for the shapes."""
    r = b.rank(x)
    if r is None:
        raise CompileError(
            f"the derivative of `{what}` needs to know how many axes its operands have",
            b.loc,
            hint="give the shapes of the array parameters, as in "
            "`adc compile --shape A=n,n b=n` (the API knows them from the call)",
        )
    return r


def times_t(b: Ops, u: Value, v: Value, vector: bool) -> Value:
    """``u vᵀ`` of each stacked pair: an outer product when they are vectors."""
    if vector:
        return b.mul(col(b, u), row(b, v))
    return mm(b, u, swap(b, v))


def scalar_matrix(b: Ops, s: Value) -> Value:
    """A stack of numbers ``s`` (shape ``...``) as ``...11``, to scale matrices."""
    if b.rank(s) == 0:
        return s
    return col(b, col(b, s))


def pairing(b: Ops, x: Value, y: Value) -> Value:
    """⟨x, y⟩ of each stacked pair of matrices: Σ_ij x_ij y_ij."""
    return b.apply("sum", b.mul(x, y), axis=(-2, -1))


def tri(b: Ops, x: Value, lower: bool = True, k: int = 0) -> Value:
    """``np.tril(x, k)`` (``lower``) or ``np.triu(x, k)``: one triangle of each matrix."""
    if x is None:
        return None
    return b.apply("linalg_tri", x, lower=lower, k=k)


def phi(b: Ops, x: Value) -> Value:
    """Φ(x): the lower triangle of x with its diagonal halved, ½(tril x + tril(x, −1))."""
    return b.mul(b.lit(0.5), b.add(tri(b, x), tri(b, x, k=-1)))


def symmetric_read(b: Ops, dx: Value, lower: bool) -> Value:
    """The tangent of the symmetric matrix a function reads from one triangle of
    ``x``: ``tril(ẋ) + tril(ẋ, −1)ᵀ`` (``lower``), or the same of the upper
    triangle; it is Φ(y) + Φ(y)ᵀ with y = ẋ (or ẋᵀ)."""
    y = dx if lower else swap(b, dx)
    half = phi(b, y)
    return b.add(half, swap(b, half))


def read_triangle(b: Ops, p_bar: Value, lower: bool) -> Value:
    """The adjoint of a function of the symmetric matrix read from one triangle,
    from ``P`` with ⟨P, Ṡ⟩ the function's tangent for symmetric Ṡ: the
    triangle read gets tril(P) + tril(Pᵀ, −1) = Φ(P + Pᵀ), the other zero."""
    a = phi(b, b.add(p_bar, swap(b, p_bar)))
    return a if lower else swap(b, a)


def sum_back(b: Ops, g: Value, x: Value) -> Value:
    """``g`` summed to ``x``'s shape (stacks broadcast like NumPy's)."""
    return None if g is None else b.sum_to(g, x)


def _spelled(p: Params, name: str, args: list[str], keywords: str = "") -> str:
    lib = "scipy.linalg" if p.get("scipy") else "np.linalg"
    return f"{lib}.{name}({', '.join(args)}{keywords})"


def scipy_linalg(name: str):
    """``scipy.linalg.<name>``, imported when first called (SciPy is optional)."""

    def evaluate(*args, **kw):
        return getattr(scipy_module("scipy.linalg"), name)(*args, **kw)

    evaluate.__name__ = name
    return evaluate


# --- vector mode --------------------------------------------------------------------------
def batch_stacked(bt: Batching, e: Equation, p: Params, *ins: Value) -> None:
    """Vector mode of a row of one matrix (or a stack): the directions are one
    more stack axis, which NumPy and SciPy (1.15 on) loop over."""
    bt.out.append(e)


def batch_solve_like(bt: Batching, e: Equation, p: Params, a: Value, x: Value) -> None:
    """Vector mode of ``solve(A, B)`` and its kin: with B a matrix, stacks
    broadcast (the directions an extra stack axis of either); a vector B with
    directions would read as a matrix, so it is made a one-column matrix and
    the column dropped after."""
    if bt.rank(x) != 1:
        bt.out.append(e)
        return
    column = bt.new("expand_dims", x, axis=-1)
    solved = bt.new(e.prim, a, column, ns=e.ns, **p)
    bt.new("squeeze", solved, out=e.out, axis=-1)


# --- internal rows: one triangle, the identity ---------------------------------------------
def _render_tri(p, texts, atoms):
    name = "tril" if p.get("lower", True) else "triu"
    k = p.get("k", 0)
    return f"np.{name}({texts[0]}{f', {k}' if k else ''})", PREC_ATOM


def _tri_evaluate(x, lower=True, k=0):
    return numpy.tril(x, k) if lower else numpy.triu(x, k)


def _eye_shape(p, x, loc=None):
    return None if x is None else (x[-1], x[-1])


register(
    # tril/triu: a mask, so its own transpose (used by the rules of this family)
    Primitive(
        "linalg_tri",
        1,
        _tri_evaluate,
        samples=(
            (((3, 3),), {"lower": True, "k": -1}),
            (((2, 3, 3),), {"lower": False}),
        ),
        shape=lambda p, x, loc=None: x,
        render=_render_tri,
        memory="new",
        jvp=lambda b, p, out, x, dx: tri(b, dx, **p),
        vjp=lambda b, p, out, g, x: (tri(b, g, **p),),
        batch=batch_stacked,
        convention="linear",
    ),
    # the identity matrix of x's size (the last axis): a constant
    Primitive(
        "linalg_eye",
        1,
        lambda x: numpy.eye(numpy.shape(x)[-1]),
        shape=_eye_shape,
        render=lambda p, t, a: (f"np.eye({a[0]}.shape[-1])", PREC_ATOM),
        memory="new",
        differentiable=False,
        shape_only=(0,),
        jvp=zero_jvp,
        vjp=zero_vjp,
        convention="constant",
    ),
)


# --- solve, inv, det, slogdet ------------------------------------------------------------------
def _solve_jvp(b: Ops, p: Params, out, a, x, da, dx) -> Value:
    rhs = b.sub(dx, mm(b, da, out))  # Ḃ − ȦY
    return None if rhs is None else b.apply("solve", a, rhs)


def _solve_vjp(b: Ops, p: Params, out, g, a, x) -> tuple:
    vector = rank_of(b, x, "np.linalg.solve") == 1
    x_bar = b.apply("solve", swap(b, a), g)  # B̄ = A⁻ᵀȲ: a solve, no inverse
    a_bar = b.neg(times_t(b, x_bar, out, vector))  # Ā = −B̄Yᵀ
    return (sum_back(b, a_bar, a), sum_back(b, x_bar, x))


def _solve_shape(p, a, x, loc=None):
    return shapes.matmul(a, x, loc)  # (the shape of A @ B)


def _stack_shape(p, a, loc=None):
    return None if a is None else a[:-2]


def _inv_adjoint(b: Ops, a: Value) -> Value:
    """A⁻ᵀ, the derivative of log|det A|."""
    return swap(b, b.apply("inv", a))


register(
    Primitive(
        "solve",
        2,
        numpy.linalg.solve,
        names=("numpy.linalg.solve", "scipy.linalg.solve"),
        np_name="np.linalg.solve",
        scipy_name="scipy.linalg.solve",
        samples=(
            (((3, 3), (3,)), {}),
            (((3, 3), (3, 2)), {}),
            (((2, 3, 3), (2, 3, 1)), {}),
        ),
        shape=_solve_shape,
        memory="copy",
        jvp=_solve_jvp,
        vjp=_solve_vjp,
        batch=batch_solve_like,
        convention="smooth where A is invertible (not defined where it is singular)",
    ),
    Primitive(
        "inv",
        1,
        numpy.linalg.inv,
        names=("numpy.linalg.inv", "scipy.linalg.inv"),
        np_name="np.linalg.inv",
        scipy_name="scipy.linalg.inv",
        samples=((((3, 3),), {}), (((2, 3, 3),), {})),
        shape=lambda p, a, loc=None: a,
        memory="copy",
        jvp=lambda b, p, out, a, da: b.neg(mm(b, mm(b, out, da), out)),
        vjp=lambda b, p, out, g, a: (
            b.neg(mm(b, mm(b, swap(b, out), g), swap(b, out))),
        ),
        batch=batch_stacked,
        convention="smooth where A is invertible",
    ),
    Primitive(
        "det",
        1,
        numpy.linalg.det,
        names=("numpy.linalg.det", "scipy.linalg.det"),
        np_name="np.linalg.det",
        scipy_name="scipy.linalg.det",
        samples=((((3, 3),), {}), (((2, 2, 2),), {})),
        shape=_stack_shape,
        memory="copy",
        jvp=lambda b, p, out, a, da: b.mul(out, pairing(b, _inv_adjoint(b, a), da)),
        vjp=lambda b, p, out, g, a: (
            b.mul(scalar_matrix(b, b.mul(g, out)), _inv_adjoint(b, a)),
        ),
        batch=batch_stacked,
        convention="d·A⁻ᵀ: smooth where A is invertible; at a singular A the "
        "rule divides by zero (the true derivative there is the adjugate)",
    ),
    # slogdet(A) is (sign, log|det A|): one row per item, both spelled as the
    # call indexed, `np.linalg.slogdet(a)[1]` (the optimiser merges equal calls);
    # the name is on the row of the item that has a derivative
    Primitive(
        "slogdet_sign",
        1,
        lambda a: numpy.linalg.slogdet(a)[0],
        np_name="np.linalg.slogdet({0})[0]",
        call="own",
        samples=((((3, 3),), {}),),
        shape=_stack_shape,
        memory="copy",
        differentiable=False,
        jvp=zero_jvp,
        vjp=zero_vjp,
        batch=batch_stacked,
        convention="piecewise constant (±1): zero derivative",
    ),
    Primitive(
        "slogdet",
        1,
        lambda a: numpy.linalg.slogdet(a)[1],
        names=("numpy.linalg.slogdet",),
        np_name="np.linalg.slogdet({0})[1]",
        call="own",
        samples=((((3, 3),), {}), (((2, 2, 2),), {})),
        shape=_stack_shape,
        memory="copy",
        jvp=lambda b, p, out, a, da: pairing(b, _inv_adjoint(b, a), da),
        vjp=lambda b, p, out, g, a: (b.mul(scalar_matrix(b, g), _inv_adjoint(b, a)),),
        batch=batch_stacked,
        convention="A⁻ᵀ: smooth where A is invertible (−∞ at a singular A)",
    ),
)


# --- Cholesky ----------------------------------------------------------------------------
def _lower_factor(b: Ops, out: Value, lower: bool) -> Value:
    return out if lower else swap(b, out)


def left_solve(b: Ops, t: Value, x: Value, lower: bool, scipy: bool) -> Value:
    """T⁻¹X for a triangular T (``lower`` or upper): ``scipy.linalg.solve_triangular``
    when the user called SciPy, else ``np.linalg.solve`` (NumPy has no triangular
    solve, and the rules of NumPy's functions are spelled with NumPy only)."""
    if scipy:
        return b.apply("solve_triangular", t, x, **({"lower": True} if lower else {}))
    return b.apply("solve", t, x)


def cholesky_tangent(b: Ops, fac: Value, da: Value, lower: bool, sp=False) -> Value:
    """L̇ = L Φ(L⁻¹ ṠL⁻ᵀ), Ṡ the symmetric tangent read from ``da``; ``fac`` is
    L (lower) or U = Lᵀ, and so is the result (``sp``: solve with SciPy)."""
    if da is None:
        return None
    ell = _lower_factor(b, fac, lower)
    s_dot = symmetric_read(b, da, lower)
    once = left_solve(b, ell, s_dot, True, sp)
    inner = left_solve(b, ell, swap(b, once), True, sp)  # L⁻¹ṠL⁻ᵀ
    dl = mm(b, ell, phi(b, inner))
    return _lower_factor(b, dl, lower)


def cholesky_adjoint(b: Ops, fac: Value, g: Value, lower: bool, sp=False) -> Value:
    """Ā = Φ(P + Pᵀ) with P = L⁻ᵀ Φ(LᵀL̄) L⁻¹ (folded onto the triangle read)."""
    ell = _lower_factor(b, fac, lower)
    ell_t = swap(b, ell)
    m = phi(b, mm(b, ell_t, _lower_factor(b, g, lower)))
    once = left_solve(b, ell_t, swap(b, m), False, sp)
    p_bar = left_solve(b, ell_t, swap(b, once), False, sp)
    return read_triangle(b, p_bar, lower)


def _render_cholesky(p, texts, atoms):
    if p.get("scipy"):
        lower = ", lower=True" if p.get("lower") else ""
        return f"scipy.linalg.cholesky({texts[0]}{lower})", PREC_ATOM
    upper = "" if p.get("lower", True) else ", upper=True"
    return f"np.linalg.cholesky({texts[0]}{upper})", PREC_ATOM


def _cholesky(a, lower=True, scipy=False):
    return numpy.linalg.cholesky(a, upper=not lower)


_SPD_CONVENTION = (
    "smooth on symmetric positive-definite matrices; reads one triangle "
    "(the other gets a zero derivative)"
)

register(
    Primitive(
        "cholesky",
        1,
        _cholesky,
        names=("numpy.linalg.cholesky", "scipy.linalg.cholesky"),
        np_name="np.linalg.cholesky",
        scipy_name="scipy.linalg.cholesky",
        call="own",
        # (the registry's samples draw from [0.5, 2]: only 1×1 matrices are
        # sure to be positive definite; tests/test_linalg.py checks larger)
        samples=((((1, 1),), {"lower": True}), (((2, 1, 1),), {"lower": False})),
        shape=lambda p, a, loc=None: a,
        render=_render_cholesky,
        memory="copy",
        jvp=lambda b, p, out, a, da: cholesky_tangent(
            b, out, da, p.get("lower", True), bool(p.get("scipy"))
        ),
        vjp=lambda b, p, out, g, a: (
            cholesky_adjoint(b, out, g, p.get("lower", True), bool(p.get("scipy"))),
        ),
        batch=batch_stacked,
        convention=_SPD_CONVENTION,
    ),
)


# --- scipy.linalg.solve_triangular, cho_factor, cho_solve --------------------------------------
def _read(b: Ops, a: Value, p: Params) -> Value:
    """The triangle of ``a`` that solve_triangular reads (strict with a unit diagonal)."""
    lower = bool(p.get("lower"))
    k = 0 if not p.get("unit_diagonal") else (-1 if lower else 1)
    return tri(b, a, lower, k)


def _op(b: Ops, t: Value, p: Params) -> Value:
    return swap(b, t) if p.get("trans") else t


def _triangular_jvp(b: Ops, p: Params, out, a, x, da, dx) -> Value:
    rhs = b.sub(dx, mm(b, _op(b, _read(b, da, p), p), out))  # Ḃ − op(Ṫ)X
    return None if rhs is None else b.apply("solve_triangular", a, rhs, **p)


def _triangular_vjp(b: Ops, p: Params, out, g, a, x) -> tuple:
    vector = rank_of(b, x, "scipy.linalg.solve_triangular") == 1
    flipped = {**p, "trans": 1 - p.get("trans", 0)}
    x_bar = b.apply("solve_triangular", a, g, **flipped)  # B̄ = op(T)⁻ᵀ X̄
    if p.get("trans"):  # TᵀX = B: T̄ = −X B̄ᵀ
        t_bar = b.neg(times_t(b, out, x_bar, vector))
    else:  # TX = B: T̄ = −B̄ Xᵀ
        t_bar = b.neg(times_t(b, x_bar, out, vector))
    return (sum_back(b, _read(b, t_bar, p), a), sum_back(b, x_bar, x))


def _render_triangular(p, texts, atoms):
    keys = "".join(
        f", {k}={p[k]!r}" for k in ("trans", "lower", "unit_diagonal") if p.get(k)
    )
    return f"scipy.linalg.solve_triangular({texts[0]}, {texts[1]}{keys})", PREC_ATOM


def _cho_factor(a, lower=False):
    return scipy_module("scipy.linalg").cho_factor(a, lower=lower)[0]


def _cho_factor_jvp(b: Ops, p: Params, out, a, da) -> Value:
    """The factor's triangle moves as the Cholesky factor does; the other strict
    triangle is ``a``'s, copied."""
    lower = bool(p.get("lower"))
    factor = tri(b, out, lower)
    dl = cholesky_tangent(b, factor, da, lower, True)
    return b.add(dl, tri(b, da, not lower, 1 if lower else -1))


def _cho_factor_vjp(b: Ops, p: Params, out, g, a) -> tuple:
    lower = bool(p.get("lower"))
    factor = tri(b, out, lower)
    a_bar = cholesky_adjoint(b, factor, tri(b, g, lower), lower, True)
    return (b.add(a_bar, tri(b, g, not lower, 1 if lower else -1)),)


def _cho_solve_jvp(b: Ops, p: Params, out, c, x, dc, dx) -> Value:
    """A = LLᵀ (or UᵀU): Ẋ = A⁻¹(Ḃ − ȦX) with ȦX = L̇(LᵀX) + L(L̇ᵀX)."""
    lower = bool(p.get("lower"))
    a_dot_x = None
    if dc is not None:
        ell = _lower_factor(b, tri(b, c, lower), lower)
        dl = _lower_factor(b, tri(b, dc, lower), lower)
        a_dot_x = b.add(
            mm(b, dl, mm(b, swap(b, ell), out)), mm(b, ell, mm(b, swap(b, dl), out))
        )
    rhs = b.sub(dx, a_dot_x)
    return None if rhs is None else b.apply("cho_solve", c, rhs, **p)


def _cho_solve_vjp(b: Ops, p: Params, out, g, c, x) -> tuple:
    """B̄ = A⁻¹X̄ (A is symmetric); Ā = −B̄Xᵀ, and with A = LLᵀ, L̄ = (Ā + Āᵀ)L
    on the triangle of ``c`` read (U = Lᵀ: Ū = U(Ā + Āᵀ))."""
    lower = bool(p.get("lower"))
    vector = rank_of(b, x, "scipy.linalg.cho_solve") == 1
    x_bar = b.apply("cho_solve", c, g, **p)
    a_bar = b.neg(times_t(b, x_bar, out, vector))
    sym = b.add(a_bar, swap(b, a_bar))
    fac = tri(b, c, lower)
    c_bar = mm(b, sym, fac) if lower else mm(b, fac, sym)
    return (sum_back(b, tri(b, c_bar, lower), c), sum_back(b, x_bar, x))


def _cho_solve(c, x, lower=False):
    return scipy_module("scipy.linalg").cho_solve((c, lower), x)


register(
    Primitive(
        "solve_triangular",
        2,
        scipy_linalg("solve_triangular"),
        names=("scipy.linalg.solve_triangular",),
        scipy_name="scipy.linalg.solve_triangular",
        call="own",
        samples=(
            (((3, 3), (3,)), {"lower": True}),
            (((3, 3), (3, 2)), {"trans": 1}),
            (
                ((2, 3, 3), (2, 3, 1)),
                {"lower": True, "trans": 1, "unit_diagonal": True},
            ),
        ),
        shape=_solve_shape,
        render=_render_triangular,
        render_module="scipy.linalg",
        memory="copy",
        jvp=_triangular_jvp,
        vjp=_triangular_vjp,
        batch=batch_solve_like,
        convention="smooth where the triangle read has no zero on its diagonal; "
        "the other triangle gets a zero derivative",
    ),
    # cho_factor(a) is (c, lower): c is this row, lower a constant
    Primitive(
        "cho_factor",
        1,
        _cho_factor,
        names=("scipy.linalg.cho_factor",),
        scipy_name="scipy.linalg.cho_factor",
        call="own",
        samples=((((1, 1),), {"lower": True}), (((2, 1, 1),), {})),
        shape=lambda p, a, loc=None: a,
        render=lambda p, t, a: (
            f"scipy.linalg.cho_factor({t[0]}{', lower=True' if p.get('lower') else ''})[0]",
            PREC_ATOM,
        ),
        render_module="scipy.linalg",
        memory="copy",
        jvp=_cho_factor_jvp,
        vjp=_cho_factor_vjp,
        batch=batch_stacked,
        convention=_SPD_CONVENTION + "; the unused triangle of c is a's, copied",
    ),
    Primitive(
        "cho_solve",
        2,
        _cho_solve,
        names=("scipy.linalg.cho_solve",),
        scipy_name="scipy.linalg.cho_solve",
        call="own",
        samples=(
            (((3, 3), (3,)), {"lower": True}),
            (((2, 3, 3), (2, 3, 2)), {}),
        ),
        shape=_solve_shape,
        render=lambda p, t, a: (
            f"scipy.linalg.cho_solve(({t[0]}, {bool(p.get('lower'))}), {t[1]})",
            PREC_ATOM,
        ),
        render_module="scipy.linalg",
        memory="copy",
        jvp=_cho_solve_jvp,
        vjp=_cho_solve_vjp,
        batch=batch_solve_like,
        convention="smooth where the factor's diagonal has no zero; reads one "
        "triangle of c (the other gets a zero derivative)",
    ),
)
