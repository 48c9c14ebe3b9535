"""Matrix products. ``linear``, ``matmul`` and ``einsum`` reach ATen as these."""

from __future__ import annotations

import math

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import formula
from netprof.costs.types import Category, Cost


def _product_cost(mult_adds: int, bias_adds: int = 0) -> Cost:
    # Each multiply-add is two flops (a multiply and an add).
    return Cost(Category.GEMM, mult_adds, 2 * mult_adds + bias_adds)


# [n, p] = aten::mm([n, m], [m, p])
@formula(aten.mm)
def mm(call: OpCall) -> Cost:
    a, b = call.args[0], call.args[1]
    return _product_cost(a.shape[0] * a.shape[1] * b.shape[1])


# [n, p] = aten::addmm(bias, [n, m], [m, p]); the bias add is one flop per output
@formula(aten.addmm)
def addmm(call: OpCall) -> Cost:
    a, b = call.args[1], call.args[2]
    return _product_cost(a.shape[0] * a.shape[1] * b.shape[1], call.out.numel)


# [b, n, p] = aten::bmm([b, n, m], [b, m, p])
@formula(aten.bmm)
def bmm(call: OpCall) -> Cost:
    a, b = call.args[0], call.args[1]
    return _product_cost(a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2])


# [b, n, p] = aten::baddbmm(bias, [b, n, m], [b, m, p])
@formula(aten.baddbmm)
def baddbmm(call: OpCall) -> Cost:
    a, b = call.args[1], call.args[2]
    return _product_cost(a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2], call.out.numel)


# [*, n] = aten::_addmm_activation(bias, [n, m], [m, p]) fuses addmm with relu/gelu
@formula(aten._addmm_activation)
def addmm_activation(call: OpCall) -> Cost:
    a, b = call.args[1], call.args[2]
    return _product_cost(a.shape[0] * a.shape[1] * b.shape[1], 2 * call.out.numel)


# [n] = aten::mv([n, m], [m]);  [] = aten::dot([m], [m])
@formula(aten.mv, aten.dot, aten.vdot)
def vector_product(call: OpCall) -> Cost:
    a = call.args[0]
    return _product_cost(math.prod(a.shape))
