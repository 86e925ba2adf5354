"""np.linalg and scipy.linalg, differentiated from user code.

Each function, called the way users call it (every spelling: ``np.linalg.x``,
``scipy.linalg.x``, ``from numpy.linalg import x``, ``import numpy.linalg as
la``), is differentiated in reverse mode (``grad``) and forward mode (``jvp``)
and checked against central differences at random well-conditioned points;
Hessians of composites go through vector mode; stacked matrices (a leading
axis) are differentiated like NumPy computes them; JAX is an outside oracle
where it is installed.
"""

import math

import numpy as np
import numpy.linalg as la
import pytest
import scipy.linalg
from numpy.linalg import slogdet, solve
from scipy.linalg import cho_factor, cho_solve, solve_triangular

from ad_compiler import grad, hessian, jacfwd, jvp
from ad_compiler.errors import CompileError

RNG = np.random.default_rng(17)
A3 = RNG.standard_normal((3, 3)) + 3 * np.eye(3)  # well conditioned
SPD3 = A3 @ A3.T + np.eye(3)
B3 = RNG.standard_normal(3)
M32 = RNG.standard_normal((3, 2))
TALL = RNG.standard_normal((5, 3))
STACK = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
W3 = RNG.standard_normal((3, 3))  # weights making a matrix result a scalar


# --- user functions (the API reads their source) ------------------------------------
def solve_vector(A, b):
    return np.sum(np.sin(np.linalg.solve(A, b)))


def solve_matrix(A, B):
    return np.sum(scipy.linalg.solve(A, B) ** 2)


def solve_imported(A, b):
    return np.sum(solve(A, b) * b)


def inverse(A):
    return np.sum(la.inv(A) * W3)


def inverse_scipy(A):
    return np.sum(scipy.linalg.inv(A) ** 2)


def determinant(A):
    return np.linalg.det(A)


def determinant_scipy(A):
    return scipy.linalg.det(A) ** 2


def log_determinant(A):
    sign, logdet = np.linalg.slogdet(A)
    return sign * logdet


def log_determinant_indexed(A):
    return slogdet(A @ A.T + np.eye(3))[1]


def cholesky_numpy(A):
    return np.sum(np.linalg.cholesky(A) * W3)


def cholesky_upper(A):
    return np.sum(np.linalg.cholesky(A, upper=True) * W3)


def cholesky_scipy(A):
    return np.sum(scipy.linalg.cholesky(A) * W3)  # SciPy's default: upper


def triangular(A, b):
    x = solve_triangular(A, b, lower=True)
    y = scipy.linalg.solve_triangular(A, x, trans="T", lower=True)
    z = solve_triangular(A, y, unit_diagonal=True)
    return np.sum(z * z)


def cho(A, b):
    c, lower = cho_factor(A, lower=True)
    x = cho_solve((c, lower), b)
    return np.sum(x * b) + np.sum(np.log(np.abs(c)) * np.eye(3))


def cho_upper(A, B):
    factor = scipy.linalg.cho_factor(A)
    return np.sum(scipy.linalg.cho_solve(factor, B) ** 2)


def eigen(A):
    w, V = np.linalg.eigh(A)
    return np.sum(w**2) + np.sum(V**4 * W3)


def eigen_values(A):
    return np.sum(np.linalg.eigvalsh(A, UPLO="U") ** 3)


def eigen_scipy(A):
    w, V = scipy.linalg.eigh(A)
    return np.sum(w * V[0] ** 2)  # (even in V: the sign of a column is arbitrary)


def qr_numpy(A):
    Q, R = np.linalg.qr(A)
    return np.sum(Q**3) + np.sum(R * R[0])


def qr_scipy(A):
    Q, R = scipy.linalg.qr(A, mode="economic")
    return np.sum(np.sin(Q)) + np.sum(R**3)


def singular(A):
    U, s, Vh = np.linalg.svd(A, full_matrices=False)
    return np.sum(s**2) + np.sum(U**3) + np.sum(Vh**3)


def singular_values(A):
    return np.sum(np.sqrt(np.linalg.svd(A, compute_uv=False)))


def singular_scipy(A):
    U, s, Vh = scipy.linalg.svd(A, full_matrices=False)
    return np.sum(U[:, 0] ** 3) + np.sum(s) + np.sum(Vh[0] * Vh[1])


