"""The kernel-level fit of a runtime profile: kernel times credited to kernel groups, fusion from the
profiler's evidence, fused followers priced, and a fit that recovers the models it was generated from."""

import math

import pytest

from netprof.calibration.runtime_fit import (
    BenchKernels,
    KernelTime,
    as_networks_run,
    fit,
    free_followers,
    fusion_evidence,
    group_rows,
    outside_kernels,
)
from netprof.prediction.kinds import Kind
from netprof.runtimes.fusion import FusionOp, FusionPair
from netprof.runtimes.kernels import Kernel
from netprof.runtimes.reuse import PassCache

US = 1e-6


def _op(op_id, kind, role=None, inputs=(), flops=0, nbytes=0, weights=0):
    return FusionOp(op_id, kind, role, tuple(inputs), flops, nbytes, weights)


# conv(0) -> relu(1) -> conv(2) -> add(3, with relu 1)
OPS = (
    _op(0, "conv_1x1", None, (None,), 1000, 100, 10),
    _op(1, "elementwise", "relu", (0,), 50, 40),
    _op(2, "conv_1x1", None, (1,), 2000, 200, 20),
    _op(3, "elementwise", "add", (2, 1), 50, 60),
)


def _bench(kernels, group="op", seconds=100 * US, ops=OPS):
    return BenchKernels("b", group, ops, seconds, tuple(KernelTime(*k) for k in kernels))


def test_kernel_time_goes_to_its_group_and_a_reorder_inside_to_the_next_kernel():
    bench = _bench(
        [
            ("ReorderInput", 10 * US, ()),  # the model's input laid out: nobody's
            ("Conv", 50 * US, (0, 1)),  # conv + relu, one kernel
            ("ReorderOutput", 7 * US, ()),  # between two kernels: prepares the next one's input
            ("Conv", 30 * US, (2,)),
            ("Add", 5 * US, (3,)),
            ("ReorderOutput", 9 * US, ()),  # the model's output: nobody's
        ]
    )
    rows = group_rows(bench, frozenset({("conv", "relu")}))
    # three groups: conv+relu (50 us), conv (30 + 7 us), add (5 us); the two boundary reorders dropped
    assert [(r.kind, r.flops, r.seconds) for r in rows] == [
        ("conv_1x1", 1000, pytest.approx(50 * US)),
        ("conv_1x1", 2000, pytest.approx(37 * US)),
        ("elementwise", 50, pytest.approx(5 * US)),
    ]
    assert rows[0].followers == {"relu": 50} and rows[1].followers == {}


def test_a_transpose_of_views_goes_to_the_copy_after_it():
    # ShuffleNet's view(0) -> transpose(1) -> contiguous(2) -> view(3), as ONNX Runtime runs it: Reshape,
    # Transpose (joined to the transpose view, which moves nothing in PyTorch), Reshape (joined to the copy)
    ops = (
        _op(0, "view", "view", (None,)),
        _op(1, "view", "view", (0,)),
        _op(2, "permuted_copy", None, (1,), 0, 800),
        _op(3, "view", "view", (2,)),
    )
    bench = _bench(
        [("Reshape", 1 * US, (0,)), ("Transpose", 6 * US, (1,)), ("Reshape", 2 * US, (2, 3))], ops=ops
    )
    rows = group_rows(bench, frozenset())
    assert [(r.kind, r.seconds) for r in rows] == [
        ("view", pytest.approx(1 * US)),
        ("view", 0.0),
        ("permuted_copy", pytest.approx(8 * US)),
        ("view", 0.0),  # ran in the copy's kernel
    ]


def test_a_kernel_is_credited_to_the_op_doing_its_arithmetic():
    # the runtime fused the add into the second convolution although the grouping keeps it apart: the
    # kernel's time goes to the convolution's group (most flops), the add's group gets none
    bench = _bench([("Conv", 50 * US, (0, 1)), ("Conv", 40 * US, (2, 3))])
    rows = group_rows(bench, frozenset({("conv", "relu")}))
    assert [r.seconds for r in rows] == [pytest.approx(50 * US), pytest.approx(40 * US), 0.0]


