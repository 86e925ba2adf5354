"""Linear algebra II: decompositions, least squares, powers and the exponential.

A decomposition returns a tuple; each item is a row of its own (``eigh_w``,
``eigh_v``; ``qr_q``, ``qr_r``; ``svd_u``, ``svd_s``, ``svd_vh``; the names the
user calls are on the one every spelling computes), spelled as the call indexed (``np.linalg.eigh(a)[1]``); each item's rules compute the other
items they need by the same rows (the optimiser merges equal equations).  With
``Ṡ`` the symmetric tangent read from one triangle (see
:func:`~ad_compiler.primitives.linalg.symmetric_read`), ``X = VᵀṠV`` and
``F_ij = 1/(w_j − w_i)`` off the diagonal (0 on it)::

    eigh    ẇ = diag(X)           V̇ = V(F ∘ X)
            P = V diag(w̄) Vᵀ + V(F ∘ VᵀV̄)Vᵀ, Ā = Φ(P + Pᵀ) on the triangle read
    qr      C = QᵀȦR⁻¹, Ω = tril(C, −1) − tril(C, −1)ᵀ:  Q̇ = Q(Ω − C) + ȦR⁻¹,  Ṙ = (C − Ω)R
            M = R̄Rᵀ − QᵀQ̄:  Ā = (Q(M − tril(M, −1) + tril(Mᵀ, −1)) + Q̄)R⁻ᵀ
    svd     X = UᵀȦV, F_ij = 1/(s_j² − s_i²):  ṡ = diag(X),
            U̇ = U(F ∘ (XS + SXᵀ)) + (I − UUᵀ)ȦVS⁻¹,  V̇ = V(F ∘ (SX + XᵀS)) + (I − VVᵀ)ȦᵀUS⁻¹
            Ā = U(diag(s̄) + (J + Jᵀ)S + S(K + Kᵀ))Vᵀ + (I − UUᵀ)ŪS⁻¹Vᵀ + US⁻¹V̄ᵀ(I − VVᵀ),
            J = F ∘ UᵀŪ, K = F ∘ VᵀV̄
    lstsq   x = (AᵀA)⁻¹Aᵀb (full column rank), r = b − Ax:  ẋ = (AᵀA)⁻¹(Ȧᵀr + Aᵀ(ḃ − Ȧx))
            z = (AᵀA)⁻¹x̄:  b̄ = Az,  Ā = rzᵀ − Azxᵀ
    pinv    Y = A⁺ (constant rank):  Ẏ = −YȦY + YYᵀȦᵀ(I − AY) + (I − YA)ȦᵀYᵀY
    A^n     Ẏ = Σ_{i<n} A^i Ȧ A^(n−1−i)  (n < 0: the same of A⁻¹, with (A⁻¹)˙ = −A⁻¹ȦA⁻¹)
    expm    Ẏ = the upper right block of expm([[A, Ȧ], [0, A]]);
            Ā = the upper right block of expm([[Aᵀ, Ȳ], [0, Aᵀ]])

At a repeated eigenvalue (a repeated singular value) F is infinite: the
eigenvectors are not determined there, and neither is their derivative; the
rules give inf or nan (the eigenvalues' own derivative stays finite).
"""

from __future__ import annotations

import numpy

from ad_compiler.ir import shapes
from ad_compiler.primitives.linalg import (
    batch_stacked,
    col,
    mm,
    rank_of,
    read_triangle,
    row,
    scipy_linalg,
    swap,
    symmetric_read,
    times_t,
    tri,
)
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
)


def _lib(p: Params) -> str:
    return "scipy.linalg" if p.get("scipy") else "np.linalg"


def _inverse_gaps(b: Ops, v: Value) -> Value:
    """F with F_ij = 1/(v_j − v_i) off the diagonal and 0 on it."""
    eye = b.apply("linalg_eye", v)
    gaps = b.sub(row(b, v), col(b, v))
    return b.sub(b.div(b.lit(1.0), b.add(gaps, eye)), eye)


def _diag_of(b: Ops, u: Value, m: Value) -> Value:
    """diag(Uᵀ M) of each stacked pair: Σ_i u_ij m_ij."""
    return b.apply("sum", b.mul(u, m), axis=-2)


