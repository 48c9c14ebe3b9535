"""torchvision's detection ops (``netprof.costs.vision``), counted by hand.

nms: 12 flops per pair of boxes (overlap corners 4, width and height 4, area 1, IoU 3) over every
pair, the worst case, plus 3 per box for its area; roi_align: 8 flops per bilinear sample (4 products,
3 additions, 1 into the bin's sum) and 1 division per output element.
"""

import pytest
import torch
from torchvision.ops import nms, roi_align

import netprof


class Suppress(torch.nn.Module):
    def forward(self, boxes, scores):
        return nms(boxes, scores, 0.5)


class PoolRegions(torch.nn.Module):
    def __init__(self, sampling_ratio):
        super().__init__()
        self.sampling_ratio = sampling_ratio

    def forward(self, features, boxes):
        return roi_align(features, [boxes], (7, 7), 0.25, self.sampling_ratio)


def _boxes(count):
    corners = torch.rand(count, 2) * 100
    return torch.cat([corners, corners + 10], dim=1)


@pytest.mark.parametrize("mode", ["auto", "real"])  # meta cannot: nms returns a data-dependent shape
def test_nms_counts_every_pair_of_100_boxes(mode):
    analysis = netprof.analyze(Suppress(), (_boxes(100), torch.rand(100)), mode=mode)
    (op,) = [op for op in analysis.ops if op.op == "torchvision.nms.default"]
    # 100 * 99 / 2 = 4950 pairs x 12 flops + 100 boxes x 3 flops
    assert (op.mult_adds, op.flops, op.category) == (0, 59_400 + 300, "reduction")
    assert analysis.totals.uncounted_ops == 0


@pytest.mark.parametrize(("ratio", "per_output"), [(2, 4 * 8 + 1), (0, 8 + 1)])
def test_roi_align_counts_its_bilinear_samples(ratio, per_output):
    analysis = netprof.analyze(PoolRegions(ratio), (torch.rand(1, 16, 32, 32), _boxes(5)))
    (op,) = [op for op in analysis.ops if op.op == "torchvision.roi_align.default"]
    # 5 regions x 16 channels x 7 x 7 bins
    assert (op.mult_adds, op.flops, op.category) == (0, 5 * 16 * 49 * per_output, "pooling")


def test_a_name_formula_is_registered_once():
    from netprof.costs.registry import formula_by_name

    with pytest.raises(ValueError, match="torchvision::nms"):
        formula_by_name("torchvision::nms")(lambda call: None)
