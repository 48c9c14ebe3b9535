"""Element-wise ops that the ATen schema does not tag ``pointwise``.

Ops that carry the tag (``relu``, ``add.Tensor``, ``mul``, ...) need no entry:
``netprof.costs.registry.lookup`` counts them as element-wise on its own. So do
the gradients of activations that carry it (``threshold_backward``, the ReLU's,
``gelu_backward``, ``silu_backward``, ``sigmoid_backward``, ``tanh_backward``,
``native_dropout_backward``); the others are listed here, one flop per element of
the gradient they produce, as their forwards are counted.
"""

from __future__ import annotations

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import elementwise_cost, formula, reduction_cost
from netprof.costs.types import Category, Cost

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
    aten.floor_divide,  # ``//`` on tensors: unlike div and remainder, untagged
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
    aten.masked_fill_,
    # grad_input = aten::<activation>_backward(grad_output, self or result, *parameters)
    aten.elu_backward,
    aten.hardsigmoid_backward,
    aten.hardswish_backward,
    aten.hardtanh_backward,  # ReLU6, and nn.Hardtanh
    aten.hardshrink_backward,
    aten.softshrink_backward,
    aten.leaky_relu_backward,
    aten.log_sigmoid_backward,
    aten.mish_backward,
    aten.rrelu_with_noise_backward,
    aten.softplus_backward,
    aten.glu_backward,
    # grad_input = aten::_softmax_backward_data(grad_output, output, dim, input_dtype):
    # output * (grad_output - sum(grad_output * output, dim)), one flop per element as the forward
    aten._softmax_backward_data,
    aten._log_softmax_backward_data,
    # CUDA's fused LSTM / GRU cell backward: the gate gradients, before the matmuls' backward.
    aten._thnn_fused_lstm_cell_backward_impl,
    aten._thnn_fused_gru_cell_backward,
)(elementwise_cost)


# (grad_input, grad_weight [C]) = aten::_prelu_kernel_backward(grad_output, self, weight): the
# input's gradient element-wise, the weight's a reduction to one slope per channel (or one in all)
@formula(aten._prelu_kernel_backward)
def prelu_backward(call: OpCall) -> Cost:
    x, weight = call.args[1], call.args[2]
    return Cost(Category.ELEMENTWISE, flops=x.numel + weight.numel)


# Scans: one flop per output element, the reduction convention.
formula(aten.cumsum, aten.cumprod, aten.logcumsumexp)(reduction_cost)
