"""Attention kernels, fused and fast-path, on every backend.

Convention: a causal mask does not halve the count. Like FlopCounterMode and the
math (unfused) path, the full ``L x S`` score matrix is counted, so a model's
``mult_adds`` do not depend on which backend ran.
"""

from __future__ import annotations

import math
from functools import partial

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import formula
from netprof.costs.types import Category, Cost


def sdpa_mult_adds(batch_heads: int, q_len: int, kv_len: int, head_dim: int, value_dim: int) -> int:
    """``Q @ K^T`` plus ``softmax(.) @ V`` for every batch and head."""
    return batch_heads * q_len * kv_len * (head_dim + value_dim)


def _mask(call: OpCall, mask_index: int | None, mask_name: str | None) -> object:
    """The kernel's additive mask argument: at ``mask_index``, or keyword-only when that is None."""
    if mask_name is None:
        return None
    if mask_index is None:  # keyword-only in the schema
        return call.kwargs.get(mask_name)
    return call.arg(mask_index, mask_name)


def _sdpa_cost(call: OpCall, mask_index: int | None, mask_name: str | None) -> Cost:
    query, key, value = call.args[0], call.args[1], call.args[2]
    *batch, q_len, head_dim = query.shape
    kv_len, value_dim = key.shape[-2], value.shape[-1]
    # K and V may have fewer heads (grouped-query attention): every query head still
    # attends to all S keys, so the query's batch and head dims set the count.
    batch_heads = math.prod(batch)
    mult_adds = sdpa_mult_adds(batch_heads, q_len, kv_len, head_dim, value_dim)
    scores = batch_heads * q_len * kv_len
    # The softmax is one flop per score, as for any element-wise op; so is adding a mask.
    mask_adds = scores if _mask(call, mask_index, mask_name) is not None else 0
    return Cost(Category.ATTENTION, mult_adds, 2 * mult_adds + scores + mask_adds)


# [B, h, L, Ev] = sdpa(q [B, h, L, E], k [B, hk, S, E], v [B, hk, S, Ev], ...) for every fused
# kernel: the tensors arrive in [B, h, L, E] layout (the kernels transpose to [B, L, h, E] inside).
# They differ only in where the optional additive mask sits in the schema:
#   _scaled_dot_product_flash_attention_for_cpu(q, k, v, dropout_p, is_causal, *, attn_mask, scale)
#   _scaled_dot_product_flash_attention(q, k, v, dropout_p, is_causal, return_debug_mask, *, scale)
#   _scaled_dot_product_efficient_attention(q, k, v, attn_bias, compute_log_sumexp, dropout_p, ...)
#   _scaled_dot_product_cudnn_attention(q, k, v, attn_bias, compute_log_sumexp, dropout_p, ...)
#   _scaled_dot_product_fused_attention_overrideable(q, k, v, attn_bias, dropout_p, is_causal, ...)
#   _scaled_dot_product_attention_math_for_mps(q, k, v, attn_mask, dropout_p, is_causal, ...)
# ``_flash_attention_forward`` and ``_efficient_attention_forward`` (``[B, L, h, E]`` layout,
# variable-length batches whose lengths live in tensor data) run inside those kernels, below the
# capture, and have no formula.
formula(aten._scaled_dot_product_flash_attention_for_cpu)(
    partial(_sdpa_cost, mask_index=None, mask_name="attn_mask")
)
formula(aten._scaled_dot_product_flash_attention)(partial(_sdpa_cost, mask_index=None, mask_name=None))
formula(
    aten._scaled_dot_product_efficient_attention,
    aten._scaled_dot_product_cudnn_attention,
    aten._scaled_dot_product_fused_attention_overrideable,
)(partial(_sdpa_cost, mask_index=3, mask_name="attn_bias"))
formula(aten._scaled_dot_product_attention_math_for_mps)(
    partial(_sdpa_cost, mask_index=3, mask_name="attn_mask")
)


