"""Code generation: IR -> Python source a person reads and a program imports.

Guarantees:

* one statement per line; every named value of the IR (the user's names and
  the ``_dot``/``_bar`` names derived from them) is its own statement, and a
  temporary used once is folded into the expression that uses it, so the code
  reads like a hand-written derivative rather than a trace;
* a comment before each group of statements quotes the user's source line it
  came from (``# line 6: return math.log(x1) + x1 * x2``);
* parentheses follow Python's precedence and left-to-right evaluation exactly:
  floating point addition is not associative, so ``a + (b + c)`` keeps its
  parentheses;
* the module imports only ``math`` and ``numpy`` — never ad_compiler;
* :func:`format_source` runs black, so the output is black-clean.
"""

from __future__ import annotations

import math

from ad_compiler.backend.inplace import written_in_place
from ad_compiler.escape import docstring_lines, visible
from ad_compiler.ir.nodes import (
    Const,
    Eqn,
    Function,
    If,
    Loop,
    Var,
    While,
    base_name,
    blocks,
    iter_eqns,
    loop_reads,
    name_rank,
    own_reads,
    render_tree,
    signature,
)
from ad_compiler.lazy import lazy_import
from ad_compiler.primitives.indexing import index_text
from ad_compiler.primitives.registry import (
    PREC_ATOM,
    PREC_CMP,
    PREC_NEG,
    PREC_NOT,
    PREC_POW,
)
from ad_compiler.primitives.table import HELPER_OF, HELPERS, PRIMITIVES

# A temporary is folded into its user only while the expression stays this small.
MAX_INLINE_OPS = 6


def _const(c: Const) -> tuple[str, int]:
    v = c.value
    if isinstance(v, float) and not math.isfinite(v):
        text = "math.nan" if math.isnan(v) else ("math.inf" if v > 0 else "-math.inf")
    else:
        text = repr(v)
    return text, PREC_NEG if text.startswith("-") else PREC_ATOM


class _Expr:
    __slots__ = ("text", "prec", "size", "names")

    def __init__(self, text: str, prec: int, size: int, names=frozenset()):
        self.text, self.prec, self.size = text, prec, size
        self.names = names  # the variables the text reads


def _wrap(e: _Expr, need: int, strict: bool = False) -> str:
    """``e.text`` parenthesised if it binds less tightly than ``need``."""
    if e.prec < need or (strict and e.prec == need):
        return f"({e.text})"
    return e.text


def _render(eqn: Eqn, args: list[_Expr]) -> _Expr:
    e = _render_text(eqn, args)
    e.names = frozenset().union(*(a.names for a in args))
    return e


def _render_text(eqn: Eqn, args: list[_Expr]) -> _Expr:
    prim = PRIMITIVES[eqn.prim]
    if eqn.prim == "call":  # the partials of a custom derivative are not arguments
        args = ", ".join(a.text for a in args[: eqn.param("custom")])
        return _Expr(f"{eqn.param('fn')}({args})", PREC_ATOM, 1)
    if eqn.prim == "tape":
        return _Expr("[]", PREC_ATOM, 1)
    if eqn.prim == "push":
        tape, *items = args
        item = (
            items[0].text
            if len(items) == 1
            else f"({', '.join(a.text for a in items)})"
        )
        return _Expr(f"{tape.text}.append({item})", PREC_ATOM, 1)
    size = 1 + sum(a.size for a in args)
    if prim.render is not None:
        texts = [a.text for a in args]
        atoms = [_wrap(a, PREC_ATOM) for a in args]
        text, prec = prim.render(dict(eqn.params), texts, atoms)
        if prim.statement:
            size = MAX_INLINE_OPS + 1  # never folded into its user
        return _Expr(text, prec, size)
    name = prim.call_name(eqn.ns)
    if prim.infix and name is None:
        left, right = args
        if prim.infix == "**":
            # ** is right-associative and binds tighter than a unary minus on its left.
            text = f"{_wrap(left, PREC_POW, strict=True)} ** {_wrap(right, PREC_POW)}"
        else:
            # left-associative: a right operand of equal precedence needs parentheses;
            # comparisons chain (a >= b >= c), so both sides need them.
            chained = prim.prec == PREC_CMP
            text = (
                f"{_wrap(left, prim.prec, strict=chained)} {prim.infix} "
                f"{_wrap(right, prim.prec, strict=True)}"
            )
        return _Expr(text, prim.prec, size)
    if prim.prefix and name is None:
        (arg,) = args
        return _Expr(f"{prim.prefix}{_wrap(arg, PREC_NEG)}", PREC_NEG, size)
    if "{0}" in name:
        if prim.prec < PREC_ATOM:  # an operator-like template: `x if c else y`
            texts = [_wrap(a, prim.prec, strict=True) for a in args]
        else:
            texts = [a.text for a in args]
        return _Expr(name.format(*texts), prim.prec, size)
    texts = [a.text for a in args]
    return _Expr(f"{name}({', '.join(texts)})", PREC_ATOM, size)


