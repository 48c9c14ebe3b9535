"""Ops that move or rearrange memory without arithmetic.

They cost no flops but their memory access is real: ``cat`` reads its inputs and
writes the result, which is exactly the traffic ShuffleNet V2's G4 counts.
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
)
def data_movement(call: OpCall) -> Cost:
    return Cost(Category.DATA_MOVEMENT)
