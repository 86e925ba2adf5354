"""What the derivative is at the non-smooth points of the rows declared before
``Primitive.convention`` existed (the scalar, edge, special, array and indexing
rows), for the generated table of supported functions (docs/functions.md).

:func:`fill` writes each text into its row's ``convention`` when the row does
not state one itself; a row added later states its own (``convention=...``
in its declaration) and is not listed here.  Each text says what the rule in
the row's module computes (its comments give the reasons: JAX's choice, the
branch Python takes ...); the registry test checks the rules, the generated
table only reports them.
"""

from __future__ import annotations

from dataclasses import replace

from ad_compiler.primitives.registry import REGISTRY

_SMOOTH = "smooth everywhere"
_LINEAR = "linear: smooth everywhere"
_BILINEAR = "bilinear: smooth everywhere"
_STEP = "piecewise constant: derivative 0 (also at the jumps, where it is undefined)"
_SHAPE = "no derivative: its value is a shape, a length or a constant"
_LOG = (
    "smooth for x > 0; at x = 0 math's spelling raises, NumPy's gives −inf and "
    "a derivative of inf (as JAX)"
)
_EXTREME_ARRAY = (
    "at a tie the maximal (minimal) elements share the derivative equally, as "
    "in JAX; nan where an element is nan"
)

CONVENTIONS: dict[str, str] = {
    # --- arithmetic and elementary functions (scalar.py) ---
    "add": _LINEAR,
    "sub": _LINEAR,
    "neg": _LINEAR,
    "mul": _BILINEAR,
    "div": "smooth for y ≠ 0; at y = 0 Python raises, NumPy's ±inf/nan propagate",
    "pow": (
        "∂x = y·x**(y−1): at x = 0 IEEE's value (inf for 0 < y < 1, nan for a "
        "float y = 0; none for the int literal x ** 0); ∂y = out·ln x with ln 0 "
        "taken as 0 and nan for x < 0 (as JAX), built only when y is differentiated"
    ),
    "exp": _SMOOTH,
    "expm1": _SMOOTH,
    "log": _LOG,
    "log2": _LOG,
    "log10": _LOG,
    "log1p": "smooth for x > −1; at x = −1 as log at 0",
    "sqrt": "smooth for x > 0; at x = ±0 the derivative is ±inf (as JAX)",
    "sin": _SMOOTH,
    "cos": _SMOOTH,
    "tan": "smooth between its poles (π/2 + kπ)",
    "sinh": _SMOOTH,
    "cosh": _SMOOTH,
    "tanh": _SMOOTH,
    "asin": "smooth on (−1, 1); at x = ±1 the derivative is inf",
    "acos": "smooth on (−1, 1); at x = ±1 the derivative is −inf",
    "atan": _SMOOTH,
    "atan2": "smooth away from (0, 0); nan there (as JAX)",
    "hypot": "smooth away from (0, 0); at (0, 0) the slopes are ½ each (as JAX)",
    "abs": "at ±0 the derivative of the branch x ≥ 0: +1 (as JAX); nan at nan",
    "max": (
        "Python's max: the derivative of the argument returned (the first on a "
        "tie); np.maximum and arrays: a tie shares it equally (as JAX); nan "
        "where either is nan"
    ),
    "min": (
        "Python's min: the derivative of the argument returned (the first on a "
        "tie); np.minimum and arrays: a tie shares it equally (as JAX); nan "
        "where either is nan"
    ),
    "select": "the derivative of the branch taken; the condition's is 0",
    "float": _LINEAR + " (the identity)",
    "copysign": (
        "|x|·sign(y): in x as abs (+1 at ±0), in y zero (sign(y) from y's sign bit, as JAX)"
    ),
    "fmod": (
        "dx − n·dy with n = trunc(x / y); at the jumps (x / y an integer) that of "
        "the side the value is on; nan at nan and at y = 0"
    ),
    "mod": (
        "dx − n·dy with n = floor(x / y); at the jumps (x / y an integer) that of "
        "the side the value is on; nan at nan"
    ),
    "sign": "0 everywhere (also at 0, as JAX); nan at nan",
    "ge": _STEP,
    "le": _STEP,
    "gt": _STEP,
    "lt": _STEP,
    "eq": _STEP,
    "ne": _STEP,
    "not": _STEP,
    "floor": _STEP,
    "ceil": _STEP,
    "trunc": _STEP,
    "round": _STEP,
    "int": _STEP,
    "floordiv": _STEP,
    # --- the rows Python's edge cases lower to (edges.py) ---
    "fdiv": "as div; at d = ±0 IEEE's ±inf/nan and the derivative's",
    "div_or": "as div; at d = ±0 the value is the literal given: derivative 0",
    "fpow": "as pow; at x = ±0 IEEE's value of x**(e−1)",
    "logz": "1/x for x > 0; 0 at x = 0, where it is the constant 0 (as JAX)",
    "nround": _STEP + "; nan at nan",
    "nan_of": "0 for a number, nan at nan (at every order)",
    # --- special functions (special.py) ---
    "polygamma": "smooth for x > 0 and between the poles 0, −1, −2 …: nan at a pole",
    "erf": _SMOOTH,
    "erfc": _SMOOTH,
    "lgamma": "smooth between the poles 0, −1, −2 … (inf there)",
    # --- arrays (arrays.py) ---
    "sum": _LINEAR,
    "mean": _LINEAR,
    "amax": _EXTREME_ARRAY,
    "amin": _EXTREME_ARRAY,
    "prod": "smooth: Π over the other elements, exact with zeros (no division)",
    "matmul": _BILINEAR,
    "dot": _BILINEAR,
    "outer": _BILINEAR,
    "einsum": _BILINEAR,
    "transpose": _LINEAR,
    "reshape": _LINEAR,
    "expand_dims": _LINEAR,
    "squeeze": _LINEAR,
    "concatenate": _LINEAR,
    "stack": _LINEAR,
    # --- indexing, shapes and copies (indexing.py) ---
    "getitem": _LINEAR + " in the array; the index has none",
    "setitem": _LINEAR + " in the array and the value written",
    "unindex": _LINEAR,
    "written": _LINEAR,
    "sum_to": _LINEAR,
    "like": _LINEAR,
    "lead": _LINEAR,
    "copy": _LINEAR + " (the identity)",
    "shape": _SHAPE,
    "len": _SHAPE,
    "size": _SHAPE,
    "broadcast": _SHAPE,
    "size_of_shape": _SHAPE,
    "broadcast_of_shapes": _SHAPE,
    "construct": _SHAPE,
}


def fill() -> None:
    """Give each listed row its convention where it states none itself."""
    for name, text in CONVENTIONS.items():
        row = REGISTRY.get(name)
        if row is not None and not row.convention:
            REGISTRY[name] = replace(row, convention=text)