def _use_counts(fn: Function) -> dict[str, int]:
    """How often each value is read; a read from inside a loop the value was
    computed outside of counts twice, as it runs many times (it is never folded
    into the loop, which would recompute it on every iteration)."""
    counts: dict[str, int] = {}
    home: dict[str, object] = {}  # value -> the innermost loop computing it

    def use(a, loop, n=1):
        if isinstance(a, Var):
            if home.get(a.name) is not loop:
                n = 2
            counts[a.name] = counts.get(a.name, 0) + n

    def walk(stmts, loop):
        for s in stmts:
            if isinstance(s, Loop):
                for a in loop_reads(s):
                    use(a, loop)
                walk(s.test, s)
                use(s.cond, s)
                walk(s.body, s)
                for a in s.nexts:
                    use(a, s)
                use(s.brk, s, 2)  # read after the carried values are updated
                continue
            for a in own_reads(s):
                use(a, loop)
            if isinstance(s, Eqn) and (s.param("inplace") or s.param("into")):
                use(s.ins[0], loop)  # the array written into: always a name
            if isinstance(s, Eqn) and PRIMITIVES[s.prim].repeats is not None:
                for i in PRIMITIVES[s.prim].repeats(dict(s.params)):
                    use(s.ins[i], loop)  # spelled twice: never folded into it
            if isinstance(s, If):
                walk(s.then, loop)
                walk(s.orelse, loop)
                for o in s.outs:
                    home[o.name] = loop
            else:
                for o in s.outs:
                    home[o.name] = loop

    walk(fn.body, None)
    for a in fn.results:
        use(a, None, 2)  # a result is always a statement
    return counts


def _merge_sources(stmts) -> set[str]:
    """Branch values that only feed a merge of the same user name (``y_1`` into ``y``):
    folding them lets the branch read ``y = x * 2`` as the user wrote it."""
    names = set()
    for s in stmts:
        if isinstance(s, If):
            pairs = zip(s.outs + s.outs, s.then_vals + s.else_vals)
        elif isinstance(s, Loop):
            pairs = zip(s.carried, s.nexts)
        else:
            continue
        for o, v in pairs:
            if isinstance(v, Var) and base_name(v.name) == base_name(o.name):
                names.add(v.name)
        for block in blocks(s):
            names |= _merge_sources(block)
    return names


def emit_function(fn: Function, lines=None, inline: bool = True) -> str:
    """Python source of one function (unformatted; see :func:`format_source`).

    ``lines(loc)`` returns the user's source line for a location, for comments.
    """
    return _Emitter(fn, lines, inline).function()


