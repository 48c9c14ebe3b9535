"""G2: excessive group convolution increases memory access cost (doc: ``rules/G2.md``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from netprof.rules.base import Finding, RuleContext, Severity, Status, conv_finding, human_bytes


class GroupConvolution:
    id: ClassVar[str] = "G2"
    title: ClassVar[str] = "excessive-group-convolution"
    tags: ClassVar[tuple[str, ...]] = ("performance", "shufflenet-v2")
    status: ClassVar[Status] = Status.STABLE
    default_severity: ClassVar[Severity] = Severity.WARNING
    default_options: ClassVar[Mapping[str, Any]] = {"max_groups": 1}
    option_docs: ClassVar[Mapping[str, str]] = {
        "max_groups": "largest allowed group count of a conv that is not depthwise",
    }

    def check(self, context: RuleContext, options: Mapping[str, Any]) -> Iterator[Finding]:
        limit = options["max_groups"]
        for conv in context.metrics.conv_calls():
            # Depthwise convs have one group per channel by design; their cost is G4's.
            if conv.depthwise or conv.groups <= limit or conv.dense_mac_elements is None:
                continue
            yield conv_finding(
                self,
                context,
                conv,
                message=(
                    f"{conv.kernel_text} conv {conv.c_in}->{conv.c_out} has {conv.groups} groups (threshold {limit});"
                    f" it moves {conv.mac_elements / conv.dense_mac_elements:.2f}x the memory access of a dense conv"
                    " with the same input and FLOPs"
                ),
                measured=conv.groups,
                threshold=limit,
                cost_bytes=conv.group_excess_bytes,
                fix=(
                    f"use groups=1 for this {conv.kernel_text} conv: a dense {conv.c_in}->{conv.c_out // conv.groups}"
                    " conv"
                    f" has the same multiply-adds and saves {human_bytes(conv.group_excess_bytes)} of memory"
                    " access; or split the channels and run a dense conv on one half, as ShuffleNet V2 does"
                ),
                evidence={"dense_mac_elements": conv.dense_mac_elements},
            )


RULE = GroupConvolution()
