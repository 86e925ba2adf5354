"""Front end: Python source -> IR.

Reads a function's source (never running a file the CLI is given), resolves
the names it uses, and lowers its AST to an evaluation trace (one primitive per
equation, with source locations).
"""
