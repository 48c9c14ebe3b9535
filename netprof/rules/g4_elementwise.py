"""G4: element-wise operations are non-negligible (doc: ``rules/G4.md``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from netprof.metrics import ElementwiseShare, is_elementwise
from netprof.metrics import elementwise as kinds
from netprof.rules.base import Finding, RuleContext, Severity, Status, finding, human_bytes

TOP_BLOCKS = 3  # how many of the worst blocks a model-level finding names
NAMED_KIND_SHARE = 0.05  # a kind with less of the element-wise bytes gets no advice of its own

# What removes each kind of element-wise traffic, in a transformer's or a hybrid's terms.
_ADVICE = {
    kinds.LAYER_NORM: (
        "keep each LayerNorm pre-norm, right before a linear, so that its scale and shift fold into that"
        " linear's weights and a fused kernel does the rest, or use BatchNorm, which folds away entirely"
        " at inference, as EfficientFormer, RepViT and FastViT do"
    ),
    kinds.SOFTMAX: (
        "run attention through a fused kernel (F.scaled_dot_product_attention, FlashAttention) so that"
        " the scores' scaling, mask and softmax never reach memory"
    ),
    kinds.ATTENTION_SCALE_MASK: (
        "run attention through a fused kernel (F.scaled_dot_product_attention, FlashAttention) so that"
        " the scores' scaling, mask and softmax never reach memory"
    ),
    kinds.ACTIVATION: "fuse each GELU or other activation into the linear or conv before it",
    kinds.ADD: "fuse residual and bias adds into the epilogue of the projection before them",
    kinds.LAYER_SCALE: (
        "fold layer scale into the weights and bias of the linear or conv before it at inference"
        " (it is a per-channel multiply)"
    ),
    kinds.BATCH_NORM: "fold batch norm into the preceding conv or linear for inference",
    kinds.DEPTHWISE: "keep depthwise convs and their norm and activation off the widest maps, fused into one kernel",
    kinds.OTHER_NORM: "fold or fuse the normalization into the linear or conv next to it",
}
# Kinds only transformers and hybrids have: with any of them, the finding speaks their language.
_TRANSFORMER_KINDS = (kinds.LAYER_NORM, kinds.SOFTMAX, kinds.ATTENTION_SCALE_MASK, kinds.LAYER_SCALE)


def _transformer_like(share: ElementwiseShare) -> bool:
    return any(share.kind_share(kind) >= NAMED_KIND_SHARE for kind in _TRANSFORMER_KINDS)


def _what(share: ElementwiseShare) -> str:
    """The ops counted, as the message names them."""
    if not _transformer_like(share):
        return "activations, adds, normalization, depthwise convs"
    named = [(kind, share.kind_share(kind)) for kind, _ in share.kinds]
    return ", ".join(f"{kind} {part:.0%}" for kind, part in named[:5] if part >= NAMED_KIND_SHARE)


def _fix(share: ElementwiseShare) -> str:
    if not _transformer_like(share):
        return (
            "fold batch norm into the preceding conv for inference and fuse each activation and"
            " shortcut add into the kernel before it; keep ReLU and adds off the widest feature maps"
            " (remove the ReLU after a projection, replace an add shortcut by a channel split and"
            " concat as ShuffleNet V2 does)"
        )
    advice: list[str] = []
    for kind, _ in share.kinds:  # most bytes first
        text = _ADVICE.get(kind)
        if text and share.kind_share(kind) >= NAMED_KIND_SHARE and text not in advice:
            advice.append(text)
    return "; ".join(advice)


class Elementwise:
    id: ClassVar[str] = "G4"
    title: ClassVar[str] = "elementwise-operations"
    tags: ClassVar[tuple[str, ...]] = ("performance", "shufflenet-v2")
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
                f"element-wise ops ({_what(share)}) make"
                f" {share.share:.0%} of this {where}'s memory access (threshold {limit:.0%})"
                f" for {share.mult_adds_share:.1%} of its multiply-adds{said}"
            ),
            measured=share.share,
            threshold=limit,
            cost_bytes=share.mem_access_bytes,
            fix=_fix(share) + (f"; start with {named}" if named else ""),
            evidence={
                "share": share.share,
                "mult_adds_share": share.mult_adds_share,
                "elementwise_ops": share.ops,
                "elementwise_bytes": share.mem_access_bytes,
                "total_bytes": share.total_mem_access_bytes,
                "kinds": dict(share.kinds),
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
    return [op.id for op in ops if is_elementwise(op)]


RULE = Elementwise()
