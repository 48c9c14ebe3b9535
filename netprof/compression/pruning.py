"""Structured pruning of output channels, through Torch-Pruning's dependency graph (DepGraph).

netprof prices what pruning leaves; it does not re-implement pruning. Removing a
convolution's output channel also removes the matching channel of its batch norm,
of the next layer's input, of a depthwise convolution that follows it (whose output
channels are its input channels), of every tensor added to it in a residual join
and the matching slice of a concatenation: Torch-Pruning's ``DependencyGraph``
finds that *coupled group* and prunes it as one.

Hence the meaning of a plan, ``{layer path: channels to remove}``:

- a plan names layers; each coupled group is pruned once, by the **largest** entry
  among its members (two members of one residual chain naming 8 and 16 remove 16
  channels from the whole chain, not 24), so proposing "remove k from layer X"
  never double counts;
- the channels removed are those with the smallest L2 norm of their filters,
  measured over the whole group: a coupled channel's filters in every member
  conv/linear form one vector (for a group of one layer this is that layer's
  filter norm), all measured on the model as given, before anything is removed;
- a layer whose output channels cannot be removed is not prunable: the layers
  whose output is the model's output (the classifier's last linear), and depthwise
  convolutions, whose channels follow their producer's (name the producer).

``width_plan`` (every group kept at ``alpha`` of its channels, rounded, at least
one) and ``global_plan`` (the ``fraction`` of all channels with the smallest
norms, each group's norms divided by their mean so that layers compare) are plans
built from these. Every function works on a deep copy: the model passed in is
never modified (DepGraph traces it with a forward pass in eval mode).
"""

from __future__ import annotations

import copy
import importlib.util
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from netprof.errors import NetprofError

EXTRA = "compression"
_LAYERS = (nn.modules.conv._ConvNd, nn.Linear)  # the layers whose filters a plan names


class PruningError(NetprofError):
    """A plan that cannot be applied, or Torch-Pruning missing: one line."""


def require_torch_pruning() -> None:
    """Nothing when torch-pruning is installed, else one line naming the extra that installs it."""
    if importlib.util.find_spec("torch_pruning") is None:
        raise PruningError(f"pruning needs the torch-pruning package: pip install 'netprof[{EXTRA}]'")


@dataclass(frozen=True)
class _Group:
    """One coupled group: its prunable member layers (module paths) and its channel count."""

    members: tuple[str, ...]
    channels: int


def _as_tuple(example_inputs: Any) -> tuple[Any, ...]:
    return tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)


def _graph(model: nn.Module, example_inputs: Any) -> Any:
    """DepGraph of ``model`` (already a copy: tracing puts it in eval mode), traced with gradients on."""
    require_torch_pruning()
    import torch_pruning as tp

    with torch.enable_grad():
        try:
            return tp.DependencyGraph().build_dependency(model, _as_tuple(example_inputs), verbose=False)
        except Exception as error:  # the user's forward, traced by another library
            raise PruningError(
                f"Torch-Pruning cannot trace the model: {type(error).__name__}: {error}"
            ) from error


def _is_depthwise(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.conv._ConvNd) and module.groups == module.out_channels > 1


def _is_grouped(module: nn.Module) -> bool:
    """A grouped convolution that is not depthwise (ShuffleNet V1's pointwise convs, ResNeXt's 3x3):
    its channels must go a whole group's share at a time, in every group alike, which Torch-Pruning's
    index-based pruning does not keep (it raises, or breaks the grouping)."""
    return isinstance(module, nn.modules.conv._ConvNd) and 1 < module.groups and not _is_depthwise(module)


def _removes_filters(graph: Any, item: Any) -> bool:
    """Whether a group item removes output channels (filters) of a conv or linear layer."""
    return isinstance(item.dep.target.module, _LAYERS) and graph.is_out_channel_pruning_fn(item.dep.handler)


def _out_members(graph: Any, group: Any) -> list[nn.Module]:
    """The conv and linear layers whose output channels ``group`` removes, in the group's order."""
    seen: list[nn.Module] = []
    for item in group:
        if _removes_filters(graph, item) and item.dep.target.module not in seen:
            seen.append(item.dep.target.module)
    return seen


def _reaches_output(graph: Any, group: Any) -> bool:
    """Whether removing the group's channels would change the model's output shape."""
    import torch_pruning as tp

    for item in group:
        node = item.dep.target
        if node.type == tp.ops.OPTYPE.OUTPUT or (not node.outputs and _removes_filters(graph, item)):
            return True
    return False


def _groups(graph: Any, model: nn.Module) -> list[_Group]:
    """Every coupled group whose channels can go, with its non-depthwise members by path: not one that
    reaches the output, nor one that touches a grouped convolution (``_is_grouped``)."""
    paths = {module: path for path, module in model.named_modules()}
    found = []
    for group in graph.get_all_groups(root_module_types=_LAYERS):
        if _reaches_output(graph, group) or any(_is_grouped(item.dep.target.module) for item in group):
            continue
        members = tuple(paths[m] for m in _out_members(graph, group) if not _is_depthwise(m))
        if members:
            found.append(_Group(members, graph.get_out_channels(model.get_submodule(members[0]))))
    return found


def grouped_layers(model: nn.Module) -> list[str]:
    """Module paths of the grouped convolutions (not depthwise) whose channel groups are never pruned."""
    return [path for path, module in model.named_modules() if _is_grouped(module)]


def _copy(model: nn.Module) -> nn.Module:
    try:
        return copy.deepcopy(model)
    except Exception as error:
        raise PruningError(f"cannot copy the model to prune it: {type(error).__name__}: {error}") from error


