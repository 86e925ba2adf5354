"""NumPy's shape and construction functions and einsum, differentiated.

Every case of tests/construct_cases.py (each function in a few spellings,
methods included, ending in a smooth score) in reverse mode (grad) and forward
mode (jvp) against central differences, in vector mode (jacfwd against grad),
second order (hessian against differences of the gradient) and, where JAX is
installed, against JAX's gradient of the same source; and the errors for what
is not supported, located in the user's file.
"""

import importlib.util
import textwrap

import construct_cases as cc
import numpy as np
import pytest

from ad_compiler import CompileError, grad, hessian, jacfwd, jvp

RNG = np.random.default_rng(17)


def r(*shape):
    return RNG.uniform(-1.0, 1.0, size=shape)


# name -> (function, arguments, the arguments differentiated)
CASES = {
    "hstack_vectors": (cc.hstack_vectors, (r(3), r(3)), (0, 1)),
    "hstack_matrices": (cc.hstack_matrices, (r(2, 3), r(2, 2)), (0, 1)),
    "vstack": (cc.vstack_, (r(3), r(3)), (0, 1)),
    "column_stack": (cc.column_stack_, (r(3), r(3, 2)), (0, 1)),
    "dstack": (cc.dstack_, (r(2, 3), r(2, 3)), (0, 1)),
    "atleast": (cc.atleast_, (r(3), r(3)), (0, 1)),
    "split": (cc.split_, (r(6),), (0,)),
    "array_split": (cc.array_split_, (r(7),), (0,)),
    "split_at_indices": (cc.split_at_indices, (r(3, 5),), (0,)),
    "tile": (cc.tile_, (r(3), r(2, 3)), (0, 1)),
    "repeat": (cc.repeat_, (r(2, 3),), (0,)),
    "roll": (cc.roll_, (r(2, 3),), (0,)),
    "flip": (cc.flip_, (r(2, 3),), (0,)),
    "moveaxis": (cc.moveaxis_, (r(2, 3, 4),), (0,)),
    "ravel": (cc.ravel_, (r(2, 3),), (0,)),
    "broadcast_to": (cc.broadcast_to_, (r(3), r(4, 3)), (0, 1)),
    "diag": (cc.diag_, (r(3), r(3, 3)), (0, 1)),
    "triangles": (cc.triangles, (r(3, 4),), (0,)),
    "products": (cc.products, (r(3), r(3), r(2, 3), r(2, 3)), (0, 1, 2, 3)),
    "cross": (cc.cross_, (r(4, 3), r(3)), (0, 1)),
    "cross_axis0": (cc.cross_axis0, (r(3, 2), r(3, 2)), (0, 1)),
    "tensordot": (cc.tensordot_, (r(2, 3), r(3, 2), r(2, 3, 2)), (0, 1, 2)),
    "take": (
        cc.take_,
        (r(5), r(3, 4), np.array([0, 3, 3, 1]), np.array([[1, 1], [0, 3], [2, 0]])),
        (0, 1),
    ),
    "meshgrid": (cc.meshgrid_, (r(3), r(2)), (0, 1)),
    "pad": (cc.pad_, (r(2, 3), r(3)), (0, 1)),
    "literals": (cc.literals, (r(2),), (0,)),
    "constants": (cc.constants, (r(5), r(3, 3)), (0, 1)),
    "einsum_three": (cc.einsum_three, (r(2, 3), r(3, 4), r(4, 2)), (0, 1, 2)),
    "einsum_ellipsis": (cc.einsum_ellipsis, (r(2, 2, 3), r(2, 3, 2)), (0, 1)),
    "einsum_implicit": (cc.einsum_implicit, (r(2, 3), r(2, 3)), (0, 1)),
    "einsum_optimized": (
        cc.einsum_optimized,
        (r(2, 3), r(3, 4), r(4, 2), r(4)),
        (0, 1, 2, 3),
    ),
    "einsum_diagonals": (cc.einsum_diagonals, (r(3, 3), r(2, 3, 3)), (0, 1)),
    "einsum_summed_alone": (cc.einsum_summed_alone, (r(2, 3), r(3, 4)), (0, 1)),
}
NAMES = sorted(CASES)
fast = pytest.mark.fast_sample(every=22)


