"""``ad_compiler.jit``: emitted gradients of scalar loops compiled by Numba, side by side.

What it measures
----------------
Workloads (scalar code, reverse mode through a Python loop):

* the logistic map ``x <- r x (1 - x)`` iterated n times (r = 3.2: a stable 2-cycle, so
  the gradient stays finite at large n), n = 10, 1,000, 10,000
  and 100,000, gradient with respect to ``r`` and ``x0``;
* an Euler-integrated pendulum, 10,000 steps, gradient with respect to the
  initial angle and the length;
* a Newton square root (a data-dependent ``while`` loop), gradient.

Per workload, in one interleaved run (``_harness.interleaved``: the minimum
over rounds, every candidate once per round in rotating order):

* ``f py``      -- the function in Python;
* ``f numba``   -- ``jit(f)``'s Numba dispatcher (the plain function compiled);
* ``grad py``   -- ``grad(f, argnums=...)``: the emitted Python gradient;
* ``jit(grad)`` -- ``jit(grad(f))``'s Numba dispatcher (``.dispatcher``: the
  wrapper adds ~0.1 µs per call; its time is shown as ``jit wrapper``);
* ``hand numba`` -- a hand-written Numba reverse gradient (forward sweep into a
  preallocated array, reverse sweep), written here for this comparison.

* ``jax.jit(jax.grad)`` -- when jax is installed: the workload written with
  ``lax.fori_loop`` (n static) or ``lax.while_loop``, float64; JAX refuses
  reverse mode through ``while_loop`` (the cell says so).

Ratios: ``grad py / jit(grad)`` (the speed-up) and ``jit(grad) / hand numba``
(the issue's target: <= 1.5).  Compile time (``jit(...)`` plus the first
call, which is when Numba compiles) is reported apart, once per workload.
PyTorch is not in this script yet.

Run: ``python benchmarks/bench_jit.py`` with ad_compiler and numba importable
(``pip install -e '.[jit]'``); ``--quick`` times fewer rounds.
"""

from __future__ import annotations

import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _harness import interleaved, one_thread, python_line, versions  # noqa: E402

one_thread()

import numba  # noqa: E402
import numpy as np  # noqa: E402

from ad_compiler import grad, jit  # noqa: E402
from samples.scalar_loops import logistic, newton_sqrt, pendulum  # noqa: E402


@numba.njit
def hand_logistic(r, x0, n):
    xs = np.empty(n)
    x = x0
    for i in range(n):
        xs[i] = x
        x = r * x * (1.0 - x)
    x_bar, r_bar = 1.0, 0.0
    for i in range(n - 1, -1, -1):
        x = xs[i]
        r_bar += x * (1.0 - x) * x_bar
        x_bar = r * (1.0 - 2.0 * x) * x_bar
    return r_bar, x_bar


@numba.njit
def hand_pendulum(theta0, L, n):
    c = 0.001 * 9.81
    ths = np.empty(n)
    th, w = theta0, 0.0
    for i in range(n):
        ths[i] = th
        w = w - c / L * math.sin(th)
        th = th + 0.001 * w
    th_bar, w_bar, L_bar = 1.0, 0.0, 0.0
    for i in range(n - 1, -1, -1):
        w_bar += 0.001 * th_bar  # th = th + dt * w (w: the new w)
        s = math.sin(ths[i])
        L_bar += c / (L * L) * s * w_bar  # w = w - c / L * sin(th)
        th_bar -= c / L * math.cos(ths[i]) * w_bar
    return th_bar, L_bar


@numba.njit
def hand_newton(a):
    xs = []
    x = a
    while abs(x * x - a) > 1e-12:
        xs.append(x)
        x = 0.5 * (x + a / x)
    x_bar, a_bar = 1.0, 0.0
    for i in range(len(xs) - 1, -1, -1):
        x = xs[i]
        a_bar += 0.5 * x_bar / x
        x_bar = 0.5 * x_bar * (1.0 - a / (x * x))
    return a_bar + x_bar


