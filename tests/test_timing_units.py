"""Timing pieces without timing: statistics, roofline, Figure-2 mapping, calibration cache,
the CUDA clock (mocked), the report and the CLI helpers. Every number here is hand computed."""

import argparse
import json

import pytest
import torch
from rich.console import Console

import netprof
from netprof.analysis.pricing import OpNode
from netprof.calibration.microbench import micro_benchmarks
from netprof.calibration.profile import calibrate as calibrate_profile
from netprof.capture.ir import TensorMeta
from netprof.cli import calibrate as calibrate_command
from netprof.cli.common import add_time_arguments, timing_options
from netprof.cli.main import build_parser
from netprof.report.timing import render, render_calibration, seconds, timing_to_dict
from netprof.timing import (
    Calibration,
    Measurement,
    Runner,
    TimingError,
    attribute,
    clocks,
    figure2_category,
    roofline,
)
from netprof.timing import calibrate as cal
from netprof.timing.measurement import quantile
from netprof.timing.run import device_of
from netprof.zoo import shufflenet_v1

# --- Measurement ---------------------------------------------------------------------------


def test_measurement_median_and_iqr_by_hand():
    # sorted: 1 2 3 4 10; median = 3; q1 at 0.25*4 = 1 -> 2; q3 at 3 -> 4; IQR = 4 - 2 = 2
    m = Measurement.of([4.0, 1.0, 10.0, 2.0, 3.0], threads=2)
    assert (m.median, m.q1, m.q3, m.iqr, m.runs, m.threads) == (3.0, 2.0, 4.0, 2.0, 5, 2)
    assert m.times == (4.0, 1.0, 10.0, 2.0, 3.0)  # raw, in run order


def test_quantiles_interpolate_between_ranks():
    # [1, 2, 3, 4]: median at 1.5 -> 2.5; q1 at 0.75 -> 1 + 0.75 * 1 = 1.75; q3 at 2.25 -> 3.25
    assert quantile([4, 3, 2, 1], 0.5) == 2.5
    assert quantile([1, 2, 3, 4], 0.25) == 1.75
    assert quantile([1, 2, 3, 4], 0.75) == 3.25
    assert quantile([7], 0.25) == 7
    with pytest.raises(ValueError):
        quantile([], 0.5)


def test_noisy_warning_above_ten_percent_of_median():
    # [10, 10, 10, 11, 12]: median 10, q1 10, q3 11, IQR 1 = 10% of the median: not noisy
    assert Measurement.of([10, 10, 10, 11, 12], 1).warning is None
    # [10, 10, 10, 12, 12]: IQR 2 = 20% of 10: noisy
    noisy = Measurement.of([10, 10, 10, 12, 12], 1)
    assert noisy.noisy and "20% of the median" in noisy.warning


# --- roofline and attribution on a synthetic graph ----------------------------------------

_META = TensorMeta((1,), torch.float32, (1,))


def _node(i, op, category, mult_adds=0, flops=0, mem=0, module="m", inputs=()):
    return OpNode(i, op, module, tuple(inputs), (_META,), (_META,), category, mult_adds, flops, mem, True)


def _fake_calibration(peak=1e9, bandwidth=1e8):
    m = Measurement.of([1.0], 1)
    return Calibration("fake", "cpu", 1, peak, bandwidth, m, m)


def test_roofline_labels_and_estimate():
    c = _fake_calibration(peak=1e9, bandwidth=1e8)  # ridge 10 FLOP/B
    # 2e6 flops / 1e9 = 2 ms > 1e5 B / 1e8 = 1 ms: compute-bound, 2 ms
    assert roofline(2_000_000, 100_000, c) == ("compute", 2e-3)
    # 1e3 / 1e9 = 1 us < 1e6 / 1e8 = 10 ms: memory-bound, 10 ms
    assert roofline(1_000, 1_000_000, c) == ("memory", 1e-2)
    assert roofline(0, 0, c) == (None, 0.0)  # a view: nothing to bound
    assert roofline(5, 5, None) == (None, None)
    assert c.ridge == 10.0


def _synthetic_timing(calibration=None):
    nodes = (
        _node(
            0,
            "aten.convolution.default",
            "conv",
            mult_adds=1_000_000,
            flops=2_000_000,
            mem=100_000,
            module="a",
        ),
        _node(1, "aten.max_pool2d_with_indices.default", "pooling", flops=1_000, mem=1_000_000, module="b"),
        _node(2, "aten.view.default", "view", module="b", inputs=(1,)),
    )
    # three passes, seconds per op; medians: conv 3, pool 6, view 1 -> 10 attributed
    op_times = [[3.0, 6.0, 1.0], [2.0, 7.0, 1.0], [4.0, 5.0, 1.0]]
    end_to_end = [12.0, 11.0, 13.0]  # median 12 -> overhead 12 - 10 = 2
    plain = [9.0, 9.5, 10.0]
    return attribute(
        nodes,
        op_times,
        end_to_end,
        plain,
        threads=1,
        device="cpu",
        warmup=1,
        calibration=calibration,
        module_order=["", "a", "b"],
    )


