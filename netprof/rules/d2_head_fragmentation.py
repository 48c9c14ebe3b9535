"""D2: a detector's head holds the model's most parallel branches: a conv chain per pyramid level and
per task, G3's fragmentation in a block G3 cannot find (doc: ``rules/D2.md``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from netprof.detection import op_stages
from netprof.metrics import Block, DataFlow, is_fragment
from netprof.module_paths import ancestors
from netprof.rules.base import Finding, RuleContext, Severity, Status, finding, human_bytes
from netprof.rules.g3_fragmentation import Fragmentation

_SHARED_FIX = (
    "its convs are shared across the levels but run once per level: run them once on every level at a "
    "time (the levels' maps flattened and concatenated into one tensor for 1x1 convs, packed into one "
    "padded canvas for 3x3), or predict from fewer levels"
)
_OWN_FIX = (
    "share one head across the levels and run it on the levels batched into one tensor (RetinaNet's and "
    "FCOS's heads share their convs), give each level one conv for all tasks and split its output (a "
    "coupled head, as YOLOv5's, in place of a conv chain per task), or predict from fewer levels"
)


@dataclass(frozen=True)
class HeadBranches:
    """The head's parallel branches, as G3 would count a block's.

    Attributes:
        roots: the fragments that start a branch: each reads a tensor computed outside the head
            (directly or through views), one per level and task.
        levels: the outside tensors the roots read (a feature map per pyramid level), in order.
        per_level: how many roots read each of ``levels``.
        fragments: the head's conv / gemm / attention / pooling ops.
        shared: some module runs on more than one level (RetinaNet's and FCOS's shared convs).
        reread_bytes: each level read again by every root past its first.
        merge_bytes: the memory access of the head's ops that join its own tensors (the per-level
            outputs concatenated).
    """

    roots: tuple[int, ...]
    levels: tuple[int, ...]
    per_level: tuple[int, ...]
    fragments: int
    shared: bool
    reread_bytes: int
    merge_bytes: int


def _source(flow: DataFlow, node: int) -> int:
    """The tensor a view shows (views of views looked through); a computed tensor is its own source."""
    while flow.is_view(node) and len(flow.preds[node]) == 1:
        node = flow.preds[node][0]
    return node


def head_branches(flow: DataFlow, head: Sequence[int]) -> HeadBranches:
    """The branches of the head whose ops are ``head`` (ids in execution order)."""
    inside = set(head)
    roots: list[int] = []
    read: dict[int, int] = {}  # level -> roots reading it
    merges: list[int] = []
    for n in head:
        if flow.is_view(n):
            continue
        sources = {_source(flow, p) for p in flow.preds[n]}
        dynamic = {s for s in sources if s < 0 or s in flow.dynamic}
        outside = sorted(s for s in dynamic if s not in inside)
        if outside and is_fragment(flow.nodes[n]):
            roots.append(n)
            for level in outside:
                read[level] = read.get(level, 0) + 1
        if len(dynamic - set(outside)) >= 2:
            merges.append(n)
    modules = [flow.nodes[n].module for n in roots]
    return HeadBranches(
        roots=tuple(roots),
        levels=tuple(read),
        per_level=tuple(read.values()),
        fragments=sum(is_fragment(flow.nodes[n]) for n in head),
        shared=len(set(modules)) < len(modules),
        reread_bytes=sum((count - 1) * flow.output_bytes(level) for level, count in read.items()),
        merge_bytes=sum(flow.nodes[n].mem_access_bytes for n in merges),
    )


def _around(paths: Sequence[str]) -> str:
    """The innermost module around every path (``""``, the root, at worst)."""
    common = ancestors(paths[0])
    for path in paths[1:]:
        around = set(ancestors(path))
        common = [p for p in common if p in around]
    return common[-1]


def _per_level(found: HeadBranches) -> str:
    levels = len(found.levels)
    counts = set(found.per_level)
    over = f"{levels} level{'s' if levels != 1 else ''}"
    return f"{counts.pop()} per level over {over}" if len(counts) == 1 else f"over {over}"


class HeadFragmentation:
    id: ClassVar[str] = "D2"
    title: ClassVar[str] = "detector-head-fragmentation"
    tags: ClassVar[tuple[str, ...]] = ("performance", "detection", "shufflenet-v2")
    status: ClassVar[Status] = Status.STABLE
    default_severity: ClassVar[Severity] = Severity.WARNING
    default_options: ClassVar[Mapping[str, Any]] = {
        "max_parallel_branches": Fragmentation.default_options["max_parallel_branches"]
    }
    option_docs: ClassVar[Mapping[str, str]] = {
        "max_parallel_branches": "most parallel branches allowed in the head (G3's limit for a block), "
        "and no more than any other block of the model runs",
    }

    def check(self, context: RuleContext, options: Mapping[str, Any]) -> Iterator[Finding]:
        stages = op_stages(context.analysis, context.stage_modules)
        if stages is None:
            return
        head = [op_id for op_id, stage in stages.items() if stage == "head"]
        inside = set(head)
        blocks = context.metrics.blocks.values()
        if not head or any(set(block.ops) == inside for block in blocks):
            return  # no head, or one G3 measures as a block of its own
        found = head_branches(context.metrics.flow, head)
        branches = len(found.roots)
        others = [block for block in blocks if inside.isdisjoint(block.ops)]
        widest: Block | None = max(others, key=lambda block: block.compute_branches, default=None)
        most = widest.compute_branches if widest is not None else 0
        threshold = max(options["max_parallel_branches"], most)
        if branches <= threshold:
            return
        module = _around([context.metrics.flow.nodes[n].module for n in head])
        cost = found.reread_bytes + found.merge_bytes
        elsewhere = (
            f"the most of any other block is {most} ({widest.path or 'the model'})"
            if widest is not None
            else "no other block branches"
        )
        said, timed = context.costs(head)
        yield finding(
            self,
            context,
            module,
            message=(
                f"the detector's head runs {branches} parallel branches ({_per_level(found)}), "
                f"{found.fragments} fragments; {elsewhere} (threshold {threshold})" + said
            ),
            measured=branches,
            threshold=threshold,
            cost_bytes=cost,
            fix=(
                f"cut the head's {branches} branches to at most {threshold}: "
                + (_SHARED_FIX if found.shared else _OWN_FIX)
                + f"; reading each level once per branch and concatenating the levels moves {human_bytes(cost)}"
            ),
            evidence={
                "branches": branches,
                "levels": len(found.levels),
                "branches_per_level": list(found.per_level),
                "fragments": found.fragments,
                "shared_across_levels": found.shared,
                "widest_other_block": widest.path if widest is not None else None,
                "widest_other_branches": most,
                "reread_bytes": found.reread_bytes,
                "merge_bytes": found.merge_bytes,
                **timed,
            },
        )


RULE = HeadFragmentation()