def least_squares(A, b):
    x, residuals, rank, sv = np.linalg.lstsq(A, b, rcond=None)
    return np.sum(x**2)


def least_squares_scipy(A, B):
    return np.sum(scipy.linalg.lstsq(A, B)[0] ** 3)


def pseudo_inverse(A):
    return np.sum(np.linalg.pinv(A) ** 2)


def power(A):
    return np.sum(np.linalg.matrix_power(A, 3) * W3)


def power_negative(A):
    return np.sum(la.matrix_power(A, -2) ** 2)


def exponential(A):
    return np.sum(scipy.linalg.expm(0.3 * A) * W3)


def log_det_composite(A):
    """log det(A Aᵀ + I), the composite the Hessians are checked on."""
    return np.linalg.slogdet(A @ A.T + np.eye(3))[1]


def quadratic_form(A, y):
    """yᵀ(A + I)⁻¹y."""
    return y @ np.linalg.solve(A + np.eye(3), y)


def stacked(A, B):
    """Stacks of matrices (a leading axis), as NumPy computes them."""
    return (
        np.sum(np.linalg.det(A))
        + np.sum(np.linalg.inv(A) ** 2)
        + np.sum(np.linalg.solve(A, B) ** 2)
        + np.sum(np.linalg.slogdet(A)[1])
        + np.sum(np.linalg.eigvalsh(A + np.transpose(A, (0, 2, 1))) ** 2)
    )


def stacked_factor(A):
    S = A @ np.transpose(A, (0, 2, 1)) + np.eye(3)
    L = np.linalg.cholesky(S)
    return np.sum(L**2 * W3) + np.sum(scipy.linalg.expm(0.2 * A) ** 2)


CASES = {
    # name: (function, arguments); every argument is differentiated
    "solve_vector": (solve_vector, (A3, B3)),
    "solve_matrix": (solve_matrix, (A3, M32)),
    "solve_imported": (solve_imported, (A3, B3)),
    "inverse": (inverse, (A3,)),
    "inverse_scipy": (inverse_scipy, (A3,)),
    "determinant": (determinant, (A3,)),
    "determinant_scipy": (determinant_scipy, (A3,)),
    "log_determinant": (log_determinant, (A3,)),
    "log_determinant_indexed": (log_determinant_indexed, (A3,)),
    "cholesky_numpy": (cholesky_numpy, (SPD3,)),
    "cholesky_upper": (cholesky_upper, (SPD3,)),
    "cholesky_scipy": (cholesky_scipy, (SPD3,)),
    "triangular": (triangular, (A3, B3)),
    "cho": (cho, (SPD3, B3)),
    "cho_upper": (cho_upper, (SPD3, M32)),
    "eigen": (eigen, (A3,)),
    "eigen_values": (eigen_values, (A3,)),
    "eigen_scipy": (eigen_scipy, (A3,)),
    "qr_numpy": (qr_numpy, (TALL,)),
    "qr_scipy": (qr_scipy, (TALL,)),
    "singular": (singular, (TALL,)),
    "singular_wide": (singular, (TALL.T,)),
    "singular_values": (singular_values, (TALL,)),
    "singular_scipy": (singular_scipy, (TALL,)),
    "least_squares": (least_squares, (TALL, RNG.standard_normal(5))),
    "least_squares_scipy": (least_squares_scipy, (TALL, RNG.standard_normal((5, 2)))),
    "pseudo_inverse": (pseudo_inverse, (TALL,)),
    "power": (power, (A3 / 3,)),
    "power_negative": (power_negative, (A3,)),
    "exponential": (exponential, (A3 / 3,)),
    "stacked": (stacked, (STACK, RNG.standard_normal((2, 3, 2)))),
    "stacked_factor": (stacked_factor, (STACK,)),
}


def central(f, args, i, direction, h=1e-6):
    up = list(args)
    down = list(args)
    up[i] = args[i] + h * direction
    down[i] = args[i] - h * direction
    return (f(*up) - f(*down)) / (2 * h)


def fd_gradient(f, args, i):
    out = np.zeros(np.shape(args[i]))
    for index in np.ndindex(out.shape):
        e = np.zeros(out.shape)
        e[index] = 1.0
        out[index] = central(f, args, i, e)
    return out


