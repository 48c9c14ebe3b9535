"""Loss functions and their gradients: no multiply-adds.

A fused loss computes one term per element (``(x - t) ** 2``, ``-w[t] * x[t]``, ...)
and then, unless ``reduction`` is ``"none"``, reduces the terms to a mean or a sum.
It is counted as the ops it fuses would be: one flop per term (the element-wise
convention) plus one per output element of the reduction (the reduction convention).
``reduction`` is ``torch.nn._reduction``'s enum: 0 none, 1 mean, 2 sum.

A loss's backward produces the gradient of its input element by element: one flop per
element of ``grad_input``. ``nll_loss``'s is zero except at the targets: one flop per
target (the negated, weighted gradient written there); the zeros are traffic.
"""

from __future__ import annotations

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import elementwise_cost, formula
from netprof.costs.types import Category, Cost

_NONE = 0


def _loss(terms: int, call: OpCall, reduction: int) -> Cost:
    if reduction == _NONE:
        return Cost(Category.ELEMENTWISE, flops=terms)
    return Cost(Category.REDUCTION, flops=terms + call.out.numel)


# loss = aten::mse_loss(self, target, reduction=1); smooth_l1_loss(..., reduction, beta),
# huber_loss(..., reduction, delta), soft_margin_loss(..., reduction),
# multilabel_margin_loss_forward(self [N, C], target, reduction) -> (loss, is_target): one term per
# element of self
@formula(
    aten.mse_loss,
    aten.smooth_l1_loss,
    aten.huber_loss,
    aten.soft_margin_loss,
    aten.multilabel_margin_loss_forward,
)
def pointwise_loss(call: OpCall) -> Cost:
    return _loss(call.args[0].numel, call, call.arg(2, "reduction", 1))


# loss = aten::binary_cross_entropy(self, target, weight?, reduction=1)
@formula(aten.binary_cross_entropy)
def binary_cross_entropy(call: OpCall) -> Cost:
    return _loss(call.args[0].numel, call, call.arg(3, "reduction", 1))


# loss = aten::binary_cross_entropy_with_logits(self, target, weight?, pos_weight?, reduction=1)
@formula(aten.binary_cross_entropy_with_logits)
def binary_cross_entropy_with_logits(call: OpCall) -> Cost:
    return _loss(call.args[0].numel, call, call.arg(4, "reduction", 1))


# loss = aten::multi_margin_loss(self [N, C], target [N], p, margin, weight?, reduction=1): one
# hinge term per class of every sample
@formula(aten.multi_margin_loss)
def multi_margin_loss(call: OpCall) -> Cost:
    return _loss(call.args[0].numel, call, call.arg(5, "reduction", 1))


# (loss, total_weight) = aten::nll_loss_forward(self [N, C], target [N], weight?, reduction,
#     ignore_index); nll_loss2d_forward: self [N, C, H, W], target [N, H, W]. One term per target,
#     -weight[t] * self[t] (cross_entropy is _log_softmax followed by this).
@formula(aten.nll_loss_forward, aten.nll_loss2d_forward)
def nll_loss(call: OpCall) -> Cost:
    return _loss(call.args[1].numel, call, call.arg(3, "reduction"))


# grad_input = aten::nll_loss_backward(grad_output, self, target, weight?, reduction, ignore_index,
#     total_weight); nll_loss2d_backward the same
@formula(aten.nll_loss_backward, aten.nll_loss2d_backward)
def nll_loss_backward(call: OpCall) -> Cost:
    return Cost(Category.ELEMENTWISE, flops=call.args[2].numel)


# grad_input = aten::mse_loss_backward(grad_output, self, target, reduction), and the like
formula(
    aten.mse_loss_backward,
    aten.smooth_l1_loss_backward,
    aten.huber_loss_backward,
    aten.soft_margin_loss_backward,
    aten.binary_cross_entropy_backward,
    aten.multi_margin_loss_backward,
    aten.multilabel_margin_loss_backward,
)(elementwise_cost)
