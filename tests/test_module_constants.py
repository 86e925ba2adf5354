"""Module-level names the CLI reads without running the file (issue 14, item 6).

A module constant is baked into the derivative as a number, so the CLI may use
it only when the text says what it is: one plain top-level assignment. A name
rebound anywhere else (inside ``if``/``try``/``for``/``while``/``with``, by a
walrus, ``+=``, ``del``, ``global`` in a function, ``globals()[...]``, an import
or a ``def``/``class`` of the same name), bound twice, or in a file that calls
``exec``/``globals()``, is refused with an error at the use and a note at each
binding; it is never baked from the first binding.
"""

import pytest

from ad_compiler.tools import cli

HEAD = "import math\n\nN = 2.0\n"
TAIL = "\n\ndef f(x):\n    return N * x\n"

# (what, the text after `N = 2.0`, the second binding: (text on its line, how))
REBINDINGS = [
    ("if", "if math.pi > 3:\n    N = 3.0", "N = 3.0", "inside an `if`"),
    (
        "else",
        "if math.pi > 4:\n    pass\nelse:\n    N = 3.0",
        "N = 3.0",
        "inside an `if`",
    ),
    (
        "try",
        "try:\n    N = 3.0\nexcept ValueError:\n    pass",
        "N = 3.0",
        "inside a `try`",
    ),
    (
        "except as",
        "try:\n    pass\nexcept ValueError as N:\n    pass",
        "except",
        "inside a `try`",
    ),
    ("for target", "for N in range(3):\n    pass", "N in", "inside a `for` loop"),
    ("for body", "for _ in range(3):\n    N = 3.0", "N = 3.0", "inside a `for` loop"),
    ("while", "while math.pi < 3:\n    N = 3.0", "N = 3.0", "inside a `while` loop"),
    ("with", "with open('x') as N:\n    pass", "N:", "inside a `with`"),
    ("walrus", "y = (N := 3.0)", "N :=", "a walrus"),
    (
        "walrus in a comprehension",
        "y = [(N := i) for i in range(3)]",
        "N :=",
        "a walrus",
    ),
    ("augmented", "N += 1.0", "N +=", "an augmented assignment"),
    ("del", "del N", "N", "`del`"),
    ("global", "def g():\n    global N\n    N = 3.0", "N = 3.0", "`global` in `g`"),
    ("globals()", "globals()['N'] = 3.0", "globals()", "`globals()[...]`"),
    (
        "globals() in a function",
        "def g():\n    globals()['N'] = 3.0",
        "globals()",
        "`globals()[...]`",
    ),
    ("import", "from math import pi as N", "from", "an import"),
    (
        "import in try",
        "try:\n    from math import e as N\nexcept ImportError:\n    pass",
        "from",
        "an import inside a `try`",
    ),
    ("def", "def N():\n    return 1.0", "def", "a `def`"),
    ("class", "class N:\n    pass", "class", "a class"),
    ("second assignment", "N = 3.0", "N = 3.0", "an assignment"),
    ("exec", "exec('N = 3.0')", "exec", "`exec()`"),
    ("dynamic globals()", "globals().update(N=3.0)", "globals", "`globals()`"),
]


def run(tmp_path, capsys, text, *args):
    path = tmp_path / "f.py"
    path.write_text(text)
    code = cli.main(["compile", str(path), *args])
    captured = capsys.readouterr()
    return path, code, captured.out, captured.err


def position(text: str, needle: str, after: int = 4) -> tuple[int, int]:
    """1-based line and column of ``needle``, searched from line ``after`` on."""
    lines = text.split("\n")
    for i in range(after - 1, len(lines)):
        if needle in lines[i]:
            return i + 1, lines[i].index(needle) + 1
    raise AssertionError(needle)