def jax_gradients():
    """jax.jit(jax.grad(...)) of the workloads written with ``lax.fori_loop``
    and ``lax.while_loop`` (float64), or {} without jax."""
    try:
        import jax
    except ImportError:
        return {}
    jax.config.update("jax_enable_x64", True)
    from jax import lax
    from jax import numpy as jnp

    def logistic_jax(r, x0, n):
        return lax.fori_loop(0, n, lambda i, x: r * x * (1.0 - x), x0)

    def pendulum_jax(theta0, L, n):
        def step(i, s):
            th, w = s
            w = w - 0.001 * 9.81 / L * jnp.sin(th)
            return th + 0.001 * w, w

        return lax.fori_loop(0, n, step, (theta0, 0.0))[0]

    def newton_jax(a):
        def body(x):
            return 0.5 * (x + a / x)

        return lax.while_loop(lambda x: abs(x * x - a) > 1e-12, body, a)

    def made(f, argnums, static=()):
        g = jax.jit(jax.grad(f, argnums=argnums), static_argnums=static)
        return lambda *args: jax.block_until_ready(g(*args))

    return {
        "logistic": made(logistic_jax, (0, 1), (2,)),
        "pendulum": made(pendulum_jax, (0, 1), (2,)),
        "newton": made(newton_jax, 0),
    }


def compiled(f, args):
    """(jit of f, seconds to make it and compile it at the first call)."""
    start = time.perf_counter()
    j = jit(f)
    j(*args)
    return j, time.perf_counter() - start


def close(a, b) -> bool:
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    return all(math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-12) for u, v in zip(a, b))


def workload(name, f, argnums, args, hand, rounds, jax_grad=None):
    g = grad(f, argnums=argnums)
    jax_cell, jax_time = "-", None
    if jax_grad is not None:
        try:
            value = jax_grad(*args)
            value = (
                tuple(map(float, value)) if isinstance(value, tuple) else float(value)
            )
            if not close(value, g(*args)):
                raise SystemExit(f"{name}: jax gives {value}, grad gives {g(*args)}")
            jax_time = jax_grad
        except Exception as error:  # jax refuses (reverse mode through while_loop)
            jax_cell = f"refuses: {type(error).__name__}"
    jf, f_compile = compiled(f, args)
    jg, g_compile = compiled(g, args)
    hand(*args)  # compiled
    for label, value in (("jit(grad)", jg(*args)), ("hand numba", hand(*args))):
        if not close(value, g(*args)):
            raise SystemExit(f"{name}: {label} gives {value}, grad gives {g(*args)}")
    candidates = {
        "f py": (f, args),
        "f numba": (jf.dispatcher, args),
        "grad py": (g, args),
        "jit(grad)": (jg.dispatcher, args),
        "jit wrapper": (jg, args),
        "hand numba": (hand, args),
    }
    if jax_time is not None:
        candidates["jax"] = (jax_time, args)
    best, _ = interleaved(candidates, rounds=rounds, target_s=0.02, budget_s=20.0)
    if jax_time is not None:
        jax_cell = f"{best.pop('jax') * 1e6:.3g}"
    cells = " | ".join(f"{best[k] * 1e6:.3g}" for k in best) + f" | {jax_cell}"
    speedup = best["grad py"] / best["jit(grad)"]
    vs_hand = best["jit(grad)"] / best["hand numba"]
    print(
        f"| {name} | {cells} | {speedup:.1f}x | {vs_hand:.2f} "
        f"| {f_compile:.2f} / {g_compile:.2f} |"
    )


def main() -> None:
    rounds = 5 if "--quick" in sys.argv else 15
    print(python_line(versions(["numpy", "numba", "llvmlite", "jax", "jaxlib"])))
    print()
    print(
        "| workload | f py µs | f numba µs | grad py µs | jit(grad) µs | jit wrapper µs "
        "| hand numba µs | jax.jit(jax.grad) µs | grad py / jit(grad) | jit(grad) / hand "
        "| compile s (f / grad) |"
    )
    print("|---" * 11 + "|")
    jaxes = jax_gradients()
    for n in (10, 1_000, 10_000, 100_000):
        workload(
            f"logistic n={n:,}",
            logistic,
            (0, 1),
            (3.2, 0.3, n),
            hand_logistic,
            rounds,
            jaxes.get("logistic"),
        )
    workload(
        "pendulum 10,000 steps",
        pendulum,
        (0, 1),
        (0.5, 1.2, 10_000),
        hand_pendulum,
        rounds,
        jaxes.get("pendulum"),
    )
    workload(
        "newton while-loop",
        newton_sqrt,
        0,
        (2.0,),
        hand_newton,
        rounds,
        jaxes.get("newton"),
    )


if __name__ == "__main__":
    main()
