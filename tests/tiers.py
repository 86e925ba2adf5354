"""The fast tier of a Hypothesis property (see tests/README.md).

A property runs as two tests: the full one, marked ``slow``, with the file's own
settings (its example count, usually scaled by ``ADC_HYPOTHESIS_EXAMPLES``), and
a fast twin named ``..._fast`` decorated with ``fast(settings)``: a few examples
chosen by ``derandomize`` — derived from the test rather than from a random
seed — so the fast tier tries the same programs on every run and a failure
there is reproduced by running it again.
"""

from hypothesis import settings

FAST_EXAMPLES = 4


def fast(full_settings, examples=FAST_EXAMPLES):
    """``full_settings`` with ``examples`` examples, the same ones on every run."""
    return settings(full_settings, max_examples=examples, derandomize=True)
