"""Automatic differentiation: IR -> derivative IR.

The rule table (a tangent and an adjoint rule per primitive), forward mode,
reverse mode, vector mode (batching) and the Jacobian/Hessian drivers.
"""
