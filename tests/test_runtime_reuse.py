"""What a network's pass fetches from DRAM (``netprof.runtimes.reuse``), by hand."""

import math
from dataclasses import replace

import pytest

from netprof.runtimes.fusion import FusionOp, KernelGroup
from netprof.runtimes.reuse import (
    Cold,
    PassCache,
    cold_bytes,
    evicted_share,
    footprint_bytes,
    fresh_output_bytes,
    resident_weights,
    streamed_weights,
)

MIB = 2**20


def _op(op_id, kind, output, *, weights=0, nbytes=0, first=0, inputs=None, role=None):
    inputs = (op_id - 1 if op_id else None,) if inputs is None else inputs
    return FusionOp(op_id, kind, role, inputs, 0, nbytes, weights, input_bytes=first, output_bytes=output)


def _kernels(ops):
    return tuple(KernelGroup(op.kind, (op.id,)) for op in ops)


def test_a_kernels_weights_are_its_convolution_weight_or_its_matrix_multiplys_other_operands():
    assert resident_weights(_op(0, "conv_1x1", MIB, weights=3 * MIB, nbytes=9 * MIB)) == 3 * MIB
    # addmm(bias, x, w): 4 kB of bias (its first input), 5 kB of x, 5 MB of w, 4 kB out: x and w
    gemm = _op(0, "gemm", 4000, nbytes=4000 + 5120 + 5 * 10**6 + 4000, first=4000)
    assert resident_weights(gemm) == 5120 + 5 * 10**6
    assert resident_weights(_op(0, "elementwise", MIB, nbytes=3 * MIB, first=MIB)) == 0


def test_a_pass_touches_every_kernels_weights_and_the_output_it_writes():
    # conv (3 MiB of weights, 4 MiB out) -> relu fused into it -> a view -> linear (5 MiB of weights, 1 MiB out)
    ops = (
        _op(0, "conv_1x1", 4 * MIB, weights=3 * MIB),
        _op(1, "elementwise", 4 * MIB, role="relu"),
        _op(2, "view", 4 * MIB, role="view"),
        _op(3, "conv_1x1", MIB, weights=5 * MIB),
    )
    kernels = (KernelGroup("conv_1x1", (0, 1)), KernelGroup("view", (2,)), KernelGroup("conv_1x1", (3,)))
    # 3 + 4 (the fused ReLU's output: the kernel writes one map, not two) + 5 + 1 MiB; the view moves nothing
    assert footprint_bytes({op.id: op for op in ops}, kernels) == 13 * MIB


def test_the_evicted_share_rises_with_the_log_of_the_footprint_between_what_the_cache_holds_and_loses():
    cache = PassCache(8 * MIB, 128 * MIB)  # 16 = 2**4 times apart
    assert evicted_share(8 * MIB, cache) == 0.0  # the cache holds a pass this size whole
    assert evicted_share(16 * MIB, cache) == pytest.approx(0.25)  # log2(16 / 8) / log2(128 / 8)
    assert evicted_share(64 * MIB, cache) == pytest.approx(0.75)
    assert evicted_share(512 * MIB, cache) == 1.0  # past what it loses: all of it
    assert evicted_share(64 * MIB, PassCache()) == 0.0  # an unknown cache prices nothing
    assert evicted_share(0, cache) == 0.0
    # Linux's size alone: half of it held, four times it lost; the footprint of which half is lost between
    assert PassCache.of_llc(32 * MIB) == (16 * MIB, 128 * MIB, 0.0)  # no price for a miss measured
    assert PassCache.of_llc(32 * MIB).middle_bytes == round(math.sqrt(16 * 128) * MIB)


def test_an_output_is_fresh_where_no_buffer_freed_earlier_in_the_pass_holds_it():
    ops = (
        _op(0, "conv_1x1", 4 * MIB),  # nothing free yet: 4 MiB fresh
        _op(1, "conv_1x1", 1 * MIB),  # op 0's buffer is still being read: 1 MiB fresh
        _op(2, "conv_1x1", 4 * MIB),  # op 0's 4 MiB is free (last read by op 1): reused, none fresh
        _op(3, "conv_1x1", 2 * MIB),  # op 1's 1 MiB is free, too small: grown by 1 MiB
        _op(4, "view", 2 * MIB, role="view"),  # aliases op 3's buffer: allocates nothing
        _op(5, "conv_1x1", 8 * MIB),  # op 2's 4 MiB is free (op 3's is read through the view): grown by 4
    )
    by_id = {op.id: op for op in ops}
    assert fresh_output_bytes(by_id, _kernels(ops)) == {0: 4 * MIB, 1: MIB, 2: 0, 3: MIB, 5: 4 * MIB}


