"""Which captured ATen ops each runtime kernel computes: two joins, composed.

**Export join** (ONNX node -> ops). Every ONNX node names the FX node it came
from and that node's module. Within one module, FX nodes and captured ops are
paired in order, per *family* (``aten.conv2d`` in the exported program is
``aten.convolution`` where netprof captures; ``aten.linear`` is ``t`` and
``addmm``). A captured op without an FX partner was folded by the exporter into
the node that uses its result (a convolution into the batch-norm node that
became one ``Conv``; a transpose into the ``Gemm``): it goes to its consumer's
node, and an op nobody consumes (an ``empty`` scratch buffer) to its module's.

**Runtime join** (kernel -> ONNX nodes). OpenVINO names each kernel's original
layers. ONNX Runtime does not (its fused nodes are new nodes, onnxruntime issue
17022): its optimized graph is read back and each kernel covers the original
nodes between the tensors it reads and the tensor it writes, which is named by
the kernel (``hardtanh_3_nchwc`` writes ``hardtanh_3``). A kernel that reads a
tensor none of those nodes reads (a residual ``Add`` fused into the convolution
as its sum input) also covers the node that combines the two.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from netprof.analysis import OpNode
from netprof.runtimes.export import OnnxNode

# Op names that differ between the exported program and the dispatch level, by family.
_FAMILIES = {
    "conv": re.compile(r"^(_?conv\w*|convolution\w*|cudnn_convolution\w*|mkldnn_convolution\w*)$"),
    "matmul": re.compile(r"^(linear|addmm|mm|bmm|baddbmm|matmul|einsum)$"),
    "batch_norm": re.compile(r"^(_?native_batch_norm\w*|batch_norm\w*|_batch_norm\w*)$"),
    "layer_norm": re.compile(r"^(native_layer_norm|layer_norm)$"),
    "group_norm": re.compile(r"^(native_group_norm|group_norm)$"),
    "clamp": re.compile(r"^(hardtanh|clamp|clip|relu6)$"),
    "max_pool": re.compile(r"^max_pool\dd(_with_indices)?$"),
    "avg_pool": re.compile(r"^_?(adaptive_)?avg_pool\dd$"),
    "reshape": re.compile(r"^(view|_unsafe_view|reshape|flatten|unflatten)$"),
    "attention": re.compile(r"^(scaled_dot_product\w*|_scaled_dot_product\w*)$"),
}
# ONNX ops that do a node's arithmetic, preferred when one FX node became several ONNX nodes.
_COMPUTE = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "Attention", "BatchNormalization"})


def family(op: str) -> str:
    """``aten.hardtanh_.default`` and ``aten.clamp.default`` -> ``clamp``: the name, without namespace,
    overload, in-place mark or ``_copy``, in its family where the exporter and the dispatcher name it differently."""
    parts = op.split(".")
    base = (parts[1] if len(parts) > 2 else parts[-2] if len(parts) == 2 else parts[0]).removesuffix("_")
    base = base.removesuffix(
        "_copy"
    )  # ExecuTorch's edge ops are the functional ``view_copy``, ``permute_copy``
    for name, pattern in _FAMILIES.items():
        if pattern.match(base):
            return name
    return base


def _representative(group: Sequence[OnnxNode]) -> OnnxNode:
    """The node that carries an FX node's op: its compute node, else the one that writes its result."""
    compute = [node for node in group if node.op_type in _COMPUTE]
    return (compute or list(group))[-1]


def ops_by_node(nodes: Sequence[OnnxNode], ops: Sequence[OpNode]) -> dict[str, tuple[int, ...]]:
    """ONNX node name -> the captured op ids it computes (the export join)."""
    fx_groups: dict[tuple[str, str], list[OnnxNode]] = defaultdict(list)
    for node in nodes:
        if node.module is not None and node.fx_node is not None:
            fx_groups[(node.module, node.fx_node)].append(node)
    fx_by_module: dict[str, dict[str, list[tuple[str, OnnxNode]]]] = defaultdict(lambda: defaultdict(list))
    for (module, fx_name), group in fx_groups.items():
        target = group[0].fx_target or fx_name
        fx_by_module[module][family(target)].append((fx_name, _representative(group)))
    ops_by_module: dict[str, dict[str, list[OpNode]]] = defaultdict(lambda: defaultdict(list))
    for op in ops:
        ops_by_module[op.module][family(op.op)].append(op)

    node_of: dict[int, str] = {}
    for module, families in ops_by_module.items():
        for name, members in families.items():
            for op, (_, node) in zip(members, fx_by_module.get(module, {}).get(name, ())):
                node_of[op.id] = node.name
    _absorb(ops, node_of, fx_by_module)
    joined: dict[str, list[int]] = defaultdict(list)
    for op in ops:
        if op.id in node_of:
            joined[node_of[op.id]].append(op.id)
    # Every node of one FX node computes its ops: a runtime may name any of them (OpenVINO's
    # FullyConnected names the bias ``Add`` of a linear exported as ``MatMul`` + ``Add``, not the MatMul).
    for group in fx_groups.values():
        found = joined.get(_representative(group).name)
        for node in group:
            if found and node.name not in joined:
                joined[node.name] = found
    return {name: tuple(ids) for name, ids in joined.items()}


