"""From a capture to priced ops and their totals per module, category and model.

``analyze`` captures a workload and prices it; ``pricing`` applies each op's cost formula, ``unfused_attention`` labels
attention written out as matmul-softmax-matmul, and ``summary`` adds the
priced ops up into an ``Analysis``.
"""

from netprof.analysis.analyze import analyze, input_metas
from netprof.analysis.pricing import OpNode, price
from netprof.analysis.summary import (
    HEADLINE,
    Analysis,
    ModuleSummary,
    Totals,
    build,
    parameter_bytes,
    subtree_params,
)

__all__ = [
    "HEADLINE",
    "Analysis",
    "ModuleSummary",
    "OpNode",
    "Totals",
    "analyze",
    "build",
    "input_metas",
    "parameter_bytes",
    "price",
    "subtree_params",
]