def prunable_layers(model: nn.Module, example_inputs: Any) -> list[str]:
    """Module paths of the convs and linears whose output channels can be removed, in DepGraph's order."""
    twin = _copy(model)
    return [path for group in _groups(_graph(twin, example_inputs), twin) for path in group.members]


def filter_norms(model: nn.Module, path: str) -> torch.Tensor:
    """L2 norm of each output channel's filter of the conv or linear at ``path`` (bias excluded)."""
    module = model.get_submodule(path)
    if not isinstance(module, _LAYERS):
        raise PruningError(f"{path} is a {type(module).__name__}, not a convolution or linear layer")
    weight = module.weight.detach()
    if isinstance(module, nn.modules.conv._ConvTransposeNd):  # [c_in, c_out/g, *k]: output channels second
        weight = weight.transpose(0, 1)
    return weight.flatten(1).float().norm(dim=1)


def _group_norms(graph: Any, model: nn.Module, root: nn.Module) -> torch.Tensor:
    """Per root output channel: the L2 norm of that channel's filters over every member of its group."""
    paths = {module: path for path, module in model.named_modules()}
    pruner = graph.get_pruner_of_module(root)
    channels = pruner.get_out_channels(root)
    group = graph.get_pruning_group(root, pruner.prune_out_channels, list(range(channels)))
    squared = torch.zeros(channels)
    for item in group:
        if _removes_filters(graph, item):
            norms = filter_norms(model, paths[item.dep.target.module])
            squared.index_add_(0, torch.tensor(item.root_idxs), norms[list(item.idxs)] ** 2)
    return squared.sqrt()


def _removals(groups: Sequence[_Group], plan: Mapping[str, int]) -> list[tuple[_Group, int]]:
    """Each group the plan touches, with the channels it loses (the largest of its members' entries)."""
    members = {path: group for group in groups for path in group.members}
    unknown = sorted(set(plan) - set(members))
    if unknown:
        raise PruningError(
            f"not a prunable layer: {', '.join(unknown)} (prunable_layers lists them; a depthwise conv's "
            "channels follow its producer, and the output layer's are the model's output)"
        )
    largest: dict[int, int] = {}
    for path, count in plan.items():
        if int(count) != count or count < 0:
            raise PruningError(f"plan[{path!r}] = {count!r}: a number of channels to remove, 0 or more")
        key = id(members[path])
        largest[key] = max(largest.get(key, 0), int(count))
    removals = []
    for group in groups:
        count = largest.get(id(group), 0)
        if count >= group.channels:
            raise PruningError(
                f"cannot remove {count} of the {group.channels} output channels of {group.members[0]}: "
                "at least one must stay"
            )
        if count:
            removals.append((group, count))
    return removals


def prune_channels(model: nn.Module, example_inputs: Any, plan: Mapping[str, int]) -> nn.Module:
    """A deep copy of ``model`` with ``plan[path]`` output channels removed from each named layer's group,
    those of smallest L2 norm, every coupled layer kept consistent. ``model`` is untouched."""
    pruned = _copy(model)
    graph = _graph(pruned, example_inputs)
    removals = _removals(_groups(graph, pruned), plan)
    # Choose every group's channels first, on the unpruned weights: pruning one group removes input
    # channels of the next, which would otherwise change the norms the next choice reads.
    chosen = []
    for group, count in removals:
        root = pruned.get_submodule(group.members[0])
        order = torch.argsort(_group_norms(graph, pruned, root), stable=True)
        chosen.append((root, sorted(order[:count].tolist())))
    for root, indices in chosen:
        pruner = graph.get_pruner_of_module(root)
        graph.get_pruning_group(root, pruner.prune_out_channels, indices).prune()
    return pruned


def width_plan(model: nn.Module, example_inputs: Any, alpha: float) -> dict[str, int]:
    """Every prunable group kept at ``round(alpha * channels)`` channels (at least one): a width
    multiplier, as MobileNet's, applied to the model as built."""
    if not 0 < alpha <= 1:
        raise PruningError(f"a width multiplier is in (0, 1], got {alpha:g}")
    twin = _copy(model)
    return {
        group.members[0]: group.channels - max(1, round(alpha * group.channels))
        for group in _groups(_graph(twin, example_inputs), twin)
    }


def global_plan(model: nn.Module, example_inputs: Any, fraction: float) -> dict[str, int]:
    """The ``fraction`` of all prunable channels with the smallest norms, across every group at once.

    Raw norms do not compare across layers (a filter's norm grows with its fan-in), so each group's
    norms are divided by their mean first, as Torch-Pruning's global pruning normalizes importance.
    Every group keeps at least one channel."""
    if not 0 <= fraction < 1:
        raise PruningError(f"a pruning fraction is in [0, 1), got {fraction:g}")
    twin = _copy(model)
    graph = _graph(twin, example_inputs)
    groups = _groups(graph, twin)
    scores = []
    for index, group in enumerate(groups):
        norms = _group_norms(graph, twin, twin.get_submodule(group.members[0]))
        relative = norms / norms.mean().clamp_min(torch.finfo(norms.dtype).tiny)
        scores += [(value, index) for value in relative.tolist()]
    scores.sort(key=lambda score: score[0])
    removed = [0] * len(groups)
    for _, index in scores[: math.floor(fraction * len(scores))]:
        if removed[index] < groups[index].channels - 1:
            removed[index] += 1
    return {group.members[0]: count for group, count in zip(groups, removed) if count}