@pytest.mark.parametrize(
    "what, snippet, needle, how", REBINDINGS, ids=[r[0] for r in REBINDINGS]
)
def test_a_rebound_constant_is_refused_at_the_use_with_a_note_at_each_binding(
    tmp_path, capsys, what, snippet, needle, how
):
    text = HEAD + snippet + TAIL
    path, code, out, err = run(tmp_path, capsys, text, "--function", "f")
    assert code == 1 and out == ""  # before: N = 2.0 was baked, f_grad returned 2.0
    use_line = text.split("\n").index("    return N * x") + 1
    line, col = position(text, needle)
    assert err.startswith(
        f"{path}:{use_line}:12: error: `N` is bound more than once in the module "
        f"(an assignment at line 3, {how} at line {line}): which value the function "
        "sees is not known without running the file\n"
    ), err
    assert (
        f"{path}:3:1: note: `N` is bound here (an assignment)\n    N = 2.0\n    ^\n"
        in err
    )
    assert f"{path}:{line}:{col}: note: `N` is bound here ({how})\n" in err
    assert "hint: bind it once" in err


def test_a_name_bound_only_in_a_branch_is_refused(tmp_path, capsys):
    text = "import math\n\nif math.pi > 3:\n    N = 3.0\n" + TAIL
    path, code, _, err = run(tmp_path, capsys, text)
    assert code == 1
    assert err.startswith(
        f"{path}:8:12: error: `N` is bound only in a place that may not run "
        "(inside an `if` at line 4)"
    ), err
    assert f"{path}:4:5: note: `N` is bound here (inside an `if`)" in err


@pytest.mark.parametrize(
    "snippet",
    [
        "def g(N):\n    N = 3.0\n    return N",  # a parameter and a local of g
        "def g():\n    global M\n    N = 3.0\n    M = N",  # global M, not N
        "y = [N for N in range(3)]",  # a comprehension's own variable
        "class C:\n    N = 3.0",  # a class attribute
        "y = globals()['N']",  # a read
        "y = lambda N=1.0: N",  # a lambda's parameter
        "if math.pi > 3:\n    M = 3.0",  # another name
        "import math",  # the same import again is the same binding
    ],
)
def test_bindings_of_other_scopes_leave_the_constant_alone(tmp_path, capsys, snippet):
    path, code, out, err = run(
        tmp_path, capsys, HEAD + snippet + TAIL, "--function", "f"
    )
    assert code == 0, err
    namespace = {}
    exec(out, namespace)
    assert namespace["f_grad"](5.0) == 2.0  # d(N x)/dx = N = 2.0


def test_a_function_defined_twice_is_never_merged(tmp_path, capsys):
    # Python would use the second `f`; the emitted module once held f_grad of the first
    text = "def f(x):\n    return 2.0 * x\n\n\ndef f(x):\n    return 3.0 * x\n"
    path, code, out, err = run(tmp_path, capsys, text)
    assert code == 1 and out == ""
    assert (
        f"{path}:1:1: error: `f` is bound more than once in the module (a `def` at line 1, a `def` at line 5)"
        in err
    )
    assert f"{path}:5:1: error: `f`" in err  # each definition compiled is refused
    assert (
        f"{path}:5:1: note: `f` is bound here (a `def`)\n    def f(x):\n    ^\n" in err
    )
    assert err.endswith("2 errors generated.\n")


def test_a_call_to_a_function_defined_twice_is_refused(tmp_path, capsys):
    text = "def h(x):\n    return 2.0 * x\n\n\ndef h(x):\n    return 3.0 * x\n\n\ndef g(x):\n    return h(x)\n"
    path, code, out, err = run(tmp_path, capsys, text, "--function", "g")
    assert code == 1 and out == ""
    assert err.startswith(
        f"{path}:10:12: error: `h` is bound more than once in the module"
    )
    assert f"{path}:1:1: note: `h` is bound here (a `def`)" in err
    assert f"{path}:5:1: note: `h` is bound here (a `def`)" in err


def test_a_default_from_a_rebound_constant_is_refused(tmp_path, capsys):
    text = "N = 2.0\nN = 3.0\n\n\ndef f(x, y=N):\n    return x * y\n"
    path, code, _, err = run(tmp_path, capsys, text)
    assert code == 1
    assert err.startswith(f"{path}:5:12: error: `N` is bound more than once"), err