def test_fusion_evidence_counts_followers_in_their_anchors_kernel():
    ran = _bench([("Conv", 50 * US, (0, 1)), ("Conv", 30 * US, (2,)), ("Add", 5 * US, (3,))])
    evidence = fusion_evidence([ran, ran])
    # the relu ran in its convolution's kernel both times; the add (after conv 2) never did
    assert evidence == {("conv", "relu"): (2, 2), ("conv", "add"): (2, 0)}


def test_the_profilers_evidence_decides_fusion_over_the_timing_rule():
    # timing alone: 100 + 20 - 119 = 1, not > 10: not fused; the profiler saw 3 of 4 in one kernel
    assert FusionPair("conv", "clip", 100e-6, 20e-6, 119e-6, seen=4, together=3).fused
    # timing alone says fused (100 + 20 - 105 > 10); the profiler saw them apart 2 of 4 times: not a majority
    assert not FusionPair("conv", "relu", 100e-6, 20e-6, 105e-6, seen=4, together=2).fused
    # no evidence: nn-Meter's rule
    assert FusionPair("conv", "relu", 100e-6, 20e-6, 105e-6).fused


def test_a_follower_is_free_where_every_fused_pair_ran_its_kernels_within_two_fifths_of_its_anchors():
    def pair(anchor_us, both_us):
        """The anchor alone and with its follower, each between the layout reorders of a one-op model."""
        before, after = ("Reorder", 30 * US, ()), ("Reorder", 130 * US, ())
        alone = _bench([before, ("Conv", anchor_us * US, (0,)), after])
        both = _bench([before, ("Conv", both_us * US, (0, 1)), after])
        return alone, both

    pairs = {
        ("conv", "relu"): pair(40, 47),  # +17.5%
        ("depthwise_conv", "relu"): pair(64, 63),
        ("conv", "clip"): pair(40, 55),  # +37.5%
        ("conv", "silu"): pair(40, 130),  # +225%
        ("conv", "hardswish"): pair(40, 50),  # +25% here ...
        ("depthwise_conv", "hardswish"): pair(64, 90),  # ... +41% here
        ("linear", "add"): pair(40, 41),  # not fused
    }
    fused = frozenset(pairs) - {("linear", "add")}
    assert free_followers(pairs, fused) == {"relu", "clip"}


def test_a_free_follower_is_priced_at_zero_whatever_its_rows_say():
    benches = [
        _conv_relu_silu(i, flops, ("op", "network")[i % 2], relu_s_per_flop=30e-12)
        for i, flops in enumerate(range(10**5, 10**7, 7 * 10**5))
    ]
    fused = frozenset({("conv", "relu"), ("conv", "silu")})
    assert fit(benches, fused).fused_s_per_flop["relu"] == pytest.approx(30e-12, rel=1e-4)
    held = fit(benches, fused, free=frozenset({"relu"}))
    assert held.fused_s_per_flop["relu"] == 0.0
    assert held.fused_s_per_flop["silu"] > 0


