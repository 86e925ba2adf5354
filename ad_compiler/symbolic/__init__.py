"""The SymPy backend: run IR on SymPy expressions to prove derivatives equal
to symbolic differentiation, and to emit symbolic-mode gradients."""
