"""The counting conventions, in one place.

``mult_adds``
    Multiply-adds of convolutions, matrix products and attention only: the unit
    the CV papers call "FLOPs" and torchvision's ``_ops`` metadata reports.
    Bias, normalization, activations and pooling add none.
``flops``
    ``2 * mult_adds`` (one multiply and one add each), plus one per output
    element for element-wise ops, normalization, pooling, reductions and the
    bias add of a convolution or linear layer. The extra term is a convention,
    not an instruction count: a 3x3 max-pool compares eight times per output.
``mem_access_bytes``
    ShuffleNet V2's memory access cost (MAC), in bytes: every tensor an op
    reads (feature maps and weights) plus every tensor it writes, each once, as
    if the cache held them all. Views move nothing and cost zero.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

CONVENTIONS = (
    "mult_adds = multiply-adds of conv/matmul/attention (the papers' FLOPs); "
    "flops = 2 x mult_adds + 1 per output element of element-wise, norm, pool, reduction and bias ops; "
    "mem_access_bytes = bytes read + written per op (ShuffleNet V2 MAC), views free"
)


class Category(str, enum.Enum):
    CONV = "conv"
    GROUP_CONV = "group_conv"
    DEPTHWISE_CONV = "depthwise_conv"
    GEMM = "gemm"
    ATTENTION = "attention"
    ELEMENTWISE = "elementwise"
    NORMALIZATION = "normalization"
    POOLING = "pooling"
    REDUCTION = "reduction"
    DATA_MOVEMENT = "data_movement"
    VIEW = "view"
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Cost:
    """What a formula returns.

    ``flops`` is the whole count, 2 x mult_adds included. ``moves_memory`` is
    False for ops that alias or merely allocate, whose memory access is zero.
    ``extra_read_bytes`` are bytes read from arguments that are not tensors (the
    packed weights of quantized kernels), added to the memory access.
    """

    category: Category
    mult_adds: int = 0
    flops: int = 0
    moves_memory: bool = True
    extra_read_bytes: int = 0
