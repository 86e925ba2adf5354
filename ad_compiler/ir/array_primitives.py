"""(Moved: the array rows are in :mod:`ad_compiler.primitives`.)"""

from ad_compiler.primitives.arrays import parse_einsum  # noqa: F401
from ad_compiler.primitives.indexing import index_text  # noqa: F401
from ad_compiler.primitives.table import HELPER_OF, HELPERS  # noqa: F401
