"""Graph metrics: pure functions from an ``Analysis`` to frozen results keyed by module path.

Nothing here writes into the graph; rules read these results and apply thresholds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from netprof.analysis import Analysis
from netprof.metrics.blocks import CHAIN, PARALLEL, Block, Branch, Join, find_blocks, fragments_per_block
from netprof.metrics.convs import BODY, CONV, HEAD, LINEAR, STEM, ConvMetrics, conv_metrics, linear_metrics
from netprof.metrics.dataflow import DataFlow, dataflow, is_elementwise, is_fragment
from netprof.metrics.elementwise import ElementwiseShare, elementwise_kind, elementwise_shares

__all__ = [
    "BODY",
    "CHAIN",
    "CONV",
    "HEAD",
    "LINEAR",
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
    "elementwise_kind",
    "elementwise_shares",
    "find_blocks",
    "fragments_per_block",
    "is_elementwise",
    "is_fragment",
    "linear_metrics",
]


@dataclass(frozen=True)
class GraphMetrics:
    """Every metric of one analysis, computed once for all rules."""

    flow: DataFlow
    blocks: Mapping[str, Block]
    convs: Mapping[str, tuple[ConvMetrics, ...]]
    elementwise: Mapping[str, ElementwiseShare]
    linears: Mapping[str, tuple[ConvMetrics, ...]] = field(default_factory=dict)

    def conv_calls(self) -> Iterator[ConvMetrics]:
        """Every convolution call, module by module, as the conv rules walk them."""
        for calls in self.convs.values():
            yield from calls

    def pointwise_maps(self) -> Iterator[ConvMetrics]:
        """Every convolution call and every linear map applied per position, in execution order:
        what G1 checks (a linear over tokens is a 1x1 conv with hw = tokens)."""
        calls = [call for group in (self.convs, self.linears) for found in group.values() for call in found]
        yield from sorted(calls, key=lambda call: call.op_id)

    @property
    def fragments_per_block(self) -> float:
        return fragments_per_block(self.blocks)


def compute(analysis: Analysis) -> GraphMetrics:
    flow = dataflow(analysis)
    blocks = find_blocks(analysis, flow)
    return GraphMetrics(
        flow,
        blocks,
        conv_metrics(analysis, blocks),
        elementwise_shares(analysis, blocks, flow),
        linear_metrics(analysis, flow, blocks),
    )
