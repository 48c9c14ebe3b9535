"""Graph metrics: pure functions from an ``Analysis`` to frozen results keyed by module path.

Nothing here writes into the graph; rules read these results and apply thresholds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from netprof.analysis import Analysis
from netprof.metrics.blocks import CHAIN, PARALLEL, Block, Branch, Join, find_blocks, fragments_per_block
from netprof.metrics.convs import BODY, HEAD, STEM, ConvMetrics, conv_metrics
from netprof.metrics.dataflow import DataFlow, dataflow
from netprof.metrics.elementwise import ElementwiseShare, elementwise_shares

__all__ = [
    "BODY",
    "CHAIN",
    "HEAD",
    "PARALLEL",
    "STEM",
    "Block",
    "Branch",
    "ConvMetrics",
    "DataFlow",
    "ElementwiseShare",
    "GraphMetrics",
    "Join",
    "compute",
    "conv_metrics",
    "dataflow",
    "elementwise_shares",
    "find_blocks",
    "fragments_per_block",
]


@dataclass(frozen=True)
class GraphMetrics:
    """Every metric of one analysis, computed once for all rules."""

    flow: DataFlow
    blocks: Mapping[str, Block]
    convs: Mapping[str, tuple[ConvMetrics, ...]]
    elementwise: Mapping[str, ElementwiseShare]

    def conv_calls(self) -> Iterator[ConvMetrics]:
        """Every convolution call, module by module, as the conv rules walk them."""
        for calls in self.convs.values():
            yield from calls

    @property
    def fragments_per_block(self) -> float:
        return fragments_per_block(self.blocks)


def compute(analysis: Analysis) -> GraphMetrics:
    flow = dataflow(analysis)
    blocks = find_blocks(analysis, flow)
    return GraphMetrics(flow, blocks, conv_metrics(analysis, blocks), elementwise_shares(analysis, blocks))
