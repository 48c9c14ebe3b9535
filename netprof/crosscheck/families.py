"""The op families a crosscheck row stands for, and which family each counter's ops fall in.

netprof names its ops by ATen overload and a ``Category``; fvcore by its handles'
names, and by ``aten::`` names for the ops it has no handle for. Both are mapped
to one family here, so that a row compares like with like. Ops inside a module
whose whole forward fvcore saw as one fused op belong to that fused op's family,
whatever netprof saw them as, so a difference is never spread over the wrong rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from netprof.analysis import OpNode
from netprof.costs.types import Category
from netprof.crosscheck.fvcore_run import FvcoreRun, own

# Row keys, in display order.
CONV = "conv"
MATMUL = "matmul"
ATTENTION = "attention"
FUSED = "fused attention fast path"
NORMALIZATION = "normalization"
POOLING = "pooling & reductions"
RESAMPLE = "resampling"
ELEMENTWISE = "elementwise"
OTHER = "other"
FAMILIES = (CONV, MATMUL, ATTENTION, FUSED, NORMALIZATION, POOLING, RESAMPLE, ELEMENTWISE, OTHER)

# The families whose fvcore count is a count of multiply-adds; the rest are
# fvcore's own per-element estimates, which netprof's mult_adds leave out.
MULT_ADD_FAMILIES = frozenset({CONV, MATMUL, ATTENTION, FUSED})

_NETPROF_CATEGORY_FAMILY = {
    Category.CONV: CONV,
    Category.GROUP_CONV: CONV,
    Category.DEPTHWISE_CONV: CONV,
    Category.GEMM: MATMUL,
    Category.ATTENTION: ATTENTION,
    Category.NORMALIZATION: NORMALIZATION,
    Category.POOLING: POOLING,
    Category.REDUCTION: POOLING,
    Category.ELEMENTWISE: ELEMENTWISE,
}

# fvcore's names in by_operator() (its handles' names, namespace dropped).
FVCORE_FAMILY = {
    "conv": CONV,
    "addmm": MATMUL,
    "linear": MATMUL,
    "matmul": MATMUL,
    "mm": MATMUL,
    "bmm": MATMUL,
    "einsum": MATMUL,
    "batch_norm": NORMALIZATION,
    "layer_norm": NORMALIZATION,
    "group_norm": NORMALIZATION,
    "instance_norm": NORMALIZATION,
    "adaptive_avg_pool2d": POOLING,
    "upsample_nearest2d": RESAMPLE,
    "upsample_bilinear2d": RESAMPLE,
    "grid_sampler": RESAMPLE,
}

# Ops that carry a whole attention block; fvcore's trace records them as one
# node when PyTorch takes the no-grad fast path.
FUSED_OPS = {
    "aten::_native_multi_head_attention": "nn.MultiheadAttention",
    "aten::_transformer_encoder_layer_fwd": "nn.TransformerEncoderLayer",
}
SDPA = "aten::scaled_dot_product_attention"


@dataclass
class Side:
    """One family's raw material while the rows are built."""

    netprof_ops: Counter[str] = field(default_factory=Counter)
    netprof_mult_adds: int = 0
    netprof_flops: int = 0
    fvcore_ops: Counter[str] = field(default_factory=Counter)
    unsupported: Counter[str] = field(default_factory=Counter)
    netprof_nodes: list[OpNode] = field(default_factory=list)


def _inside(module: str, roots: Iterable[str]) -> str | None:
    for root in roots:
        if root == "" or module == root or module.startswith(root + "."):
            return root
    return None


def base_name(op: str) -> str:
    """``aten.hardtanh_.default`` and ``aten::hardtanh_`` -> ``hardtanh``."""
    name = op.replace("::", ".").split(".")[1] if ("." in op or "::" in op) else op
    return name.rstrip("_")


def fused_roots(run: FvcoreRun) -> dict[str, str]:
    """Modules whose own ops include a fused attention op fvcore cannot count -> that op."""
    roots = {name: op for name, ops in own(run.unsupported).items() for op in ops if op in FUSED_OPS}
    # Keep the outermost of nested roots, so that nothing is credited twice.
    return {name: op for name, op in roots.items() if _inside(name, [r for r in roots if r != name]) is None}


def unsupported_family(op: str, categories: dict[str, str]) -> str:
    """The family of an op fvcore reported as unsupported, found through netprof's op of that name."""
    if op == SDPA:
        return ATTENTION
    if op in FUSED_OPS:
        return FUSED
    base = base_name(op)
    for netprof_base, category in categories.items():
        if netprof_base == base or netprof_base.startswith(base + "_"):
            return _NETPROF_CATEGORY_FAMILY.get(category, OTHER)
    return OTHER


def netprof_family(node: OpNode, roots: dict[str, str]) -> str:
    if roots and _inside(node.module, roots) is not None:
        return FUSED
    family = _NETPROF_CATEGORY_FAMILY.get(node.category)
    if family is not None:
        return family
    if "upsample" in node.op or "grid_sampler" in node.op:
        return RESAMPLE
    return OTHER
