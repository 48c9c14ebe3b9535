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
  proposals' selection, rescaling boxes) is ``preprocess`` when it runs before the first op of the
  backbone (or of the neck or head, for stages set by hand without one) and ``postprocess`` after it.

ultralytics-style detectors (and ``netprof.zoo.yolo``) are a layer list instead (``_layer_list``).

``stage_modules`` (``[tool.netprof.stages]``: stage -> module paths or ``fnmatch`` globs) overrides the
module names for a model whose parts are named otherwise: a module it names takes that stage, with
every module inside it, in place of what the names above gave them (a module inside a named one that
it names too takes its own stage: the innermost named module decides). A model the names above do not
make a detector is one when it names any of its modules. A model that is neither is not a detector
here: ``split`` returns ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from netprof.analysis import Analysis, ModuleSummary, Totals
from netprof.errors import NetprofError
from netprof.module_paths import ancestors

STAGES = ("preprocess", "backbone", "neck", "head", "postprocess")
_LAYER = re.compile(r"model\.\d+")
_BODY = ("backbone", "neck", "head")  # an unnamed op after the first of theirs is post-processing
_OUTSIDE = "(outside the named modules)"
# Where the overrides come from, as errors and notes name it.
SOURCE = "[tool.netprof.stages]"

# stage -> module paths or fnmatch globs (``[tool.netprof.stages]``)
StageModules = Mapping[str, Sequence[str]]


class StageError(NetprofError, ValueError):
    """Stage overrides that cannot be applied to a model: a module two stages name."""


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


def configured(modules: Sequence[ModuleSummary], stage_modules: StageModules) -> dict[str, str]:
    """Module path -> stage for the modules ``stage_modules`` names (a path or a glob matching it);
    a module two stages name is a ``StageError`` naming both patterns."""
    found: dict[str, tuple[str, str]] = {}
    for stage, patterns in stage_modules.items():
        if stage not in STAGES:
            raise StageError(f"{SOURCE}: unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
        for summary in modules:
            pattern = next((p for p in patterns if fnmatchcase(summary.path, p)), None)
            if pattern is None:
                continue
            if summary.path in found and found[summary.path][0] != stage:
                other, by = found[summary.path]
                raise StageError(
                    f"{SOURCE}: module {summary.path!r} is named by {other} ({by!r}) and by {stage} "
                    f"({pattern!r}); a module has one stage"
                )
            found[summary.path] = (stage, pattern)
    return {path: stage for path, (stage, _) in found.items()}


def unmatched(modules: Sequence[ModuleSummary], stage_modules: StageModules) -> list[tuple[str, str]]:
    """``(stage, pattern)`` for each pattern of ``stage_modules`` that names no module of the model."""
    paths = [summary.path for summary in modules]
    return [
        (stage, pattern)
        for stage, patterns in stage_modules.items()
        for pattern in patterns
        if not any(fnmatchcase(path, pattern) for path in paths)
    ]


def override_notes(modules: Sequence[ModuleSummary], stage_modules: StageModules) -> tuple[str, ...]:
    """A note for a detector that some of ``stage_modules``' patterns name nothing in (a typo, or a
    pattern meant for another of the configured models); nothing for a model that stays no detector.
    Overrides that cannot apply (a module two stages name) raise ``StageError`` here, before a report."""
    is_detector = module_stages(modules, stage_modules) is not None
    missing = unmatched(modules, stage_modules)
    if not missing or not is_detector:
        return ()
    listed = ", ".join(f"{stage} {pattern!r}" for stage, pattern in missing)
    return (f"{SOURCE} names no module of this model with {listed}",)


def module_stages(
    modules: Sequence[ModuleSummary], stage_modules: StageModules | None = None
) -> dict[str, str] | None:
    """Module path -> stage for the modules that name one, or ``None`` for a model that is no detector.

    ``stage_modules`` names modules' stages by hand: a module it names, and every module inside it,
    drops the stage the module names gave it."""
    found = _by_names(modules)
    chosen = configured(modules, stage_modules) if stage_modules else {}
    if not chosen:
        return found
    kept = {
        path: stage
        for path, stage in (found or {}).items()
        if not any(around in chosen for around in ancestors(path))
    }
    return kept | chosen


def _by_names(modules: Sequence[ModuleSummary]) -> dict[str, str] | None:
    """The stages torchvision's module names and ultralytics' layer lists give."""
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


def _assign(analysis: Analysis, named: Mapping[str, str]) -> list[tuple[str, str]]:
    """Each op's stage and the module that gives it (the op's top-level module outside the named ones):
    an op outside every named module is pre-processing before the first op of the backbone, neck or
    head, and post-processing after it."""
    assigned: list[tuple[str, str]] = []
    started = False
    for node in analysis.ops:
        path = _named_ancestor(node.module, named)
        started = started or (path is not None and named[path] in _BODY)
        if path is None:
            stage = "postprocess" if started else "preprocess"
            assigned.append((stage, node.module.split(".")[0] or _OUTSIDE))
        else:
            assigned.append((named[path], path))
    return assigned


def op_stages(analysis: Analysis, stage_modules: StageModules | None = None) -> dict[int, str] | None:
    """Op id -> its stage, or ``None`` if the model is no detector (``stage_modules`` as ``split``'s)."""
    named = module_stages(analysis.modules, stage_modules)
    if named is None:
        return None
    return {node.id: stage for node, (stage, _) in zip(analysis.ops, _assign(analysis, named))}


def split(
    analysis: Analysis,
    op_seconds: Mapping[int, float] | None = None,
    op_predicted_s: Mapping[int, float] | None = None,
    stage_modules: StageModules | None = None,
) -> tuple[Stage, ...] | None:
    """The analysis's stages in order (those with ops), or ``None`` if the model is no detector;
    ``stage_modules`` (stage -> module paths or globs) overrides the stages the module names give."""
    named = module_stages(analysis.modules, stage_modules)
    if named is None:
        return None
    assigned: dict[str, list[int]] = {stage: [] for stage in STAGES}
    covered: dict[str, set[str]] = {stage: set() for stage in STAGES}
    for index, (stage, module) in enumerate(_assign(analysis, named)):
        covered[stage].add(module)
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
