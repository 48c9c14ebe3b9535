"""How much of the memory traffic element-wise ops cause (guideline G4).

ShuffleNet V2 counts as element-wise the ReLU, AddTensor and AddBias ops and the
depthwise convolutions: little arithmetic, heavy memory access. netprof adds batch
norm (per-channel scale and shift) and every other normalization. A bias fused into its
convolution or matrix product is priced with that op (one kernel) and not counted here.

Transformers spend their element-wise traffic elsewhere: LayerNorm, GELU, the residual
adds, layer scale (a per-channel multiply by a parameter), and, where attention runs
unfused (matmul, softmax, matmul), the softmax, scaling and mask over every attention
score. Those are counted too (``netprof.metrics.dataflow.is_elementwise``), and each op is
given a *kind* (``elementwise_kind``) so that a finding can say which of them dominate and
name the fix that removes that kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from netprof.analysis import Analysis
from netprof.analysis.pricing import OpNode
from netprof.costs import Category
from netprof.metrics.blocks import Block
from netprof.metrics.dataflow import DataFlow, in_unfused_attention, is_elementwise

# The kinds of element-wise op, as findings name them.
BATCH_NORM = "batch norm"
LAYER_NORM = "layer norm"
OTHER_NORM = "other normalization"
ACTIVATION = "activation"
ADD = "add"
LAYER_SCALE = "layer scale"
SOFTMAX = "softmax"
ATTENTION_SCALE_MASK = "attention scale and mask"
DEPTHWISE = "depthwise conv"
OTHER = "other element-wise"

_ACTIVATIONS = frozenset(
    {
        "relu", "relu6", "hardtanh", "gelu", "silu", "hardswish", "hardsigmoid", "sigmoid", "tanh",
        "elu", "selu", "celu", "leaky_relu", "mish", "softplus", "prelu", "_prelu_kernel", "glu",
        "threshold", "clamp", "clamp_min", "clamp_max", "log_sigmoid_forward", "rrelu_with_noise",
    }
)  # fmt: skip
_ADDS = frozenset({"add", "sub", "rsub"})
_SCALES = frozenset({"mul", "div"})
_SOFTMAXES = frozenset({"_softmax", "_safe_softmax", "softmax", "_log_softmax", "log_softmax"})


def _packet(node: OpNode) -> str:
    """``"aten.gelu.default"`` -> ``"gelu"``; an in-place ``add_`` -> ``"add"``."""
    parts = node.op.split(".")
    name = parts[1] if len(parts) > 1 else node.op
    return name[:-1] if name.endswith("_") and not name.endswith("__") else name


def elementwise_kind(node: OpNode, flow: DataFlow | None = None) -> str:
    """What kind of element-wise op ``node`` is (one of this module's kind constants).

    A multiply or divide by a static tensor (a parameter: ConvNeXt's and CaiT's layer scale)
    is ``"layer scale"``; with ``flow`` absent no operand is known to be static.
    """
    name = _packet(node)
    if node.category == str(Category.DEPTHWISE_CONV):
        return DEPTHWISE
    if node.category == str(Category.NORMALIZATION):
        if "batch_norm" in name:
            return BATCH_NORM
        return LAYER_NORM if "layer_norm" in name or "rms_norm" in name else OTHER_NORM
    if name in _SOFTMAXES:
        return SOFTMAX
    if in_unfused_attention(node):
        return ATTENTION_SCALE_MASK
    if name in _ACTIVATIONS:
        return ACTIVATION
    if name in _ADDS:
        return ADD
    if name in _SCALES and flow is not None:
        if len(node.input_metas) >= 2 and any(
            flow.is_static(node.id, i) for i in range(len(node.input_metas))
        ):
            return LAYER_SCALE
        if _feeds_attention(node.id, flow):
            return ATTENTION_SCALE_MASK  # q or k scaled before an unfused attention's product
    return OTHER


_PASSING = frozenset({str(Category.VIEW), str(Category.DATA_MOVEMENT)})


def _feeds_attention(node_id: int, flow: DataFlow) -> bool:
    """Whether the op's output reaches an attention product through views and copies only."""
    frontier, seen = [node_id], {node_id}
    while frontier:
        for consumer in flow.consumers.get(frontier.pop(), ()):
            if consumer in seen:
                continue
            seen.add(consumer)
            node = flow.nodes[consumer]
            if node.category == str(Category.ATTENTION) and node.mult_adds > 0:
                return True
            if node.category in _PASSING:
                frontier.append(consumer)
    return False


@dataclass(frozen=True, slots=True)
class ElementwiseShare:
    """Element-wise ops against all ops of a module (or the model, path "").

    Attributes:
        mem_access_bytes: what the element-wise ops read and write.
        total_mem_access_bytes: what all ops read and write.
        mult_adds, total_mult_adds: the same for multiply-adds.
        ops: how many element-wise ops.
        kinds: ``(kind, bytes)`` of every kind present, most bytes first (``elementwise_kind``).
    """

    path: str
    mem_access_bytes: int
    total_mem_access_bytes: int
    mult_adds: int
    total_mult_adds: int
    ops: int
    kinds: tuple[tuple[str, int], ...] = ()

    @property
    def share(self) -> float:
        """The share of memory access spent in element-wise ops."""
        return self.mem_access_bytes / self.total_mem_access_bytes if self.total_mem_access_bytes else 0.0

    @property
    def mult_adds_share(self) -> float:
        return self.mult_adds / self.total_mult_adds if self.total_mult_adds else 0.0

    def kind_share(self, kind: str) -> float:
        """The share of the element-wise bytes spent in ``kind``."""
        found = dict(self.kinds).get(kind, 0)
        return found / self.mem_access_bytes if self.mem_access_bytes else 0.0


def share_of(path: str, nodes: Iterable[OpNode], flow: DataFlow | None = None) -> ElementwiseShare:
    mem = total_mem = mult = total_mult = count = 0
    kinds: dict[str, int] = {}
    for node in nodes:
        total_mem += node.mem_access_bytes
        total_mult += node.mult_adds
        if is_elementwise(node):
            mem += node.mem_access_bytes
            mult += node.mult_adds
            count += 1
            kind = elementwise_kind(node, flow)
            kinds[kind] = kinds.get(kind, 0) + node.mem_access_bytes
    ranked = tuple(sorted(kinds.items(), key=lambda item: (-item[1], item[0])))
    return ElementwiseShare(path, mem, total_mem, mult, total_mult, count, ranked)


def elementwise_shares(
    analysis: Analysis, blocks: Mapping[str, Block], flow: DataFlow | None = None
) -> dict[str, ElementwiseShare]:
    """The model (key "") first, then every block."""
    nodes = {node.id: node for node in analysis.ops}
    shares = {"": share_of("", analysis.ops, flow)}
    for path, block in blocks.items():
        if path:
            shares[path] = share_of(path, (nodes[n] for n in block.ops), flow)
    return shares
