"""How user code reaches a library function: every common import spelling.

``np.linalg.solve``, ``import numpy.linalg as la``, ``from numpy.linalg
import solve``, ``import scipy.special as sp``, ``from scipy.special import
expit``: each reaches the same registry row, through the API (live globals)
and the CLI (the file's text only).  Emitted code imports SciPy only when the
user's code called it, and a function of a library that ad_compiler does not
know is named in full in a located error in the user's file.
"""

import subprocess
import sys

import numpy as np
import pytest

from ad_compiler import CompileError, grad

scipy_special = pytest.importorskip("scipy.special")

SPELLINGS = {
    "attribute": ("import scipy\n", "scipy.special.expit(x)"),
    "submodule": ("import scipy.special\n", "scipy.special.expit(x)"),
    "alias": ("import scipy.special as sp\n", "sp.expit(x)"),
    "from": ("from scipy.special import expit\n", "expit(x)"),
    "from-as": ("from scipy.special import expit as sigmoid\n", "sigmoid(x)"),
    "from-module": ("from scipy import special\n", "special.expit(x)"),
}


def _module(tmp_path, name, imports, call):
    path = tmp_path / f"spell_{name.replace('-', '_')}.py"
    path.write_text(
        f"import numpy as np\n{imports}\n\ndef f(x):\n    return np.sum({call} * x)\n"
    )
    return path


def _load(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_each_import_spelling_reaches_the_row_through_the_api(tmp_path, name):
    module = _load(_module(tmp_path, name, *SPELLINGS[name]))
    x = np.array([0.3, -1.5, 2.0])
    s = scipy_special.expit(x)
    want = s + x * s * (1 - s)  # d/dx Σ σ(x)·x
    assert np.allclose(grad(module.f)(x), want, rtol=1e-12)
    source = grad(module.f).source
    assert "scipy.special.expit(x)" in source and "import scipy.special" in source


@pytest.mark.slow  # (a subprocess per spelling; the API test above covers them fast)
@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_each_import_spelling_compiles_from_the_cli(tmp_path, name):
    path = _module(tmp_path, name, *SPELLINGS[name])
    out = tmp_path / "out.py"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ad_compiler.tools.cli",
            "compile",
            str(path),
            "--shape",
            "x=3",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    emitted = _load(out)
    x = np.array([0.3, -1.5, 2.0])
    s = scipy_special.expit(x)
    assert np.allclose(emitted.f_grad(x), s + x * s * (1 - s), rtol=1e-12)


def test_emitted_code_imports_scipy_only_when_the_source_called_it(tmp_path):
    path = tmp_path / "plain.py"
    path.write_text(
        "import numpy as np\nimport scipy.special\n\n\ndef f(x):\n    return np.sum(np.tanh(x))\n"
    )
    assert "import scipy" not in grad(_load(path).f).source


@pytest.mark.parametrize(
    "imports,call,named",
    [
        ("", "np.fft.fft(x)", "numpy.fft.fft"),
        ("import scipy.special\n", "scipy.special.nonexistent_fn(x)", "scipy.special"),
    ],
)
def test_an_unknown_library_function_is_named_at_the_call_site(
    tmp_path, imports, call, named
):
    path = _module(tmp_path, "unknown", imports, call)
    with pytest.raises(CompileError) as info:
        grad(_load(path).f)
    error = info.value
    lines = path.read_text().splitlines()
    assert error.loc.file == str(path)
    assert lines[error.loc.line - 1].strip().startswith("return np.sum(" + call)
    assert named in error.message and "not supported" in error.message
    assert "@custom_derivative" in error.hint


# --- a library function without a rule: named in full, with what to do ---------------
UNKNOWN = {
    # name: (imports, call, the name in full, what the hint offers)
    "linalg-attribute": ("", "np.linalg.foo(x)", "numpy.linalg.foo", None),
    "linalg-alias": (
        "import numpy.linalg as la\n",
        "la.foo(x)",
        "numpy.linalg.foo",
        None,
    ),
    "special-attribute": (
        "import scipy.special\n",
        "scipy.special.expitt(x)",
        "scipy.special.expitt",
        "`scipy.special.expit`",
    ),
    "fft-alias": (
        "import numpy.fft as nf\n",
        "nf.fft(x)",
        "numpy.fft.fft",
        "no function of `numpy.fft`",
    ),
    "fft-from": (
        "from numpy.fft import fft\n",
        "fft(x)",
        "numpy.fft.fft",
        "no function of `numpy.fft`",
    ),
    "special-from": (
        "from scipy.special import jv\n",
        "jv(1.0, x)",
        "scipy.special.jv",
        "none like this one",
    ),
    "math-close": ("import math\n", "math.gamma(x)", "math.gamma", "`math.lgamma`"),
}


def _check_unknown(error, path, name):
    imports, call, full, offered = UNKNOWN[name]
    lines = path.read_text().splitlines()
    assert error.loc.file.endswith(path.name)
    assert lines[error.loc.line - 1].strip().startswith("return np.sum(" + call)
    assert f"`{full}`" in error.message and "is not supported" in error.message
    assert "@custom_derivative" in error.hint
    if offered is not None:
        assert offered in error.hint, error.hint


@pytest.mark.parametrize("name", sorted(UNKNOWN))
def test_an_unknown_library_function_is_named_in_full_with_what_to_do(tmp_path, name):
    imports, call, full, offered = UNKNOWN[name]
    path = _module(tmp_path, name, imports, call)
    with pytest.raises(CompileError) as info:
        grad(_load(path).f)
    _check_unknown(info.value, path, name)


@pytest.mark.parametrize("name", sorted(UNKNOWN))
def test_an_unknown_library_function_is_named_in_full_from_the_file_text(
    tmp_path, name
):
    """The CLI's path: the file is read as text, never imported."""
    from ad_compiler.tools.files import compile_file

    imports, call, full, offered = UNKNOWN[name]
    path = _module(tmp_path, name, imports, call)
    with pytest.raises(CompileError) as info:
        compile_file(path.read_text(), str(path), shape_of={"x": (3,)})
    _check_unknown(info.value, path, name)


def test_the_emitted_modules_header_names_scipy_when_it_imports_it(tmp_path):
    from ad_compiler.tools.files import compile_file

    with_scipy = _module(tmp_path, "header", *SPELLINGS["alias"])
    text = compile_file(with_scipy.read_text(), str(with_scipy), shape_of={"x": (3,)})
    assert "import scipy.special" in text
    assert "needs only math, numpy and scipy" in text
    plain = tmp_path / "plain_header.py"
    plain.write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(x * x)\n")
    text = compile_file(plain.read_text(), str(plain), shape_of={"x": (3,)})
    assert "scipy" not in text
    assert "needs only math (and numpy if the source used it)" in text
