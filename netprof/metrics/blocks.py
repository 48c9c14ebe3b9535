"""Building blocks found from the data-flow graph, and how fragmented each is (guideline G3).

A block is a module whose ops form a single-entry, single-exit region. A *parallel*
block is the innermost such module in which a fork meets its join (a residual unit,
a Fire module, an Inception block, a ShuffleNet unit); a *chain* block is, where no
fork exists, the innermost such module holding two or more fragments (MobileNet V1's
depthwise-separable pair). Class names are never read: only edges and categories.

Views cost nothing and are looked through when finding entries and exits; a channel
split is a view with several consumers, so it is a fork. Parameters and buffers are
not entries. A wrapper module with exactly the ops of its only child names the same
region; the outermost name is reported (the unit a designer wrote), never the root
unless the region is the whole model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from netprof.analysis import Analysis
from netprof.metrics.dataflow import COMPUTE_CATEGORIES, DataFlow, dataflow, is_fragment
from netprof.module_paths import ancestors

PARALLEL = "parallel"
CHAIN = "chain"


@dataclass(frozen=True, slots=True)
class Branch:
    """The ops on the paths from a fork to one input of its join.

    Attributes:
        ops: their ids, in execution order; empty for a bare shortcut.
        fragments: how many of them are fragments (conv / gemm / attention / pooling; of attention
            written out unfused, its two products).
        has_compute: False for an identity shortcut (nothing, or only views and copies).
    """

    ops: tuple[int, ...]
    fragments: int
    has_compute: bool


@dataclass(frozen=True, slots=True)
class Join:
    """Where parallel branches merge (an add, a concat, a product).

    ``fork`` is the join's immediate dominator: the last op every path to the join
    passes through (negative: a model input).
    """

    fork: int
    join: int
    branches: tuple[Branch, ...]

    @property
    def compute_branches(self) -> int:
        return sum(branch.has_compute for branch in self.branches)

    @property
    def identity_branches(self) -> int:
        return len(self.branches) - self.compute_branches


@dataclass(frozen=True, slots=True)
class Block:
    """One building block.

    Attributes:
        path: module path ("" for the whole model).
        type: the module's class name.
        kind: ``"parallel"`` (has a fork and its join) or ``"chain"``.
        entry: the op whose output enters the block (negative: a model input).
        exit: the op whose output leaves it.
        ops: every op of the module and its children, in execution order.
        fragments: conv / gemm / attention / pooling ops among them (the paper's count; a fused
            attention is one, an unfused one its two products, its softmax none).
        longest_chain: most fragments on one path from entry to exit.
        joins: the merges this block owns (those of nested blocks belong to them).
        mult_adds, mem_access_bytes: totals over ``ops``.
    """

    path: str
    type: str
    kind: str
    entry: int
    exit: int
    ops: tuple[int, ...]
    fragments: int
    longest_chain: int
    joins: tuple[Join, ...]
    mult_adds: int
    mem_access_bytes: int

    @property
    def parallel_branches(self) -> int:
        """Branches at the widest join, identity shortcuts included (1 for a chain)."""
        return max((len(join.branches) for join in self.joins), default=1)

    @property
    def compute_branches(self) -> int:
        """Branches with compute at the widest join (1 for a chain)."""
        return max((join.compute_branches for join in self.joins), default=1)

    @property
    def identity_branches(self) -> int:
        return sum(join.identity_branches for join in self.joins)


@dataclass(frozen=True)
class _Region:
    path: str
    members: frozenset[int]
    order: tuple[int, ...]  # entry first, then the live members in execution order
    entry: int
    exit: int
    preds: Mapping[int, tuple[int, ...]]  # live predecessors inside the region (entry included)
    joins: tuple[int, ...]


def _parent(path: str) -> str | None:
    return None if not path else path.rpartition(".")[0]


def _resolve_outside(flow: DataFlow, node: int, members: frozenset[int]) -> int:
    """Look back through views outside the region to the tensor they show."""
    while flow.is_view(node) and len(flow.preds[node]) == 1 and flow.preds[node][0] not in members:
        node = flow.preds[node][0]
    return node


def _resolve_inside(flow: DataFlow, node: int, members: frozenset[int]) -> int:
    while flow.is_view(node) and len(flow.preds[node]) == 1 and flow.preds[node][0] in members:
        node = flow.preds[node][0]
    return node


def _region(flow: DataFlow, path: str, ops: tuple[int, ...]) -> _Region | None:
    """The module's ops as a region, or None when it is not single-entry single-exit."""
    members = frozenset(ops)
    entries = {_resolve_outside(flow, p, members) for n in ops for p in flow.preds[n] if p not in members}
    if len(entries) != 1:
        return None
    (entry,) = entries
    exits = {
        _resolve_inside(flow, n, members)
        for n in ops
        if any(c not in members for c in flow.consumers.get(n, ()))
    }
    if not exits:  # the region ends the model: its output is the last op that reads anything
        fed = [n for n in ops if flow.preds[n]]
        exits = {_resolve_inside(flow, fed[-1], members)} if fed else set()
    if len(exits) != 1:
        return None
    live = {entry}
    preds: dict[int, tuple[int, ...]] = {entry: ()}
    order = [entry]
    for n in ops:  # execution order is a topological order
        inside = tuple(dict.fromkeys(p if p in members else entry for p in flow.preds[n]))
        inside = tuple(p for p in inside if p in live)
        if inside:
            live.add(n)
            preds[n] = inside
            order.append(n)
    joins = tuple(n for n in order[1:] if len(preds[n]) >= 2)
    return _Region(path, members, tuple(order), entry, exits.pop(), preds, joins)


