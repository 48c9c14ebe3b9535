"""G3: network fragmentation reduces the degree of parallelism (doc: ``rules/G3.md``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from netprof.costs import Category
from netprof.metrics import Block, Branch, GraphMetrics
from netprof.rules.base import Finding, RuleContext, Severity, Status, finding, human_bytes


def _fork_reads(metrics: GraphMetrics, branch: Branch, fork: int) -> dict[int, int]:
    """The branch's ops that read the fork's tensor (directly or through views of it), with the
    bytes each reads: a branch that reads one column of it (a per-class score) reads that much."""
    flow = metrics.flow
    inputs = {meta: node_id for node_id, meta in flow.input_metas.items()}
    reads: dict[int, int] = {}
    for n in branch.ops:
        if flow.is_view(n):
            continue
        node = flow.nodes[n]
        for producer, meta in zip(node.inputs, node.input_metas):
            source = inputs.get(meta) if producer is None else producer
            while (
                source is not None
                and source != fork
                and flow.is_view(source)
                and len(flow.preds[source]) == 1
            ):
                source = flow.preds[source][0]
            if source == fork:
                reads[n] = reads.get(n, 0) + meta.nbytes
    return reads


def split_merge_bytes(metrics: GraphMetrics, block: Block) -> int:
    """Memory access that exists only because the block branches: every op of a compute branch
    that reads the fork's tensor, past the first, re-reads what it reads of it (at most the whole
    tensor), and every join reads and writes its branches. An op on the paths to several joins of
    the block is counted once."""
    readers: dict[int, dict[int, int]] = {}  # fork -> {reading op: bytes}
    cost = 0
    for join in block.joins:
        for branch in join.branches:
            if branch.has_compute:
                readers.setdefault(join.fork, {}).update(_fork_reads(metrics, branch, join.fork))
        cost += metrics.flow.nodes[join.join].mem_access_bytes
    for fork, reads in readers.items():
        if len(reads) > 1:
            whole = metrics.flow.output_bytes(fork)
            parts = sorted((min(b, whole) for b in reads.values()), reverse=True)
            cost += sum(parts[1:])  # the first read is the block's own, past it the branching's
    return cost


_ATTENTION = str(Category.ATTENTION)


def has_attention(metrics: GraphMetrics, block: Block) -> bool:
    """Whether the block runs attention (fused, or its products unfused): a transformer or hybrid
    block, whose fix is said in those terms."""
    nodes = metrics.flow.nodes
    return any(nodes[n].category == _ATTENTION and nodes[n].mult_adds > 0 for n in block.ops)


class Fragmentation:
    id: ClassVar[str] = "G3"
    title: ClassVar[str] = "network-fragmentation"
    tags: ClassVar[tuple[str, ...]] = ("performance", "shufflenet-v2")
    status: ClassVar[Status] = Status.STABLE
    default_severity: ClassVar[Severity] = Severity.WARNING
    default_options: ClassVar[Mapping[str, Any]] = {"max_parallel_branches": 2, "max_fragments": 10}
    option_docs: ClassVar[Mapping[str, str]] = {
        "max_parallel_branches": "most branches with compute allowed at one join (identity shortcuts are free)",
        "max_fragments": "most conv / gemm / attention / pooling ops allowed in one block",
    }

    def check(self, context: RuleContext, options: Mapping[str, Any]) -> Iterator[Finding]:
        max_branches, max_fragments = options["max_parallel_branches"], options["max_fragments"]
        for block in context.metrics.blocks.values():
            too_wide = block.compute_branches > max_branches
            too_many = block.fragments > max_fragments
            if not (too_wide or too_many):
                continue
            cost = split_merge_bytes(context.metrics, block)
            hybrid = has_attention(context.metrics, block)
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
                if hybrid:
                    fix += (
                        "; in a token mixer, keep one path (pooling, conv or attention) per block, or"
                        " reparameterize the parallel conv and batch-norm branches into one conv at inference"
                        " as RepVGG, MobileOne and FastViT's RepMixer do"
                    )
            else:
                measured, threshold = block.fragments, max_fragments
                message = (
                    f"block has {block.fragments} fragments (threshold {max_fragments}),"
                    f" longest chain {block.longest_chain}"
                )
                if hybrid:
                    fix = (
                        f"cut the block to at most {max_fragments} fragments (convs, linear layers, attention):"
                        " run fewer, wider transformer layers, fuse q, k and v into one projection and"
                        " attention into one kernel (F.scaled_dot_product_attention), and keep attention to"
                        " the low-resolution stages, as EfficientFormer and MobileNetV4 do"
                    )
                else:
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
