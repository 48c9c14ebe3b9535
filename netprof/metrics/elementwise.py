"""How much of the memory traffic element-wise ops cause (guideline G4).

ShuffleNet V2 counts as element-wise the ReLU, AddTensor and AddBias ops and the
depthwise convolutions: little arithmetic, heavy memory access. netprof adds batch
norm (per-channel scale and shift) and every other normalization. A bias fused into its
convolution or matrix product is priced with that op (one kernel) and not counted here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from netprof.analysis import Analysis
from netprof.analysis.pricing import OpNode
from netprof.metrics.blocks import Block
from netprof.metrics.dataflow import ELEMENTWISE_CATEGORIES


@dataclass(frozen=True, slots=True)
class ElementwiseShare:
    """Element-wise ops against all ops of a module (or the model, path "").

    Attributes:
        mem_access_bytes: what the element-wise ops read and write.
        total_mem_access_bytes: what all ops read and write.
        mult_adds, total_mult_adds: the same for multiply-adds.
        ops: how many element-wise ops.
    """

    path: str
    mem_access_bytes: int
    total_mem_access_bytes: int
    mult_adds: int
    total_mult_adds: int
    ops: int

    @property
    def share(self) -> float:
        """The share of memory access spent in element-wise ops."""
        return self.mem_access_bytes / self.total_mem_access_bytes if self.total_mem_access_bytes else 0.0

    @property
    def mult_adds_share(self) -> float:
        return self.mult_adds / self.total_mult_adds if self.total_mult_adds else 0.0


def share_of(path: str, nodes: Iterable[OpNode]) -> ElementwiseShare:
    mem = total_mem = mult = total_mult = count = 0
    for node in nodes:
        total_mem += node.mem_access_bytes
        total_mult += node.mult_adds
        if node.category in ELEMENTWISE_CATEGORIES:
            mem += node.mem_access_bytes
            mult += node.mult_adds
            count += 1
    return ElementwiseShare(path, mem, total_mem, mult, total_mult, count)


def elementwise_shares(analysis: Analysis, blocks: Mapping[str, Block]) -> dict[str, ElementwiseShare]:
    """The model (key "") first, then every block."""
    nodes = {node.id: node for node in analysis.ops}
    shares = {"": share_of("", analysis.ops)}
    for path, block in blocks.items():
        if path:
            shares[path] = share_of(path, (nodes[n] for n in block.ops))
    return shares
