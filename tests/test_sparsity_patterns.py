"""Sparsity patterns found from the IR (ad_compiler/sparsity, docs/sparsity_patterns.md).

* the reference problems' exact patterns: the extended Rosenbrock function's
  tridiagonal Hessian, the 2-D Laplacian residual's five-point Jacobian (with
  ``p[1:-1, 1:-1] = u`` and with ``np.pad``), at small sizes exactly and at
  n = 10^5 within seconds (slow tier);
* every corpus function (scalar and array), at three points: the pattern holds
  every non-zero of the dense ``jacfwd``/``hessian`` (tests/sparsity_corpus.py);
* every registry row with samples: the pattern of the row alone holds the
  non-zeros of its finite-difference Jacobian; every row has a rule, is
  elementwise, has no derivative, or is in the documented dense list;
* static against runtime: branches on the inputs joined, a ``while`` loop on
  them and an index computed from them traced at the point;
* the dense fallback is dense and says so; ``sparsity(f)``'s text and PNG.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
import sparsity_corpus
from sparsity_patterns_cases import (
    argmax_index,
    branch_on_input,
    pde_residual,
    pde_residual_padded,
    rosenbrock,
    solve_system,
    two_arguments,
    while_on_input,
)

from ad_compiler import UsageError, hessian, jacobian, sparsity
from ad_compiler.ir.nodes import Eqn, Function, Var
from ad_compiler.primitives.table import PRIMITIVES
from ad_compiler.sparsity import rules
from ad_compiler.sparsity.abstract import Interpreter, evaluate
from ad_compiler.sparsity.patterns import hessian_pattern, jacobian_pattern
from ad_compiler.sparsity.rules import Abstract

scipy_sparse = pytest.importorskip("scipy.sparse")


def tridiagonal(n: int) -> np.ndarray:
    return (np.abs(np.subtract.outer(np.arange(n), np.arange(n))) <= 1).astype(bool)


def five_point(m: int) -> np.ndarray:
    """The 2-D Laplacian's stencil on an m x m grid, zero boundary."""
    n = m * m
    i, j = np.divmod(np.arange(n), m)
    out = np.zeros((n, n), dtype=bool)
    for di, dj in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
        ok = (0 <= i + di) & (i + di < m) & (0 <= j + dj) & (j + dj < m)
        out[np.arange(n)[ok], ((i + di) * m + j + dj)[ok]] = True
    return out


# --- the reference problems --------------------------------------------------------------


def test_the_rosenbrock_hessian_is_tridiagonal_and_static():
    x = np.random.default_rng(0).uniform(-1, 1, 12)
    p = hessian_pattern(rosenbrock, (x,))
    assert p.static and p.how == "static: IR"
    np.testing.assert_array_equal(p.matrix.toarray(), tridiagonal(12))
    assert p.matrix.dtype == bool and p.matrix.format == "csr"


@pytest.mark.parametrize("f", [pde_residual, pde_residual_padded])
def test_the_pde_residual_jacobian_is_the_five_point_stencil(f):
    m = 5
    u, g = np.ones((m, m)), np.zeros((m, m))
    p = jacobian_pattern(f, (u, g))
    assert p.static
    np.testing.assert_array_equal(p.matrix.toarray(), five_point(m))
    # with respect to f: minus the identity
    q = jacobian_pattern(f, (u, g), argnums=1)
    np.testing.assert_array_equal(q.matrix.toarray(), np.eye(m * m, dtype=bool))
    both = jacobian_pattern(f, (u, g), argnums=(1, 0))  # columns in argnums order
    np.testing.assert_array_equal(
        both.matrix.toarray(), np.hstack([np.eye(m * m, dtype=bool), five_point(m)])
    )


@pytest.mark.slow
def test_the_reference_patterns_at_n_100000_take_well_under_seconds():
    x = np.ones(100_000)
    start = time.perf_counter()
    h = hessian_pattern(rosenbrock, (x,))
    took = time.perf_counter() - start
    assert h.nnz == 3 * 100_000 - 2 and took < 3.0
    m = 317
    u = np.ones((m, m))
    start = time.perf_counter()
    j = jacobian_pattern(pde_residual, (u, u))
    took = time.perf_counter() - start
    per_row = np.diff(j.matrix.indptr)
    assert per_row.max() == 5 and j.nnz == 5 * m * m - 4 * m and took < 3.0