class _Emitter:
    """The state of printing one function: the lines so far, the temporaries
    waiting to be folded into their one user, the arrays written in place."""

    def __init__(self, fn: Function, lines, inline: bool):
        self.fn, self.lines, self.inline = fn, lines, inline
        self.counts = _use_counts(fn)
        self.merged = _merge_sources(fn.body)
        # a read of an array written in place is a statement where it is: folded
        # into a later expression, it could run after the write
        self.unfoldable = written_in_place(fn)
        # temporaries waiting to be folded into their user
        self.pending: dict[str, _Expr] = {}
        # a folded -u: u, for an accumulation to subtract it (t -= u)
        self.negated: dict[str, _Expr] = {}
        self.out: list[str] = []
        self.last_line = None
        # an in-place write's output -> the array written
        self.written: dict[str, str] = {}

    def function(self) -> str:
        fn = self.fn
        self.out = [f"def {fn.name}({signature(fn)}):"]
        if fn.doc:
            self.out.append(f"    {_docstring(fn.doc)}")
        self.block(fn.body, "    ")
        items = [self.atom(a).text for a in fn.results]
        self.out.append(f"    return {render_tree(fn.tree, items)}")
        return "\n".join(self.out) + "\n"

    def atom(self, a) -> _Expr:
        if isinstance(a, Const):
            return _Expr(*_const(a), 0)
        name = self.written.get(a.name, a.name)
        return self.pending.pop(a.name, None) or _Expr(
            name, PREC_ATOM, 0, frozenset((name,))
        )

    def write_in_place(self, eqn: Eqn, indent) -> None:
        """``x[i] = v`` or ``t[i] += g`` (see inplace.py): a statement, after the
        pending expressions that read the array, which must see it unchanged."""
        args = [self.atom(a) for a in eqn.ins]
        target = args[0].text
        self.comment(eqn.loc, indent)
        # t += -u as t -= u (the same number: IEEE defines a - b as a + (-b))
        g = eqn.ins[1]
        minus = self.negated.pop(g.name, None) if isinstance(g, Var) else None
        op = "+=" if minus is None else "-="
        value = args[1].text if minus is None else minus.text
        if eqn.prim == "add":  # an accumulation: t = t + u as t += u
            self.out.append(f"{indent}{target} {op} {value}")
            self.written[eqn.out.name] = target
            return
        index = index_text(eqn.param("index"), [a.text for a in args[2:]])
        if eqn.prim == "setitem":
            value = args[1].text
            self.out.append(f"{indent}{target}[{index}] = {value}")
        elif eqn.param("into") == "at":  # an index array may repeat: every read adds
            value = args[1].text
            self.out.append(f"{indent}np.add.at({target}, np.s_[{index}], {value})")
        else:
            self.out.append(f"{indent}{target}[{index}] {op} {value}")
        self.written[eqn.out.name] = target

    def comment(self, loc, indent):
        if loc is not None and loc.line != self.last_line and self.lines is not None:
            text = self.lines(loc)
            if text:
                self.out.append(f"{indent}# line {loc.line}: {visible(text.strip())}")
            self.last_line = loc.line

    def block(self, stmts, indent):
        for eqn in stmts:
            if isinstance(eqn, If):
                self.emit_if(eqn, indent)
                continue
            if isinstance(eqn, Loop):
                self.emit_loop(eqn, indent)
                continue
            if eqn.param("inplace") or eqn.param("into"):
                self.write_in_place(eqn, indent)
                continue
            ins = [self.atom(a) for a in eqn.ins]
            expr = _render(eqn, ins)
            if len(eqn.outs) != 1:  # tape.append(...); a, b = f(...)
                self.comment(eqn.loc, indent)
                lhs = "".join(f"{o.name}, " for o in eqn.outs)
                self.out.append(
                    f"{indent}{lhs[:-2] if len(eqn.outs) > 1 else lhs}{' = ' if lhs else ''}{expr.text}"
                )
                continue
            name = eqn.out.name
            foldable = (
                self.inline
                and self.counts.get(name, 0) == 1
                and not expr.names & self.unfoldable
                and (name_rank(name, self.fn.user_names) < 2 or name in self.merged)
                and expr.size <= MAX_INLINE_OPS
                and not PRIMITIVES[eqn.prim].effect  # (it happens where it is)
            )
            if foldable:
                self.pending[name] = expr
                if eqn.prim == "neg":
                    self.negated[name] = ins[0]
                continue
            self.comment(eqn.loc, indent)
            self.out.append(f"{indent}{name} = {expr.text}")

    def emit_if(self, s: If, indent):
        cond = self.atom(s.cond)
        outer, arms, values, before = self.out, [], [], self.last_line
        for stmts, vals in ((s.then, s.then_vals), (s.orelse, s.else_vals)):
            self.out = []  # render each branch on its own to see whether it is empty
            self.block(stmts, indent + "    ")
            arms.append(self.out)
            values.append([self.atom(v) for v in vals])
        self.out = outer
        for o, t, e in zip(s.outs, *values):
            if t.text == e.text and t.text in self.written.values():
                self.written[o.name] = t.text  # both branches wrote into that array
                continue
            arms[0].append(f"{indent}    {o.name} = {t.text}")
            arms[1].append(f"{indent}    {o.name} = {e.text}")
        then, orelse = arms
        if not then and not orelse:
            return  # everything it computed was folded into later statements
        self.last_line = before
        self.comment(s.loc, indent)
        if not then:  # `if c: pass else: ...` reads better as `if not c: ...`
            self.out.append(f"{indent}if not {_wrap(cond, PREC_NOT + 1)}:")
            self.out += orelse
        else:
            self.out.append(f"{indent}if {cond.text}:")
            self.out += then
            if orelse:
                self.out.append(f"{indent}else:")
                self.out += orelse
        self.last_line = None  # the next statement's comment says where it is again

    def emit_loop(self, s, indent):
        self.comment(s.loc, indent)
        for c, init in zip(s.carried, s.inits):
            self.out.append(f"{indent}{c.name} = {self.atom(init).text}")
        inner = indent + "    "
        if isinstance(s, While):
            outer, self.out = self.out, []
            self.block(s.test, inner)
            test, self.out = self.out, outer
            cond = self.atom(s.cond)
            if test:  # the test needs statements: check it at the top of the body
                self.out.append(f"{indent}while True:")
                self.out += test
                self.out.append(f"{inner}if not {_wrap(cond, PREC_NOT + 1)}:")
                self.out.append(f"{inner}    break")
            else:
                self.out.append(f"{indent}while {cond.text}:")
        else:
            names = [v.name if self.counts.get(v.name) else "_" for v in s.index]
            if s.over == "tape":
                rows = [self.atom(a).text for a in s.args]
                if len(rows) == 3:  # one outer iteration's rows of an inner loop
                    rows = [f"{rows[0]}[{rows[1]}:{rows[2]}]"]
                source = f"reversed({rows[0]})"
            elif s.over == "reversed_range":
                source = f"reversed({_range(*(self.atom(a).text for a in s.args))})"
            else:
                source = _range(*(self.atom(a).text for a in s.args))
            self.out.append(f"{indent}for {', '.join(names)} in {source}:")
        mark = len(self.out)
        self.block(s.body, inner)
        updates = [
            (c.name, e)
            for c, e in zip(s.carried, map(self.atom, s.nexts))
            if e.text != c.name  # unchanged, or written in place
        ]
        # Python assigns one name at a time: when a new value reads a carried value
        # assigned before it, assign them all at once (`a, b = b, a + b`)
        assigned: set[str] = set()
        at_once = False
        for name, e in updates:
            at_once = at_once or bool(e.names & assigned)
            assigned.add(name)
        if at_once:
            lhs = ", ".join(n for n, _ in updates)
            self.out.append(f"{inner}{lhs} = {', '.join(e.text for _, e in updates)}")
        else:
            self.out += [f"{inner}{n} = {e.text}" for n, e in updates]
        if s.brk is not None:
            brk = self.atom(s.brk)
            if isinstance(s.brk, Const) and s.brk.value:
                self.out.append(f"{inner}break")
            else:
                self.out.append(f"{inner}if {brk.text}:")
                self.out.append(f"{inner}    break")
        if len(self.out) == mark:
            self.out.append(f"{inner}pass")
        self.last_line = None


