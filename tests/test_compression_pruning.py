"""netprof.compression.pruning: which layers can lose channels, which channels go, and that the coupled
layers (batch norm, the next layer's inputs, residual joins, depthwise convolutions) follow."""

import math

import pytest
import torch
from torch import nn

from netprof.compression.pruning import (
    PruningError,
    filter_norms,
    global_plan,
    grouped_layers,
    prunable_layers,
    prune_channels,
    width_plan,
)

pytest.importorskip("torch_pruning", reason="pip install 'netprof[compression]'")


def chain() -> nn.Sequential:
    # conv 3->8, bn, relu, conv 8->4, pool, flatten, linear 4->10 (the output layer)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 4, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 10),
    )


class Residual(nn.Module):
    """stem 3->6; x + a(x); that + b(that): stem, a and b are one coupled group of 6 channels."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 1)
        self.a = nn.Conv2d(6, 6, 1)
        self.b = nn.Conv2d(6, 6, 1)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.a(x)
        x = x + self.b(x)
        return self.head(x.mean((2, 3)))


def inverted() -> nn.Sequential:
    # expand 4->8, depthwise 8, project 8->4 (its output is the model's output)
    return nn.Sequential(nn.Conv2d(4, 8, 1), nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 4, 1))


X = torch.randn(1, 3, 8, 8)


def test_filter_norms_are_the_l2_norm_of_each_output_filter():
    conv = nn.Conv2d(3, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight[0].fill_(1.0)  # three ones: sqrt(3)
        conv.weight[1].fill_(2.0)  # three twos: sqrt(12)
    norms = filter_norms(nn.Sequential(conv), "0")
    assert norms.tolist() == pytest.approx([math.sqrt(3), math.sqrt(12)])


def test_the_output_layer_and_depthwise_convs_are_not_prunable():
    assert sorted(prunable_layers(chain(), X)) == ["0", "3"]  # not 6, the linear that makes the output
    assert prunable_layers(inverted(), torch.randn(1, 4, 8, 8)) == ["0"]  # not 1 (depthwise), not 2 (output)


def test_pruning_removes_the_smallest_filters_and_keeps_the_coupled_layers_consistent():
    model = chain()
    with torch.no_grad():
        for channel in (1, 4, 6):  # the three smallest filters
            model[0].weight[channel] *= 1e-3
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pruned = prune_channels(model, X, {"0": 3})
    kept = [0, 2, 3, 5, 7]
    assert pruned[0].out_channels == 5 and pruned[1].num_features == 5 and pruned[3].in_channels == 5
    assert torch.equal(pruned[0].weight, model[0].weight[kept])
    assert torch.equal(pruned[3].weight, model[3].weight[:, kept])
    assert torch.equal(pruned[1].running_mean, model[1].running_mean[kept])
    assert pruned(X).shape == (1, 10)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the model given is untouched
    assert model[0].out_channels == 8


def test_a_coupled_group_is_pruned_once_by_its_largest_entry():
    model = Residual()
    layers = prunable_layers(model, X)
    assert sorted(layers) == ["a", "b", "stem"]
    pruned = prune_channels(model, X, {"a": 2, "b": 3})  # 3 from the whole group, not 5
    assert [pruned.stem.out_channels, pruned.a.out_channels, pruned.b.out_channels] == [3, 3, 3]
    assert pruned.head.in_features == 3 and pruned(X).shape == (1, 2)


def test_the_group_norm_ranks_a_channel_over_every_member():
    model = Residual()
    with torch.no_grad():
        for conv in (model.stem, model.a, model.b):
            conv.weight.fill_(1.0)
        model.stem.weight[2] = 0.0  # channel 2 is small in stem only; channel 4 is small in all three
        for conv in (model.stem, model.a, model.b):
            conv.weight[4] = 0.1
    pruned = prune_channels(model, X, {"stem": 1})
    # over the group (3 + 6 + 6 weights): channel 2: sqrt(0 + 6 + 6) = 3.46, the others sqrt(15) = 3.87,
    # channel 4: sqrt(0.01 * 15) = 0.39, the smallest
    assert torch.equal(pruned.stem.weight, model.stem.weight[[0, 1, 2, 3, 5]])


def test_the_depthwise_conv_follows_its_producer():
    model = inverted()
    pruned = prune_channels(model, torch.randn(1, 4, 8, 8), {"0": 2})
    assert pruned[1].out_channels == pruned[1].groups == pruned[1].in_channels == 6
    assert pruned[2].in_channels == 6 and pruned(torch.randn(1, 4, 8, 8)).shape == (1, 4, 8, 8)


def test_width_plan_keeps_alpha_of_every_group_and_global_plan_a_fraction_of_all_channels():
    # chain: groups of 8 (conv 0) and 4 (conv 3). alpha 0.5: remove 4 and 2; alpha 0.1: keep round(0.8)=1, 1
    assert width_plan(chain(), X, 0.5) == {"0": 4, "3": 2}
    assert width_plan(chain(), X, 0.1) == {"0": 7, "3": 3}
    plan = global_plan(chain(), X, 0.5)  # floor(0.5 * 12) = 6 channels over both groups
    assert sum(plan.values()) == 6 and all(count < {"0": 8, "3": 4}[path] for path, count in plan.items())


@pytest.mark.parametrize(
    "plan, message",
    [
        ({"6": 1}, "not a prunable layer: 6"),
        ({"0": 8}, "cannot remove 8 of the 8 output channels of 0"),
        ({"0": -1}, "0 or more"),
    ],
)
def test_a_plan_that_cannot_be_applied_is_one_line(plan, message):
    with pytest.raises(PruningError, match=message):
        prune_channels(chain(), X, plan)


def test_layers_coupled_to_a_grouped_convolution_are_left_whole():
    # conv 3->12, grouped 1x1 conv 12->12 (3 groups), conv 12->8, pool, linear: the first conv feeds the
    # grouped one, whose groups index-based pruning would break; the last conv's filters can still go.
    model = nn.Sequential(
        nn.Conv2d(3, 12, 3, padding=1),
        nn.Conv2d(12, 12, 1, groups=3),
        nn.Conv2d(12, 8, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )
    x = torch.randn(1, 3, 8, 8)
    assert grouped_layers(model) == ["1"]
    assert prunable_layers(model, x) == ["2"]
    pruned = prune_channels(model, x, width_plan(model, x, 0.5))
    assert [m.out_channels for m in pruned if isinstance(m, nn.Conv2d)] == [12, 12, 4]
    assert pruned(x).shape == (1, 10)
