"""Sparse derivatives: sparsity patterns found from the IR (:mod:`.patterns`,
with the abstract interpreter :mod:`.abstract` and the per-primitive rules
:mod:`.rules`).  See docs/sparsity_patterns.md."""
