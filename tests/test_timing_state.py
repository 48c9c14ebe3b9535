"""A model whose first call runs more ops than the later ones (a cache) is timed as its later calls."""

import torch
from torch import nn

from netprof import pipeline
from netprof.timing.run import TimingOptions


class CachesOnFirstCall(nn.Module):
    """Computes a scale on its first call and keeps it, as torchvision's anchor generator keeps anchors."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.scale: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale is None:
            self.scale = torch.ones(1).add(1).sqrt()
        return self.conv(x) * self.scale


def test_a_model_with_state_is_counted_and_timed_as_its_later_calls():
    model, x = CachesOnFirstCall().eval(), torch.randn(1, 3, 16, 16)
    result = pipeline.run(model, x, timing=TimingOptions(repeat=3, threads=1))
    later = [op.op for op in result.analysis.ops]
    assert not any("sqrt" in op for op in later)  # the first call's ops are not in the counted graph
    assert len(result.timing.ops) == len(later)
    assert any("first call ran" in note and "every later call" in note for note in result.analysis.notes)
    assert model.scale is None  # the user's model never ran


def test_a_model_without_state_says_nothing_of_it():
    result = pipeline.run(
        nn.Conv2d(3, 8, 3).eval(), torch.randn(1, 3, 16, 16), timing=TimingOptions(repeat=3)
    )
    assert not any("first call ran" in note for note in result.analysis.notes)
