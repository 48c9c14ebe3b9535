"""Ops that choose, order or count values by comparing them: no arithmetic worth a multiply-add.

Mixture-of-experts routers pick each token's experts with ``topk`` (some with a
``sort``); rotary embeddings in complex form (Llama 4) build their rotations with
``polar``. What is counted, for each:

- ``topk``, ``sort``, ``kthvalue``, ``median`` / ``nanmedian`` along a dim, ``mode``:
  no multiply-adds; one flop per value written, the convention ``max.dim`` and
  ``argmax`` (reduction-tagged in ATen) already follow. The comparisons themselves
  (``n log n`` of them for a sort) are not counted: they are neither multiply-adds
  nor the arithmetic the flops column counts. Memory access is the input read plus
  values and indices written (``argsort`` and ``msort`` reach ATen as ``sort``).
- ``nonzero`` and ``unique`` (``_unique2``, ``unique_dim``, ``unique_consecutive``): a detector's box
  filtering and batched NMS's per-class loop run them. No multiply-adds; one flop per value
  selected (a row of indices for ``nonzero``, a distinct value for ``unique``), as for ``topk``; the
  comparisons are not counted. Both have data-dependent output shapes: they are counted on a real run.
- ``histc`` and ``bincount``: a scatter-add of ones (or of weights) into the bins,
  one flop per element added, as ``embedding_dense_backward`` is counted.
- ``_is_all_true`` / ``_is_any_true`` (``torch.all``/``any`` of a whole bool tensor, as
  ``torch._assert`` on a tensor condition runs it; Gemma 3n): a reduction, one flop per
  value written, as ``all`` and ``any`` (reduction-tagged) are.
- ``polar(abs, angle) = abs * (cos(angle) + i sin(angle))``: element-wise, one flop per
  output element and no multiply-adds, as ``exp``, ``sin`` and ``cos`` are (a
  transcendental function is one flop per element under the element-wise convention,
  however many instructions it takes).
"""

from __future__ import annotations

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import elementwise_cost, formula, reduction_cost
from netprof.costs.types import Category, Cost


# (values [..., k, ...], indices [..., k, ...]) = aten::topk(self [..., n, ...], k, dim, largest, sorted)
# (values, indices) = aten::sort(self, dim, descending) (and sort.stable): k = n
# (values [...], indices [...]) = aten::kthvalue(self [..., n], k, dim, keepdim), median.dim, mode
@formula(aten.topk, aten.sort, aten.kthvalue, aten.median, aten.nanmedian, aten.mode)
def selection(call: OpCall) -> Cost:
    return Cost(Category.REDUCTION, flops=call.out.numel if call.outputs else 0)


# indices [k, ndim] = aten::nonzero(self [...]): one row per selected element
@formula(aten.nonzero)
def nonzero(call: OpCall) -> Cost:
    return Cost(Category.REDUCTION, flops=call.out.shape[0])


# (values [k], inverse?, counts?) = aten::_unique2(self [...], sorted, return_inverse, return_counts),
# unique_dim, unique_consecutive: the distinct values
@formula(aten._unique2, aten.unique_dim, aten.unique_consecutive)
def unique(call: OpCall) -> Cost:
    return Cost(Category.REDUCTION, flops=call.out.numel)


# [] = aten::_is_all_true(self [...]), aten::_is_any_true(self [...]): the whole tensor to one bool
@formula(aten._is_all_true, aten._is_any_true)
def whole_truth(call: OpCall) -> Cost:
    return reduction_cost(call)


# hist [bins] = aten::histc(self [...], bins, min, max); counts [max + 1] = aten::bincount(self [n], weights?)
@formula(aten.histc, aten.bincount)
def histogram(call: OpCall) -> Cost:
    return Cost(Category.REDUCTION, flops=call.args[0].numel)


# out [...] complex = aten::polar(abs [...], angle [...])
formula(aten.polar)(elementwise_cost)
