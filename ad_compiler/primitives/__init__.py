"""The primitive registry: one row per primitive, holding everything the compiler knows.

:mod:`.registry` defines the row (:class:`~.registry.Primitive`) and the helpers
that declare rows; the rows themselves live in :mod:`.scalar`, :mod:`.edges`,
:mod:`.special`, :mod:`.arrays` and :mod:`.indexing`, and :mod:`.table` loads
them all and derives the lookup tables the other stages read.  This package's
``__init__`` imports nothing, so :mod:`ad_compiler.ir.nodes` can read the
registry without loading the rows (which import it).
"""
