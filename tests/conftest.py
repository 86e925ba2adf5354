import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "samples"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Verify the IR after every named pass (ad_compiler.ir.passes): a pass that
# breaks it is named where it broke.  Subprocesses inherit it.
os.environ.setdefault("ADC_VERIFY", "1")
