"""Binomial checkpointing (revolve): the schedule's maths and its emitted helper.

Reversing ``m`` steps of a loop needs the state each step starts from, last step
first.  Keeping every state costs O(m) memory; keeping ``s`` *snapshots* and
recomputing forward from them costs time instead.  Griewank's result
(Griewank & Walther, ACM TOMS 26(1), 2000, "Algorithm 799: revolve"): with
``s`` snapshots and every step advanced at most ``r`` times besides its taped
run, at most ``beta(s, r) = C(s + r, s)`` steps can be reversed, and the
fewest advances that reverse ``m`` steps from one stored start state are::

    t(m, s) = r * m - beta(s + 1, r - 1),   r the least with beta(s, r) >= m

(``s`` counts the snapshot of the start state; ``t(1, s) = 0``, ``t(m, 1) =
m (m - 1) / 2``).  The recursion reaching it: from the snapshot at ``j``,
advance ``m1`` steps, store a snapshot there, reverse the right part with
``s - 1`` snapshots, free it, reverse the left part with ``s``.  A split is
optimal when each part stays within its budget and the left part is not
starved: ``m1 = max(m - beta(s - 1, r), beta(s, r - 2), 1)`` (capped at
``m - 1``), which :func:`split` computes and the tests check against the
exhaustive minimum :func:`fewest_advances` for small ``m`` and ``s``.

The emitted driver (:mod:`ad_compiler.ad.checkpoint_loops`) runs the recursion
as a loop over the reverse steps with a stack of snapshots: the state of the
recursion is always (the latest snapshot, the step being reversed, how many
snapshots are free), so it needs no recursion and stays within Numba's subset.
"""

from __future__ import annotations

import functools
from math import comb


def beta(s: int, r: int) -> int:
    """``C(s + r, s)``: how many steps ``s`` snapshots reverse with ``r``
    advances per step at most (0 for ``r < 0``)."""
    return comb(s + r, s) if r >= 0 else 0


def repetitions(m: int, s: int) -> int:
    """The least ``r`` with ``beta(s, r) >= m``."""
    r = 0
    while beta(s, r) < m:
        r += 1
    return r


def split(m: int, s: int) -> int:
    """How many steps to advance from a snapshot before storing the next one,
    reversing ``m >= 2`` steps with ``s >= 1`` snapshots (the one at the start
    included); ``m - 1`` (no further snapshot) when ``s == 1``."""
    if s <= 1:
        return m - 1
    r = repetitions(m, s)
    return min(max(m - beta(s - 1, r), beta(s, r - 2), 1), m - 1)


def advances(m: int, s: int) -> int:
    """The forward steps (advances, not counting the ``m`` taped steps) that
    :func:`split`'s schedule takes to reverse ``m`` steps from one stored start
    with ``s`` snapshots: Griewank's closed form ``r m - beta(s + 1, r - 1)``."""
    if m <= 1:
        return 0
    r = repetitions(m, s)
    return r * m - beta(s + 1, r - 1)


@functools.lru_cache(maxsize=None)
def fewest_advances(m: int, s: int) -> int:
    """The exhaustive minimum over every split (dynamic programming; small
    ``m`` only): what :func:`advances` is checked against."""
    if m <= 1:
        return 0
    if s == 1:
        return m * (m - 1) // 2
    return min(
        m1 + fewest_advances(m - m1, s - 1) + fewest_advances(m1, s)
        for m1 in range(1, m)
    )


def recompute_factor(n: int, s: int) -> float:
    """Steps run by a checkpointed reverse sweep per step of the loop: the
    advances from the start (:func:`advances`, the first pass included) plus
    the taped run of each step, over ``n``."""
    return (advances(n, s) + n) / n if n else 0.0


SPLIT_NAME = "_revolve_split"

# The schedule helper emitted beside a driver: the arithmetic of split(), with
# the binomials made incrementally (integers only: Numba compiles it too).
SPLIT_TEXT = f'''
def {SPLIT_NAME}(m, s):
    """Binomial checkpointing (Griewank's revolve): how many of m steps to
    advance from a snapshot before storing the next one, with s snapshots
    (that one included) to use; m - 1 when s is 1 (no other snapshot)."""
    if s <= 1:
        return m - 1
    # r: the fewest advances per step with which s snapshots reverse m steps,
    # the least r with C(s + r, s) >= m
    r = 0
    reach = 1
    while reach < m:
        r += 1
        reach = reach * (s + r) // r
    right = reach * s // (s + r)  # C(s - 1 + r, s - 1): reversed with s - 1 snapshots
    left = reach * r // (s + r) * (r - 1) // (s + r - 1)  # C(s + r - 2, s)
    return min(max(m - right, left, 1), m - 1)
'''
