"""analyze() leaves the user's model and torch's globals exactly as it found them."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as nn_module
from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

import netprof


class Raising(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        x = self.bn(self.conv(x))
        raise ValueError("user forward failed")


class Counting(nn.Module):
    """Writes into its own buffer on every forward: a real run must not reach the user's copy."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.register_buffer("seen", torch.zeros(()))

    def forward(self, x):
        self.seen += 1
        return self.linear(x).nonzero()  # data-dependent shape: forces the real-execution fallback


def _snapshot(model):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        [(name, m.training) for name, m in model.named_modules()],
        [
            (name, dict(m._forward_hooks), dict(m._forward_pre_hooks), dict(m._backward_hooks))
            for name, m in model.named_modules()
        ],
        [id(p) for p in model.parameters()],
    )


def _globals():
    return (
        dict(nn_module._global_forward_hooks),
        dict(nn_module._global_forward_pre_hooks),
        len(_get_current_dispatch_mode_stack()),
        torch.is_grad_enabled(),
        F.conv2d,
        torch.Tensor.__add__,
        torch._C._is_torch_function_mode_enabled(),
    )


def _assert_unchanged(model, before, globals_before):
    state, flags, hooks, param_ids = before
    after_state, after_flags, after_hooks, after_ids = _snapshot(model)
    assert after_state.keys() == state.keys()
    for key in state:
        assert torch.equal(after_state[key], state[key]), key
    assert after_flags == flags
    assert after_hooks == hooks
    assert after_ids == param_ids
    assert _globals() == globals_before


@pytest.mark.parametrize("mode", ["auto", "meta", "fake", "real"])
def test_training_model_untouched(mode):
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.5))
    model.train()
    model[1].eval()  # mixed flags must come back mixed
    model[0].register_forward_hook(lambda *args: None)
    before, globals_before = _snapshot(model), _globals()

    netprof.analyze(model, torch.randn(2, 3, 8, 8), mode=mode)

    _assert_unchanged(model, before, globals_before)


@pytest.mark.parametrize("mode", ["auto", "meta", "fake", "real"])
def test_raising_forward_leaves_no_trace(mode):
    model = Raising().train()
    before, globals_before = _snapshot(model), _globals()

    with pytest.raises(netprof.CaptureError, match="user forward failed"):
        netprof.analyze(model, torch.randn(1, 3, 8, 8), mode=mode)

    _assert_unchanged(model, before, globals_before)


def test_real_fallback_does_not_write_user_buffers():
    model = Counting()
    before, globals_before = _snapshot(model), _globals()

    analysis = netprof.analyze(model, torch.randn(2, 4))

    assert analysis.mode == "real"
    assert model.seen.item() == 0
    _assert_unchanged(model, before, globals_before)


class Caching(nn.Module):
    """Rebinds a plain attribute in forward, as torchvision's AnchorGenerator does."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.cache = None

    def forward(self, x):
        self.cache = self.linear(x)
        return self.cache


@pytest.mark.parametrize("mode", ["meta", "fake", "real"])
def test_attributes_rebound_by_forward_are_restored(mode):
    model = Caching()
    netprof.analyze(model, torch.randn(2, 4), mode=mode)
    assert model.cache is None


def test_shared_parameters_count_once_per_subtree():
    shared = nn.Linear(4, 4)  # 20 parameters
    model = nn.Sequential(nn.Sequential(shared, nn.ReLU()), nn.Sequential(shared), nn.Linear(4, 2))
    analysis = netprof.analyze(model, torch.randn(1, 4))
    params = {m.path: m.params for m in analysis.modules}
    # the root counts the shared layer once: 20 + 10
    assert analysis.params == params[""] == 30
    # each branch that reaches the shared layer counts it
    assert params["0"] == 20 and params["1"] == 20 and params["2"] == 10