# --- eigh --------------------------------------------------------------------------------
def _eigh_params(p: Params) -> dict:
    return {k: v for k, v in p.items() if k != "only"}


def _eigh_parts(b: Ops, p: Params, a: Value) -> tuple:
    q = _eigh_params(p)
    return b.apply("eigh_w", a, **q), b.apply("eigh_v", a, **q)


def _eigh_jvp(part: int):
    def jvp(b: Ops, p: Params, out, a, da) -> Value:
        if da is None:
            return None
        w, v = _eigh_parts(b, p, a)
        s_dot = symmetric_read(b, da, p.get("lower", True))
        s_v = mm(b, s_dot, v)
        if part == 0:
            return _diag_of(b, v, s_v)  # ẇ_i = v_iᵀ Ṡ v_i
        x = mm(b, swap(b, v), s_v)
        return mm(b, v, b.mul(_inverse_gaps(b, w), x))

    return jvp


def _eigh_vjp(part: int):
    def vjp(b: Ops, p: Params, out, g, a) -> tuple:
        w, v = _eigh_parts(b, p, a)
        if part == 0:
            inner = b.mul(v, row(b, g))  # V diag(w̄)
        else:
            inner = mm(b, v, b.mul(_inverse_gaps(b, w), mm(b, swap(b, v), g)))
        return (read_triangle(b, mm(b, inner, swap(b, v)), p.get("lower", True)),)

    return vjp


def _eigh_evaluate(part: int):
    def evaluate(a, lower=True, scipy=False, only=False):
        return numpy.linalg.eigh(a, UPLO="L" if lower else "U")[part]

    return evaluate


def _eigh_call(p: Params, a: str) -> str:
    lower = p.get("lower", True)
    if p.get("scipy"):
        keys = "" if lower else ", lower=False"
    else:
        keys = "" if lower else ", UPLO='U'"
    if p.get("only"):
        return f"{_lib(p)}.eigvalsh({a}{keys})"
    return f"{_lib(p)}.eigh({a}{keys})"


def _render_eigh(part: int):
    def render(p, texts, atoms):
        call = _eigh_call(p, texts[0])
        return (call if p.get("only") else f"{call}[{part}]"), PREC_ATOM

    return render


_EIGH_NAMES = (
    "numpy.linalg.eigh",
    "numpy.linalg.eigvalsh",
    "scipy.linalg.eigh",
    "scipy.linalg.eigvalsh",
)
register(
    *(
        Primitive(
            name,
            1,
            _eigh_evaluate(part),
            names=_EIGH_NAMES if part == 0 else (),
            np_name="np.linalg.eigh",
            scipy_name="scipy.linalg.eigh",
            call="own",
            samples=((((3, 3),), {}), (((2, 2, 2),), {"lower": False})),
            shape=lambda p, a, loc=None, part=part: (
                None if a is None else a[:-1] if part == 0 else a
            ),
            render=_render_eigh(part),
            memory="copy",
            jvp=_eigh_jvp(part),
            vjp=_eigh_vjp(part),
            batch=batch_stacked,
            convention=(
                "distinct eigenvalues; at a repeated eigenvalue the eigenvectors "
                "and their derivative are not determined (inf/nan); reads one triangle"
                if part
                else "eigenvalues: smooth where distinct (at a repeated one the "
                "rule's value, finite); eigenvectors (item 1): not determined at a "
                "repeated eigenvalue (inf/nan); reads one triangle"
            ),
        )
        for part, name in ((0, "eigh_w"), (1, "eigh_v"))
    )
)


# --- qr ---------------------------------------------------------------------------------
def _right_solve(b: Ops, x: Value, r: Value, transposed: bool = False) -> Value:
    """X R⁻¹ (or X R⁻ᵀ), as a solve by R: (R⁻ᵀXᵀ)ᵀ."""
    by = r if transposed else swap(b, r)
    return swap(b, b.apply("solve", by, swap(b, x)))


def _qr_parts(b: Ops, p: Params, a: Value) -> tuple:
    return b.apply("qr_q", a, **p), b.apply("qr_r", a, **p)


