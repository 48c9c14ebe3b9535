"""D1: a detector's post-processing takes a large share of its time at almost no multiply-adds
(doc: ``rules/D1.md``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from netprof.detection import Stage, split
from netprof.rules.base import Finding, RuleContext, Severity, Status, finding
from netprof.units import seconds

_FIX = (
    "cut the candidate boxes before NMS: a higher score threshold and fewer candidates per level "
    "(torchvision: score_thresh, topk_candidates, detections_per_img; rpn_post_nms_top_n_test for the "
    "proposals), one class-agnostic or batched NMS instead of one per class, or an NMS-free head "
    "(YOLOv10's one-to-one assignment selects with a top-k)"
)


def _seconds(stage: Stage, basis: str) -> float:
    return (stage.time_s if basis == "measured" else stage.predicted_s) or 0.0


class PostProcessing:
    id: ClassVar[str] = "D1"
    title: ClassVar[str] = "detector-postprocessing"
    tags: ClassVar[tuple[str, ...]] = ("performance", "detection")
    status: ClassVar[Status] = Status.STABLE
    default_severity: ClassVar[Severity] = Severity.WARNING
    default_options: ClassVar[Mapping[str, Any]] = {"max_time_share": 0.1, "max_mult_adds_share": 0.01}
    option_docs: ClassVar[Mapping[str, str]] = {
        "max_time_share": "largest allowed share of the ops' time (measured, else predicted) in post-processing",
        "max_mult_adds_share": "post-processing at most this share of the multiply-adds counts as doing none",
    }

    def check(self, context: RuleContext, options: Mapping[str, Any]) -> Iterator[Finding]:
        stages = split(context.analysis, context.op_seconds, context.op_predicted_s, context.stage_modules)
        if stages is None:
            return
        basis = "measured" if context.op_seconds else "predicted" if context.op_predicted_s else None
        post = next((stage for stage in stages if stage.name == "postprocess"), None)
        if basis is None or post is None:
            return

        total_s = sum(_seconds(stage, basis) for stage in stages)
        mult_adds = context.analysis.totals.mult_adds
        time_share = _seconds(post, basis) / total_s if total_s else 0.0
        mult_adds_share = post.totals.mult_adds / mult_adds if mult_adds else 0.0
        if time_share <= options["max_time_share"] or mult_adds_share > options["max_mult_adds_share"]:
            return
        yield finding(
            self,
            context,
            "",
            message=(
                f"post-processing (box decoding, score filtering, NMS: {', '.join(post.modules)}) takes "
                f"{time_share:.0%} of the {basis} op time ({seconds(_seconds(post, basis))}) at "
                f"{mult_adds_share:.1%} of the multiply-adds (threshold {options['max_time_share']:.0%})"
            ),
            measured=time_share,
            threshold=options["max_time_share"],
            cost_bytes=post.totals.mem_access_bytes,
            fix=_FIX,
            evidence={
                "basis": basis,
                "time_share": time_share,
                "time_s": _seconds(post, basis),
                "mult_adds_share": mult_adds_share,
                "ops": post.totals.ops,
                "stages": {stage.name: _seconds(stage, basis) for stage in stages},
            },
        )


RULE = PostProcessing()
