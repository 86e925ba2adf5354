"""(Moved: the primitive rows are in :mod:`ad_compiler.primitives`.)"""

from ad_compiler.primitives.registry import (  # noqa: F401
    PREC_ADD,
    PREC_ATOM,
    PREC_CMP,
    PREC_MUL,
    PREC_NEG,
    PREC_NOT,
    PREC_POW,
    PREC_SELECT,
    Primitive,
)
from ad_compiler.primitives.table import PRIMITIVES  # noqa: F401