def _conv_relu_silu(index, flops, group, relu_s_per_flop=0.0):
    """conv -> relu -> conv -> silu, each convolution one kernel with its activation."""
    nbytes = 10**5 * (1 + index % 4)  # not in proportion to the flops
    ops = (
        _op(0, "conv_1x1", None, (None,), flops, nbytes, 0),
        _op(1, "elementwise", "relu", (0,), flops // 100, 0),
        _op(2, "conv_1x1", None, (1,), 2 * flops, 3 * nbytes, 0),
        _op(3, "transcendental", "silu", (2,), flops // 50 + 10**4 * index, 0),
    )
    # generated from: conv_1x1 = 2 us + 1 ps/flop + 5 ps/byte; a fused relu free; a fused silu 100 ps/flop
    first = 2 * US + 1e-12 * flops + 5e-12 * nbytes + relu_s_per_flop * ops[1].flops
    second = 2 * US + 2e-12 * flops + 15e-12 * nbytes + 100e-12 * ops[3].flops
    kernels = (KernelTime("Conv", first, (0, 1)), KernelTime("Conv", second, (2, 3)))
    seconds = first + second + 30 * US
    return BenchKernels(f"n{index}", group, ops, seconds, kernels, profiled_s=seconds)


def test_the_fit_recovers_the_models_it_was_generated_from():
    benches = [
        _conv_relu_silu(i, flops, ("op", "network")[i % 2])
        for i, flops in enumerate(range(10**5, 10**7, 7 * 10**5))
    ]
    fitted = fit(benches, frozenset({("conv", "relu"), ("conv", "silu")}))
    conv = fitted.kinds[Kind.CONV_1X1]
    assert (conv.overhead_s, conv.s_per_flop, conv.s_per_byte) == pytest.approx(
        (2e-6, 1e-12, 5e-12), rel=1e-4
    )
    assert fitted.fused_s_per_flop["silu"] == pytest.approx(100e-12, rel=1e-4)
    assert fitted.fused_s_per_flop["relu"] == pytest.approx(0.0, abs=1e-15)
    # the 30 us each network spends outside its kernels is the cost per run
    assert fitted.per_run_s == pytest.approx(30e-6, rel=1e-4)
    assert fitted.mape == pytest.approx(0.0, abs=1e-6)


def test_views_cost_their_mean_time_in_networks():
    ops = (
        _op(0, "conv_1x1", None, (None,), 1000, 100),
        _op(1, "view", "view", (0,)),
        _op(2, "view", None, (1,)),
    )
    bench = BenchKernels(
        "n",
        "network",
        ops,
        60 * US,
        (KernelTime("Conv", 40 * US, (0, 1)), KernelTime("Reshape", 2 * US, (2,))),
    )
    # a second convolution, so that the kind has a model of its own (``MIN_TIMED_KERNELS``)
    twice = (_op(0, "conv_1x1", None, (None,), 2000, 200),)
    conv = BenchKernels("c", "op", twice, 80 * US, (KernelTime("Conv", 80 * US, (0,)),))
    fitted = fit([bench, conv], frozenset())
    # op 1 is a view that passed through the convolution's kernel; op 2 ran a 2 us Reshape: one row, 2 us
    assert fitted.kinds[Kind.VIEW].overhead_s == pytest.approx(2 * US)
    assert math.isclose(sum(fitted.kinds[Kind.CONV_1X1].terms(1000, 100, 0)), 40 * US, rel_tol=1e-9)


def test_a_group_whose_kernel_went_to_a_neighbour_is_left_out_of_the_fit():
    def linear(index, flops, seconds):
        ops = (_op(0, "gemm", None, (None,), flops, 1000 + 100 * index),)
        return BenchKernels(f"l{index}", "op", ops, seconds, (KernelTime("MatMul", seconds, (0,)),))

    # ten linear layers at 4 ps/flop + 1 us, and one credited 12 us for 232 M flops (0.05 ps/flop: ten
    # times faster than the fastest tenth of its kind, a kernel the join gave to a neighbour)
    benches = [linear(i, 10**6 * (i + 1) * 20, 1e-6 + 4e-12 * 10**6 * (i + 1) * 20) for i in range(10)]
    benches.append(linear(10, 232 * 10**6, 12e-6))
    gemm = fit(benches, frozenset()).kinds[Kind.GEMM]
    assert gemm.s_per_flop == pytest.approx(4e-12, rel=1e-3)


def test_a_kind_timed_in_one_kernel_is_left_to_its_stand_in():
    def bench(kind, index, flops, seconds):
        ops = (_op(0, kind, None, (None,), flops, 8 * flops),)
        return BenchKernels(f"{kind}{index}", "op", ops, seconds, (KernelTime("K", seconds, (0,)),))

    linears = [bench("gemm", i, 10**6 * (i + 1), 1e-6 + 4e-12 * 10**6 * (i + 1)) for i in range(5)]
    # one batch norm its kernel timed (57 us), as OpenVINO ran one of 96: four prices fitted on it would
    # be 57 us for any batch norm
    norms = [bench("normalization", i, 10**5 * (i + 1), 57 * US) for i in range(2)]
    assert Kind.NORMALIZATION not in fit([*linears, norms[0]], frozenset()).kinds
    assert Kind.NORMALIZATION in fit([*linears, *norms[:2]], frozenset()).kinds
    # element-wise ops have no stand-in: one timed kernel is their model
    assert Kind.ELEMENTWISE in fit([*linears, bench("elementwise", 0, 10**5, 5 * US)], frozenset()).kinds


def test_data_movement_is_fitted_on_networks_where_networks_ran_it():
    def shuffle(index, nbytes, group, s_per_byte):
        ops = (_op(0, "permuted_copy", None, (None,), 0, nbytes),)
        seconds = 1 * US + s_per_byte * nbytes
        return BenchKernels(f"{group}{index}", group, ops, seconds, (KernelTime("Transpose", seconds, (0,)),))

    # alone, on a plain input: 100 GB/s; between blocked convolutions in a network: 10 GB/s (OpenVINO's
    # ShuffleChannels, measured 100 and 11 GB/s): the one-op models are left out of the kind's fit
    sizes = [10**5 * (i + 1) for i in range(6)]
    benches = [shuffle(i, n, "op", 1e-11) for i, n in enumerate(sizes)]
    benches += [shuffle(i, n, "network", 1e-10) for i, n in enumerate(sizes)]
    copy = fit(benches, frozenset()).kinds[Kind.PERMUTED_COPY]
    assert (copy.overhead_s, copy.s_per_byte) == pytest.approx((1 * US, 1e-10), rel=1e-4)
    # without networks that ran it, the one-op models price it
    alone = fit(benches[:6], frozenset()).kinds[Kind.PERMUTED_COPY]
    assert alone.s_per_byte == pytest.approx(1e-11, rel=1e-4)


@pytest.mark.parametrize(
    ("provider", "precision"),
    [
        ("brgconv_avx512_amx_1x1_bf16", "bf16"),
        ("jit_avx512_f32", "f32"),
        ("ref_any_f32", "f32"),
        ("CPUExecutionProvider", ""),
        ("XnnpackBackend", ""),
    ],
)
def test_a_kernels_precision_is_read_from_its_implementations_name(provider, precision):
    assert Kernel("k", "Conv", provider, ()).precision == precision


def test_a_one_op_kernel_at_a_precision_no_network_ran_its_kind_at_is_left_out():
    def pool(index, nbytes, group, s_per_byte, precision):
        ops = (_op(0, "max_pooling", None, (None,), 0, nbytes),)
        seconds = 1 * US + s_per_byte * nbytes
        kernel = KernelTime("MaxPool", seconds, (0,), precision)
        return BenchKernels(f"{group}{index}", group, ops, seconds, (kernel,))

    # OpenVINO's max pool alone on a float32 input (jit_avx512_f32) at 30 ps a byte, in networks after a
    # bf16 convolution at 10 ps a byte: the one-op kernels price another kernel than the networks run
    sizes = [10**5 * (i + 1) for i in range(6)]
    alone = [pool(i, n, "op", 3e-11, "f32") for i, n in enumerate(sizes)]
    in_networks = [pool(i, n, "network", 1e-11, "bf16") for i, n in enumerate(sizes[:3])]
    model = fit(alone + in_networks, frozenset()).kinds[Kind.MAX_POOLING]
    assert (model.overhead_s, model.s_per_byte) == pytest.approx((1 * US, 1e-11), rel=1e-4)
    # one-op kernels at the networks' precision stay, and so do all where no network ran the kind
    same = [pool(i, n, "op", 1e-11, "bf16") for i, n in enumerate(sizes[3:])]
    rows = as_networks_run([row for b in (*alone, *same, *in_networks) for row in group_rows(b, frozenset())])
    assert sorted((r.group, r.precision) for r in rows) == [("network", "bf16")] * 3 + [("op", "bf16")] * 3
    assert fit(alone, frozenset()).kinds[Kind.MAX_POOLING].s_per_byte == pytest.approx(3e-11, rel=1e-4)


def test_a_runs_cost_outside_its_kernels_is_a_line_in_its_input_bytes_read_off_the_profiled_runs():
    def network(index, input_bytes, drift=0.0, group="network", profiled=True):
        ops = (
            FusionOp(0, "conv_1x1", None, (None,), 1000, 100, 0, input_bytes=input_bytes),
            FusionOp(1, "conv_1x1", None, (0,), 1000, 100, 0),
        )
        kernels = (
            KernelTime("Reorder", 5 * US + 1e-10 * input_bytes, ()),  # the input laid out: 5 us + 0.1 ns/B
            KernelTime("ReorderInput", 40 * US, ()),  # a layout reorder the runtime's reorder fit prices
            KernelTime("Conv", 10 * US, (0,)),
            KernelTime("Reorder", 7 * US, ()),  # between two ops' kernels: the next one's
            KernelTime("Conv", 10 * US, (1,)),
        )
        # the input copied in, which no kernel times: 20 us + 0.2 ns/B
        wall = sum(k.seconds for k in kernels) + 20 * US + 2e-10 * input_bytes
        # the plain runs, timed minutes before, drifted with the machine
        return BenchKernels(f"n{index}", group, ops, wall * (1 + drift), kernels, wall if profiled else 0.0)

    sizes = [110_000, 200_000, 300_000, 440_000, 600_000, 790_000]
    benches = [network(i, n, drift=0.1) for i, n in enumerate(sizes)]
    benches.append(network(6, 10**7, group="op"))  # a one-op benchmark: not a network
    assert outside_kernels(benches, frozenset({"ReorderInput"})) == pytest.approx((25 * US, 3e-10))
    # where the profiler slows the runs it times, their kernels hold this cost: none is priced
    plain = [network(i, n, profiled=False) for i, n in enumerate(sizes)]
    assert outside_kernels(plain, frozenset({"ReorderInput"})) == (0.0, 0.0)
    assert outside_kernels([network(0, 10**5, group="op")]) == (0.0, 0.0)


def test_the_inputs_kernels_are_those_no_group_is_credited_with():
    # a Transpose joined to a view alone computes nothing (``_computes``): like the input's reorder, it
    # runs before the first op's kernel and is the run's, not the convolution's
    ops = (
        FusionOp(0, "view", "view", (None,), 0, 0, 0, input_bytes=100_000),
        FusionOp(1, "conv_1x1", None, (0,), 1000, 100, 0),
    )
    kernels = (
        KernelTime("Reorder", 10 * US, ()),
        KernelTime("Transpose", 6 * US, (0,)),
        KernelTime("Conv", 50 * US, (1,)),
    )
    bench = BenchKernels("n", "network", ops, 90 * US, kernels, profiled_s=80 * US)
    assert [row.seconds for row in group_rows(bench, frozenset()) if row.kind == "conv_1x1"] == [
        pytest.approx(50 * US)
    ]
    # one network: the line is flat through 80 - 66 + 16 = 30 us
    assert outside_kernels([bench]) == pytest.approx((30 * US, 0.0))


def test_a_networks_matrix_vector_weights_get_a_price_per_byte_its_one_op_loops_do_not_pay():
    def classifier(index, k, group):
        # a linear layer at batch 1 on k inputs to 100: 2 * k * 100 flops, 4 * (k * 100 + 100) weight bytes
        weights = 4 * (k * 100 + 100)
        op = FusionOp(0, "gemm", None, (None,), 200 * k, 4 * k + weights + 400, 0, input_bytes=4 * k)
        # 1 us + 10 ps a byte alone; in a network 30 ps more a weight byte
        seconds = 1 * US + 1e-11 * op.mem_access_bytes + (3e-11 * weights if group == "network" else 0.0)
        return BenchKernels(f"{group}{index}", group, (op,), seconds, (KernelTime("Gemm", seconds, (0,)),))

    widths = [256 * (i + 1) for i in range(6)]
    benches = [classifier(i, k, "op") for i, k in enumerate(widths)]
    benches += [classifier(i, k, "network") for i, k in enumerate(widths[:4])]
    fitted = fit(benches, frozenset())
    assert fitted.s_per_streamed_byte == pytest.approx(3e-11, rel=1e-4)
    assert fitted.kinds[Kind.GEMM].s_per_byte == pytest.approx(1e-11, rel=1e-4)


def test_the_fit_prices_the_weights_and_buffers_a_networks_pass_fetches_from_dram():
    cache = PassCache(10**6, 10**8)  # holds a 1 MB pass, loses a 100 MB one (reuse)

    def gemm(op_id, flops, weights, output=0):
        inputs = (op_id - 1 if op_id else None,)
        return FusionOp(op_id, "gemm", None, inputs, flops, weights, weights, output_bytes=output)

    def hot(op):  # generated from: gemm = 1 us + 4 ps/flop + 2 ps/weight byte, its weights cached
        return 1 * US + 4e-12 * op.flops + 2e-12 * op.weight_bytes

    benches = []
    for i in range(8):  # one-op benchmarks: the loop reads the same weights from the cache
        op = gemm(0, 10**6 * (i + 1), 10**5 * (8 - i))
        benches.append(BenchKernels(f"op{i}", "op", (op,), hot(op), (KernelTime("Gemm", hot(op), (0,)),)))
    shapes = [(2, 10**6, 2 * 10**5), (4, 10**6, 10**5), (3, 2 * 10**6, 5 * 10**5), (8, 5 * 10**5, 10**5)]
    for i, (layers, weights, out) in enumerate(shapes):
        ops = tuple(gemm(j, 3 * 10**6 + 10**5 * j, weights, out) for j in range(layers))
        # of each weight and fresh buffer byte, the share the footprint's log puts between 1 and 100 MB
        share = math.log10(layers * (weights + out) / 10**6) / 2
        # a chain's first two outputs are fresh; the third goes into the first's freed buffer, and so on
        fetched = [share * (20e-12 * weights + 50e-12 * (out if j < 2 else 0)) for j in range(layers)]
        kernels = tuple(KernelTime("Gemm", hot(op) + extra, (op.id,)) for op, extra in zip(ops, fetched))
        benches.append(BenchKernels(f"net{i}", "network", ops, sum(k.seconds for k in kernels), kernels))
    fitted = fit(benches, frozenset(), cache=cache)
    assert fitted.cold_costs == pytest.approx((20e-12, 50e-12), rel=1e-4)
    # where the probe measured a miss at 30 ps a byte, a byte from DRAM costs no more than that
    capped = fit(benches, frozenset(), cache=cache._replace(miss_s_per_byte=30e-12)).cold_costs
    assert capped.buffers == pytest.approx(30e-12)
    assert 20e-12 < capped.weights < 22e-12  # refitted: the weights take up part of what the cap left
    fresh = gemm(0, 7 * 10**6, 3 * 10**5)  # its bytes are its weights: one price for both is the same fit
    priced = fitted.kinds[Kind.GEMM].terms(fresh.flops, fresh.mem_access_bytes, fresh.weight_bytes)
    assert sum(priced) == pytest.approx(hot(fresh), rel=1e-4)
    # an unknown cache size prices every weight as the one-op benchmarks found it
    assert fit(benches, frozenset()).cold_costs == (0.0, 0.0)


def test_a_kernels_bytes_past_l2_get_a_price_of_their_own():
    l2 = 2 * 10**6

    def conv(index, channels, batch):
        # a 1x1 convolution over a 56x56 map: channels * 56 * 56 * 4 bytes in and out a sample, and
        # 2 * channels^2 * 56 * 56 flops a sample
        side = 4 * channels * 56 * 56 * batch
        flops = channels * side // 2
        op = FusionOp(0, "conv_1x1", None, (None,), flops, 2 * side, 0, input_bytes=side, output_bytes=side)
        # 2 us + 10 ps a byte while both fit in L2, 25 ps more for every byte past it
        seconds = 2 * US + 1e-11 * op.mem_access_bytes + 2.5e-11 * max(0, 2 * side - l2)
        return BenchKernels(f"conv{index}", "op", (op,), seconds, (KernelTime("Conv", seconds, (0,)),))

    benches = [
        conv(i, c, b) for i, (c, b) in enumerate([(8, 1), (16, 1), (32, 1), (16, 4), (32, 8), (64, 8)])
    ]
    fitted = fit(benches, frozenset(), l2_bytes=l2)
    assert fitted.s_per_spilled_byte == pytest.approx(2.5e-11, rel=1e-4)
    assert fitted.kinds[Kind.CONV_1X1].s_per_byte == pytest.approx(1e-11, rel=1e-4)
    # where L2's size is unknown there is no such price
    assert fit(benches, frozenset()).s_per_spilled_byte == 0.0