# --- the corpora: never a missing non-zero -----------------------------------------------


CORPUS = [("array", c) for c in sparsity_corpus.array_cases()] + [
    ("scalar", c) for c in sparsity_corpus.scalar_cases()
]


@pytest.mark.parametrize(
    "corpus, case", CORPUS, ids=lambda c: c if isinstance(c, str) else c[0]
)
@pytest.mark.fast_sample(every=40)
def test_corpus_patterns_hold_every_non_zero(corpus, case):
    for result in sparsity_corpus.results([case]):
        assert not result.error, result.error
        assert result.missing == 0, result


# --- the rows ----------------------------------------------------------------------------

# the rows without a rule, taken as dense: a new row lands here only on purpose
DOCUMENTED_DENSE = {
    "bincount", "call", "cho_factor", "cho_solve", "cholesky", "det", "eigh_v",
    "eigh_w", "expm", "inv", "linalg_items", "lstsq", "matrix_power",
    "multivariate_normal_logpdf", "mvn_inv", "mvn_logdet", "mvn_solve", "pinv",
    "qr_q", "qr_r", "slogdet", "solve", "solve_triangular", "svd_s", "svd_u",
    "svd_vh", "unrepeat", "untile",
}  # fmt: skip


def test_every_row_has_a_rule_or_is_documented_dense():
    lists = {n for n in PRIMITIVES if n.startswith("list_")}
    effects = {"tape", "push", "tape_len"}  # (never in a primal: refused as a whole)
    dense = set(rules.DENSE) - lists - effects
    assert dense == DOCUMENTED_DENSE
    for name in PRIMITIVES:
        assert rules.family(name) in ("none", "elementwise", "rule", "dense")
        assert rules.curvature(name, [0]) in ("linear", "multilinear", "nonlinear")


def _row_cases():
    for name, row in sorted(PRIMITIVES.items()):
        for k, (inputs, params) in enumerate(row.samples):
            yield pytest.param(name, inputs, params, id=f"{name}-{k}")


def _row_pattern(name, values, active, params):
    """The pattern of one equation applied to ``values`` (those in ``active``
    differentiated), through the interpreter."""
    params_t = tuple(sorted(params.items()))
    xs = tuple(Var(f"x{i}") for i in range(len(values)))
    eqn = Eqn(name, (Var("y"),), xs, params=params_t)
    fn = Function("f", xs, (eqn,), (Var("y"),))
    ncols = sum(np.size(values[i]) for i in active)
    args, start = [], 0
    for i, v in enumerate(values):
        if i in active:
            size = np.size(v)
            dep = scipy_sparse.csr_matrix(
                (
                    np.ones(size, bool),
                    (np.arange(size), np.arange(start, start + size)),
                ),
                shape=(size, ncols),
            )
            start += size
            args.append(Abstract(np.shape(v), dep, rules.UNKNOWN))
        else:
            args.append(Abstract(np.shape(v), None, v))
    (out,) = Interpreter(ncols, False, False).run(fn, args)
    return out.dep.toarray() if out.dep is not None else np.zeros((np.size(0), ncols))


@pytest.mark.parametrize("name, inputs, params", list(_row_cases()))
@pytest.mark.fast_sample(every=10)
def test_a_rows_pattern_holds_its_finite_difference_jacobian(name, inputs, params):
    rng = np.random.default_rng(sum(map(ord, name)))
    values, active = [], []
    for i, spec in enumerate(inputs):
        if isinstance(spec, tuple) and all(isinstance(d, int) for d in spec):
            values.append(rng.uniform(0.5, 1.5, spec) if spec else 0.9)
            active.append(i)
        else:
            values.append(spec)
    eqn = Eqn(
        name,
        (Var("y"),),
        tuple(Var(f"x{i}") for i in range(len(values))),
        params=tuple(sorted(params.items())),
    )
    y0 = np.asarray(evaluate(eqn, values), dtype=float)
    columns = []
    for i in active:
        x = np.asarray(values[i], dtype=float)
        for j in range(x.size):
            step = np.zeros(x.size)
            step[j] = 1e-6
            up, down = list(values), list(values)
            up[i] = x + step.reshape(x.shape)
            down[i] = x - step.reshape(x.shape)
            if x.shape == ():
                up[i], down[i] = float(up[i]), float(down[i])
            diff = np.asarray(evaluate(eqn, up)) - np.asarray(evaluate(eqn, down))
            columns.append(np.ravel(diff) / 2e-6)
    fd = np.array(columns).T.reshape(y0.size, -1)
    pattern = _row_pattern(name, values, active, params)
    nonzero = np.abs(fd) > 1e-6 * (1 + np.abs(fd).max())
    missing = nonzero & ~pattern.astype(bool)
    assert not missing.any(), f"{name}: missing {np.argwhere(missing)[:5]}"


