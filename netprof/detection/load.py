"""A detector's post-processing as a function of its load: the candidate boxes that reach NMS.

How many boxes a detector's non-maximum suppression sees is set by its score threshold and its
top-k caps, and on a trained model by the image. ``with_candidates`` sets those knobs on a copy of
a torchvision detector so that about ``n`` boxes reach NMS whatever the weights (untrained ones
included): the score threshold off and the top-k caps sized for ``n``, or, with no cap to size, the
threshold set for ``n``.

- ``SSD``: every class keeps its ``topk_candidates`` best boxes; each of the ``C - 1`` classes keeps
  ``ceil(n / (C - 1))``, so fewer than ``C - 1`` boxes (90 for COCO) cannot be asked for.
- ``RetinaNet``, ``FCOS``: every feature level keeps its ``topk_candidates`` best (box, class) pairs;
  each of the ``L`` levels keeps ``ceil(n / L)``.
- ``netprof.zoo``'s YOLO built with ``nms=True``: the best ``n`` of all anchors (each its best class).
- Two-stage (``rpn`` and ``roi_heads``: Faster, Mask and Keypoint R-CNN): every proposal has a box per
  class and no top-k cap, so the score threshold is set where ``n`` of this input's (proposal, class)
  scores lie above it, read from one run (the proposals, and the box head's work, stay as built).

The boxes a run's NMS received are read back from its capture (``nms_boxes``), so a report shows
what ran, not what was asked for.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from netprof.analysis import Analysis
from netprof.detection.stages import Stage
from netprof.errors import NetprofError

NMS_OP = "torchvision.nms.default"


class DetectionLoadError(NetprofError):
    """A model whose post-processing netprof cannot load with a given number of candidate boxes."""


@dataclass(frozen=True)
class LoadPoint:
    """The post-processing of one run at a load: ``candidates`` asked for, ``nms_boxes`` received."""

    candidates: int
    nms_boxes: int
    nms_calls: int
    postprocess: Stage
    ops_s: float | None  # every op's measured seconds, summed: the share's denominator
    predicted_ops_s: float | None  # the same, predicted


def with_candidates(
    model: nn.Module, candidates: int, inputs: Sequence[Any] | None = None
) -> tuple[nn.Module, str]:
    """A copy of the torchvision detector ``model`` whose NMS receives about ``candidates`` boxes, and a
    note that says how; ``model`` itself is left as it is. A two-stage detector's threshold is read from
    one run on ``inputs`` (without them, on meta, its threshold is left as built)."""
    if candidates < 1:
        raise DetectionLoadError(f"--detections: {candidates} candidate boxes: give a positive count")
    kind = type(model).__name__
    twin = copy.deepcopy(model)
    if isinstance(getattr(twin, "rpn", None), nn.Module) and isinstance(
        getattr(twin, "roi_heads", None), nn.Module
    ):
        if inputs is None:
            return twin, f"{candidates} candidate boxes: not set on meta (the threshold needs a run)"
        threshold, above, scored = _score_threshold(twin, inputs, candidates)
        twin.roi_heads.score_thresh = threshold
        return twin, (
            f"{candidates} candidate boxes: score threshold {threshold:.4g}, above which {above:,} "
            f"of the {scored:,} (proposal, class) scores of this input lie"
        )
    if not all(hasattr(twin, knob) for knob in ("score_thresh", "topk_candidates")):
        raise DetectionLoadError(
            f"--detections: {kind} has no score threshold and top-k candidates to set (torchvision's SSD, "
            "RetinaNet, FCOS and R-CNN detectors have, and netprof.zoo's yolo(nms=True)); its NMS load cannot be chosen"
        )
    twin.score_thresh = 0.0
    if kind == "SSD":
        classes = twin.head.classification_head.num_columns - 1
        twin.topk_candidates = math.ceil(candidates / classes)
        return twin, (
            f"{candidates} candidate boxes: the best {twin.topk_candidates} of each of {classes} classes, "
            "score threshold off"
        )
    if not hasattr(twin, "anchor_generator"):  # one top-k over all (netprof.zoo's YOLO with nms=True)
        twin.topk_candidates = candidates
        return twin, f"{candidates} candidate boxes: the best {candidates} of all, score threshold off"
    levels = len(twin.anchor_generator.sizes)
    twin.topk_candidates = math.ceil(candidates / levels)
    return twin, (
        f"{candidates} candidate boxes: the best {twin.topk_candidates} of each of {levels} feature levels, "
        "score threshold off"
    )


def _score_threshold(detector: nn.Module, inputs: Sequence[Any], candidates: int) -> tuple[float, int, int]:
    """The class score above which ``candidates`` (or, with ties, a few more) of the R-CNN's (proposal,
    class) scores lie on ``inputs``, how many lie above it and how many there are: one run with a hook on
    the box predictor, whose class logits ``roi_heads`` turns into scores by a softmax, background dropped."""
    logits: list[torch.Tensor] = []
    hook = detector.roi_heads.box_predictor.register_forward_hook(lambda m, i, out: logits.append(out[0]))
    training = detector.training
    try:
        with torch.no_grad():
            detector.eval()(*inputs)  # as the analysis runs it: a detector in training wants targets
    finally:
        hook.remove()
        detector.train(training)
    scores = torch.softmax(logits[0], -1)[:, 1:].flatten()
    # roi_heads keeps scores > threshold: the highest score below the candidates-th best keeps it and
    # every score tied with it (an untrained head scores identical proposals alike)
    cutoff = scores.topk(min(candidates, scores.numel())).values[-1]
    below = scores[scores < cutoff]
    threshold = float(below.max()) if below.numel() else 0.0
    return threshold, int((scores > threshold).sum()), scores.numel()


def nms_boxes(analysis: Analysis) -> tuple[int, int]:
    """``(boxes, calls)``: the boxes every NMS call of the captured run received, summed, and the calls."""
    counts = [node.input_metas[0].shape[0] for node in analysis.ops if node.op == NMS_OP]
    return sum(counts), len(counts)


def load_point(
    candidates: int,
    analysis: Analysis,
    stages: Sequence[Stage] | None,
    op_seconds: Mapping[int, float] | None,
    op_predicted_s: Mapping[int, float] | None,
) -> LoadPoint:
    """What post-processing did at ``candidates``: its stage (of ``stages``, the run's ``split``), the
    boxes NMS saw and every op's time."""
    if stages is None:
        raise DetectionLoadError(
            f"--detections: {analysis.model} is not a detector netprof can split into stages"
        )
    postprocess = next((stage for stage in stages if stage.name == "postprocess"), None)
    if postprocess is None:
        raise DetectionLoadError(f"--detections: {analysis.model} runs no post-processing after its backbone")
    boxes, calls = nms_boxes(analysis)
    return LoadPoint(
        candidates,
        boxes,
        calls,
        postprocess,
        None if op_seconds is None else math.fsum(op_seconds.values()),
        None if op_predicted_s is None else math.fsum(op_predicted_s.values()),
    )
