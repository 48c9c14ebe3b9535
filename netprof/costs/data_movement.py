"""Ops that move or rearrange memory without arithmetic.

They cost no flops but their memory access is real: ``cat`` reads its inputs and
writes the result, which is exactly the traffic ShuffleNet V2's G4 counts.

The backward of a data movement moves the gradient back: ``select_backward`` writes
``grad_output`` into a zero tensor of the input's shape, a pad's backward crops (and,
for reflection and replication, accumulates the border), an upsample's backward
gathers each output's gradient back to its sources. They are data movement too, with
no flops, but for the embeddings': ``embedding_dense_backward`` (and the embedding bag,
both ways) is counted one flop per element it adds, unlike the accumulating scatters
above.
"""

from __future__ import annotations

from torch.ops import aten

from netprof.capture.ir import OpCall
from netprof.costs.registry import formula
from netprof.costs.types import Category, Cost


@formula(
    aten.cat,
    aten.stack,
    aten.clone,
    aten.copy_,
    aten._to_copy,
    aten.contiguous,
    aten.channel_shuffle,
    aten.native_channel_shuffle,
    aten.pixel_shuffle,
    aten.pixel_unshuffle,
    aten.constant_pad_nd,
    aten.reflection_pad1d,
    aten.reflection_pad2d,
    aten.reflection_pad3d,
    aten.replication_pad1d,
    aten.replication_pad2d,
    aten.replication_pad3d,
    aten.upsample_nearest1d,
    aten.upsample_nearest2d,
    aten.upsample_nearest3d,
    aten._upsample_nearest_exact2d,
    aten.upsample_linear1d,
    aten.upsample_bilinear2d,
    aten._upsample_bilinear2d_aa,
    aten.upsample_bicubic2d,
    aten.upsample_trilinear3d,
    aten.grid_sampler_2d,
    aten.embedding,
    aten.index,
    aten._unsafe_index,
    aten.index_select,
    aten.gather,
    aten.index_put,
    aten.index_put_,
    aten.scatter,
    aten.slice_scatter,
    aten.select_scatter,
    aten.repeat,
    aten.repeat_interleave,
    aten.roll,
    aten.flip,
    aten.tril,
    aten.triu,
    aten.narrow_copy,
    aten.masked_select,
    aten.masked_scatter,
    aten.index_copy,
    aten.index_fill,
    # Accumulating scatters are counted like ``index_put(accumulate=True)``: traffic, not arithmetic.
    aten.index_add,
    aten.scatter_add,
    aten.scatter_reduce,
    aten._upsample_nearest_exact1d,
    aten._upsample_nearest_exact3d,
    aten._upsample_bicubic2d_aa,
    aten.grid_sampler_3d,
    aten.max_unpool2d,
    aten.max_unpool3d,
    # nn.Unfold / nn.Fold: patches copied out of (into) the image.
    aten.im2col,
    aten.col2im,
    # The in-place twins of the scatters above (index_put_ is listed with index_put).
    aten.index_add_,
    aten.index_copy_,
    aten.index_fill_,
    aten.scatter_,
    aten.scatter_add_,
    aten.scatter_reduce_,
    aten.masked_scatter_,
    # grad_input = aten::select_backward(grad_output, input_sizes, dim, index), and the like:
    # the gradient of a view, written into zeros of the viewed tensor's shape.
    aten.select_backward,
    aten.slice_backward,
    aten.diagonal_backward,
    aten.unfold_backward,
    # grad_source = aten::masked_scatter_backward(grad_output, mask, sizes): the gradient at the
    # mask's places, gathered (masked_select) and shaped as the source.
    aten.masked_scatter_backward,
    # grad_input = aten::reflection_pad2d_backward(grad_output, self, padding), and the like
    aten.reflection_pad1d_backward,
    aten.reflection_pad2d_backward,
    aten.reflection_pad3d_backward,
    aten.replication_pad1d_backward,
    aten.replication_pad2d_backward,
    aten.replication_pad3d_backward,
    # grad_input = aten::upsample_nearest2d_backward(grad_output, output_size, input_size, ...)
    aten.upsample_nearest1d_backward,
    aten.upsample_nearest2d_backward,
    aten.upsample_nearest3d_backward,
    aten._upsample_nearest_exact1d_backward,
    aten._upsample_nearest_exact2d_backward,
    aten._upsample_nearest_exact3d_backward,
    aten.upsample_linear1d_backward,
    aten.upsample_bilinear2d_backward,
    aten._upsample_bilinear2d_aa_backward,
    aten.upsample_bicubic2d_backward,
    aten._upsample_bicubic2d_aa_backward,
    aten.upsample_trilinear3d_backward,
    # (grad_input, grad_grid) = aten::grid_sampler_2d_backward(grad_output, input, grid, ...)
    aten.grid_sampler_2d_backward,
    aten.grid_sampler_3d_backward,
    aten._grid_sampler_2d_cpu_fallback_backward,
)
def data_movement(call: OpCall) -> Cost:
    return Cost(Category.DATA_MOVEMENT)


# grad_weight [num_weights, D] = aten::embedding_dense_backward(grad_output [*, D], indices [*],
#     num_weights, padding_idx, scale_grad_by_freq): a scatter-add of every row of grad_output
#     into the row its index names. Each grad_output element is added once: one flop each
#     (rows at padding_idx are skipped, a data-dependent saving not counted).
@formula(aten.embedding_dense_backward)
def embedding_dense_backward(call: OpCall) -> Cost:
    return Cost(Category.DATA_MOVEMENT, flops=call.args[0].numel)


# (output [B, D], offset2bag, bag_size, max_indices) = aten::_embedding_bag(weight [V, D], indices [n],
#     offsets [B], scale_grad_by_freq, mode, sparse, per_sample_weights?, include_last_offset,
#     padding_idx): nn.EmbeddingBag gathers n rows and sums (mode 0), averages (1) or maxes (2) them
#     into their bags: one flop per gathered element (n * D), as embedding_dense_backward's scatter-add.
# grad_weight [V, D] = aten::_embedding_bag_backward(grad [B, D], indices [n], offsets, offset2bag,
#     bag_size, maximum_indices, num_weights, ...): every bag's gradient scatter-added back to each of
#     its n rows: one flop per element scattered, n * D. (_embedding_bag_dense_backward: the same,
#     without offsets.)
@formula(aten._embedding_bag, aten._embedding_bag_forward_only)
def embedding_bag(call: OpCall) -> Cost:
    weight, indices = call.args[0], call.args[1]
    return Cost(Category.DATA_MOVEMENT, flops=indices.numel * weight.shape[-1])


@formula(aten._embedding_bag_backward, aten._embedding_bag_dense_backward)
def embedding_bag_backward(call: OpCall) -> Cost:
    grad, indices = call.args[0], call.args[1]
    return Cost(Category.DATA_MOVEMENT, flops=indices.numel * grad.shape[-1])
