"""Every row, loaded; and the lookup tables the stages read, derived from the rows.

Importing this module registers every primitive (the row modules register
theirs when imported).  Nothing here is kept by hand: each table is a
comprehension over the rows by one of their fields, so a new row is seen by
lowering, the passes, vector mode and code generation at once.
"""

from __future__ import annotations

from ad_compiler.primitives import (  # noqa: F401  (each registers its rows)
    arrays,
    composites,
    construct,
    edges,
    indexing,
    linalg,
    linalg_decomp,
    lists,
    reductions,
    scalar,
    scipy_special,
    special,
    stats,
    stats_mvn,
    ufuncs,
)
from ad_compiler.primitives.conventions import fill
from ad_compiler.primitives.registry import HELPERS, REGISTRY, Primitive

fill()  # the conventions of the rows older than the field (for docs/functions.md)

PRIMITIVES: dict[str, Primitive] = REGISTRY

__all__ = ["PRIMITIVES", "HELPERS", "HELPER_OF", "Primitive"]


def where(**fields) -> frozenset[str]:
    """The names of the rows whose fields have these values (``result="float"``)."""
    return frozenset(
        name
        for name, row in PRIMITIVES.items()
        if all(getattr(row, k) == v for k, v in fields.items())
    )


def named(prefix: str, call: str | None = None) -> dict[str, str]:
    """Qualified name -> primitive, for the names under ``prefix`` (``"math."``,
    ``"numpy."``, ``"builtins."``, ``"ndarray."``): how user code reaches each
    row; ``call``: only rows lowered that way."""
    return {
        qualified: row.name
        for row in PRIMITIVES.values()
        for qualified in row.names
        if qualified.startswith(prefix) and (call is None or row.call == call)
    }


# The primitives emitted as a call of a helper function, and the helper (a
# name, or params -> a name or None).
HELPER_OF = {row.name: row.helper for row in PRIMITIVES.values() if row.helper}