def _immediate_dominators(region: _Region) -> dict[int, int]:
    """Cooper, Harvey and Kennedy's intersection walk; one pass suffices on a DAG in topological order."""
    index = {n: i for i, n in enumerate(region.order)}
    idom = {region.entry: region.entry}

    def intersect(a: int, b: int) -> int:
        while a != b:
            while index[a] > index[b]:
                a = idom[a]
            while index[b] > index[a]:
                b = idom[b]
        return a

    for n in region.order[1:]:
        first, *rest = region.preds[n]
        dom = first
        for p in rest:
            dom = intersect(dom, p)
        idom[n] = dom
    return idom


def _branch(flow: DataFlow, region: _Region, fork: int, end: int) -> Branch:
    """Every op on a path from ``fork`` to ``end``: ``fork`` dominates ``end``, so walking
    back from ``end`` without passing ``fork`` finds exactly those."""
    seen: set[int] = set()
    stack = [end] if end != fork else []
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(p for p in region.preds[n] if p != fork and p not in seen)
    ops = tuple(sorted(seen))
    return Branch(
        ops=ops,
        fragments=_fragments(flow, ops),
        has_compute=any(flow.nodes[n].category in COMPUTE_CATEGORIES for n in ops),
    )


def _join_branches(
    flow: DataFlow, region: _Region, idom: Mapping[int, int], joins: set[int], join: int
) -> tuple[Branch, ...]:
    """The branches meeting at ``join``, a chain of merges from one fork counted as one merge.

    ``a(x) + b(x) + c(x) + d(x)`` runs as three two-input adds; what the paper's G3
    counts is four parallel branches from ``x``. A predecessor that is itself a merge
    of the same fork, feeding nothing else, contributes its branches instead of one.
    """
    fork = idom[join]
    branches: list[Branch] = []
    for pred in region.preds[join]:
        if pred in joins and idom[pred] == fork and len(flow.consumers.get(pred, ())) == 1:
            branches.extend(_join_branches(flow, region, idom, joins, pred))
        else:
            branches.append(_branch(flow, region, fork, pred))
    return tuple(branches)


def _longest_chain(flow: DataFlow, region: _Region) -> int:
    best = {region.entry: 0}
    for n in region.order[1:]:
        own = is_fragment(flow.nodes[n])
        best[n] = own + max(best[p] for p in region.preds[n])
    return max(best.values())


def _fragments(flow: DataFlow, ops: Iterable[int]) -> int:
    return sum(is_fragment(flow.nodes[n]) for n in ops)


def find_blocks(analysis: Analysis, flow: DataFlow | None = None) -> dict[str, Block]:
    """Every building block of the model, keyed by module path, in execution order."""
    flow = flow or dataflow(analysis)
    types = {summary.path: summary.type for summary in analysis.modules}
    ops_of: dict[str, list[int]] = {path: [] for path in types}
    for node in analysis.ops:
        for path in ancestors(node.module):
            if path in ops_of:
                ops_of[path].append(node.id)

    # One name per distinct op set: the outermost module with it, the root only as a last resort.
    names: dict[frozenset[int], str] = {}
    for path in sorted(types, key=lambda p: (p == "", p.count("."))):
        if ops_of[path]:
            names.setdefault(frozenset(ops_of[path]), path)
    region_of = {path: names[frozenset(ops)] for path, ops in ops_of.items() if ops}
    regions = {
        name: region
        for name in names.values()
        if (region := _region(flow, name, tuple(ops_of[name]))) is not None
    }

    # A join belongs to the smallest region in which it is one.
    owned: dict[str, list[int]] = {}
    claimed: set[int] = set()
    for name, region in sorted(regions.items(), key=lambda item: len(item[1].members)):
        mine = [j for j in region.joins if j not in claimed]
        claimed.update(mine)
        if mine:
            owned[name] = mine

    def enclosing(name: str) -> list[str]:
        """Regions strictly around ``name``, innermost first."""
        found: list[str] = []
        path = _parent(name)
        while path is not None:
            outer = region_of.get(path)
            if outer is not None and outer != name and outer not in found:
                found.append(outer)
            path = _parent(path)
        return found

    near_parallel: set[str] = set(owned)  # parallel blocks and every region around them
    for name in owned:
        near_parallel.update(enclosing(name))
    inside_parallel = {name for name in regions if any(outer in owned for outer in enclosing(name))}
    chains = {
        name
        for name, region in regions.items()
        if name not in near_parallel and name not in inside_parallel and _fragments(flow, region.members) >= 2
    }
    for name in list(chains):
        chains.difference_update(enclosing(name))  # keep the innermost

    blocks: list[Block] = []
    for name in set(owned) | chains:
        region = regions[name]
        joins: list[Join] = []
        if name in owned:
            idom = _immediate_dominators(region)
            for j in owned[name]:
                joins.append(Join(idom[j], j, _join_branches(flow, region, idom, set(owned[name]), j)))
        ops = tuple(sorted(region.members))
        blocks.append(
            Block(
                path=name,
                type=types[name],
                kind=PARALLEL if name in owned else CHAIN,
                entry=region.entry,
                exit=region.exit,
                ops=ops,
                fragments=_fragments(flow, ops),
                longest_chain=_longest_chain(flow, region),
                joins=tuple(joins),
                mult_adds=sum(flow.nodes[n].mult_adds for n in ops),
                mem_access_bytes=sum(flow.nodes[n].mem_access_bytes for n in ops),
            )
        )
    blocks.sort(key=lambda block: block.ops[0])
    return {block.path: block for block in blocks}


def fragments_per_block(blocks: Mapping[str, Block]) -> float:
    """The mean fragment count over the model's blocks (0 when it has none)."""
    return sum(b.fragments for b in blocks.values()) / len(blocks) if blocks else 0.0