def central(f, args, argnum, index, h=1e-6):
    up = [np.array(a, dtype=float) if i == argnum else a for i, a in enumerate(args)]
    down = [np.array(a, dtype=float) if i == argnum else a for i, a in enumerate(args)]
    up[argnum][index] += h
    down[argnum][index] -= h
    return (f(*up) - f(*down)) / (2 * h)


def fd_gradient(f, args, argnum):
    out = np.zeros(np.shape(args[argnum]))
    for index in np.ndindex(out.shape):
        out[index] = central(f, args, argnum, index)
    return out


@fast
@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences(name):
    f, args, argnums = CASES[name]
    gradient = grad(f, argnums=argnums)(*args)
    for g, argnum in zip(gradient, argnums):
        expected = fd_gradient(f, args, argnum)
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-7)


@fast
@pytest.mark.parametrize("name", NAMES)
def test_forward_mode_matches_central_differences(name):
    f, args, argnums = CASES[name]
    rng = np.random.default_rng(3)
    tangents = [
        rng.standard_normal(np.shape(a)) if i in argnums else np.zeros(np.shape(a))
        for i, a in enumerate(args)
    ]
    value, derivative = jvp(f, tuple(args), tuple(tangents))
    h = 1e-6
    up = [
        a + h * t if i in argnums else a for i, (a, t) in enumerate(zip(args, tangents))
    ]
    down = [
        a - h * t if i in argnums else a for i, (a, t) in enumerate(zip(args, tangents))
    ]
    assert value == pytest.approx(f(*args), rel=1e-12)
    assert derivative == pytest.approx(
        (f(*up) - f(*down)) / (2 * h), rel=1e-6, abs=1e-7
    )


@fast
@pytest.mark.parametrize("name", NAMES)
def test_vector_mode_agrees_with_reverse_mode(name):
    """jacfwd (the tangent program batched over directions: each row's
    vector-mode rule) equals grad for the first differentiated argument."""
    f, args, argnums = CASES[name]
    expected = grad(f, argnums=argnums[0])(*args)
    got = jacfwd(f, argnums=argnums[0])(*args)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_broadcast_to_a_whole_shape_value():
    f, (x, A) = cc.broadcast_to_shape, (r(3), r(4, 3))
    np.testing.assert_allclose(grad(f)(x, A), fd_gradient(f, (x, A), 0), rtol=1e-6)


SECOND = [
    "cross",
    "products",
    "einsum_three",
    "einsum_diagonals",
    "tile",
    "diag",
    "pad",
]
SECOND += ["hstack_vectors"]


@pytest.mark.fast_sample(keep=lambda name: name == "cross")
@pytest.mark.parametrize("name", SECOND)
def test_hessian_matches_differences_of_the_gradient(name):
    f, args, argnums = CASES[name]
    a = argnums[0]
    H = hessian(f, argnums=a)(*args)
    n = np.size(args[a])
    H = np.reshape(H, (n, n))
    g = grad(f, argnums=a)
    columns = []
    for index in np.ndindex(np.shape(args[a])):
        up = list(args)
        down = list(args)
        up[a] = np.array(args[a], dtype=float)
        down[a] = np.array(args[a], dtype=float)
        up[a][index] += 1e-5
        down[a][index] -= 1e-5
        columns.append(np.ravel((g(*up) - g(*down)) / 2e-5))
    np.testing.assert_allclose(H, np.array(columns).T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-10)


def _oracle(name):
    jax = pytest.importorskip("jax", reason="JAX is an optional oracle ([bench] extra)")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    spec = importlib.util.find_spec("construct_cases")
    namespace = {"__name__": "construct_cases_oracle"}
    exec(compile(open(spec.origin).read(), spec.origin, "exec"), namespace)
    namespace["np"] = jnp
    f = CASES[name][0]
    return jax, namespace[f.__name__]