def _range(start: str, stop: str, step: str) -> str:
    """``range(n)`` / ``range(a, b)`` / ``range(a, b, c)``: the shortest call."""
    args = [start, stop] if start != "0" else [stop]
    if step != "1":
        args = [start, stop, step]
    return f"range({', '.join(args)})"


def _docstring(doc: str) -> str:
    """A triple-quoted docstring, indented for a function body (see
    :func:`ad_compiler.escape.docstring_lines` for what it guarantees)."""
    lines = docstring_lines(doc)
    if len(lines) == 1:
        return f'"""{lines[0]}"""'
    body = "\n".join(("    " + line) if line.strip() else "" for line in lines[1:])
    return f'"""{lines[0]}\n{body}\n    """'


def imports_for(functions: list[Function]) -> list[str]:
    """The import lines the emitted code of these functions needs."""
    names = []
    for fn in functions:
        for eqn in iter_eqns(fn.body):
            prim = PRIMITIVES[eqn.prim]
            names.append(prim.call_name(eqn.ns) or "")
            if prim.render is not None:  # the array primitives are spelled with NumPy
                names.append(prim.render_module + ".")
            names += [_const(a)[0] for a in eqn.ins if isinstance(a, Const)]
        names += [_const(a)[0] for a in fn.results if isinstance(a, Const)]
    lines = []
    if any(n.lstrip("-").startswith("math.") for n in names):
        lines.append("import math")
    if any(n.startswith("np.") for n in names):
        lines.append("import numpy as np")
    # SciPy only where the user's code called it (scipy.special.gammaln ...)
    lines += sorted(
        {
            "import " + ".".join(n.split(".")[:2])
            for n in names
            if n.startswith("scipy.")
        }
    )
    return lines


def helpers_for(functions: list[Function]) -> list[str]:
    """The source of the helper functions the emitted code of these functions calls."""
    used = set()
    for fn in functions:
        for eqn in iter_eqns(fn.body):
            helper = HELPER_OF.get(eqn.prim)
            if callable(helper):  # a helper for some of its uses only
                helper = helper(dict(eqn.params))
            if helper:
                used.add(helper)
    return [HELPERS[name].strip("\n") + "\n" for name in sorted(used)]


def emit_module(sources: list[str], header: str, imports: list[str]) -> str:
    """A self-contained module: docstring header, imports, then the functions.

    The header names files and the command line: it is escaped
    (:func:`ad_compiler.escape.docstring_lines`), so no text in it can close the
    docstring or smuggle code into the module."""
    header = "\n".join(docstring_lines(header))
    parts = [f'"""{header}"""', ""]
    parts += imports
    for src in sources:
        parts += ["", "", src.rstrip("\n")]
    return "\n".join(parts) + "\n"


def format_source(text: str) -> str:
    """Format with black (imported lazily: it is only needed here; thread-safe)."""
    black = lazy_import("black")
    return black.format_str(text, mode=black.Mode())
