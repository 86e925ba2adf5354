"""The intermediate representation: plain data with source locations.

Nodes (:mod:`.nodes`), the primitives an equation applies, the shape algebra
and inference of array values, and the builder the derivative rules write with.
"""