@pytest.mark.fast_sample(first=2)
@pytest.mark.parametrize("name", NAMES)
def test_against_jax(name):
    jax, oracle = _oracle(name)
    f, args, argnums = CASES[name]
    expected = jax.grad(oracle, argnums=argnums)(*args)
    got = grad(f, argnums=argnums)(*args)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-9, atol=1e-12)


def test_the_emitted_code_calls_numpys_functions():
    """The primal is spelled as the user wrote it (np.cross, np.hstack); the
    derivatives are the rows' own code, with no composite call left in them."""
    f, args, argnums = CASES["hstack_vectors"]
    g = grad(f, argnums=argnums)
    g(*args)
    code = [line for line in g.source.splitlines() if not line.lstrip().startswith("#")]
    assert sum(line.count("np.hstack(") for line in code) == 2  # f's two, once each
    assert "np.hstack((x, y))" in g.source


# --- what is not supported: located errors naming what to do ---------------------------
def _compile(tmp_path, body: str, *args):
    path = tmp_path / "user.py"
    path.write_text(
        "import numpy as np\n\n\ndef f(x):\n" + textwrap.indent(body, "    ")
    )
    spec = importlib.util.spec_from_file_location("user_unsupported", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda: grad(module.f)(*args)


@pytest.mark.parametrize(
    "body,message,hint",
    [
        ("return np.sum(np.pad(x, 1, mode='reflect'))\n", "mode='constant'", None),
        (
            "return np.sum(np.pad(x, 1, constant_values=2.0))\n",
            "other than zeros",
            "mask",
        ),
        ("return np.einsum('ij,jk->ii', x, x)[0]\n", "is not supported", "once"),
        ("return np.sum(np.repeat(x, np.array([1, 2, 3])))\n", "literal", None),
        ("return np.sum(np.diagonal(x, 0, 1, 0))\n", "axis1", "moveaxis"),
    ],
)
def test_unsupported_forms_are_located_errors(tmp_path, body, message, hint):
    run = _compile(tmp_path, body, np.ones((3, 3)))
    with pytest.raises(CompileError) as error:
        run()
    assert message in str(error.value)
    assert error.value.loc is not None and error.value.loc.line == 5
    assert error.value.loc.file.endswith("user.py")
    if hint:
        assert hint in (error.value.hint or "")


def test_a_rank_dependent_function_without_shapes_names_the_shape_option():
    """`adc compile` of np.hstack with no shapes: located, naming --shape."""
    from ad_compiler.tools.files import compile_file

    src = "import numpy as np\n\n\ndef f(a, b):\n    return np.sum(np.hstack([a, b]))\n"
    with pytest.raises(CompileError) as error:
        compile_file(src, "e.py")
    assert "how many axes" in str(error.value) and "--shape" in error.value.hint
    assert error.value.loc.line == 5
    text = compile_file(src, "e.py", shape_of={"a": ("n",), "b": ("m",)})
    assert "np.hstack((a, b))" in str(text)


def test_every_import_spelling(tmp_path):
    path = tmp_path / "spelled.py"
    path.write_text(
        "import numpy\n"
        "import numpy as xp\n"
        "from numpy import cross, einsum as es\n\n\n"
        "def f(a, b):\n"
        "    c = cross(a, b) + numpy.cross(b, a) * 0.5 + xp.roll(a, 1)\n"
        "    return es('ij,ij->', c, c) + xp.sum(numpy.tile(a, 2))\n"
    )
    spec = importlib.util.spec_from_file_location("spelled", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    a, b = r(2, 3), r(2, 3)
    got = grad(module.f, argnums=(0, 1))(a, b)
    for g, argnum in zip(got, (0, 1)):
        np.testing.assert_allclose(g, fd_gradient(module.f, (a, b), argnum), rtol=1e-6)
