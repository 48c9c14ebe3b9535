"""G1: equal channel width minimizes memory access cost (doc: ``rules/G1.md``).

Checked on every 1x1 convolution and every linear map applied per position (a linear layer
over ``T`` tokens is a 1x1 conv with ``hw = T``): ``netprof.metrics.convs``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from netprof.metrics import BODY, LINEAR, ConvMetrics
from netprof.rules.base import Finding, RuleContext, Severity, Status, conv_finding, human_bytes


def _linear_advice(conv: ConvMetrics) -> str:
    """What a transformer designer can change, after the width advice every pointwise map gets."""
    if conv.c_out == 3 * conv.c_in:
        return (
            "; for a fused q/k/v projection (c_out = 3 x c_in) narrow q and k to a smaller key"
            " dimension, as LeViT and EfficientViT do"
        )
    return (
        "; in a transformer MLP, a lower expansion ratio (2 instead of 4) with a wider model keeps"
        " the multiply-adds at less memory access"
    )


class EqualChannels:
    id: ClassVar[str] = "G1"
    title: ClassVar[str] = "equal-channel-width"
    tags: ClassVar[tuple[str, ...]] = ("performance", "shufflenet-v2")
    status: ClassVar[Status] = Status.STABLE
    default_severity: ClassVar[Severity] = Severity.WARNING
    default_options: ClassVar[Mapping[str, Any]] = {
        "max_ratio": 1.15,
        "pointwise_only": True,
        "exempt_stem_and_head": True,
    }
    option_docs: ClassVar[Mapping[str, str]] = {
        "max_ratio": "largest allowed MAC / least MAC at the same FLOPs (1.0 = equal widths)",
        "pointwise_only": "check 1x1 convs (and linear maps, which are 1x1) only, where the paper's bound holds",
        "exempt_stem_and_head": "skip convs and linear maps before the first block and after the last one",
    }

    def check(self, context: RuleContext, options: Mapping[str, Any]) -> Iterator[Finding]:
        for conv in context.metrics.pointwise_maps():
            if conv.depthwise or (options["pointwise_only"] and not conv.pointwise):
                continue
            if options["exempt_stem_and_head"] and conv.position != BODY:
                continue
            if conv.width_ratio <= options["max_ratio"]:
                continue
            equal = max(conv.groups, round(math.sqrt(conv.c_in * conv.c_out) / conv.groups) * conv.groups)
            name = conv.name
            yield conv_finding(
                self,
                context,
                conv,
                message=(
                    f"{name} {conv.c_in}->{conv.c_out} (1:{max(conv.c_in, conv.c_out) / min(conv.c_in, conv.c_out):.1f})"
                    f" moves {conv.width_ratio:.2f}x the least memory access at its FLOPs"
                    f" (threshold {options['max_ratio']:.2f})"
                ),
                measured=conv.width_ratio,
                threshold=options["max_ratio"],
                cost_bytes=conv.width_excess_bytes,
                fix=(
                    f"make c_in and c_out of this {name} equal, e.g. {equal}->{equal}, which keeps its"
                    f" multiply-adds and saves {human_bytes(conv.width_excess_bytes)} of memory access; in a"
                    " bottleneck, widen the thin side and narrow the thick one, or split channels and keep"
                    " every conv width-preserving as ShuffleNet V2 does"
                    + (_linear_advice(conv) if conv.operator == LINEAR else "")
                ),
                evidence={
                    "balanced_mac_elements": round(conv.balanced_mac_elements),
                    "g1_bound_elements": None if conv.g1_bound is None else round(conv.g1_bound),
                    "g1_ratio": conv.g1_ratio,
                },
            )


RULE = EqualChannels()
