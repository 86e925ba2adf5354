"""Back end: IR -> readable Python source -> a live function.

Names of the emitted module, in-place writes of the emitted form, code
generation, and loading the emitted text.
"""
