"""The cache-aware terms of a device profile: cache sizes, the per-op features, their price, the file."""

import json
import statistics
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from rich.console import Console
from torch import nn

import netprof
from netprof.calibration import pages
from netprof.calibration import profile as calibration
from netprof.calibration.caches import cache_sizes, from_levels, measured_pass_cache, parse_size
from netprof.calibration.microbench import micro_benchmarks
from netprof.prediction import Kind, KindModel, predict
from netprof.prediction import profile as profiles
from netprof.prediction.kinds import (
    kind_of,
    loop_cached_bytes,
    mapped_output_bytes,
    past_cache_bytes,
    transient_bytes,
)
from netprof.prediction.profile import DeviceProfile
from netprof.report.prediction import render_profile
from netprof.runtimes import pack_run
from netprof.runtimes.reuse import PassCache, evicted_share

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from rotation import summary


def test_cache_sizes_parse_sysfs_and_lscpu_units(tmp_path):
    assert parse_size("512K") == 512 * 1024
    assert parse_size("16384K") == 16 * 1024**2
    assert parse_size("32 MiB") == 32 * 1024**2
    assert parse_size("1048576") == 1048576
    for index, (level, kind, size) in enumerate(
        [(1, "Data", "32K"), (1, "Instruction", "32K"), (2, "Unified", "512K"), (3, "Unified", "16384K")]
    ):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        (folder / "level").write_text(f"{level}\n")
        (folder / "type").write_text(f"{kind}\n")
        (folder / "size").write_text(f"{size}\n")
    # L2 512 KiB; the last level is the highest unified one, L3 16 MiB; instruction caches never count.
    assert cache_sizes(tmp_path) == (524_288, 16_777_216)
    assert from_levels([(1, "Data", 32768), (2, "Unified", 1 << 20)]) == (1 << 20, 1 << 20)
    assert from_levels([(1, "Instruction", 32768)]) == (0, 0)


def _nodes(model: nn.Module, shape: tuple[int, ...]):
    return netprof.analyze(model, torch.empty(shape, device="meta"), mode="meta").ops


MIB = 2**20
PROBED = PassCache(32 * MIB, 256 * MIB)


def _price(size: int) -> float:
    """What reading ``size`` bytes over and over costs a byte where the cache keeps ``PROBED``: 1e-10 s in
    cache, four times that from DRAM."""
    return (1 + 3 * evicted_share(size, PROBED)) * 1e-10


def _probe_curve() -> list[list[float]]:
    return [[2**k * MIB, _price(2**k * MIB)] for k in range(11)]  # 1 MiB to 1 GiB


def test_what_the_cache_keeps_of_a_pass_is_read_off_the_probe():
    sizes = [2**k * MIB for k in range(11)]
    # 128 MiB read over and over: log(128 / 32) / log(256 / 32) = 2/3 missed
    assert _price(128 * MIB) == pytest.approx(3e-10)
    curve = _probe_curve()
    found = measured_pass_cache(curve)
    # the grid's 48 sizes from 1 MiB to 4 GiB are 19% apart
    assert found.holds_bytes == pytest.approx(32 * MIB, rel=0.19)
    assert found.loses_bytes == pytest.approx(256 * MIB, rel=0.19)
    # reads within twice the L2 are faster still, and left out
    with_l2 = [[size, p * (0.3 if size <= 4 * MIB else 1)] for size, p in curve]
    assert measured_pass_cache(with_l2, l2_bytes=2 * MIB).loses_bytes == pytest.approx(256 * MIB, rel=0.19)
    # a price that never rose by a fifth: no size read was past the cache; too few sizes say nothing
    assert measured_pass_cache([[size, (1 + i / 100) * 1e-10] for i, size in enumerate(sizes)]) == PassCache()
    assert measured_pass_cache(curve[-3:]) == PassCache()


def test_calibration_prices_bytes_past_what_the_probe_found_the_cache_keeps(monkeypatch):
    monkeypatch.setattr(calibration, "cache_probe", _probe_curve)
    monkeypatch.setattr(calibration, "page_fault_cost", lambda: 2.5e-10)
    network = next(bench for bench in micro_benchmarks() if bench.group == "network")
    profile = calibration.calibrate("cpu", threads=1, budget_s=0.5, benches=[network], rounds=1)
    assert (profile.l2_bytes, profile.llc_bytes) == cache_sizes()
    assert profile.page_fault_s_per_byte == 2.5e-10 >= profile.s_per_transient_byte
    assert profile.cache_holds_bytes == pytest.approx(32 * MIB, rel=0.19)
    (point,) = profile.points
    ops = netprof.analyze(network.build(), torch.empty(network.input_shape, device="meta"), mode="meta").ops
    assert point.past_llc_bytes == sum(past_cache_bytes(op, profile.cache_holds_bytes) for op in ops)
    assert point.transient_bytes == sum(transient_bytes(op) for op in ops)
    kernels = [op for op in ops if kind_of(op) is not Kind.VIEW]
    assert 0 < point.network_ops == len(kernels) < len(ops)
    assert 0 < point.loop_cached_bytes == sum(loop_cached_bytes(op, profile.l2_bytes) for op in kernels)


