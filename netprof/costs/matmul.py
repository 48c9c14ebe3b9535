"""Matrix products. ``linear``, ``matmul`` and ``einsum`` reach ATen as these.

The ``add*`` variants compute ``beta * self + alpha * (product)``; their bias add
costs one flop per output element, and none when ``beta == 0`` (PyTorch then
ignores ``self``, which ``torch.baddbmm(empty, q, k, beta=0)`` attention code
relies on).
"""

from __future__ import annotations

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import formula
from netprof.costs.types import Category, Cost


def _product_cost(mult_adds: int, extra_flops: int = 0) -> Cost:
    # Each multiply-add is two flops (a multiply and an add).
    return Cost(Category.GEMM, mult_adds, 2 * mult_adds + extra_flops)


def _bias_adds(call: OpCall) -> int:
    """One add per output element, unless ``beta == 0`` drops the bias."""
    return 0 if call.kwargs.get("beta", 1) == 0 else call.out.numel


# [n, p] = aten::mm([n, m], [m, p]);  _int_mm: the same on int8
@formula(aten.mm, aten._int_mm)
def mm(call: OpCall) -> Cost:
    a, b = call.args[0], call.args[1]
    return _product_cost(a.shape[0] * a.shape[1] * b.shape[1])


# [n, p] = aten::_scaled_mm([n, m], [m, p], scale_a, scale_b, bias?, ...): float8 mm, bias optional
@formula(aten._scaled_mm)
def scaled_mm(call: OpCall) -> Cost:
    a, b = call.args[0], call.args[1]
    bias = call.arg(4, "bias")
    return _product_cost(a.shape[0] * a.shape[1] * b.shape[1], call.out.numel if bias is not None else 0)


# [n, p] = aten::addmm(bias, [n, m], [m, p]); the bias add is one flop per output
@formula(aten.addmm)
def addmm(call: OpCall) -> Cost:
    a, b = call.args[1], call.args[2]
    return _product_cost(a.shape[0] * a.shape[1] * b.shape[1], _bias_adds(call))


# [b, n, p] = aten::bmm([b, n, m], [b, m, p])
@formula(aten.bmm)
def bmm(call: OpCall) -> Cost:
    a, b = call.args[0], call.args[1]
    return _product_cost(a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2])


# [b, n, p] = aten::baddbmm(bias, [b, n, m], [b, m, p])
@formula(aten.baddbmm)
def baddbmm(call: OpCall) -> Cost:
    a, b = call.args[1], call.args[2]
    return _product_cost(a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2], _bias_adds(call))


# [n, p] = aten::addbmm(bias, [b, n, m], [b, m, p]): the b products are summed into one [n, p],
# and that sum is part of the multiply-adds (a k = b * m long dot product per output).
@formula(aten.addbmm)
def addbmm(call: OpCall) -> Cost:
    a, b = call.args[1], call.args[2]
    return _product_cost(a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2], _bias_adds(call))


# [n, p] = aten::_addmm_activation(bias [p], [n, m], [m, p], use_gelu): addmm then relu or gelu,
# one flop per output for the bias and one for the activation
@formula(aten._addmm_activation)
def addmm_activation(call: OpCall) -> Cost:
    a, b = call.args[1], call.args[2]
    return _product_cost(a.shape[0] * a.shape[1] * b.shape[1], _bias_adds(call) + call.out.numel)


# [n] = aten::mv([n, m], [m]);  [] = aten::dot([m], [m])
@formula(aten.mv, aten.dot, aten.vdot)
def vector_product(call: OpCall) -> Cost:
    a = call.args[0]
    return _product_cost(a.numel)


# [n] = aten::addmv(bias [n], [n, m], [m])
@formula(aten.addmv)
def addmv(call: OpCall) -> Cost:
    return _product_cost(call.args[1].numel, _bias_adds(call))