# --- static and runtime ------------------------------------------------------------------


def test_a_branch_on_the_inputs_joins_both_branches_statically():
    p = jacobian_pattern(branch_on_input, (np.ones(4),))
    assert p.static  # both branches analysed: the union holds everywhere
    expected = np.eye(4, dtype=bool)
    expected[:, 0] = True  # the first branch reads x[0] everywhere
    np.testing.assert_array_equal(p.matrix.toarray(), expected)


def test_a_while_loop_on_the_inputs_is_traced_at_the_point():
    p = jacobian_pattern(while_on_input, (np.full(3, 0.5),))
    assert not p.static and p.how.startswith("runtime: traced at the point")
    assert "while" in p.how
    np.testing.assert_array_equal(p.matrix.toarray(), np.eye(3, dtype=bool))


def test_an_index_computed_from_the_inputs_is_traced_at_the_point():
    x = np.array([0.1, 3.0, 0.2, 0.3])
    p = jacobian_pattern(argmax_index, (x,))
    assert not p.static
    np.testing.assert_array_equal(p.matrix.toarray(), [[False, True, False, False]])


def test_a_row_without_a_rule_is_dense_and_named():
    a = np.eye(3) * 3.0
    p = jacobian_pattern(solve_system, (a, np.ones(3)), argnums=(0, 1))
    assert p.static and "dense (no rule): solve" in p.how
    assert p.matrix.toarray().all() and p.shape == (3, 12)


def test_a_known_argument_is_a_value_and_a_product_by_known_zeros_is_no_dependency():
    # two_arguments(x, n) = x[:n] * w with w = [1, 0, 2]: column 1 drops out
    p = jacobian_pattern(two_arguments, (np.ones(5), 3))
    np.testing.assert_array_equal(
        p.matrix.toarray(), np.eye(3, 5, dtype=bool) & [True, False, True, True, True]
    )


# --- sparsity(f): text and picture --------------------------------------------------------


def test_sparsity_prints_a_picture_and_a_summary():
    text = str(sparsity(rosenbrock, hessian=True)(np.ones(4)))
    assert text.splitlines()[:4] == ["##..", "###.", ".###", "..##"]
    assert "4 x 4 pattern, 10 non-zeros" in text and "bandwidth 1" in text
    big = str(sparsity(rosenbrock, hessian=True)(np.ones(100)))
    assert big.startswith("100 x 100 pattern, 298 non-zeros") and "#" not in big


@pytest.mark.slow  # (matplotlib's import)
def test_sparsity_plots_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "p.png"
    sparsity(pde_residual)(np.ones((4, 4)), np.ones((4, 4))).plot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_scipy_a_usage_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    with pytest.raises(UsageError, match=r'pip install "ad_compiler\[scipy\]"'):
        jacobian_pattern(rosenbrock, (np.ones(3),))


def test_without_matplotlib_plot_says_what_to_install(monkeypatch, tmp_path):
    p = jacobian_pattern(rosenbrock, (np.ones(3),))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError, match=r'pip install "ad_compiler\[plot\]"'):
        p.plot(str(tmp_path / "p.png"))


# --- loops and scope ---------------------------------------------------------------------


def test_a_loop_whose_body_ignores_its_index_stops_at_a_fixed_point():
    from sparsity_patterns_cases import long_loop

    start = time.perf_counter()
    p = jacobian_pattern(long_loop, (np.ones(6), 10**6))  # a million iterations
    assert time.perf_counter() - start < 1.0 and p.static
    expected = np.eye(6, dtype=bool) | np.eye(6, dtype=bool)[::-1]
    np.testing.assert_array_equal(p.matrix.toarray(), expected)