def test_attribution_by_hand():
    t = _synthetic_timing(_fake_calibration())
    assert t.attributed_s == 10.0 and t.overhead_s == 2.0 and t.end_to_end.median == 12.0
    # per pass overhead: 12 - 10, 11 - 10, 13 - 10 -> median 2
    assert t.overhead.times == (2.0, 1.0, 3.0) and t.overhead.median == 2.0
    assert t.instrumentation_s == 12.0 - 9.5
    assert t.framework_overhead_s == 9.5 - 10.0  # noise can make the estimate negative
    assert t.instrumentation_s + t.framework_overhead_s == t.overhead_s
    assert [op.bound for op in t.ops] == ["compute", "memory", None]
    assert t.roofline_s == pytest.approx(2e-3 + 1e-2)
    conv, pool = t.op_types[1], t.op_types[0]  # sorted by time: pool 6 s first
    assert pool.name == "max_pool2d_with_indices" and conv.name == "convolution"
    assert pool.time_share == 0.6 and pool.mult_adds_share == 0.0 and pool.time_over_mult_adds is None
    assert conv.time_share == 0.3 and conv.time_over_mult_adds == pytest.approx(0.3)
    assert conv.gflop_per_s == pytest.approx(2e6 / 3 / 1e9)
    assert pool.gb_per_s == pytest.approx(1e6 / 6 / 1e9)
    assert conv.mem_access_share == pytest.approx(100_000 / 1_100_000)
    # module b = pool + view: medians 6 + 1 = 7; per pass sums 7, 8, 6 -> IQR 7.5 - 6.5 = 1
    b = next(g for g in t.modules if g.name == "b")
    assert b.time_s == 7.0 and b.spread.times == (7.0, 8.0, 6.0) and b.spread.iqr == 1.0
    assert [g.name for g in t.modules] == ["", "a", "b"]
    # ranking: pool 60% - 0% = 0.6 first, view 10% - 0% = 0.1; conv (30% < 100%) is left out
    assert [d.name for d in t.disagreements] == ["max_pool2d_with_indices", "view"]
    assert t.disagreements[0].describe() == "max_pool2d_with_indices: 0% of mult_adds, 60% of time"
    assert [d.name for d in t.module_disagreements] == ["b"]
    assert [g.name for g in t.figure2] == ["Conv", "Other"]


def test_percent_keeps_small_shares_visible():
    from netprof.timing.attribution import percent

    assert (percent(0.0), percent(0.004), percent(0.11), percent(0.6)) == ("0%", "0.4%", "11%", "60%")


def test_op_type_split_by_category_where_it_spans_several():
    nodes = (
        _node(0, "aten.convolution.default", "conv", mult_adds=100, flops=200),
        _node(1, "aten.convolution.default", "depthwise_conv", mult_adds=10, flops=20),
        _node(2, "aten.relu.default", "elementwise"),
    )
    t = attribute(nodes, [[1.0, 1.0, 1.0]], [3.0], [3.0], threads=1, device="cpu", warmup=0)
    assert {g.name for g in t.op_types} == {"convolution [conv]", "convolution [depthwise_conv]", "relu"}


def test_group_hook_for_blocks():
    t = _synthetic_timing()
    blocks = t.group(lambda op: "block1" if op.module in ("a", "b") else None)
    assert len(blocks) == 1 and blocks[0].time_s == 10.0 and blocks[0].time_share == 1.0
    assert t.roofline_s is None and all(op.bound is None for op in t.ops)
    assert any("netprof calibrate" in w for w in t.warnings)


def test_attribute_rejects_mismatched_passes():
    nodes = (_node(0, "aten.relu.default", "elementwise"),)
    with pytest.raises(ValueError, match="one time per op"):
        attribute(nodes, [[1.0, 2.0]], [3.0], [3.0], threads=1, device="cpu", warmup=0)
    with pytest.raises(ValueError, match="no timed pass"):
        attribute(nodes, [], [], [], threads=1, device="cpu", warmup=0)


# --- Figure 2 ------------------------------------------------------------------------------