# ([B, L, E], weights?) = aten::_native_multi_head_attention(q [B, L, E], k [B, S, E], v [B, S, E],
#     embed_dim, num_heads, qkv_weight [3E, E], qkv_bias, proj_weight [E, E], proj_bias, ...)
# nn.MultiheadAttention's no-grad fast path: in-projection, attention, out-projection in one op.
@formula(aten._native_multi_head_attention)
def native_multi_head_attention(call: OpCall) -> Cost:
    query, key = call.args[0], call.args[1]
    batch, q_len, embed = query.shape
    kv_len = key.shape[1]
    # In-projection of q (L rows), k and v (S rows each), then the out-projection (L rows).
    projections = batch * (q_len + 2 * kv_len) * embed * embed + batch * q_len * embed * embed
    # h heads of size E / h: B * h * L * S * 2 (E / h) = B * L * S * 2E, whatever h is.
    attention = sdpa_mult_adds(batch, q_len, kv_len, embed, embed)
    mult_adds = projections + attention
    num_heads = call.arg(4, "num_head")
    bias_adds = batch * (q_len + 2 * kv_len + q_len) * embed
    scores = batch * num_heads * q_len * kv_len
    # One flop per score for the softmax, one more when a mask is added to the scores.
    mask_adds = scores if call.arg(9, "mask") is not None else 0
    return Cost(Category.ATTENTION, mult_adds, 2 * mult_adds + bias_adds + scores + mask_adds)


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
    # q, k, v and out projections, each E x E per token.
    projections = tokens * 4 * embed * embed
    attention = sdpa_mult_adds(batch, length, length, embed, embed)
    feed_forward = tokens * 2 * embed * ffn
    mult_adds = projections + attention + feed_forward
    # Bias adds (qkv, out, two FFN), two norms, the activation, two residual adds, softmax.
    elementwise = tokens * (3 * embed + embed + ffn + embed) + tokens * (2 * embed + ffn + 2 * embed)
    scores = batch * num_heads * length * length
    mask_adds = scores if call.arg(18, "mask") is not None else 0
    return Cost(Category.ATTENTION, mult_adds, 2 * mult_adds + elementwise + scores + mask_adds)


def sdpa_backward_mult_adds(batch_heads: int, q_len: int, kv_len: int, head_dim: int, value_dim: int) -> int:
    """The five products of the fused attention backward, for every batch and head.

    As FlopCounterMode counts them (``sdpa_backward_flop_count``): the scores ``Q @ K^T`` are
    recomputed (``L * S * E``), ``dP = dO @ V^T`` (``L * S * Ev``), ``dV = P^T @ dO``
    (``L * S * Ev``), ``dQ = dS @ K`` (``L * S * E``) and ``dK = dS^T @ Q`` (``L * S * E``):
    2.5 times the forward's multiply-adds when ``E == Ev``.
    """
    return batch_heads * q_len * kv_len * (3 * head_dim + 2 * value_dim)


def _sdpa_backward_cost(call: OpCall, mask_index: int | None, mask_name: str | None) -> Cost:
    query, key, value = call.args[1], call.args[2], call.args[3]
    *batch, q_len, head_dim = query.shape
    kv_len, value_dim = key.shape[-2], value.shape[-1]
    batch_heads = math.prod(batch)  # the query's heads, as in the forward (grouped-query attention)
    mult_adds = sdpa_backward_mult_adds(batch_heads, q_len, kv_len, head_dim, value_dim)
    scores = batch_heads * q_len * kv_len
    # One flop per score for the recomputed softmax (plus one when a mask is added to the
    # recomputed scores, as in the forward) and one per score for the softmax's gradient
    # dS = P * (dP - rowsum(dO * O)).
    mask_adds = scores if _mask(call, mask_index, mask_name) is not None else 0
    return Cost(Category.ATTENTION, mult_adds, 2 * mult_adds + 2 * scores + mask_adds)


# (grad_query, grad_key, grad_value[, grad_bias]) = backward(grad_out [B, h, L, Ev], q [B, h, L, E],
# k [B, hk, S, E], v [B, hk, S, Ev], ...): the backward of each fused kernel above, the same
# layout; grad_out comes first, then q, k, v. Where the mask sits:
#   _scaled_dot_product_flash_attention_for_cpu_backward(dO, q, k, v, out, logsumexp, dropout_p,
#       is_causal, *, attn_mask, scale)
#   _scaled_dot_product_flash_attention_backward(dO, q, k, v, out, logsumexp, cum_seq_q, ...): none
#   _scaled_dot_product_efficient_attention_backward(dO, q, k, v, attn_bias, out, logsumexp, ...)
#   _scaled_dot_product_fused_attention_overrideable_backward(dO, q, k, v, attn_bias, ...)
#   _scaled_dot_product_cudnn_attention_backward(dO, q, k, v, out, logsumexp, philox_seed,
#       philox_offset, attn_bias, ...)
# The efficient kernel's grad_input_mask is not read: the kernel computes dS, which every one of
# dQ, dK and dV needs, whatever it returns (FlopCounterMode does not read it either).
# ``_flash_attention_backward`` and ``_efficient_attention_backward`` run inside these kernels,
# below the capture, as their forwards do, and have no formula.
formula(aten._scaled_dot_product_flash_attention_for_cpu_backward)(
    partial(_sdpa_backward_cost, mask_index=None, mask_name="attn_mask")
)
formula(aten._scaled_dot_product_flash_attention_backward)(
    partial(_sdpa_backward_cost, mask_index=None, mask_name=None)
)
formula(
    aten._scaled_dot_product_efficient_attention_backward,
    aten._scaled_dot_product_fused_attention_overrideable_backward,
)(partial(_sdpa_backward_cost, mask_index=4, mask_name="attn_bias"))
formula(aten._scaled_dot_product_cudnn_attention_backward)(
    partial(_sdpa_backward_cost, mask_index=8, mask_name="attn_bias")
)