@pytest.mark.parametrize("name", ["switched_on", "where_late", "rolled_late"])
def test_an_index_that_switches_a_dependency_on_late_is_no_fixed_point(name):
    """``y + x * x[0] * (i == 2)``: nothing new until the last iteration, so the
    carried pattern is unchanged after the first; the loop must still run on
    (the product by a known 0 is what hides the dependency)."""
    import sparsity_patterns_cases as cases

    f = getattr(cases, name)
    rng = np.random.default_rng(3)
    for _ in range(3):
        x = rng.uniform(0.5, 2.0, 5)
        if name == "rolled_late":
            dense, p = hessian(f)(x), hessian_pattern(f, (x,))
        else:
            dense, p = jacobian(f)(x), jacobian_pattern(f, (x,))
        dense = np.asarray(dense).reshape(p.matrix.shape)
        assert not ((dense != 0) & ~p.matrix.toarray()).any(), name
        assert p.static


def test_a_loop_indexing_by_its_index_is_iterated_and_exact():
    from sparsity_patterns_cases import indexed_loop

    p = jacobian_pattern(indexed_loop, (np.ones(6),))
    expected = np.eye(6, k=0, dtype=bool) | np.eye(6, k=-1, dtype=bool)
    expected[0] = False
    assert p.static
    np.testing.assert_array_equal(p.matrix.toarray(), expected)


def test_an_array_read_from_the_scope_is_a_known_value():
    from sparsity_patterns_cases import reads_scope

    p = jacobian_pattern(reads_scope, (np.ones(4),))  # x * [1, 0, 2, 0]
    np.testing.assert_array_equal(
        p.matrix.toarray(), np.diag([1, 0, 1, 0]).astype(bool)
    )


# --- adc sparsity: from the text, never run ------------------------------------------------

NEVER_RUN = """\
import numpy as np
import no_such_module_anywhere  # (the file is read, never imported)

W = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])


def product(x):
    return W @ x  # (a module constant: its non-zeros decide)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def scaled(x, n):
    return x[:n] * 2.0


def doubling(x):
    while np.max(x) < 10.0:
        x = 2.0 * x
    return x
"""


def test_adc_sparsity_prints_the_static_pattern_of_a_file(adc_in_process, tmp_path):
    src = tmp_path / "f.py"
    src.write_text(NEVER_RUN)
    r = adc_in_process(
        "sparsity", str(src), "--function", "rosenbrock", "--shape", "x=4", "--hessian"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:4] == ["##..", "###.", ".###", "..##"]
    r = adc_in_process(
        "sparsity", str(src), "--function", "scaled", "--shape", "x=5", "--fix", "n=2"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["#....", ".#..."]
    r = adc_in_process("sparsity", str(src), "--function", "product", "--shape", "x=3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["#..", "..#"]


def test_adc_sparsity_refuses_what_needs_a_point_and_missing_shapes(
    adc_in_process, tmp_path
):
    src = tmp_path / "f.py"
    src.write_text(NEVER_RUN)
    r = adc_in_process("sparsity", str(src), "--function", "doubling", "--shape", "x=3")
    assert r.returncode == 2 and "depends on the values of its inputs" in r.stderr
    assert "sparsity(f)(*args)" in r.stderr
    r = adc_in_process("sparsity", str(src), "--function", "scaled", "--shape", "x=3")
    assert r.returncode == 2 and "--fix n=" in r.stderr


@pytest.mark.slow  # (matplotlib's import)
def test_adc_sparsity_draws_a_png(adc_in_process, tmp_path):
    pytest.importorskip("matplotlib")
    src = tmp_path / "f.py"
    src.write_text(NEVER_RUN)
    out = tmp_path / "p.png"
    r = adc_in_process(
        "sparsity",
        str(src),
        "--function",
        "rosenbrock",
        "--shape",
        "x=100",
        "--hessian",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("100 x 100 pattern, 298 non-zeros")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_tree_argument_is_a_usage_error_saying_so():
    from sparsity_patterns_cases import tuple_argument

    with pytest.raises(UsageError, match="not trees or static values"):
        jacobian_pattern(tuple_argument, ((np.ones(2), np.ones(2)),))


def test_a_branch_failing_statically_is_left_to_the_point():
    from sparsity_patterns_cases import guarded_index

    p = jacobian_pattern(guarded_index, (np.ones(3),))
    assert not p.static and "out of bounds" in p.how
    np.testing.assert_array_equal(p.matrix.toarray(), [[False, True, False]])