def test_a_custom_derivative_copy_using_a_rebound_constant_is_refused(tmp_path, capsys):
    text = (
        "import math\nfrom ad_compiler import custom_derivative\n\nS = 2.0\n"
        "if math.pi > 3:\n    S = 3.0\n\n\ndef hp(x):\n    return 1.0\n\n\n"
        "@custom_derivative(hp)\ndef h(x):\n    return S * math.erf(x)\n\n\n"
        "def f(x):\n    return h(x)\n"
    )
    path, code, _, err = run(tmp_path, capsys, text, "--function", "f")
    assert code == 1
    assert err.startswith(f"{path}:15:12: error: `S` is bound more than once"), err
    assert f"{path}:6:5: note: `S` is bound here (inside an `if`)" in err


# issue 14, round 2: rebindings the walker once missed (the second binding: text, how)
DYNAMIC_REBINDINGS = [
    ("star import", "from helpers import *", "from", "`from helpers import *`"),
    (
        "class global",
        "class K:\n    global N\n    N = 5.0",
        "N = 5.0",
        "`global` in `K`",
    ),
    (
        "class method global",
        "class K:\n    def m(self):\n        global N\n        N = 5.0",
        "N = 5.0",
        "`global` in `m`",
    ),
    (
        "setattr",
        "import sys\nsetattr(sys.modules[__name__], 'N', 9.0)",
        "setattr",
        "`setattr()`",
    ),
    (
        "sys.modules attribute",
        "import sys\nsys.modules[__name__].N = 3.0",
        "sys.modules[",
        "an attribute write",
    ),
    (
        "vars of sys.modules",
        "import sys\nvars(sys.modules[__name__])['N'] = 3.0",
        "sys.modules",
        "`sys.modules`",
    ),
    (
        "import_module",
        "import importlib\nimportlib.import_module(__name__).N = 3.0",
        "importlib.import_module(",
        "an attribute write",
    ),
    ("self import", "import f as me\nme.N = 3.0", "me.N", "an attribute write"),
    (
        "self import in a function",
        "def g():\n    import f as m\n    m.N += 1.0",
        "m.N",
        "an attribute write",
    ),
    ("from sys import modules", "from sys import modules", "from", "`sys.modules`"),
    ("vars of a module", "import f as me\nvars(me)['N'] = 3.0", "vars", "`vars()`"),
    ("__dict__", "import f as me\nme.__dict__['N'] = 3.0", "me.", "`__dict__`"),
    (
        "module passed on",
        "import f as me\n\n\ndef g(m):\n    m.N = 3.0\n\n\ng(me)",
        "me)",
        "`me` passed on as a value",
    ),
]


@pytest.mark.parametrize(
    "what, snippet, needle, how",
    DYNAMIC_REBINDINGS,
    ids=[r[0] for r in DYNAMIC_REBINDINGS],
)
def test_a_constant_of_a_module_that_may_rebind_it_dynamically_is_refused(
    tmp_path, capsys, what, snippet, needle, how
):
    text = HEAD + snippet + TAIL
    path, code, out, err = run(tmp_path, capsys, text, "--function", "f")
    assert code == 1 and out == ""  # before: N = 2.0 was baked, f_grad returned 2.0
    use_line = text.split("\n").index("    return N * x") + 1
    line, col = position(text, needle)
    assert err.startswith(
        f"{path}:{use_line}:12: error: `N` is bound more than once in the module "
        f"(an assignment at line 3, "
    ), err
    assert f"{how} at line {line}" in err.split("\n")[0]
    assert f"{path}:3:1: note: `N` is bound here (an assignment)\n" in err
    assert f"{path}:{line}:{col}: note: `N` is bound here ({how})\n" in err


@pytest.mark.parametrize(
    "snippet",
    [
        "class K:\n    def m(self):\n        self.N = 3.0",  # an object's attribute
        "class K:\n    N = 3.0\n\n    def m(self):\n        global M\n        M = 1.0",
    ],
)
def test_attribute_writes_on_objects_leave_the_constant_alone(
    tmp_path, capsys, snippet
):
    path, code, out, err = run(
        tmp_path, capsys, HEAD + snippet + TAIL, "--function", "f"
    )
    assert code == 0, err
    namespace = {}
    exec(out, namespace)
    assert namespace["f_grad"](5.0) == 2.0
