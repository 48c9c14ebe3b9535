"""Pooling: one flop per output element (a convention; see ``netprof.costs.types``).

The backward ops route ``grad_output`` back to the input: a max pool's gradient lands on
the element its index names, an average pool's is shared among its window. They follow
the same convention, one flop per element of what they produce, ``grad_input`` (the
input's shape).
"""

from __future__ import annotations

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import formula
from netprof.costs.types import Category, Cost


@formula(
    aten.max_pool1d,
    aten.max_pool2d,
    aten.max_pool2d_with_indices,
    aten.max_pool3d,
    aten.max_pool3d_with_indices,
    aten.avg_pool1d,
    aten.avg_pool2d,
    aten.avg_pool3d,
    aten.adaptive_avg_pool1d,
    aten._adaptive_avg_pool2d,
    aten._adaptive_avg_pool3d,
    aten.adaptive_max_pool1d,
    aten.adaptive_max_pool2d,
    aten.adaptive_max_pool3d,
    aten.fractional_max_pool2d,
    aten.fractional_max_pool3d,
    # grad_input = aten::max_pool2d_with_indices_backward(grad_output, self, kernel_size, stride,
    #     padding, dilation, ceil_mode, indices), and the like for every pool above
    aten.max_pool2d_with_indices_backward,
    aten.max_pool3d_with_indices_backward,
    aten.avg_pool2d_backward,
    aten.avg_pool3d_backward,
    aten._adaptive_avg_pool2d_backward,
    aten._adaptive_avg_pool3d_backward,
    aten.adaptive_max_pool2d_backward,
    aten.adaptive_max_pool3d_backward,
    aten.fractional_max_pool2d_backward,
    aten.fractional_max_pool3d_backward,
)
def pooling(call: OpCall) -> Cost:
    return Cost(Category.POOLING, flops=call.out.numel)
