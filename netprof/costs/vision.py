"""torchvision's detection ops: non-maximum suppression and RoI pooling, a detector's post-processing.

netprof does not import torchvision; these formulas apply when a model that calls the ops is
captured (``formula_by_name``). What is counted, for each:

- ``nms(boxes [n, 4], scores [n], iou_threshold) -> keep [k]``: no multiply-adds. The kernel sorts the
  scores, computes each box's area (3 flops) and then, for every box not yet suppressed, its
  intersection over union with each later box: 4 min/max for the overlap's corners, 2 subtractions
  and 2 clamps for its width and height, 1 product for its area, 2 additions and 1 division for
  the IoU, 12 flops a pair. Counted is the worst case, every one of the ``n (n - 1) / 2`` pairs (no box
  suppressed): how many a run skips depends on the boxes, which a count cannot see. torchvision's
  ``batched_nms`` offsets each class's boxes apart so that no two classes overlap, which brings a
  run close to that worst case. The sort's comparisons are not counted (as for ``sort``).
- ``roi_align(input [b, c, h, w], rois [k, 5], scale, ph, pw, sampling_ratio, aligned) -> [k, c, ph, pw]``:
  pooling, no multiply-adds (RoI pooling is not a convolution, and other counters give it none).
  Each output averages ``sampling_ratio**2`` bilinear samples of 4 neighbours (4 products and 3
  additions each, 1 addition to the bin's sum) and divides once: ``8 s**2 + 1`` flops per output
  element. An adaptive ratio (``sampling_ratio <= 0``: ``ceil(roi size / bin)`` per RoI) depends on the
  boxes; it is counted as one sample per bin, a lower bound.
"""

from __future__ import annotations

from netprof.capture.ir import OpCall
from netprof.costs.registry import formula_by_name
from netprof.costs.types import Category, Cost

IOU_FLOPS = 12
AREA_FLOPS = 3
BILINEAR_SAMPLE_FLOPS = 8


def nms_pairs(boxes: int) -> int:
    """The pairs of boxes an NMS compares when none is suppressed."""
    return boxes * (boxes - 1) // 2


@formula_by_name("torchvision::nms")
def nms(call: OpCall) -> Cost:
    boxes = call.args[0].shape[0]
    return Cost(Category.REDUCTION, flops=IOU_FLOPS * nms_pairs(boxes) + AREA_FLOPS * boxes)


@formula_by_name("torchvision::roi_align")
def roi_align(call: OpCall) -> Cost:
    ratio = call.arg(5, "sampling_ratio", -1)
    samples = ratio * ratio if ratio > 0 else 1
    return Cost(Category.POOLING, flops=call.out.numel * (BILINEAR_SAMPLE_FLOPS * samples + 1))
