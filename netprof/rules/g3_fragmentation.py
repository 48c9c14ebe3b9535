"""G3: network fragmentation reduces the degree of parallelism (doc: ``rules/G3.md``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from netprof.metrics import Block, GraphMetrics
from netprof.rules.base import Finding, RuleContext, Severity, Status, finding, human_bytes


def split_merge_bytes(metrics: GraphMetrics, block: Block) -> int:
    """Memory access that exists only because the block branches: every compute branch
    past the first re-reads the fork's tensor, and the join reads and writes them all."""
    cost = 0
    for join in block.joins:
        cost += max(0, join.compute_branches - 1) * metrics.flow.output_bytes(join.fork)
        cost += metrics.flow.nodes[join.join].mem_access_bytes
    return cost


class Fragmentation:
    id: ClassVar[str] = "G3"
    title: ClassVar[str] = "network-fragmentation"
    status: ClassVar[Status] = Status.STABLE
    default_severity: ClassVar[Severity] = Severity.WARNING
    default_options: ClassVar[Mapping[str, Any]] = {"max_parallel_branches": 2, "max_fragments": 10}
    option_docs: ClassVar[Mapping[str, str]] = {
        "max_parallel_branches": "most branches with compute allowed at one join (identity shortcuts are free)",
        "max_fragments": "most conv / gemm / pooling ops allowed in one block",
    }

    def check(self, context: RuleContext, options: Mapping[str, Any]) -> Iterator[Finding]:
        max_branches, max_fragments = options["max_parallel_branches"], options["max_fragments"]
        for block in context.metrics.blocks.values():
            too_wide = block.compute_branches > max_branches
            too_many = block.fragments > max_fragments
            if not (too_wide or too_many):
                continue
            cost = split_merge_bytes(context.metrics, block)
            if too_wide:
                measured, threshold = block.compute_branches, max_branches
                message = (
                    f"block runs {block.compute_branches} parallel branches with compute"
                    f" (threshold {max_branches}); {block.fragments} fragments, longest chain"
                    f" {block.longest_chain}"
                )
                fix = (
                    f"merge the {block.compute_branches} branches into at most {max_branches}: fuse the"
                    " parallel 1x1 convs that read the same input into one wider conv and split its"
                    " output, or replace the block by a channel split with one conv branch and one"
                    f" identity branch as ShuffleNet V2 does; the split and merge move {human_bytes(cost)}"
                )
            else:
                measured, threshold = block.fragments, max_fragments
                message = (
                    f"block has {block.fragments} fragments (threshold {max_fragments}),"
                    f" longest chain {block.longest_chain}"
                )
                fix = (
                    f"cut the block to at most {max_fragments} conv / pooling ops: fuse consecutive 1x1 convs"
                    " into one, drop pooling branches, and prefer fewer, wider convs"
                )
            said, timed = context.costs(block.ops)
            yield finding(
                self,
                context,
                block.path,
                message=message + said,
                measured=measured,
                threshold=threshold,
                cost_bytes=cost,
                fix=fix,
                evidence={
                    "kind": block.kind,
                    "fragments": block.fragments,
                    "parallel_branches": block.parallel_branches,
                    "compute_branches": block.compute_branches,
                    "identity_branches": block.identity_branches,
                    "longest_chain": block.longest_chain,
                    "branch_fragments": [[b.fragments for b in join.branches] for join in block.joins],
                    **timed,
                },
            )


RULE = Fragmentation()