def _absorb(
    ops: Sequence[OpNode],
    node_of: dict[int, str],
    fx_by_module: Mapping[str, Mapping[str, list[tuple[str, OnnxNode]]]],
) -> None:
    """Give every op without an FX partner to its consumer's node (last op first, so chains of folded
    ops follow), else, with no consumer, to the first node of its module."""
    consumers: dict[int, list[int]] = defaultdict(list)
    for op in ops:
        for source in op.inputs:
            if source is not None:
                consumers[source].append(op.id)
    for op in reversed(ops):
        if op.id in node_of:
            continue
        for consumer in consumers.get(op.id, ()):
            if consumer in node_of:
                node_of[op.id] = node_of[consumer]
                break
        else:
            module_nodes = [
                node for members in fx_by_module.get(op.module, {}).values() for _, node in members
            ]
            if module_nodes and not consumers.get(op.id):
                node_of[op.id] = module_nodes[0].name


@dataclass(frozen=True, slots=True)
class KernelNode:
    """A node of the runtime's optimized graph: its name and the tensors it reads and writes."""

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    activation: str | None = None  # the ONNX op type of an activation fused into it


def _anchor(
    name: str, producer: Mapping[str, int], by_name: Mapping[str, int], original: Sequence[OnnxNode]
) -> tuple[str, ...]:
    """The original tensors a renamed kernel writes, from its name less what the runtime appended:
    ``hardtanh_3_nchwc`` writes tensor ``hardtanh_3``; ``node_silu/QuickGeluFusion/`` what node
    ``node_silu`` wrote."""
    candidate = name.rstrip("/")
    for _ in range(3):
        if candidate in producer:
            return (candidate,)
        if candidate in by_name:
            return original[by_name[candidate]].outputs
        cut = max(candidate.rfind("_"), candidate.rfind("/"))
        if cut <= 0:
            break
        candidate = candidate[:cut]
    return ()


def covered_nodes(
    original: Sequence[OnnxNode], kernels: Sequence[KernelNode], constants: Iterable[str]
) -> dict[str, tuple[str, ...]]:
    """Kernel name -> the original node names it covers (the runtime join, from the optimized graph).

    ``kernels`` are in execution (topological) order; ``constants`` name the
    original graph's initializers and inputs, where the walk back stops.
    """
    producer = {tensor: i for i, node in enumerate(original) for tensor in node.outputs}
    readers: dict[str, list[int]] = defaultdict(list)
    for i, node in enumerate(original):
        for tensor in node.inputs:
            readers[tensor].append(i)
    by_name = {node.name: i for i, node in enumerate(original)}
    stop = set(constants)
    value: dict[str, frozenset[str]] = {}  # optimized tensor -> the original tensors it holds
    claimed: set[int] = set()
    covered: dict[str, tuple[str, ...]] = {}

    def value_of(tensor: str) -> frozenset[str]:
        if tensor in producer or tensor in stop or not tensor:
            return frozenset({tensor}) if tensor in producer else frozenset()
        return value.get(tensor, frozenset())

    for kernel in kernels:
        held = [value_of(t) for t in kernel.inputs]
        reads = frozenset().union(*held)
        writes = _writes(kernel, producer, by_name, original)
        members = _walk(writes, reads, producer, original, claimed)
        # A fused sum input: the kernel reads a tensor once more than its nodes do; the node that adds
        # it to the kernel's result is the kernel's too.
        read = Counter(t for tensors in held for t in tensors)
        used = Counter(
            t for i in members for t in original[i].inputs if t in producer and producer[t] not in members
        )
        for extra in read - used:
            joins = [i for i in readers.get(extra, ()) if set(original[i].inputs) & set(writes)]
            if joins and members:
                writes = original[joins[0]].outputs
                members = _walk(writes, reads, producer, original, claimed)
        after = (
            [i for i in readers.get(writes[0], ()) if original[i].op_type == kernel.activation]
            if writes
            else []
        )
        if len(after) == 1 and len(readers[writes[0]]) == 1:  # an activation fused after the sum
            writes = original[after[0]].outputs
            members = _walk(writes, reads, producer, original, claimed)
        claimed.update(members)
        covered[kernel.name] = tuple(original[i].name for i in sorted(members))
        held = frozenset(writes) if writes else reads
        for tensor in kernel.outputs:
            if tensor not in producer:
                value[tensor] = held
    return covered


def _writes(
    kernel: KernelNode, producer: Mapping[str, int], by_name: Mapping[str, int], original: Sequence[OnnxNode]
) -> tuple[str, ...]:
    """The original tensors ``kernel`` computes: its outputs that kept their names, else the tensor its
    name refers to, else (a kernel that kept its node's name) that node's outputs."""
    kept = tuple(t for t in kernel.outputs if t in producer)
    return kept or _anchor(kernel.name, producer, by_name, original)


def _walk(
    writes: Iterable[str],
    reads: frozenset[str],
    producer: Mapping[str, int],
    original: Sequence[OnnxNode],
    claimed: set[int],
) -> set[int]:
    """The original nodes between ``reads`` and ``writes``, not already claimed by an earlier kernel."""
    members: set[int] = set()
    pending = [t for t in writes if t not in reads]
    while pending:
        tensor = pending.pop()
        index = producer.get(tensor)
        if index is None or index in members or index in claimed:
            continue
        members.add(index)
        pending.extend(t for t in original[index].inputs if t and t not in reads)
    return members


def compose(
    kernel_nodes: Mapping[str, Sequence[str]], node_ops: Mapping[str, Sequence[int]]
) -> dict[str, tuple[int, ...]]:
    """Kernel name -> captured op ids, through the ONNX nodes each kernel covers."""
    return {
        kernel: tuple(sorted({op for node in nodes for op in node_ops.get(node, ())}))
        for kernel, nodes in kernel_nodes.items()
    }
