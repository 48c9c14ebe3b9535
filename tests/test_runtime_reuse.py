"""What share of a network's weights one pass reads from DRAM (``netprof.runtimes.reuse``), by hand."""

import pytest

from netprof.runtimes.fusion import FusionOp, KernelGroup
from netprof.runtimes.reuse import cold_weight_bytes, evicted_share, footprint_bytes

MIB = 2**20


def _op(op_id, kind, weights, output, role=None):
    return FusionOp(op_id, kind, role, (op_id - 1 if op_id else None,), 0, 0, weights, output_bytes=output)


# conv (3 MB of weights, 4 MB out) -> relu fused into it (4 MB out) -> linear (5 MB of weights, 1 MB out)
OPS = (
    _op(0, "conv_1x1", 3 * MIB, 4 * MIB),
    _op(1, "elementwise", 0, 4 * MIB, "relu"),
    _op(2, "gemm", 5 * MIB, MIB),
)
KERNELS = (KernelGroup("conv_1x1", (0, 1)), KernelGroup("gemm", (2,)))


def test_a_pass_touches_every_kernels_weights_and_the_output_it_writes():
    # 3 + 4 (the fused ReLU's output: the kernel writes one map, not two) + 5 + 1 MiB
    assert footprint_bytes({op.id: op for op in OPS}, KERNELS) == 13 * MIB


def test_the_evicted_share_is_what_half_the_cache_cannot_keep():
    # a 32 MiB cache keeps 16 MiB: of a 64 MiB pass, three quarters of the weight reads miss it
    assert evicted_share(64 * MIB, 32 * MIB) == pytest.approx(0.75)
    assert evicted_share(16 * MIB, 32 * MIB) == 0.0  # the whole pass fits in the kept half
    assert evicted_share(64 * MIB, 0) == 0.0  # an unknown cache prices nothing
    assert evicted_share(0, 32 * MIB) == 0.0


def test_each_kernel_reads_its_share_of_its_weights_from_dram():
    # 13 MiB pass, 4 MiB cache keeps 2 MiB: 11/13 of each anchor's weights
    share = 11 / 13
    assert cold_weight_bytes(OPS, KERNELS, 4 * MIB) == pytest.approx({0: share * 3 * MIB, 2: share * 5 * MIB})
    assert cold_weight_bytes(OPS, KERNELS, 64 * MIB) == {0: 0.0, 2: 0.0}