def _qr_jvp(part: int):
    def jvp(b: Ops, p: Params, out, a, da) -> Value:
        if da is None:
            return None
        q, r = _qr_parts(b, p, a)
        da_r = _right_solve(b, da, r)  # ȦR⁻¹
        c = mm(b, swap(b, q), da_r)
        low = tri(b, c, k=-1)
        omega = b.sub(low, swap(b, low))
        if part == 0:
            return b.add(mm(b, q, b.sub(omega, c)), da_r)
        return mm(b, b.sub(c, omega), r)

    return jvp


def _qr_vjp(part: int):
    def vjp(b: Ops, p: Params, out, g, a) -> tuple:
        q, r = _qr_parts(b, p, a)
        if part == 0:
            m = b.neg(mm(b, swap(b, q), g))
        else:
            m = mm(b, g, swap(b, r))
        big = b.add(b.sub(m, tri(b, m, k=-1)), tri(b, swap(b, m), k=-1))
        left = mm(b, q, big)
        if part == 0:
            left = b.add(left, g)
        return (_right_solve(b, left, r, transposed=True),)

    return vjp


def _qr_evaluate(part: int):
    def evaluate(a, scipy=False, economic=False):
        if scipy:
            mode = "economic" if economic else "full"
            return scipy_module("scipy.linalg").qr(a, mode=mode)[part]
        return numpy.linalg.qr(a)[part]

    return evaluate


def _qr_call(p: Params, a: str) -> str:
    mode = ", mode='economic'" if p.get("economic") else ""
    return f"{_lib(p)}.qr({a}{mode})"


def _render_qr(part: int):
    def render(p, texts, atoms):
        return f"{_qr_call(p, texts[0])}[{part}]", PREC_ATOM

    return render


def _qr_shape(part: int):
    def shape(p, a, loc=None):
        if a is None:
            return None
        m, n = a[-2:]
        # k = min(m, n): 1 if either is, m if they are equal, else not known
        k = shapes.ONE if shapes.ONE in (m, n) else m if m == n else shapes.ANY
        return a[:-2] + ((m, k) if part == 0 else (k, n))

    return shape


register(
    *(
        Primitive(
            name,
            1,
            _qr_evaluate(part),
            names=("numpy.linalg.qr", "scipy.linalg.qr") if part else (),
            np_name="np.linalg.qr",
            scipy_name="scipy.linalg.qr",
            call="own",
            samples=((((4, 3),), {}), (((2, 3, 3),), {})),
            shape=_qr_shape(part),
            render=_render_qr(part),
            memory="copy",
            jvp=_qr_jvp(part),
            vjp=_qr_vjp(part),
            batch=batch_stacked,
            convention="smooth for a matrix of full column rank with at least as "
            "many rows as columns (mode='reduced'/'economic'; a full Q of a tall "
            "matrix is not differentiated)",
        )
        for part, name in ((0, "qr_q"), (1, "qr_r"))
    )
)


# --- svd --------------------------------------------------------------------------------
def _svd_parts(b: Ops, p: Params, a: Value) -> tuple:
    q = {k: v for k, v in p.items() if k != "full"}
    return tuple(b.apply(n, a, **q) for n in ("svd_u", "svd_s", "svd_vh"))


def _svd_jvp(part: int):
    def jvp(b: Ops, p: Params, out, a, da) -> Value:
        if da is None:
            return None
        u, s, vh = _svd_parts(b, p, a)
        v = swap(b, vh)
        da_v = mm(b, da, v)
        if part == 1:
            return _diag_of(b, u, da_v)  # ṡ = diag(UᵀȦV)
        x = mm(b, swap(b, u), da_v)
        f = _inverse_gaps(b, b.mul(s, s))
        if part == 0:
            sym = b.add(b.mul(x, row(b, s)), b.mul(col(b, s), swap(b, x)))
            rest = b.sub(da_v, mm(b, u, mm(b, swap(b, u), da_v)))
            return b.add(mm(b, u, b.mul(f, sym)), b.div(rest, row(b, s)))
        sym = b.add(b.mul(col(b, s), x), b.mul(swap(b, x), row(b, s)))
        dat_u = mm(b, swap(b, da), u)
        rest = b.sub(dat_u, mm(b, v, mm(b, vh, dat_u)))
        return swap(b, b.add(mm(b, v, b.mul(f, sym)), b.div(rest, row(b, s))))

    return jvp


