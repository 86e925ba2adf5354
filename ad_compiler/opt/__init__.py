"""Optimisation passes: IR -> smaller, equivalent IR (simplify, dead code, shaping)."""