@pytest.mark.fast_sample(every=16)
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_central_differences(name):
    f, args = CASES[name]
    g = grad(f, argnums=tuple(range(len(args))))(*args)
    for i in range(len(args)):
        np.testing.assert_allclose(
            g[i], fd_gradient(f, args, i), rtol=1e-5, atol=1e-6, err_msg=f"{name}, {i}"
        )


@pytest.mark.fast_sample(every=16)
@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_mode_matches_central_differences(name):
    f, args = CASES[name]
    rng = np.random.default_rng(5)
    tangents = tuple(rng.standard_normal(np.shape(a)) for a in args)
    value, derivative = jvp(f, args, tangents)
    assert value == pytest.approx(f(*args), rel=1e-12)
    expected = sum(central(f, args, i, t) for i, t in enumerate(tangents))
    assert derivative == pytest.approx(expected, rel=1e-5, abs=1e-7)


TWO_ARGUMENTS = sorted(name for name, (f, args) in CASES.items() if len(args) == 2)


@pytest.mark.fast_sample(keep=lambda name: name == "triangular")
@pytest.mark.parametrize("name", TWO_ARGUMENTS)
def test_each_argument_alone_in_forward_mode(name):
    """jacfwd w.r.t. one argument: the other's tangent is a symbolic zero (None)
    in every rule (solve_triangular's trans= once broke on it)."""
    f, args = CASES[name]
    for i in range(2):
        got = jacfwd(f, argnums=i)(*args)
        np.testing.assert_allclose(
            got, fd_gradient(f, args, i), rtol=1e-5, atol=1e-6, err_msg=f"{name}, {i}"
        )


def test_a_function_of_one_triangle_has_a_zero_derivative_in_the_other():
    """NumPy's cholesky reads the lower triangle (upper=True: the upper one), and
    the gradient is that of the function NumPy computes: zero where it does not read."""
    for f, zero in ((cholesky_numpy, np.triu), (cholesky_upper, np.tril)):
        g = grad(f)(SPD3)
        np.testing.assert_array_equal(zero(g, 1 if zero is np.triu else -1), 0.0)
        np.testing.assert_allclose(g, fd_gradient(f, (SPD3,), 0), rtol=1e-5, atol=1e-7)


