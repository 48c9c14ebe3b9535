"""Element-wise ops that the ATen schema does not tag ``pointwise``.

Ops that carry the tag (``relu``, ``add.Tensor``, ``mul``, ...) need no entry:
``netprof.costs.registry.lookup`` counts them as element-wise on its own.
"""

from __future__ import annotations

from torch.ops import aten

from netprof.costs.registry import elementwise_cost, formula, reduction_cost

formula(
    aten.gelu_,
    aten.hardswish,
    aten.hardswish_,
    aten.mish_,
    aten.threshold_,
    aten.prelu,
    aten._prelu_kernel,
    aten.glu,
    aten.log_sigmoid_forward,
    aten.rrelu_with_noise,
    aten.where,
    aten.masked_fill,  # the .Tensor overload carries no pointwise tag
    # CUDA's fused LSTM / GRU cell: the gate arithmetic after the two matmuls.
    aten._thnn_fused_lstm_cell,
    aten._thnn_fused_gru_cell,
    aten._softmax,
    aten._log_softmax,
    aten._safe_softmax,
    aten.native_dropout,
    aten.bernoulli_,
    aten.fill_,
    aten.zero_,
)(elementwise_cost)

# Scans: one flop per output element, the reduction convention.
formula(aten.cumsum, aten.cumprod, aten.logcumsumexp)(reduction_cost)
