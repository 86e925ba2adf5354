"""The one authority on the names of an emitted module.

An emitted module binds names at module level (``import math``, ``import
numpy as np``, the helpers ``_sum_to``, ``_like``, ``_directions``,
``_blocks``..., the copied ``@custom_derivative`` functions and their
constants, the derivatives ``f_grad``, ``f_jvp``, ``g_adjoint``,
``g_tangent``..., the recursive functions they call) and its functions read
builtins (``range``, ``reversed``, ``len``, ``float``...).  The user chose the
names of the parameters and locals, and of some module-level functions.

Guarantees:

* :func:`clash_free` renames a function's parameters and locals that would
  hide a global name its emitted code reads (a parameter ``reversed`` in a
  function whose reverse sweep calls ``reversed(tape)``, a local ``g`` in a
  function calling the recursive ``g``), deterministically (``reversed_1``,
  the first free ``name_k``), so that no user name captures an emitted one;
  which globals the code reads is found exactly, from the code emitted with
  every local renamed to a placeholder;
* :func:`check_unique` refuses a module that would bind one name to two
  different things (a user function named ``g_adjoint`` beside the adjoint
  of ``g``, a copied function named ``_sum_to`` beside the helper), with a
  located error naming both: nothing is merged silently; and a function or
  constant of the user's that the module would bind under the name of a
  builtin or of ``math``/``np`` (a recursive ``def reversed``), which would
  change what every emitted ``reversed(tape)`` calls.
"""

from __future__ import annotations

import ast
import builtins
import keyword

from ad_compiler.errors import CompileError, Loc
from ad_compiler.ir.nodes import Function, Namer, rename_vars, variables

# names an emitted module may read that are not bound in it
_OUTSIDE = frozenset(dir(builtins)) | {"math", "np", "numpy"}
_PLACEHOLDER = "adc_local_"


def globals_read(fn: Function, emit) -> set[str]:
    """The global names ``emit(fn)``'s code reads, whatever ``fn``'s locals are called."""
    names = sorted(variables(fn))
    placeholder = {n: f"{_PLACEHOLDER}{i}" for i, n in enumerate(names)}
    tree = ast.parse(emit(rename_vars(fn, placeholder)))
    return {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name)
        and isinstance(node.ctx, ast.Load)
        and not node.id.startswith(_PLACEHOLDER)
    }


def clash_free(fn: Function, module_names: set[str], emit) -> Function:
    """``fn`` with every local that would hide a global its code reads renamed."""
    suspects = variables(fn) & (_OUTSIDE | module_names)
    suspects -= {n for n, _ in fn.keyword_only}  # named by the callers (`*, W=W`)
    if not suspects:
        return fn
    read = globals_read(fn, emit)
    clashes = suspects & read
    if not clashes:
        return fn
    namer = Namer.for_function(fn)
    namer.taken |= read | module_names | _OUTSIDE
    renames = {n: namer.fresh(n).name for n in sorted(clashes)}
    return rename_vars(fn, renames)


def rename_params(fn: Function, reserved: set[str]) -> Function:
    """``fn`` with its parameters named in ``reserved`` renamed (for text built
    from its signature, such as the emitted Hessian and Jacobian wrappers)."""
    clashes = {p.name for p in fn.params} & reserved
    if not clashes:
        return fn
    namer = Namer.for_function(fn)
    namer.taken |= reserved
    return rename_vars(fn, {n: namer.fresh(n).name for n in sorted(clashes)})


def bound_names(text: str) -> list[tuple[str, str]]:
    """``(name, the statement's text)`` for each name a module text binds at its top level."""
    out = []
    for stmt in ast.parse(text).body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                name = alias.asname or alias.name.split(".")[0]
                if isinstance(stmt, ast.Import) and not alias.asname:
                    # `import scipy.special` and `import scipy.stats` both bind
                    # the package `scipy`: one binding
                    out.append((name, f"import {name}"))
                    continue
                out.append((name, ast.unparse(stmt)))
        elif isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            out.append((stmt.name, ast.unparse(stmt)))
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        out.append((node.id, ast.unparse(stmt)))
    return out


def check_unique(
    parts: list[tuple[str, str, str]], loc: Loc | None, line: str | None = None
) -> None:
    """Refuse two different module-level bindings of one name.

    ``parts`` are ``(name, what it is, its text or origin)``; the same text
    twice (an import, a helper both derivatives call) is one binding.
    """
    seen: dict[str, tuple[str, str]] = {}
    for name, what, text in parts:
        if keyword.iskeyword(name):
            continue
        if name in _OUTSIDE and not text.startswith(("import ", "from ")):
            raise CompileError(
                f"{what} would be named `{name}` in the emitted module, hiding the "
                f"{'module' if name in ('math', 'np', 'numpy') else 'builtin'} "
                "emitted code uses",
                loc,
                f"rename your function (or constant) `{name}`",
                line,
            )
        if name in seen and seen[name][1] != text:
            raise CompileError(
                f"the emitted module would bind `{name}` twice: {seen[name][0]} and "
                f"{what}; nothing is merged silently",
                loc,
                "rename your function (or constant) so that its name differs from "
                "the names ad_compiler emits (`f_grad`, `f_jvp`, `g_adjoint`, "
                "`g_tangent`, `_sum_to`, ...)",
                line,
            )
        seen.setdefault(name, (what, text))
