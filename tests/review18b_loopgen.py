"""Random loop programs for tests/test_review18b.py: nests one to three deep
(``for`` or ``while``, sometimes ending in a ``break``, sometimes inside an
``if``) whose bodies write rows, elements, columns and stepped slices of the
arrays they carry (``y[i] = …``, ``y[i] += …``, ``v[a:b:s] = …``), at the index,
its neighbours, negative and computed positions, read them back (rows,
elements, ``@``), and carry a vector and a number beside them.

``program(seed)`` is the source of one function ``f(x)``, x of shape (n, 3)
with n >= 4; the same seed gives the same program.
"""

import random

_INDEX = ["{i}", "{i} - 1", "({i} + 1) % n", "-1", "{i} // 2", "n - 1 - {i}"]


class _Writer:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def index(self, i: str) -> str:
        return self.r.choice(_INDEX).format(i=i)

    def expr(self, i: str) -> str:
        k = self.index
        return self.r.choice(
            [
                f"y[{k(i)}]",
                f"x[{k(i)}]",
                f"np.sin(y[{k(i)}])",
                f"y[{k(i)}] * x[{k(i)}]",
                f"np.tanh(x[{k(i)}] + y[{k(i)}] * 0.5)",
                f"v[{k(i)}] * y[{k(i)}]",
                f"np.sum(y[{k(i)}] * x[{k(i)}]) * 0.3",
                f"y[{k(i)}] @ W",
                f"acc * x[{k(i)}]",
                f"np.cos(y[:, {self.r.randrange(3)}][{k(i)}]) + 0.1",
            ]
        )

    def statement(self, i: str, pad: str) -> list[str]:
        r, k, e = self.r, self.index, self.expr
        c = r.randrange(9)
        if c == 0:
            return [pad + f"y[{k(i)}] = {e(i)}"]
        if c == 1:
            return [pad + f"y[{k(i)}] += {e(i)}"]
        if c == 2:
            return [pad + f"v[{k(i)}] = np.sum({e(i)}) * 0.5 + v[{k(i)}] * 0.5"]
        if c == 3:
            return [pad + f"acc = acc * 0.5 + {e(i)}"]
        if c == 4:
            return [pad + f"t = t + np.sum({e(i)} * {e(i)})"]
        if c == 5:
            return [pad + f"y[{k(i)}, {r.randrange(3)}] = np.sum({e(i)}) * 0.4"]
        if c == 6:
            a, b = r.randrange(3), r.randrange(3)
            scale = r.choice(["0.3", "acc[0]"])
            return [pad + f"y[:, {a}] = y[:, {b}] * 0.5 + v * {scale}"]
        if c == 7:
            return [
                pad + f"if np.sum(y[{k(i)}]) > 0:",
                pad + f"    y[{k(i)}] = {e(i)}",
                pad + "else:",
                pad + f"    acc = acc + {e(i)}",
            ]
        part = f"{r.randrange(0, 3)}:{r.randrange(3, 6)}:{r.choice([1, 2])}"
        scale = r.choice(["0.5", f"x[{i}, 0]"])
        return [pad + f"v[{part}] = v[{part}] * {scale} + 0.1"]

    def loop(self, names: list[str], depth: int, level: int) -> list[str]:
        r, i = self.r, names[len(names) - depth]
        pad, inner_pad = "    " * level, "    " * (level + 1)
        is_while = r.random() < 0.15
        head = [pad + f"{i} = 0", pad + f"while {i} < n:"] if is_while else []
        head = head or [pad + f"for {i} in range(n):"]
        parts = [self.statement(i, inner_pad) for _ in range(r.randrange(1, 4))]
        if depth > 1 and r.random() < 0.9:
            inner = self.loop(names, depth - 1, level + 1)
            if r.random() < 0.35:
                test = f"if np.sum(y[{self.index(i)}]) > {r.choice(['0.0', '0.5'])}:"
                inner = [inner_pad + test] + ["    " + line for line in inner]
            parts.insert(r.randrange(len(parts) + 1), inner)
        body = [line for part in parts for line in part]
        if is_while:
            body.append(inner_pad + f"{i} = {i} + 1")
        if r.random() < 0.1:
            body += [inner_pad + f"if {i} == n - 2:", inner_pad + "    break"]
        return head + body


def program(seed: int) -> str:
    w = _Writer(seed)
    depth = w.r.choice([1, 2, 2, 3, 3])
    lines = [
        "def f(x):",
        "    n = x.shape[0]",
        "    y = x * 0.5 + 0.2",
        "    v = x[:, 0] * 1.0",
        "    W = np.eye(3) * 0.4 + x[0, 0]",
        "    acc = np.zeros(3) + 0.1",
        "    t = 0.0",
    ]
    lines += w.loop(["k", "j", "i"][:depth], depth, 1)
    lines.append(
        "    return t + np.sum(y * y) + np.sum(v * acc[0]) + np.sum(acc * acc)"
    )
    return "import numpy as np\n\n\n" + "\n".join(lines) + "\n"