def test_channel_shuffle_copy_is_shuffle_and_other_copies_are_data():
    analysis = netprof.analyze(shufflenet_v1(groups=3), torch.randn(1, 3, 224, 224))
    labels = {node.id: figure2_category(node, analysis.ops) for node in analysis.ops}
    shuffles = [node for node in analysis.ops if labels[node.id] == "Shuffle"]
    # one shuffle per unit that has grouped pointwise convs: 16 units, the first one ungrouped
    assert len(shuffles) == 15
    assert all(node.op == "aten.clone.default" for node in shuffles)
    cats = [node for node in analysis.ops if node.op.startswith("aten.cat.")]
    assert cats and all(labels[node.id] == "Data" for node in cats)
    assert {labels[n.id] for n in analysis.ops if n.category == "depthwise_conv"} == {"Conv"}
    assert {labels[n.id] for n in analysis.ops if n.category == "normalization"} == {"Elemwise"}
    assert {labels[n.id] for n in analysis.ops if n.category == "pooling"} == {"Other"}


def test_native_channel_shuffle_op_is_shuffle():
    node = _node(0, "aten.native_channel_shuffle.default", "data_movement")
    assert figure2_category(node, (node,)) == "Shuffle"


# --- calibration cache ----------------------------------------------------------------------


def test_calibration_cache_roundtrip(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cal.cache_path() == tmp_path / "netprof" / "calibration.json"
    assert cal.load("cpu", 1) is None
    measured = cal.measure("cpu", threads=1, gemm_n=64, copy_bytes=1 << 16, repeats=3)
    assert measured.threads == 1 and measured.key == cal.device_key("cpu", 1)
    # 2 * 64**3 flops per GEMM; 2 * 65536 bytes per copy
    # the roof is the fastest run
    assert measured.peak_flops == pytest.approx(2 * 64**3 / min(measured.gemm.times))
    assert measured.bandwidth == pytest.approx(2 * 65536 / min(measured.copy.times))
    cal.save(measured)
    assert cal.load("cpu", 1) == measured
    assert cal.load("cpu", 2) is None  # keyed by thread count
    data = json.loads(cal.cache_path().read_text())
    assert list(data) == [measured.key] and "threads=1" in measured.key


def test_analyze_uses_the_cached_calibration(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fake = _fake_calibration()
    cal.save(Calibration(cal.device_key("cpu", 1), "cpu", 1, 1e9, 1e8, fake.gemm, fake.copy))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    timing = netprof.run(
        model, torch.randn(1, 3, 16, 16), timing=netprof.TimingOptions(repeat=2, threads=1)
    ).timing
    assert timing.calibration.peak_flops == 1e9
    conv = next(op for op in timing.ops if op.category == "conv")
    # 14*14*4*27 = 21168 mult_adds -> flops 2 * 21168 + 784 bias = 43120 -> 43.1 us compute;
    # bytes (768 input + 108 weight + 4 bias + 784 output) * 4 = 6656 -> 66.6 us memory: memory-bound
    assert conv.flops == 43120 and conv.mem_access_bytes == 6656
    assert conv.bound == "memory" and conv.roofline_s == pytest.approx(6656 / 1e8)


# --- CUDA clock, mocked ---------------------------------------------------------------------


class _FakeTimeline:
    """CUDA events on a fake GPU whose clock advances one millisecond per recorded event."""

    def __init__(self):
        self.now, self.syncs = 0.0, 0

    def event_class(self):
        timeline = self

        class Event:
            def __init__(self, enable_timing=False):
                assert enable_timing
                self.at = None

            def record(self, stream=None):
                timeline.now += 1.0
                self.at = timeline.now

            def elapsed_time(self, other):
                assert self.at is not None and other.at is not None, "an event was never recorded"
                return other.at - self.at

        return Event

    def synchronize(self, device=None):
        self.syncs += 1


def test_cuda_clock_one_event_pair_per_op_and_one_sync_per_pass(monkeypatch):
    timeline = _FakeTimeline()
    monkeypatch.setattr(torch.cuda, "Event", timeline.event_class())
    monkeypatch.setattr(torch.cuda, "synchronize", timeline.synchronize)
    clock = clocks.CudaClock("cuda:0", flush_bytes=0)  # no L2 flush buffer: nothing allocated on a GPU
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()).eval()
    x = torch.randn(2, 4)
    expected = [n.op for n in netprof.analyze(model, x, mode="real").ops]
    runner = Runner(model, (x,), expected, torch.device("cpu"))
    runner.clock = clock
    with torch.no_grad():
        e2e, ops, same = runner.instrumented()
    assert same and len(ops) == len(expected)
    # each op: start and stop are consecutive events -> 1 ms; the pass: 2 per op + its own end
    assert ops == [1e-3] * len(expected)
    assert e2e == pytest.approx((2 * len(expected) + 1) * 1e-3)
    assert timeline.syncs == 2  # before the pass (idle device) and after it (read the events)


def test_cuda_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(TimingError, match="cuda"):
        device_of("cuda")
    with pytest.raises(TimingError, match="cuda"):
        netprof.run(torch.nn.ReLU(), torch.randn(2), timing=netprof.TimingOptions(device="cuda"))
    with pytest.raises(TimingError, match="netprof times on cpu or cuda"):
        device_of("mps")


def test_meta_model_cannot_be_timed():
    with torch.device("meta"):
        model = torch.nn.Linear(4, 4)
    with pytest.raises(TimingError, match="meta device"):
        netprof.run(model, torch.randn(2, 4), timing=netprof.TimingOptions(repeat=1))


# --- report and CLI helpers ----------------------------------------------------------------


def test_seconds_units():
    assert seconds(0.0123) == "12.3 ms"
    assert seconds(2.5) == "2.5 s"
    assert seconds(4.56e-6) == "4.56 us"
    assert seconds(7e-9) == "7 ns"
    assert seconds(None) == "-"


def test_render_shows_overhead_breakdown_and_ranking():
    t = _synthetic_timing(_fake_calibration())
    console = Console(color_system=None, width=160, record=True)
    render(t, console, depth=1)
    text = console.export_text()
    assert "= ops 10 s + overhead 2 s (16.7% of end-to-end" in text
    assert "1. max_pool2d_with_indices: 0% of mult_adds, 60% of time" in text
    assert "Conv" in text and "Shuffle" in text and "overhead" in text
    # Figure 2 row, shares of end-to-end 12 s: Conv 3/12, Other 7/12, overhead 2/12
    assert "25.0%" in text and "58.3%" in text
    assert (
        "Roofline peak 1 GFLOP/s, bandwidth 0.1 GB/s (ridge 10 FLOP/B): 1 ops compute-bound, 1 memory-bound"
        in text
    )


def test_timing_to_dict_keeps_ints_and_seconds():
    d = timing_to_dict(_synthetic_timing(_fake_calibration()))
    json.dumps(d)  # serializable as is
    assert d["runs"] == 3 and isinstance(d["runs"], int)
    assert d["attributed_s"] == 10.0 and d["overhead_s"] == 2.0
    assert d["end_to_end"]["median_s"] == 12.0 and d["end_to_end"]["times_s"] == [12.0, 11.0, 13.0]
    conv = next(g for g in d["op_types"] if g["name"] == "convolution")
    assert conv["mult_adds"] == 1_000_000 and isinstance(conv["mult_adds"], int)
    assert d["disagreements"][0]["name"] == "max_pool2d_with_indices"
    assert d["roofline"]["estimate_s"] == pytest.approx(0.012)
    assert d["ops"][0]["time"] == {"median_s": 3.0, "q1_s": 2.5, "q3_s": 3.5, "iqr_s": 1.0, "runs": 3}


def test_time_arguments():
    parser = argparse.ArgumentParser()
    add_time_arguments(parser)
    args = parser.parse_args(["--time", "--repeat", "7", "--threads", "1", "--budget", "2.5"])
    assert timing_options(args) == netprof.TimingOptions(device="cpu", repeat=7, budget_s=2.5, threads=1)
    assert timing_options(parser.parse_args([])) is None  # not timed without --time
    assert timing_options(parser.parse_args(["--time"])) == netprof.TimingOptions(
        device="cpu", repeat=None, budget_s=10.0, threads=None
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["--repeat", "0"])


def test_calibrate_command_measures_once_then_reads_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []

    def fake_measure(device, threads):
        calls.append((device, threads))
        m = Measurement.of([0.5], threads)
        return Calibration(cal.device_key(device, threads), device, threads, 2e10, 1e10, m, m)

    def few_benchmarks(device, threads, dtype, budget_s, progress):
        calls.append(("profile", threads))
        return calibrate_profile(device, threads, dtype, 0.5, progress, micro_benchmarks()[::50])

    monkeypatch.setattr(cal, "measure", fake_measure)
    monkeypatch.setattr(calibrate_command, "calibrate_profile", few_benchmarks)
    args = build_parser().parse_args(["calibrate", "--threads", "1"])
    for _ in range(2):
        out = Console(color_system=None, width=120, record=True)
        err = Console(color_system=None, width=120, record=True, stderr=True)
        assert args.handler(args, out, err) == 0
    assert calls == [("cpu", 1), ("profile", 1)]  # the second run reads both from the cache
    shown = out.export_text()
    assert "peak 20 GFLOP/s" in shown and "bandwidth 10 GB/s" in shown
    assert "Device profile cpu|" in shown and f"{len(micro_benchmarks()[::50])} micro-benchmarks" in shown
    said = err.export_text()
    assert "cached value" in said and "cached profile from" in said


def test_render_calibration():
    console = Console(color_system=None, width=120, record=True)
    render_calibration(_fake_calibration(2e10, 1e10), console, cached_at="/x/calibration.json")
    text = console.export_text()
    assert "ridge 2 FLOP/B" in text and "cached in /x/calibration.json" in text