# [n, m] = aten::addr(bias [n, m], [n], [m]): the outer product, each product added to the bias,
# is one multiply-add per output element (no bias: a multiply alone, still counted as one)
@formula(aten.addr)
def addr(call: OpCall) -> Cost:
    return _product_cost(call.args[1].numel * call.args[2].numel)


# ([T, B, H], hy, cy, workspace) = aten::mkldnn_rnn_layer(input [T, B, I], w_ih [4H, I], w_hh [4H, H],
#     b_ih [4H], b_hh [4H], hx [B, H], cx [B, H], reverse, batch_sizes, mode, hidden_size, num_layers,
#     has_biases, ...): one LSTM layer in one direction, what nn.LSTM runs on the CPU.
@formula(aten.mkldnn_rnn_layer)
def mkldnn_rnn_layer(call: OpCall) -> Cost:
    x, w_ih, w_hh = call.args[0], call.args[1], call.args[2]
    tokens = x.numel // x.shape[-1]
    # Every token goes once through both gate matrices.
    mult_adds = tokens * (w_ih.numel + w_hh.numel)
    gates, hidden = w_ih.shape[0], call.arg(10, "hidden_size")
    bias_adds = 2 * gates if call.arg(12, "has_biases") else 0
    # Per token, as the unfused cell computes it: the two biases, the ih + hh sum, one activation per
    # gate element, then c' = f * c + i * g (3 per hidden unit) and h' = o * tanh(c') (2).
    elementwise = bias_adds + gates + gates + 5 * hidden
    return _product_cost(mult_adds, tokens * elementwise)


# (grad_input, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh, grad_hx, grad_cx) =
#     aten::mkldnn_rnn_layer_backward(input [T, B, I], w_ih [4H, I], w_hh [4H, H], b_ih, b_hh, hx, cx,
#     output, hy, cy, grad_output?, grad_hy?, grad_cy?, reverse, mode, hidden_size, num_layers,
#     has_biases, train, bidirectional, batch_sizes, batch_first, workspace): the layer above, backward.
@formula(aten.mkldnn_rnn_layer_backward)
def mkldnn_rnn_layer_backward(call: OpCall) -> Cost:
    x, w_ih, w_hh = call.args[0], call.args[1], call.args[2]
    tokens = x.numel // x.shape[-1]
    # Every token's gate gradient goes back through both gate matrices (to the input and to the
    # previous hidden state), and both matrices' gradients gather it once more: twice the forward.
    mult_adds = 2 * tokens * (w_ih.numel + w_hh.numel)
    gates, hidden = w_ih.shape[0], call.arg(15, "hidden_size")
    # Per token the forward's gate arithmetic backward, as many flops as the forward's (one per
    # gate element for the activation, one for the ih + hh sum, 5 per hidden unit for the cell
    # and hidden state); the two bias gradients are reductions, one flop per element.
    elementwise = tokens * (gates + gates + 5 * hidden)
    bias_grads = 2 * gates if call.arg(17, "has_biases") else 0
    return _product_cost(mult_adds, elementwise + bias_grads)


# X [..., n, k] = aten::linalg_solve_triangular(A [..., n, n], B [..., n, k], upper, left=True, unitriangular)
# (left=False: X [..., k, n] solves X A = B): substitution, row by row. Row i of each of the k right-hand
# sides takes i multiply-adds with the rows already solved, n (n - 1) / 2 over the n rows, then one division
# by the diagonal unless it is the unit one. Gated delta-rule attention (Qwen3.5, OLMo hybrid) solves one
# per chunk.
@formula(aten.linalg_solve_triangular)
def linalg_solve_triangular(call: OpCall) -> Cost:
    a, out = call.args[0], call.out
    n = a.shape[-1]
    systems = out.numel // n  # batch x k right-hand sides of length n
    divisions = 0 if call.kwargs.get("unitriangular", False) else systems * n
    return _product_cost(systems * n * (n - 1) // 2, divisions)