def test_only_a_network_on_a_cpu_has_the_features_a_loop_keeps_in_cache():
    benches = micro_benchmarks()
    network = next(bench for bench in benches if bench.group == "network")
    one_op = next(bench for bench in benches if bench.group == "op" and bench.capture == "meta")
    cpu, cuda = torch.device("cpu"), torch.device("cuda")  # a device object: nothing runs on it
    loop = calibration.cache_features(_nodes(one_op.build(), one_op.input_shape), one_op, cpu, 1, MIB)
    assert loop["past_llc_bytes"] > 0  # a one-op loop has bytes past a 1-byte cache, and nothing else
    assert (loop["transient_bytes"], loop["network_ops"], loop["loop_cached_bytes"]) == (0, 0, 0)
    ops = _nodes(network.build(), network.input_shape)
    on_cpu = calibration.cache_features(ops, network, cpu, 0, MIB)
    assert on_cpu["past_llc_bytes"] == 0 and on_cpu["network_ops"] > 0 and on_cpu["loop_cached_bytes"] > 0
    on_gpu = calibration.cache_features(ops, network, cuda, 0, MIB)
    assert on_gpu == dict.fromkeys(on_gpu, 0)


def test_page_faults_cost_what_fresh_pages_cost_beyond_mapped_ones(monkeypatch):
    # A fake clock: 3 ms for each write of the fresh buffer, 1 ms for the mapped one, over 8 MiB.
    ticks = iter([0.0, 0.003, 0.003, 0.004] * 3)
    with monkeypatch.context() as patched:
        patched.setattr(pages, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
        assert pages.page_fault_cost(8 * MIB, rounds=3) == pytest.approx(0.002 / (8 * MIB))
    # Measured for real: never negative, and under a microsecond a byte (a 4 KiB page in under 4 ms). Not
    # positive every time: in a fresh-clone CI run here the fresh buffer's median write matched the
    # mapped one's, which the function reports as 0, as its docstring says.
    assert 0 <= pages.page_fault_cost() < 1e-6


def test_the_cache_probe_reads_sizes_in_steps_of_root_two(monkeypatch):
    monkeypatch.setattr(pack_run, "PROBE_LIMIT", 8 * 2**20)
    curve = pack_run.cache_probe(rounds=1)
    assert [size // 2**20 for size, _ in curve] == [1, 2, 3, 4, 6, 8]
    assert all(0 < price < 1e-6 for _, price in curve)  # seconds per byte: faster than 1 MB/s


def test_transient_and_past_cache_bytes_by_hand():
    (dw,) = _nodes(nn.Conv2d(8, 8, 3, 2, 1, groups=8, bias=False), (1, 8, 16, 16))
    # input 8*16*16*4 = 8,192 bytes; output 8*8*8*4 = 2,048 bytes: 10,240 bytes of per-call buffers.
    assert transient_bytes(dw, threshold_bytes=10_239) == 10_240
    assert transient_bytes(dw, threshold_bytes=10_240) == 0  # small: the heap's free lists serve them
    assert transient_bytes(dw) == 0  # the line is 8 MiB
    (large,) = _nodes(nn.Conv2d(8, 8, 3, 2, 1, groups=8, bias=False), (1, 8, 512, 512))
    # input 8*512*512*4 = 8,388,608 bytes (8 MiB); output 8*256*256*4 = 2,097,152: 10,485,760 past the line.
    assert transient_bytes(large) == 10_485_760
    # A dense convolution runs without those buffers here: never transient.
    (dense,) = _nodes(nn.Conv2d(8, 8, 3, 2, 1, bias=False), (1, 8, 16, 16))
    assert transient_bytes(dense, threshold_bytes=0) == 0
    (relu,) = _nodes(nn.ReLU(), (2, 1000))
    # 2,000 floats read and written: 16,000 bytes; 4,000 of them past a 12,000-byte cache.
    assert relu.mem_access_bytes == 16_000
    assert past_cache_bytes(relu, 12_000) == 4_000
    assert past_cache_bytes(relu, 16_000) == 0
    # Its 16,000 bytes fit a 16,000-byte L2, which a loop of it keeps them in; not a byte smaller.
    assert loop_cached_bytes(relu, 16_000) == 16_000
    assert loop_cached_bytes(relu, 15_999) == 0


def _profile(**caches) -> DeviceProfile:
    return DeviceProfile(
        device="cpu",
        processor="a hand-written test CPU",
        threads=1,
        dtype="float32",
        versions={},
        kinds={
            Kind.ELEMENTWISE: KindModel(overhead_s=2e-6, s_per_flop=0.0, s_per_byte=1e-9),
            Kind.DEPTHWISE_CONV: KindModel(overhead_s=1e-6, s_per_flop=1e-10, s_per_byte=0.0),
            Kind.VIEW: KindModel(overhead_s=0.0, s_per_flop=0.0, s_per_byte=0.0),
        },
        per_module_call_s=0.0,
        per_run_s=0.0,
        **caches,
    )


def test_the_cache_terms_are_priced_by_hand_on_the_measured_cache_else_the_listed_one():
    model = nn.Sequential(nn.Conv2d(64, 64, 3, 2, 1, groups=64, bias=False), nn.ReLU())
    analysis = netprof.analyze(model, torch.empty(1, 64, 256, 256, device="meta"), mode="meta")
    terms = {"s_per_byte_past_llc": 1e-11, "s_per_transient_byte": 1e-10}
    unknown = predict(analysis, _profile(**terms)).ops  # no cache size: bytes past it are not priced
    listed = predict(analysis, _profile(llc_bytes=16 * MIB, **terms)).ops
    measured = predict(analysis, _profile(llc_bytes=16 * MIB, cache_holds_bytes=4 * MIB, **terms)).ops
    higher = predict(analysis, _profile(fresh_pages_bytes=32 * MIB, **terms)).ops
    # depthwise: 64 * 128*128 outputs * 9 taps = 9,437,184 mult_adds = 18,874,368 flops: 1 us + 1.8874368 ms.
    # Its buffers, input 64*256*256*4 = 16,777,216 + output 64*128*128*4 = 4,194,304 = 20,971,520 bytes, pass
    # 8 MiB: fresh pages at any cache size, + 2.097152 ms.
    dw = 1e-6 + 1.8874368e-3 + 2.097152e-3
    # relu on 1,048,576 floats: 2 us + 8,388,608 bytes * 1 ns = 8.390608 ms.
    relu = 2e-6 + 8.388608e-3
    assert [op.predicted_s for op in unknown] == pytest.approx([dw, relu])
    # past the 16 MiB listed: the depthwise moves 20,971,520 + 2,304 (weight) = 20,973,824 bytes, 4,196,608
    # past it (* 1e-11 = 41.96608 us); the relu's 8 MiB fit.
    assert [op.predicted_s for op in listed] == pytest.approx([dw + 41.96608e-6, relu])
    # past the 4 MiB the probe found kept: 16,779,520 and 4,194,304 bytes.
    assert [op.predicted_s for op in measured] == pytest.approx([dw + 167.7952e-6, relu + 41.94304e-6])
    assert measured[0].bound == "memory"
    # A profile fitted with its line at 32 MiB: 20 MiB of buffers are not fresh pages there.
    assert higher[0].predicted_s == pytest.approx(dw - 2.097152e-3)


def test_an_output_above_glibcs_mmap_threshold_costs_its_page_faults_by_hand():
    # relu on 8x96x112x112 floats: a 38,535,168-byte output, above 32 MiB: glibc maps it fresh every call
    big = netprof.analyze(nn.ReLU(), torch.empty(8, 96, 112, 112, device="meta"), mode="meta")
    # in place, or at 8x64x112x112 (25,690,112 bytes, under 32 MiB), nothing is mapped
    in_place = netprof.analyze(
        nn.ReLU(inplace=True), torch.empty(8, 96, 112, 112, device="meta"), mode="meta"
    )
    small = netprof.analyze(nn.ReLU(), torch.empty(8, 64, 112, 112, device="meta"), mode="meta")
    assert mapped_output_bytes(big.ops[0]) == 38_535_168
    assert mapped_output_bytes(in_place.ops[0]) == mapped_output_bytes(small.ops[0]) == 0
    profile = _profile(page_fault_s_per_byte=2.5e-10)
    prediction = predict(big, profile)
    # 2 us + 77,070,336 bytes at 1 ns, + 38,535,168 bytes of fresh pages at 0.25 ns = 9.633792 ms
    assert prediction.ops[0].predicted_s == pytest.approx(2e-6 + 77_070_336e-9 + 9.633792e-3)
    assert any("38.5 MB of outputs above glibc's 32 MiB mmap threshold" in note for note in prediction.notes)
    assert predict(small, profile).ops[0].predicted_s == pytest.approx(2e-6 + 51_380_224e-9)


def test_what_an_op_costs_in_a_network_beyond_its_loop_is_priced_by_hand():
    terms = {"network_op_s": 3e-6, "s_per_loop_cached_byte": 1e-10}
    model = nn.Sequential(nn.ReLU(), nn.Flatten(0))
    small = netprof.analyze(model, torch.empty(2, 1000, device="meta"), mode="meta")
    large = netprof.analyze(model, torch.empty(2, 1_000_000, device="meta"), mode="meta")
    assert [kind_of(op) for op in small.ops] == [Kind.ELEMENTWISE, Kind.VIEW]
    relu, view = predict(small, _profile(l2_bytes=MIB, **terms)).ops
    # relu on 2,000 floats: 2 us + 16,000 bytes * 1 ns = 18 us; in a network 3 us more, and its 16,000
    # bytes fit the 1 MiB L2 (* 1e-10 = 1.6 us): 22.6 us, most of it memory.
    assert relu.predicted_s == pytest.approx(22.6e-6)
    assert relu.bound == "memory"
    assert view.predicted_s == 0.0  # a view runs no kernel
    # On 2,000,000 floats, 16,000,000 bytes, past the L2: 2 us + 16 ms + 3 us.
    assert predict(large, _profile(l2_bytes=MIB, **terms)).ops[0].predicted_s == pytest.approx(16.005e-3)
    # L2 unknown: only the per-op term.
    assert predict(small, _profile(**terms)).ops[0].predicted_s == pytest.approx(21e-6)
    console = Console(record=True, width=200, color_system=None)
    render_profile(_profile(l2_bytes=MIB, **terms), console)
    assert "in a network, beyond its loop: 3 us an op, 100 us/MB of an op's bytes within 1.05 MB of L2" in (
        console.export_text()
    )


def test_a_profile_without_cache_terms_still_loads_and_new_ones_round_trip(tmp_path):
    profile = _profile(
        l2_bytes=524_288,
        llc_bytes=16_777_216,
        cache_holds_bytes=8_388_608,
        s_per_byte_past_llc=2e-11,
        s_per_transient_byte=3e-10,
        network_op_s=4e-6,
        s_per_loop_cached_byte=5e-11,
        page_fault_s_per_byte=2.4e-10,
    )
    path = tmp_path / "p.json"
    profiles.save(profile, path)
    document = json.loads(path.read_text())
    assert document["caches"] == {"l2_bytes": 524_288, "llc_bytes": 16_777_216, "holds_bytes": 8_388_608}
    assert profiles.load(path) == profile
    # A profile written before the probe prices bytes past the cache Linux lists, and fresh pages past
    # half of it, the line it was fitted with.
    del document["caches"]["holds_bytes"], document["fresh_pages_bytes"]
    path.write_text(json.dumps(document))
    older = profiles.load(path)
    assert (older.pass_cache_bytes, older.fresh_pages_bytes) == (16_777_216, 8_388_608)
    # A profile written before the cache-aware terms: same schema, the terms priced at zero.
    shared = ("s_per_byte_past_llc", "s_per_transient_byte", "network_op_s", "s_per_loop_cached_byte")
    for key in ("caches", *shared, "page_fault_s_per_byte"):
        del document[key]
    path.write_text(json.dumps(document))
    old = profiles.load(path)
    assert (old.pass_cache_bytes, *(getattr(old, key) for key in shared)) == (0, 0.0, 0.0, 0.0, 0.0)
    assert old.page_fault_s_per_byte == 0.0
    document["caches"] = {"l2_bytes": -1}
    path.write_text(json.dumps(document))
    with pytest.raises(profiles.ProfileError, match="l2_bytes"):
        profiles.load(path)


def test_rotation_summary_is_the_median_of_round_medians_with_its_spread():
    # Round medians 10, 11, 12, 13, 30 ms: the latency is their median, 12 ms; a disturbed round (30)
    # moves it by nothing. Quartiles 11 and 13 (positions 1 and 3 of 0..4): IQR 2 / 12; min-max 20 / 12.
    medians = [0.010, 0.011, 0.012, 0.013, 0.030]
    out = summary(medians)
    assert out["latency_s"] == pytest.approx(0.012)
    assert out["iqr"] == pytest.approx(2 / 12)
    assert out["min_max"] == pytest.approx(20 / 12)
    assert statistics.mean(medians) > 0.015  # a mean would have moved by 3 ms