def fd_hessian(f, x, h=1e-5):
    g = grad(f)
    n = x.size
    out = np.zeros((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        up = g(x + e.reshape(x.shape)).ravel()
        down = g(x - e.reshape(x.shape)).ravel()
        out[:, k] = (up - down) / (2 * h)
    return out.reshape(x.shape + x.shape)


def quadratic_form_of_a(A):
    return quadratic_form(A, np.array([0.3, -1.2, 0.7]))


@pytest.mark.parametrize(
    "f",
    [log_det_composite, quadratic_form_of_a, eigen_values, cholesky_numpy],
    ids=["logdet", "quadratic_form", "eigvalsh", "cholesky"],
)
@pytest.mark.fast_sample(every=2)
def test_hessian_of_a_composite(f):
    x = SPD3 if f is cholesky_numpy else A3
    H = hessian(f)(x)
    np.testing.assert_allclose(H, fd_hessian(f, x), rtol=1e-5, atol=1e-6)


@pytest.mark.fast_sample(keep=lambda name: name in ("inverse", "singular_values"))
@pytest.mark.parametrize("name", sorted(CASES))
def test_hessian_matches_differences_of_the_gradient(name):
    """Second order of every function (vector mode through each row), w.r.t.
    its first argument, the others fixed."""
    f, args = CASES[name]
    x, rest = args[0], args[1:]
    H = np.asarray(hessian(f)(*args))
    g = grad(f)
    fd = np.zeros((x.size, x.size))
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = 1e-5
        e = e.reshape(x.shape)
        fd[:, k] = ((g(x + e, *rest) - g(x - e, *rest)) / 2e-5).ravel()
    np.testing.assert_allclose(H, fd.reshape(x.shape + x.shape), rtol=1e-4, atol=1e-5)


def gp_of_vector(theta, X, y):
    """The Gaussian-process likelihood of the port, hyperparameters as an array."""
    n = X.shape[0]
    diff = X[:, None, :] - X[None, :, :]
    K = np.exp(2 * theta[1]) * np.exp(
        -0.5 * np.sum(diff**2, axis=2) / np.exp(2 * theta[0])
    ) + np.exp(2 * theta[2]) * np.eye(n)
    L = np.linalg.cholesky(K)
    alpha = solve_triangular(L.T, solve_triangular(L, y, lower=True))
    return -0.5 * y @ alpha - np.sum(np.log(np.sum(L * np.eye(n), axis=1)))


@pytest.mark.slow  # vector mode through cholesky and two triangular solves (~2 s)
def test_hessian_of_the_gaussian_process_likelihood():
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, size=(8, 1))
    y = np.sin(X[:, 0])
    theta = np.array([0.2, -0.3, -1.0])

    def f(t):
        return gp_of_vector(t, X, y)

    H = hessian(gp_of_vector)(theta, X, y)
    np.testing.assert_allclose(H, fd_hessian(f, theta), rtol=1e-5, atol=1e-6)


def test_emitted_code_spells_what_the_user_called():
    for f, spelled in (
        (triangular, "scipy.linalg.solve_triangular("),
        (log_determinant, "np.linalg.slogdet("),
        (cho, "scipy.linalg.cho_solve(("),
        (eigen, "np.linalg.eigh("),
    ):
        args = CASES[f.__name__][1]
        derivative = grad(f, argnums=0)
        derivative(*args)
        text = derivative.source
        assert spelled in text, (f.__name__, text)
        if f in (log_determinant, eigen):  # NumPy only: no SciPy in the derivative
            assert "scipy" not in text, text
    # the items of one decomposition are one call (backend/tuples.py), as written
    assert "    w, V = np.linalg.eigh(A)\n" in text
    code = [ln for ln in text.splitlines() if not ln.strip().startswith("#")]
    assert sum("np.linalg.eigh(" in ln for ln in code) == 1, text


def test_what_is_not_supported_is_a_located_error():
    def full_rank_info(A, b):
        x, residuals, rank, sv = np.linalg.lstsq(A, b)
        return np.sum(residuals)

    with pytest.raises(CompileError, match=r"lstsq\(\.\.\.\)\[1\]") as info:
        grad(full_rank_info)(TALL, np.ones(5))
    assert info.value.loc.line > 0

    def hermitian(A):
        return np.sum(np.linalg.svd(A, hermitian=True)[1])

    with pytest.raises(CompileError, match="`hermitian`"):
        grad(hermitian)(A3)

    def general_eigen(A):
        return np.sum(np.linalg.eig(A)[0])

    with pytest.raises(CompileError, match="eig"):
        grad(general_eigen)(A3)


JAX_ORACLES = {
    # name: the same function written with jax.numpy (np -> jnp, scipy -> jax.scipy)
    "solve_vector": lambda jnp, jsl: lambda A, b: jnp.sum(
        jnp.sin(jnp.linalg.solve(A, b))
    ),
    "inverse_scipy": lambda jnp, jsl: lambda A: jnp.sum(jnp.linalg.inv(A) ** 2),
    "determinant": lambda jnp, jsl: lambda A: jnp.linalg.det(A),
    "log_determinant_indexed": lambda jnp, jsl: lambda A: jnp.linalg.slogdet(
        A @ A.T + jnp.eye(3)
    )[1],
    "triangular": lambda jnp, jsl: _jax_triangular(jnp, jsl),
    "qr_numpy": lambda jnp, jsl: lambda A: (
        jnp.sum(jnp.linalg.qr(A)[0] ** 3)
        + jnp.sum(jnp.linalg.qr(A)[1] * jnp.linalg.qr(A)[1][0])
    ),
    "singular": lambda jnp, jsl: _jax_svd(jnp),
    "pseudo_inverse": lambda jnp, jsl: lambda A: jnp.sum(jnp.linalg.pinv(A) ** 2),
    "power_negative": lambda jnp, jsl: lambda A: jnp.sum(
        jnp.linalg.matrix_power(A, -2) ** 2
    ),
    "exponential": lambda jnp, jsl: lambda A: jnp.sum(jsl.expm(0.3 * A) * W3),
}


def _jax_triangular(jnp, jsl):
    def f(A, b):
        x = jsl.solve_triangular(A, b, lower=True)
        y = jsl.solve_triangular(A, x, trans="T", lower=True)
        z = jsl.solve_triangular(A, y, unit_diagonal=True)
        return jnp.sum(z * z)

    return f


def _jax_svd(jnp):
    def f(A):
        U, s, Vh = jnp.linalg.svd(A, full_matrices=False)
        return jnp.sum(s**2) + jnp.sum(U**3) + jnp.sum(Vh**3)

    return f


@pytest.mark.parametrize("name", sorted(JAX_ORACLES))
def test_against_jax(name):
    jax = pytest.importorskip("jax", reason="JAX is an optional oracle ([bench] extra)")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl

    f, args = CASES[name]
    oracle = JAX_ORACLES[name](jnp, jsl)
    argnums = tuple(range(len(args)))
    expected = jax.grad(oracle, argnums=argnums)(*args)
    got = grad(f, argnums=argnums)(*args)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-8, atol=1e-10)


