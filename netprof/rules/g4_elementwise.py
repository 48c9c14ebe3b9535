"""G4: element-wise operations are non-negligible (doc: ``rules/G4.md``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from netprof.metrics import ElementwiseShare
from netprof.metrics.dataflow import ELEMENTWISE_CATEGORIES
from netprof.rules.base import Finding, RuleContext, Severity, Status, finding, human_bytes

TOP_BLOCKS = 3  # how many of the worst blocks a model-level finding names


class Elementwise:
    id: ClassVar[str] = "G4"
    title: ClassVar[str] = "elementwise-operations"
    status: ClassVar[Status] = Status.STABLE
    default_severity: ClassVar[Severity] = Severity.INFO
    default_options: ClassVar[Mapping[str, Any]] = {"max_share": 0.6, "per_block": False}
    option_docs: ClassVar[Mapping[str, str]] = {
        "max_share": "largest allowed share of memory access in element-wise ops",
        "per_block": "one finding per block over the threshold instead of one for the model",
    }

    def check(self, context: RuleContext, options: Mapping[str, Any]) -> Iterator[Finding]:
        shares = context.metrics.elementwise
        blocks = sorted((s for path, s in shares.items() if path), key=lambda s: -s.mem_access_bytes)
        limit = options["max_share"]
        if options["per_block"]:
            for share in blocks:
                if share.share > limit:
                    yield self._finding(context, share, limit, [])
        elif shares[""].share > limit:
            yield self._finding(context, shares[""], limit, blocks[:TOP_BLOCKS])

    def _finding(
        self, context: RuleContext, share: ElementwiseShare, limit: float, worst: list[ElementwiseShare]
    ) -> Finding:
        where = "model" if not share.path else "block"
        said, timed = context.costs(elementwise_op_ids(context, share.path))
        named = ", ".join(f"{s.path} ({human_bytes(s.mem_access_bytes)})" for s in worst)
        return finding(
            self,
            context,
            share.path,
            message=(
                f"element-wise ops (activations, adds, normalization, depthwise convs) make"
                f" {share.share:.0%} of this {where}'s memory access (threshold {limit:.0%})"
                f" for {share.mult_adds_share:.1%} of its multiply-adds{said}"
            ),
            measured=share.share,
            threshold=limit,
            cost_bytes=share.mem_access_bytes,
            fix=(
                "fold batch norm into the preceding conv for inference and fuse each activation and"
                " shortcut add into the kernel before it; keep ReLU and adds off the widest feature maps"
                " (remove the ReLU after a projection, replace an add shortcut by a channel split and"
                " concat as ShuffleNet V2 does)" + (f"; start with {named}" if named else "")
            ),
            evidence={
                "share": share.share,
                "mult_adds_share": share.mult_adds_share,
                "elementwise_ops": share.ops,
                "elementwise_bytes": share.mem_access_bytes,
                "total_bytes": share.total_mem_access_bytes,
                "worst_blocks": [
                    {"module": s.path, "bytes": s.mem_access_bytes, "share": s.share} for s in worst
                ],
                **timed,
            },
        )


def elementwise_op_ids(context: RuleContext, path: str) -> list[int]:
    """The element-wise ops of the model (path "") or of one block, as the G4 share counts them."""
    ops = context.analysis.ops
    if path:
        ops = [ops[i] for i in context.metrics.blocks[path].ops]
    return [op.id for op in ops if op.category in ELEMENTWISE_CATEGORIES]


RULE = Elementwise()