def test_a_kernel_fetches_its_weights_the_models_input_and_its_fresh_output_at_the_evicted_share():
    ops = (
        _op(0, "conv_kxk", 8 * MIB, weights=MIB, first=2 * MIB),  # reads the model's input (2 MiB)
        _op(1, "conv_1x1", 2 * MIB, weights=3 * MIB, first=8 * MIB),
        _op(2, "conv_1x1", 8 * MIB, weights=2 * MIB, first=2 * MIB),  # into op 0's freed buffer
    )
    kernels, by_id = _kernels(ops), {op.id: op for op in ops}
    # footprint: 1 + 8 + 3 + 2 + 2 + 8 = 24 MiB; a cache holding 3 MiB, losing 48: log2(8) / log2(16)
    share = 0.75
    assert evicted_share(footprint_bytes(by_id, kernels), PassCache(3 * MIB, 48 * MIB)) == share
    # (weights, buffers): op 0 reads the input and fills a fresh 8 MiB; op 1 a fresh 2 MiB; op 2 none
    found = cold_bytes(by_id, kernels, share)
    assert found == {
        0: (share * MIB, share * 10 * MIB),
        1: (share * 3 * MIB, share * 2 * MIB),
        2: (share * 2 * MIB, 0.0),
    }
    roomy = evicted_share(footprint_bytes(by_id, kernels), PassCache(32 * MIB, 256 * MIB))  # it holds them
    assert roomy == 0.0 and cold_bytes(by_id, kernels, roomy) == {}


def test_a_weights_transpose_fetches_nothing_and_only_the_first_kernel_reads_the_models_input():
    # conv on the model's input (2 MiB) -> flatten -> linear: t(w) is a view of a parameter (no op before
    # it), addmm(bias, x, t(w)) reads its bias first: neither is the model's input
    ops = (
        _op(0, "conv_kxk", 4 * MIB, weights=MIB, first=2 * MIB),
        _op(1, "view", 4 * MIB, role="view", first=4 * MIB),
        _op(2, "view", 16 * MIB, role="view", first=16 * MIB, inputs=(None,)),
        _op(3, "gemm", 4096, nbytes=4096 + 4 * MIB + 16 * MIB + 4096, first=4096, inputs=(None, 1, 2)),
    )
    found = cold_bytes({op.id: op for op in ops}, _kernels(ops), 1.0)
    # the conv: its weight, the input and its fresh 4 MiB; the gemm: x and w as weights, a fresh 4 kB
    assert found == {0: (MIB, 6 * MIB), 3: (4 * MIB + 16 * MIB, 4096)}


def test_only_a_matrix_vector_products_weights_stream():
    def linear(rows, k, n):
        # addmm on rows x k and a k x n weight (with its n bias): 2 * rows * k * n flops
        weights = 4 * (k * n + n)
        nbytes = 4 * rows * k + weights + 4 * rows * n
        return FusionOp(0, "gemm", None, (None,), 2 * rows * k * n, nbytes, 0, input_bytes=4 * rows * k,
                        output_bytes=4 * rows * n)  # fmt: skip

    # a classifier at batch 1 and 4 streams its 4 * (1280 * 1000 + 1000) bytes; at batch 8 each weight is
    # used 8 times a pass: not a matrix-vector product
    assert streamed_weights(linear(1, 1280, 1000)) == 4 * (1280 * 1000 + 1000)
    assert streamed_weights(linear(4, 1280, 1000)) == 4 * (1280 * 1000 + 1000)
    assert streamed_weights(linear(8, 1280, 1000)) == 0
    # squeeze-and-excitation's 1x1 convolution on a 1x1 map (960 -> 240): 2 * 960 * 240 flops, its weight
    # 4 * 960 * 240 bytes, used once; the same convolution on a 7x7 map, 49 times
    se = FusionOp(0, "conv_1x1", None, (None,), 2 * 960 * 240, 0, 4 * 960 * 240)
    assert streamed_weights(se) == 4 * 960 * 240
    assert streamed_weights(replace(se, flops=49 * se.flops)) == 0
    assert streamed_weights(_op(0, "elementwise", MIB)) == 0
    # of a classifier whose pass the last-level cache lost a quarter of, the quarter costs DRAM's price
    # (``cold_bytes``) and three quarters stream from the cache
    classifier = linear(1, 1280, 1000)
    lost = Cold(0.25 * resident_weights(classifier), 0.0)
    assert streamed_weights(classifier, lost) == pytest.approx(0.75 * 4 * (1280 * 1000 + 1000))
