"""Cost formulas. Importing this package registers every formula."""

from netprof.costs import (  # noqa: F401 - imported for their registrations
    attention,
    conv,
    data_movement,
    elementwise,
    loss,
    matmul,
    norm,
    pool,
    quantized,
    selection,
    vision,
    zero_cost,
)
from netprof.costs.registry import lookup
from netprof.costs.types import CONVENTIONS, Category, Cost

__all__ = ["CONVENTIONS", "Category", "Cost", "lookup"]
