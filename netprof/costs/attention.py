"""Attention kernels, fused and fast-path, on every backend.

Convention: a causal mask does not halve the count. Like FlopCounterMode and the
math (unfused) path, the full ``L x S`` score matrix is counted, so a model's
``mult_adds`` do not depend on which backend ran.
"""

from __future__ import annotations

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import formula
from netprof.costs.types import Category, Cost


def sdpa_mult_adds(batch_heads: int, q_len: int, kv_len: int, head_dim: int, value_dim: int) -> int:
    """``Q @ K^T`` plus ``softmax(.) @ V`` for every batch and head."""
    return batch_heads * q_len * kv_len * (head_dim + value_dim)


# [*, h, L, Ev] = sdpa([*, h, L, E], [*, hk, S, E], [*, hk, S, Ev], ...) for the flash (CPU and
# CUDA), memory-efficient, cuDNN and overrideable kernels; grouped-query K/V (hk < h) is
# broadcast over the query heads.
@formula(
    aten._scaled_dot_product_flash_attention_for_cpu,
    aten._scaled_dot_product_flash_attention,
    aten._scaled_dot_product_efficient_attention,
    aten._scaled_dot_product_cudnn_attention,
    aten._scaled_dot_product_fused_attention_overrideable,
)
def scaled_dot_product_attention(call: OpCall) -> Cost:
    query, key, value = call.args[0], call.args[1], call.args[2]
    *batch, q_len, head_dim = query.shape
    kv_len, value_dim = key.shape[-2], value.shape[-1]
    batch_heads = 1
    for size in batch:
        batch_heads *= size
    mult_adds = sdpa_mult_adds(batch_heads, q_len, kv_len, head_dim, value_dim)
    # The softmax is one flop per score, as for any element-wise op.
    return Cost(Category.ATTENTION, mult_adds, 2 * mult_adds + batch_heads * q_len * kv_len)


# ([B, L, E], weights?) = aten::_native_multi_head_attention(q [B, L, E], k [B, S, E], v [B, S, E],
#     embed_dim, num_heads, qkv_weight [3E, E], qkv_bias, proj_weight [E, E], proj_bias, ...)
# nn.MultiheadAttention's no-grad fast path: in-projection, attention, out-projection in one op.
@formula(aten._native_multi_head_attention)
def native_multi_head_attention(call: OpCall) -> Cost:
    query, key = call.args[0], call.args[1]
    batch, q_len, embed = query.shape
    kv_len = key.shape[1]
    projections = batch * (q_len + 2 * kv_len) * embed * embed + batch * q_len * embed * embed
    attention = sdpa_mult_adds(batch, q_len, kv_len, embed, embed)
    mult_adds = projections + attention
    num_heads = call.arg(4, "num_head")
    bias_adds = batch * (q_len + 2 * kv_len + q_len) * embed
    softmax = batch * num_heads * q_len * kv_len
    return Cost(Category.ATTENTION, mult_adds, 2 * mult_adds + bias_adds + softmax)


# [B, L, E] = aten::_transformer_encoder_layer_fwd(src [B, L, E], embed_dim, num_heads,
#     qkv_weight, qkv_bias, proj_weight, proj_bias, use_gelu, norm_first, eps,
#     norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2,
#     ffn_weight_1 [F, E], ffn_bias_1, ffn_weight_2 [E, F], ffn_bias_2, mask, mask_type)
# nn.TransformerEncoderLayer's no-grad fast path: a whole layer in one op.
@formula(aten._transformer_encoder_layer_fwd)
def transformer_encoder_layer(call: OpCall) -> Cost:
    src = call.args[0]
    batch, length, embed = src.shape
    num_heads = call.arg(2, "num_heads")
    ffn = call.arg(14, "ffn_weight_1").shape[0]
    tokens = batch * length
    projections = tokens * 4 * embed * embed
    attention = sdpa_mult_adds(batch, length, length, embed, embed)
    feed_forward = tokens * 2 * embed * ffn
    mult_adds = projections + attention + feed_forward
    # Bias adds (qkv, out, two FFN), two norms, the activation, two residual adds, softmax.
    elementwise = tokens * (3 * embed + embed + ffn + embed) + tokens * (2 * embed + ffn + 2 * embed)
    softmax = batch * num_heads * length * length
    return Cost(Category.ATTENTION, mult_adds, 2 * mult_adds + elementwise + softmax)
