"""G1: equal channel width minimizes memory access cost (doc: ``rules/G1.md``)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from netprof.metrics import BODY
from netprof.rules.base import Finding, RuleContext, Severity, Status, conv_finding, human_bytes


class EqualChannels:
    id: ClassVar[str] = "G1"
    title: ClassVar[str] = "equal-channel-width"
    status: ClassVar[Status] = Status.STABLE
    default_severity: ClassVar[Severity] = Severity.WARNING
    default_options: ClassVar[Mapping[str, Any]] = {
        "max_ratio": 1.15,
        "pointwise_only": True,
        "exempt_stem_and_head": True,
    }
    option_docs: ClassVar[Mapping[str, str]] = {
        "max_ratio": "largest allowed MAC / least MAC at the same FLOPs (1.0 = equal widths)",
        "pointwise_only": "check 1x1 convs only, where the paper's bound holds",
        "exempt_stem_and_head": "skip convs before the first block and after the last one",
    }

    def check(self, context: RuleContext, options: Mapping[str, Any]) -> Iterator[Finding]:
        for conv in context.metrics.conv_calls():
            if conv.depthwise or (options["pointwise_only"] and not conv.pointwise):
                continue
            if options["exempt_stem_and_head"] and conv.position != BODY:
                continue
            if conv.width_ratio <= options["max_ratio"]:
                continue
            equal = max(conv.groups, round(math.sqrt(conv.c_in * conv.c_out) / conv.groups) * conv.groups)
            kernel = conv.kernel_text
            yield conv_finding(
                self,
                context,
                conv,
                message=(
                    f"{kernel} conv {conv.c_in}->{conv.c_out} (1:{max(conv.c_in, conv.c_out) / min(conv.c_in, conv.c_out):.1f})"
                    f" moves {conv.width_ratio:.2f}x the least memory access at its FLOPs"
                    f" (threshold {options['max_ratio']:.2f})"
                ),
                measured=conv.width_ratio,
                threshold=options["max_ratio"],
                cost_bytes=conv.width_excess_bytes,
                fix=(
                    f"make c_in and c_out of this {kernel} conv equal, e.g. {equal}->{equal}, which keeps its"
                    f" multiply-adds and saves {human_bytes(conv.width_excess_bytes)} of memory access; in a"
                    " bottleneck, widen the thin side and narrow the thick one, or split channels and keep"
                    " every conv width-preserving as ShuffleNet V2 does"
                ),
                evidence={
                    "balanced_mac_elements": round(conv.balanced_mac),
                    "g1_bound_elements": None if conv.g1_bound is None else round(conv.g1_bound),
                    "g1_ratio": conv.g1_ratio,
                },
            )


RULE = EqualChannels()
