"""The ported example programs of samples/ports, differentiated unchanged.

Each port is ordinary NumPy code written the way people write it (parameter
lists and dicts, nested helpers, lists built with ``append``, comprehensions):
its gradient from ad_compiler must match central differences leaf by leaf, a
forward-mode directional derivative must match the reverse-mode gradient
(⟨ȳ, J·ẋ⟩ = ⟨Jᵀ·ȳ, ẋ⟩ with ȳ = 1), and, where JAX is installed, JAX's own
gradient of the same source.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from test_trees import same_structure  # containers, lengths, keys in order

from ad_compiler import grad, jvp

PORTS = Path(__file__).resolve().parent.parent / "samples" / "ports"


def load(name, namespace_np=None):
    """The port module ``name``; with ``namespace_np``, its source run with ``np``
    bound to that module instead (JAX's NumPy) and the rest unchanged."""
    path = PORTS / f"{name}.py"
    if namespace_np is None:
        spec = importlib.util.spec_from_file_location(f"port_{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    namespace = {"__name__": f"port_{name}_oracle", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    namespace["np"] = namespace_np  # the functions read np when called
    return namespace


def leaves(tree):
    """The arrays and numbers of a tuple/list/dict tree, in a fixed order."""
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in leaves(tree[key])]
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in leaves(item)]
    return [tree]


def rebuild(tree, values):
    """``tree`` with its leaves replaced, in :func:`leaves` order."""
    values = iter(values)

    def walk(t):
        if isinstance(t, dict):
            new = {key: walk(t[key]) for key in sorted(t)}
            return {key: new[key] for key in t}
        if isinstance(t, (tuple, list)):
            return type(t)(walk(item) for item in t)
        return next(values)

    return walk(tree)


def central_difference(f, args, argnum, leaf, index, h=1e-6):
    """∂f/∂ (leaf ``leaf`` of argument ``argnum``)[index], by central differences."""

    def shifted(step):
        flat = [np.array(x, dtype=float) for x in leaves(args[argnum])]
        flat[leaf][index] += step
        new = list(args)
        new[argnum] = rebuild(args[argnum], flat)
        return f(*new)

    return (shifted(h) - shifted(-h)) / (2 * h)


def problems():
    """(name, function, arguments, argnums differentiated)."""
    mlp, rnn, lstm, gmm, gp = (load(n) for n in ("mlp", "rnn", "lstm", "gmm", "gp"))
    rng = np.random.default_rng(3)
    X, Y, _, _ = mlp.load_digits()
    mlp_args = (mlp.init_params(0.1, [64, 12, 10], rng), X[:40], Y[:40])
    rnn_in, rnn_out = rnn.make_data(steps=5, batch=3)
    rnn_args = (rnn.init_params(1, 4, 1, 0.5, rng), rnn_in, rnn_out)
    lstm_in, lstm_out = lstm.make_data(steps=4, batch=3)
    lstm_args = (lstm.init_params(4, 5, 4, 0.5, rng), lstm_in, lstm_out)
    gmm_args = gmm.make_problem(n=30, d=3, k=3, seed=1)
    gp_args = (gp.initial_hyperparameters(), *gp.make_data(n=12, seed=1))
    return [
        ("mlp", mlp.objective, mlp_args, (0,)),
        ("rnn", rnn.loss, rnn_args, (0,)),
        ("lstm", lstm.loss, lstm_args, (0,)),
        ("gmm", gmm.gmm_objective, gmm_args, (0, 1, 2, 3)),
        # the Gaussian process: w.r.t. the hyperparameters and the inputs X
        ("gp", gp.log_marginal_likelihood, gp_args, (0, 1)),
        ("gp_cho", gp.log_marginal_likelihood_cho, gp_args, (0, 1)),
        ("gp_slogdet", gp.log_marginal_likelihood_slogdet, gp_args, (0, 1)),
    ]


PROBLEMS = {p[0]: p for p in problems()}