def test_symmetric_functions_match_jax_on_symmetric_directions():
    """JAX's cholesky and eigh symmetrise their input, NumPy's read one triangle:
    through a symmetric argument (A Aᵀ + I) the two functions agree, and so do
    their gradients."""
    jax = pytest.importorskip("jax", reason="JAX is an optional oracle ([bench] extra)")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def ours(A):
        S = A @ A.T + np.eye(3)
        w, V = np.linalg.eigh(S)
        return np.sum(np.linalg.cholesky(S) * W3) + np.sum(w**2) + np.sum(V[:, 0] ** 4)

    def theirs(A):
        S = A @ A.T + jnp.eye(3)
        w, V = jnp.linalg.eigh(S)
        return (
            jnp.sum(jnp.linalg.cholesky(S) * W3) + jnp.sum(w**2) + jnp.sum(V[:, 0] ** 4)
        )

    np.testing.assert_allclose(grad(ours)(A3), jax.grad(theirs)(A3), rtol=1e-8)
    assert math.isfinite(float(ours(A3)))


@pytest.mark.slow  # compiles and formats a whole module (~1.5 s)
def test_adc_compile_of_the_gaussian_process_port(tmp_path):
    """`adc compile samples/ports/gp.py` reads the file as text and writes a
    black-clean module that imports NumPy and, because the port calls SciPy,
    scipy.linalg; its gradient is the API's."""
    import runpy
    from pathlib import Path

    import black

    from ad_compiler.tools.cli import main

    port = Path(__file__).resolve().parent.parent / "samples" / "ports" / "gp.py"
    out = tmp_path / "gp_grad.py"
    hyp = '{"log_length": "", "log_signal": "", "log_noise": ""}'
    args = ["compile", str(port), "--function", "log_marginal_likelihood"]
    assert main([*args, "--shape", f"hyp={hyp}", "X=n,1", "y=n", "-o", str(out)]) == 0
    text = out.read_text()
    assert black.format_str(text, mode=black.Mode()) == text
    imports = {ln for ln in text.splitlines() if ln.startswith(("import", "from"))}
    assert imports == {"import numpy as np", "import scipy.linalg"}
    assert "np.linalg.cholesky(" in text and "scipy.linalg.solve_triangular(" in text
    gp = runpy.run_path(str(port))
    X, y = gp["make_data"](n=10, seed=4)
    hyp = gp["initial_hyperparameters"]()
    got = runpy.run_path(str(out))["log_marginal_likelihood_grad"](hyp, X, y)
    want = grad(gp["log_marginal_likelihood"], argnums=(0, 1, 2))(hyp, X, y)
    for key in hyp:
        assert got[0][key] == pytest.approx(want[0][key], rel=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-14)


def test_at_a_repeated_eigenvalue_only_the_eigenvectors_lose_their_derivative():
    """As documented: at A = I (every eigenvalue repeated) the eigenvalues'
    derivative is finite (Σ w² = tr A²: its gradient on the triangle read is
    2I), the eigenvectors' is not determined (inf/nan, not a silent number)."""

    def values(A):
        return np.sum(np.linalg.eigvalsh(A) ** 2)

    def vectors(A):
        return np.sum(np.linalg.eigh(A)[1] ** 4)

    np.testing.assert_allclose(grad(values)(np.eye(3)), 2 * np.eye(3), atol=1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        assert not np.all(np.isfinite(grad(vectors)(np.eye(3))))
