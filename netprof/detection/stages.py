"""A detector's stages, found from its module tree: ``preprocess``, ``backbone``, ``neck``, ``head``,
``postprocess``.

A detector's latency is not its backbone's: the feature pyramid, the per-level heads, anchor decoding
and non-maximum suppression run at every frame, and post-processing costs time at almost no
multiply-adds. torchvision's detectors name their parts the same way, so the stages are read from the
module paths an analysis already has, not from the classes:

- ``backbone``: ``backbone.body`` where a feature pyramid sits beside it (``backbone.fpn``, the neck:
  Faster R-CNN, RetinaNet, FCOS); ``backbone.features`` where extra layers extend it
  (``backbone.extra``, the neck: SSD, SSDLite); else ``backbone``;
- ``head``: ``head`` (SSD, RetinaNet, FCOS), or the region proposal network's ``rpn.head`` and the
  box, mask and keypoint modules inside ``roi_heads`` (two-stage detectors);
- every other op (the input transform, anchor generation, box decoding, score filtering, NMS, the
  proposals' selection, rescaling boxes) is ``preprocess`` when it runs before the backbone's first
  op and ``postprocess`` after it.

ultralytics-style detectors (and ``netprof.zoo.yolo``) are a layer list instead (``_layer_list``).
A model that is neither is not a detector here: ``split`` returns ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netprof.analysis import Analysis, ModuleSummary, Totals
from netprof.module_paths import ancestors

STAGES = ("preprocess", "backbone", "neck", "head", "postprocess")
_LAYER = re.compile(r"model\.\d+")
_OUTSIDE = "(outside the named modules)"


@dataclass(frozen=True)
class Stage:
    """One stage: the modules it covers, its counts, and its measured and predicted op seconds."""

    name: str
    modules: tuple[str, ...]
    totals: Totals
    params: int
    time_s: float | None = None  # the sum of its ops' measured medians, when timed
    predicted_s: float | None = None  # the sum of its ops' predicted seconds, with a prediction


def _layer_list(modules: Sequence[ModuleSummary]) -> dict[str, str] | None:
    """An ultralytics-style detector: a layer list ``model.0`` ... ``model.N`` whose last layer is the
    detection head (a ``Detect``). The neck starts at the first layer that upsamples or concatenates
    (a feature pyramid); the head's convolution branches are the head, and its own ops (decoding the
    boxes: the distribution's expected value, the anchors, the scores' sigmoid) post-processing."""
    types = {summary.path: summary.type for summary in modules}
    layers = sorted((p for p in types if _LAYER.fullmatch(p)), key=lambda p: int(p.rpartition(".")[2]))
    if not layers or not types[layers[-1]].startswith("Detect"):
        return None
    head = layers[-1]
    neck = next((i for i, p in enumerate(layers) if types[p] in ("Upsample", "Concat")), len(layers) - 1)
    found = {p: "backbone" for p in layers[:neck]} | {p: "neck" for p in layers[neck:-1]}
    found[head] = "postprocess"
    branches = [p for p in types if p.startswith(head + ".") and p.count(".") == 2 and types[p] != "DFL"]
    return found | {p: "head" for p in branches}


def module_stages(modules: Sequence[ModuleSummary]) -> dict[str, str] | None:
    """Module path -> stage for the modules that name one, or ``None`` for a model that is no detector."""
    listed = _layer_list(modules)
    if listed is not None:
        return listed
    paths = {summary.path for summary in modules}
    two_stage = {"rpn", "roi_heads"} <= paths
    if "backbone" not in paths or not ("head" in paths or two_stage):
        return None
    found: dict[str, str] = {}
    if {"backbone.body", "backbone.fpn"} <= paths:
        found |= {"backbone.body": "backbone", "backbone.fpn": "neck"}
    elif {"backbone.features", "backbone.extra"} <= paths:
        found |= {"backbone.features": "backbone", "backbone.extra": "neck"}
    else:
        found["backbone"] = "backbone"
    if "head" in paths:
        found["head"] = "head"
    if two_stage:
        if "rpn.head" in paths:
            found["rpn.head"] = "head"
        found |= {path: "head" for path in paths if path.count(".") == 1 and path.startswith("roi_heads.")}
    return found


def _named_ancestor(module: str, named: Mapping[str, str]) -> str | None:
    """The innermost path of ``named`` that is ``module`` or a module around it."""
    return next((path for path in reversed(ancestors(module)) if path in named), None)


def _stage_params(modules: Sequence[ModuleSummary], named: Mapping[str, str]) -> dict[str, int]:
    """Each stage's parameters: every module's own (its subtree's less its children's), counted in the
    stage of the innermost named module around it; a module in none counts in none."""
    subtree = {summary.path: summary.params for summary in modules}
    own = dict(subtree)
    for path, count in subtree.items():
        if path:
            parent = path.rpartition(".")[0]
            own[parent] = own.get(parent, 0) - count
    stages: dict[str, int] = {}
    for path, count in own.items():
        around = _named_ancestor(path, named)
        if around is not None:
            stages[named[around]] = stages.get(named[around], 0) + count
    return stages


def split(
    analysis: Analysis,
    op_seconds: Mapping[int, float] | None = None,
    op_predicted_s: Mapping[int, float] | None = None,
) -> tuple[Stage, ...] | None:
    """The analysis's stages in order (those with ops), or ``None`` if the model is no detector."""
    named = module_stages(analysis.modules)
    if named is None:
        return None
    assigned: dict[str, list[int]] = {stage: [] for stage in STAGES}
    covered: dict[str, set[str]] = {stage: set() for stage in STAGES}
    backbone_started = False
    for index, node in enumerate(analysis.ops):
        path = _named_ancestor(node.module, named)
        backbone_started = backbone_started or (path is not None and named[path] == "backbone")
        if path is None:
            stage = "postprocess" if backbone_started else "preprocess"
            covered[stage].add(node.module.split(".")[0] or _OUTSIDE)
        else:
            stage = named[path]
            covered[stage].add(path)
        assigned[stage].append(index)
    params = _stage_params(analysis.modules, named)
    stages = []
    for name in STAGES:
        indices = assigned[name]
        if not indices:
            continue
        ops = [analysis.ops[i] for i in indices]
        stages.append(
            Stage(
                name=name,
                modules=tuple(sorted(covered[name])),
                totals=sum((Totals.of(op) for op in ops), Totals()),
                params=params.get(name, 0),
                time_s=None if op_seconds is None else math.fsum(op_seconds.get(op.id, 0.0) for op in ops),
                predicted_s=None
                if op_predicted_s is None
                else math.fsum(op_predicted_s.get(op.id, 0.0) for op in ops),
            )
        )
    return tuple(stages)