@pytest.mark.fast_sample(keep=lambda name: name == "mlp")
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_gradient_matches_central_differences(name):
    _, f, args, argnums = PROBLEMS[name]
    gradient = grad(f, argnums=argnums)(*args)
    rng = np.random.default_rng(0)
    for position, argnum in enumerate(argnums):
        g = gradient[position]  # argnums is a tuple: so is the gradient
        assert same_structure(g, args[argnum])
        for leaf_number, (leaf, g_leaf) in enumerate(
            zip(leaves(args[argnum]), leaves(g))
        ):
            shape = np.shape(leaf)
            for _ in range(2):  # two random entries of every leaf
                index = tuple(int(rng.integers(0, s)) for s in shape)
                fd = central_difference(f, args, argnum, leaf_number, index)
                assert np.asarray(g_leaf)[index] == pytest.approx(
                    fd, rel=1e-5, abs=1e-7
                )


@pytest.mark.fast_sample(keep=lambda name: name == "mlp")
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_forward_mode_agrees_with_reverse(name):
    """jvp along a random direction = ⟨gradient, direction⟩."""
    _, f, args, argnums = PROBLEMS[name]
    rng = np.random.default_rng(1)
    tangents = []
    for i, a in enumerate(args):
        flat = [
            rng.standard_normal(np.shape(x)) if i in argnums else np.zeros(np.shape(x))
            for x in leaves(a)
        ]
        tangents.append(rebuild(a, flat))
    value, derivative = jvp(f, args, tuple(tangents))
    assert value == pytest.approx(f(*args), rel=1e-12)
    gradient = grad(f, argnums=argnums)(*args)
    expected = 0.0
    for position, argnum in enumerate(argnums):
        g = gradient[position]  # argnums is a tuple: so is the gradient
        for g_leaf, t_leaf in zip(leaves(g), leaves(tangents[argnum])):
            expected += float(np.sum(np.asarray(g_leaf) * t_leaf))
    assert derivative == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_against_jax(name):
    """JAX's gradient of the same source (np bound to jax.numpy), where installed."""
    jax = pytest.importorskip("jax", reason="JAX is an optional oracle ([bench] extra)")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    _, f, args, argnums = PROBLEMS[name]
    namespace = load(name.partition("_")[0], jnp)
    if name.startswith("gp"):  # SciPy's functions as JAX spells them
        import jax.scipy.linalg as jsl

        for fn in ("solve_triangular", "cho_factor", "cho_solve"):
            namespace[fn] = getattr(jsl, fn)
    oracle = namespace[f.__name__]
    expected = jax.grad(oracle, argnums=argnums)(*args)
    got = grad(f, argnums=argnums)(*args)
    for e, g in zip(leaves(expected), leaves(got)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-9, atol=1e-12)


@pytest.mark.slow  # trains for a few hundred steps (seconds); the tests above cover the gradient
def test_mlp_learns_the_digits():
    mlp = load("mlp")
    _, accuracy = mlp.train(steps=150, lr=0.5)
    assert accuracy > 0.85


@pytest.mark.slow  # trains (seconds)
@pytest.mark.parametrize("name", ["rnn", "lstm"])
def test_sequence_models_learn(name):
    module = load(name)
    inputs, targets = module.make_data()
    rng = np.random.default_rng(0)
    if name == "rnn":
        before = module.loss(module.init_params(1, 8, 1, 0.3, rng), inputs, targets)
    else:
        n = inputs[0].shape[1]
        before = module.loss(module.init_params(n, 10, n, 0.3, rng), inputs, targets)
    _, after = module.train(steps=60)
    assert after < 0.5 * before


@pytest.mark.slow  # 60 gradient steps (~1 s); the tests above cover the gradient
def test_gaussian_process_fit_improves_the_likelihood():
    """Gradient ascent with ad_compiler's gradient raises the log marginal
    likelihood of the hyperparameters, and the noise level it finds is near
    the one the data were made with (0.1)."""
    gp = load("gp")
    X, y = gp.make_data(n=20, seed=0)
    start = gp.initial_hyperparameters()
    fitted = gp.fit(start, X, y, steps=60, lr=0.02)
    before = gp.log_marginal_likelihood(start, X, y)
    after = gp.log_marginal_likelihood(fitted, X, y)
    assert after > before + 10
    assert fitted["log_noise"] < start["log_noise"]
    for variant in (gp.log_marginal_likelihood_cho, gp.log_marginal_likelihood_slogdet):
        assert variant(fitted, X, y) == pytest.approx(after, rel=1e-10)