def _svd_vjp(part: int):
    def vjp(b: Ops, p: Params, out, g, a) -> tuple:
        u, s, vh = _svd_parts(b, p, a)
        if part == 1:  # U diag(s̄) Vᵀ
            return (mm(b, b.mul(u, row(b, g)), vh),)
        f = _inverse_gaps(b, b.mul(s, s))
        if part == 0:
            j = b.mul(f, mm(b, swap(b, u), g))
            inner = b.mul(b.add(j, swap(b, j)), row(b, s))
            rest = b.sub(g, mm(b, u, mm(b, swap(b, u), g)))
            out_bar = b.add(mm(b, u, inner), b.div(rest, row(b, s)))
            return (mm(b, out_bar, vh),)
        v = swap(b, vh)
        k = b.mul(f, mm(b, vh, swap(b, g)))  # F ∘ VᵀV̄, V̄ = ḡᵀ
        inner = b.mul(col(b, s), b.add(k, swap(b, k)))
        rest = b.sub(g, mm(b, mm(b, g, v), vh))  # V̄ᵀ(I − VVᵀ)
        return (b.add(mm(b, mm(b, u, inner), vh), mm(b, b.div(u, row(b, s)), rest)),)

    return vjp


def _svd_evaluate(part: int):
    def evaluate(a, scipy=False, full=False):
        if part == 1:
            return numpy.linalg.svd(a, compute_uv=False)
        return numpy.linalg.svd(a, full_matrices=full)[part // 2 * 2]

    return evaluate


def _svd_call(p: Params, a: str) -> str:
    full = "" if p.get("full") else ", full_matrices=False"
    return f"{_lib(p)}.svd({a}{full})"


def _render_svd(part: int):
    def render(p, texts, atoms):
        if part == 1:
            if p.get("scipy"):
                return f"scipy.linalg.svdvals({texts[0]})", PREC_ATOM
            return f"np.linalg.svd({texts[0]}, compute_uv=False)", PREC_ATOM
        return f"{_svd_call(p, texts[0])}[{part}]", PREC_ATOM

    return render


_SVD_NAMES = (
    "numpy.linalg.svd",
    "scipy.linalg.svd",
    "numpy.linalg.svdvals",
    "scipy.linalg.svdvals",
)


def _svd_shape(part: int):
    qr = _qr_shape(0)

    def shape(p, a, loc=None):
        if a is None:
            return None
        mk = qr(p, a)
        if part == 0:
            return mk
        k = mk[-1]
        return a[:-2] + ((k,) if part == 1 else (k, a[-1]))

    return shape


register(
    *(
        Primitive(
            name,
            1,
            _svd_evaluate(part),
            names=_SVD_NAMES if part == 1 else (),
            np_name="np.linalg.svd",
            scipy_name="scipy.linalg.svd",
            call="own",
            samples=((((4, 3),), {}), (((2, 3, 4),), {}), (((3, 3),), {"full": True})),
            shape=_svd_shape(part),
            render=_render_svd(part),
            memory="copy",
            jvp=_svd_jvp(part),
            vjp=_svd_vjp(part),
            batch=batch_stacked,
            convention=(
                "smooth where the singular values are distinct and non-zero; at a "
                "repeated one the singular vectors are not determined (inf/nan); "
                "full_matrices=True only for square matrices"
                if part != 1
                else "smooth where the singular values are distinct and non-zero; "
                "U and Vh: inf/nan at a repeated one; full_matrices=True only for "
                "square matrices"
            ),
        )
        for part, name in ((0, "svd_u"), (1, "svd_s"), (2, "svd_vh"))
    )
)


# --- lstsq, pinv, matrix_power -------------------------------------------------------------
def _normal_solve(b: Ops, a: Value, x: Value) -> Value:
    """(AᵀA)⁻¹X."""
    return b.apply("solve", mm(b, swap(b, a), a), x)


def _lstsq_jvp(b: Ops, p: Params, out, a, y, da, dy) -> Value:
    rhs = None
    if da is not None:
        resid = b.sub(y, mm(b, a, out))
        rhs = b.sub(mm(b, swap(b, da), resid), mm(b, swap(b, a), mm(b, da, out)))
    if dy is not None:
        rhs = b.add(rhs, mm(b, swap(b, a), dy))
    return None if rhs is None else _normal_solve(b, a, rhs)


def _lstsq_vjp(b: Ops, p: Params, out, g, a, y) -> tuple:
    vector = rank_of(b, y, "np.linalg.lstsq") == 1
    z = _normal_solve(b, a, g)
    y_bar = mm(b, a, z)
    resid = b.sub(y, mm(b, a, out))
    a_bar = b.sub(times_t(b, resid, z, vector), times_t(b, y_bar, out, vector))
    return (a_bar, y_bar)


def _lstsq_batch(bt: Batching, e: Equation, p: Params, a: Value, y: Value) -> None:
    """lstsq takes one matrix, not a stack: with directions, the solution of full
    column rank is written as the stacked solve of the normal equations,
    (AᵀA)⁻¹Aᵀb (the same value, less accurate when A is ill-conditioned)."""
    if bt.has(a):
        at = bt.new("transpose", a, axes=(0, 2, 1))
    else:
        at = bt.new("transpose", a)
    vector = bt.rank(y) == 1
    rhs = bt.new("expand_dims", y, axis=-1) if vector else y
    normal = bt.new("matmul", at, a)
    x = bt.new("solve", normal, bt.new("matmul", at, rhs))
    if vector:
        bt.new("squeeze", x, out=e.out, axis=-1)
    else:
        bt.rename(x, e.out)


def _lstsq(a, y, scipy=False, rcond=None):
    if scipy:
        return scipy_module("scipy.linalg").lstsq(a, y)[0]
    return numpy.linalg.lstsq(a, y, rcond=rcond)[0]


def _render_lstsq(p, texts, atoms):
    rcond = "" if p.get("rcond") is None else f", rcond={p['rcond']!r}"
    return f"{_lib(p)}.lstsq({texts[0]}, {texts[1]}{rcond})[0]", PREC_ATOM


def _pinv_jvp(b: Ops, p: Params, out, a, da) -> Value:
    if da is None:
        return None
    y, dat = out, swap(b, da)
    first = b.neg(mm(b, mm(b, y, da), y))
    second = mm(b, mm(b, y, swap(b, y)), b.sub(dat, mm(b, mm(b, dat, a), y)))
    third = mm(b, b.sub(dat, mm(b, y, mm(b, a, dat))), mm(b, swap(b, y), y))
    return b.add(b.add(first, second), third)


def _pinv_vjp(b: Ops, p: Params, out, g, a) -> tuple:
    y, yt, gt = out, swap(b, out), swap(b, g)
    first = b.neg(mm(b, mm(b, yt, g), yt))
    gyy = mm(b, gt, mm(b, y, yt))  # Gᵀ Y Yᵀ
    second = b.sub(gyy, mm(b, a, mm(b, y, gyy)))
    yyg = mm(b, mm(b, yt, y), gt)  # Yᵀ Y Gᵀ
    third = b.sub(yyg, mm(b, mm(b, yyg, y), a))
    return (b.add(b.add(first, second), third),)


def _power(b: Ops, a: Value, i: int) -> Value | None:
    """A^i (None for A⁰ = I, which multiplies as nothing)."""
    if i == 0:
        return None
    return a if i == 1 else b.apply("matrix_power", a, n=i)


def _times(b: Ops, x: Value | None, y: Value) -> Value:
    return y if x is None else mm(b, x, y)


def _power_sum(b: Ops, base: Value, m: int, d: Value, adjoint: bool) -> Value:
    """Σ_{i<m} B^i D B^(m−1−i) (adjoint: with the powers transposed)."""
    total = None
    for i in range(m):
        left, right = _power(b, base, i), _power(b, base, m - 1 - i)
        if adjoint:
            left = None if left is None else swap(b, left)
            right = None if right is None else swap(b, right)
        term = _times(b, left, d)
        term = term if right is None else mm(b, term, right)
        total = b.add(total, term)
    return total


def _matrix_power_jvp(b: Ops, p: Params, out, a, da) -> Value:
    n = p["n"]
    if da is None or n == 0:
        return None
    if n > 0:
        return _power_sum(b, a, n, da, False)
    inv = b.apply("matrix_power", a, n=-1)
    d_inv = b.neg(mm(b, mm(b, inv, da), inv))
    return _power_sum(b, inv, -n, d_inv, False)


def _matrix_power_vjp(b: Ops, p: Params, out, g, a) -> tuple:
    n = p["n"]
    if n == 0:
        return (None,)
    if n > 0:
        return (_power_sum(b, a, n, g, True),)
    inv_t = swap(b, b.apply("matrix_power", a, n=-1))
    inv_bar = _power_sum(b, swap(b, inv_t), -n, g, True)
    return (b.neg(mm(b, mm(b, inv_t, inv_bar), inv_t)),)


register(
    Primitive(
        "lstsq",
        2,
        _lstsq,
        names=("numpy.linalg.lstsq", "scipy.linalg.lstsq"),
        np_name="np.linalg.lstsq",
        scipy_name="scipy.linalg.lstsq",
        call="own",
        samples=((((5, 3), (5,)), {}), (((4, 2), (4, 3)), {})),
        shape=lambda p, a, y, loc=None: (
            None if a is None or y is None else a[-1:] + tuple(y[1:])
        ),
        render=_render_lstsq,
        memory="copy",
        jvp=_lstsq_jvp,
        vjp=_lstsq_vjp,
        batch=_lstsq_batch,
        convention="smooth where A has full column rank (the solution is then "
        "unique); only the solution (item 0) is supported",
    ),
    Primitive(
        "pinv",
        1,
        numpy.linalg.pinv,
        names=("numpy.linalg.pinv", "scipy.linalg.pinv"),
        np_name="np.linalg.pinv",
        scipy_name="scipy.linalg.pinv",
        samples=((((4, 3),), {}), (((2, 2, 3),), {})),
        shape=lambda p, a, loc=None: (None if a is None else a[:-2] + (a[-1], a[-2])),
        memory="copy",
        jvp=_pinv_jvp,
        vjp=_pinv_vjp,
        batch=batch_stacked,
        convention="smooth where the rank is constant (full rank, away from the "
        "cutoff of small singular values); not differentiable where it changes",
    ),
    Primitive(
        "matrix_power",
        1,
        lambda a, n: numpy.linalg.matrix_power(a, n),
        names=("numpy.linalg.matrix_power",),
        np_name="np.linalg.matrix_power",
        call="own",
        samples=(
            (((3, 3),), {"n": 3}),
            (((2, 2, 2),), {"n": -2}),
            (((2, 2),), {"n": 1}),
        ),
        shape=lambda p, a, loc=None: a,
        render=lambda p, t, a: (
            f"np.linalg.matrix_power({t[0]}, {p['n']})",
            PREC_ATOM,
        ),
        memory="copy",
        jvp=_matrix_power_jvp,
        vjp=_matrix_power_vjp,
        batch=batch_stacked,
        convention="a polynomial for n ≥ 0 (smooth); n < 0: smooth where A is invertible",
    ),
)


# --- expm, through block matrices -------------------------------------------------------------
def _blocks_batch(bt: Batching, e: Equation, p: Params, *ins: Value) -> None:
    """np.block needs operands of one rank: give every block the directions."""
    filled = tuple(a if bt.has(a) else bt.materialize(a, bt.rank(a)) for a in ins)
    bt.new("linalg_blocks", *filled, out=e.out)


def _blocks_jvp(b: Ops, p: Params, out, *args) -> Value:
    ins, dins = args[:4], args[4:]
    if all(d is None for d in dins):
        return None
    parts = [b.zeros(x) if d is None else d for x, d in zip(ins, dins)]
    return b.apply("linalg_blocks", *parts)


def _block_vjp(b: Ops, p: Params, out, g, x) -> tuple:
    zero = b.zeros(g)
    at = 2 * p["i"] + p["j"]
    parts = [g if k == at else zero for k in range(4)]
    return (b.apply("linalg_blocks", *parts),)


def _half(x: str, i: int) -> str:
    h = f"{x}.shape[-1] // 2"
    return f": {h}" if i == 0 else f"{h} :"


def _block(x, i, j):
    h = numpy.shape(x)[-1] // 2
    rows = slice(None, h) if i == 0 else slice(h, None)
    cols = slice(None, h) if j == 0 else slice(h, None)
    return x[..., rows, cols]


def _square_shape(a, loc=None):
    return None if a is None else a[:-2] + (shapes.ANY, shapes.ANY)


def _expm_jvp(b: Ops, p: Params, out, a, da) -> Value:
    if da is None:
        return None
    big = b.apply("linalg_blocks", a, da, b.zeros(a), a)
    return b.apply("linalg_block", b.apply("expm", big), i=0, j=1)


def _expm_vjp(b: Ops, p: Params, out, g, a) -> tuple:
    at = swap(b, a)
    big = b.apply("linalg_blocks", at, g, b.zeros(g), at)
    return (b.apply("linalg_block", b.apply("expm", big), i=0, j=1),)


register(
    # [[a, b], [c, d]] of each stacked quadruple of matrices: linear in each
    Primitive(
        "linalg_blocks",
        4,
        lambda a, b, c, d: numpy.block([[a, b], [c, d]]),
        samples=((((2, 2), (2, 2), (2, 2), (2, 2)), {}),),
        shape=lambda p, *xs, loc=None: _square_shape(shapes.broadcast(*xs)),
        render=lambda p, t, a: (
            f"np.block([[{t[0]}, {t[1]}], [{t[2]}, {t[3]}]])",
            PREC_ATOM,
        ),
        memory="new",
        jvp=_blocks_jvp,
        vjp=lambda b, p, out, g, *xs: tuple(
            b.apply("linalg_block", g, i=i, j=j) for i in (0, 1) for j in (0, 1)
        ),
        batch=_blocks_batch,
        convention="linear",
    ),
    # one quarter of each (2n × 2n) matrix: linear
    Primitive(
        "linalg_block",
        1,
        _block,
        samples=((((4, 4),), {"i": 0, "j": 1}), (((2, 2, 2),), {"i": 1, "j": 1})),
        shape=lambda p, x, loc=None: _square_shape(x),
        render=lambda p, t, a: (
            f"{a[0]}[..., {_half(t[0], p['i'])}, {_half(t[0], p['j'])}]",
            PREC_ATOM,
        ),
        repeats=lambda p: (0,),
        memory="view",
        jvp=lambda b, p, out, x, dx: b.apply("linalg_block", dx, **p),
        vjp=_block_vjp,
        batch=batch_stacked,
        convention="linear",
    ),
    Primitive(
        "expm",
        1,
        scipy_linalg("expm"),
        names=("scipy.linalg.expm",),
        scipy_name="scipy.linalg.expm",
        samples=((((3, 3),), {}), (((2, 2, 2),), {})),
        shape=lambda p, a, loc=None: a,
        memory="copy",
        jvp=_expm_jvp,
        vjp=_expm_vjp,
        batch=batch_stacked,
        convention="smooth everywhere",
    ),
)


# --- the items of one call, emitted as one call ----------------------------------------------
# row -> (the function, its item, how many items): the rows that are items of
# one tuple-returning call (see backend/tuples.py, which emits `w, V = eigh(a)`)
TUPLE_ITEMS = {
    "slogdet_sign": ("slogdet", 0, 2),
    "slogdet": ("slogdet", 1, 2),
    "eigh_w": ("eigh", 0, 2),
    "eigh_v": ("eigh", 1, 2),
    "qr_q": ("qr", 0, 2),
    "qr_r": ("qr", 1, 2),
    "svd_u": ("svd", 0, 3),
    "svd_s": ("svd", 1, 3),
    "svd_vh": ("svd", 2, 3),
}
_CALLS = {
    "slogdet": lambda p, a: f"np.linalg.slogdet({a})",
    "eigh": _eigh_call,
    "qr": _qr_call,
    "svd": _svd_call,
}

register(
    # `w, V = np.linalg.eigh(a)`: the equations of several items of one call,
    # made one equation with several outputs just before code generation (an
    # emitted form only: never differentiated, merged or folded, hence `effect`)
    Primitive(
        "linalg_items",
        1,
        None,
        np_name="np.linalg.{0}",
        scipy_name="scipy.linalg.{0}",
        shape=lambda p, a, loc=None: None,
        render=lambda p, t, a: (_CALLS[p["of"]](p, t[0]), PREC_ATOM),
        memory="copy",
        effect=True,
    ),
)
