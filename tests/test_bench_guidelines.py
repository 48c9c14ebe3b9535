"""netprof bench guidelines: the networks of ShuffleNet V2 Tables 1-4, the trend verdicts, a --quick run.

No assertion here depends on how fast this machine is.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import netprof
from netprof.bench import guidelines
from netprof.bench.chart import SERIES, XLABEL, YLABEL, plot_guidelines
from netprof.bench.experiments import experiments, table1, table2, table3, table4
from netprof.bench.measure import Throughput, TimingPlan, clock_name, time_interleaved
from netprof.bench.networks import (
    BLOCKS,
    Bottleneck,
    Fragmented,
    PointwisePair,
    example_input,
    fragment_width,
    g1_network,
    g2_network,
    g3_network,
    g4_network,
    grouped_width,
)
from netprof.bench.trend import Speed, TrendRule, clearly_faster, judge, judge_column, median_iqr, paired
from netprof.cli import bench as cli
from netprof.cli import main
from netprof.cli.main import build_parser
from netprof.environment import threads_set

HW = 56 * 56  # 3136 pixels
FLOAT = 4  # bytes per float32 element


def _analyze(config):
    return netprof.analyze(config.build(), example_input(config.in_channels))


@pytest.fixture(scope="module")
def counted():
    """mult_adds and memory access cost of every network of every table, per image."""
    return {(e.table, c.row, c.column): _analyze(c).totals for e in experiments() for c in e.configs}


# --- the network builders -------------------------------------------------------------------------


def _convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def test_g1_network_is_ten_pointwise_pairs():
    model = g1_network(22, 44)
    assert len(model) == BLOCKS == 10
    assert all(isinstance(block, PointwisePair) for block in model)
    convs = _convs(model)
    assert len(convs) == 20
    assert [(c.in_channels, c.out_channels) for c in convs[:2]] == [(22, 44), (44, 22)]
    assert all(c.kernel_size == (1, 1) and c.bias is None for c in convs)
    assert model(example_input(22)).shape == (1, 22, 56, 56)


def test_g2_network_is_ten_group_convs():
    model = g2_network(184, 8)
    convs = _convs(model)
    assert len(model) == len(convs) == 10
    assert all((c.in_channels, c.out_channels, c.groups) == (184, 184, 8) for c in convs)


def test_grouped_width_rounds_to_the_closest_mult_adds():
    # 180 % 8 != 0. Per pixel: 184^2 / 8 = 4232 (+136 from 64^2 = 4096), 176^2 / 8 = 3872 (-224): 184.
    assert grouped_width(180, 8, reference=64) == 184
    assert grouped_width(90, 2, reference=64) == 90  # divisible: unchanged
    assert grouped_width(360, 8, reference=128) == 360


def test_fragment_width_keeps_mult_adds():
    # n * w^2 = c^2: 64 / sqrt(2) = 45.25 -> 45; 128 / sqrt(2) = 90.51 -> 91; 64 / 2 = 32.
    assert [fragment_width(64, 1), fragment_width(64, 2), fragment_width(64, 4)] == [64, 45, 32]
    assert fragment_width(128, 2) == 91
    assert fragment_width(256, 4) == 128


@pytest.mark.parametrize("parallel", [False, True])
def test_g3_network_fragments(parallel):
    model = g3_network(32, 4, parallel)
    assert len(model) == 10 and all(isinstance(b, Fragmented) and len(b.convs) == 4 for b in model)
    assert all((c.in_channels, c.out_channels) == (32, 32) for c in _convs(model))
    adds = [op for op in netprof.analyze(model, example_input(32)).ops if op.op.startswith("aten.add")]
    assert len(adds) == (10 * 3 if parallel else 0)  # n - 1 = 3 element-wise adds per parallel block
    block, x = model[0], torch.randn(1, 32, 8, 8)
    expected = (
        sum(c(x) for c in block.convs)
        if parallel
        else block.convs[3](block.convs[2](block.convs[1](block.convs[0](x))))
    )
    torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize(("relu", "shortcut"), [(True, True), (True, False), (False, True), (False, False)])
def test_g4_network_bottleneck(relu, shortcut):
    model = g4_network(64, relu, shortcut)
    assert len(model) == 10 and all(isinstance(b, Bottleneck) for b in model)
    convs = _convs(model[0])
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (64, 16, (1, 1)),
        (16, 16, (3, 3)),
        (16, 64, (1, 1)),
    ]
    ops = [op.op for op in netprof.analyze(model, example_input(64)).ops]
    assert sum(op.startswith("aten.relu") for op in ops) == (30 if relu else 0)  # 3 per block
    assert sum(op.startswith("aten.add") for op in ops) == (10 if shortcut else 0)


def test_every_config_builds_ten_blocks_at_its_width():
    for experiment in experiments():
        assert len(experiment.configs) == len(experiment.rows) * len(experiment.columns)
        for config in experiment.configs:
            model = config.build()
            assert len(model) == BLOCKS
            assert not model.training
            assert _convs(model)[0].in_channels == config.in_channels


def test_table_widths_follow_the_paper():
    assert [table1().config("1:6", m).channels for m in ("x1", "x2", "x4")] == [
        "(13,78)",
        "(26,156)",
        "(52,312)",
    ]
    assert [table2().config(f"g={g}", "x2").in_channels for g in (1, 2, 4, 8)] == [128, 180, 256, 360]
    assert table2().config("g=8", "x1").in_channels == 184  # the paper's 180 is not divisible by 8
    assert table3().config("2-fragment-parallel", "c=256").in_channels == 181
    assert table4().config("neither", "c=128").arguments == (
        ("channels", 128),
        ("relu", False),
        ("shortcut", False),
    )


# --- equal mult_adds and the MAC ordering, via netprof.analyze ------------------------------------

# Largest relative mult_adds difference from a column's first row, per table:
# Table 1, the paper's rounded pairs: 22 * 44 = 968 vs 32 * 32 = 1024 -> -5.5%.
# Table 2, 184^2 / 8 = 4232 vs 64^2 = 4096 -> +3.3%.  Table 3, 2 * 91^2 = 16562 vs 128^2 = 16384 -> +1.1%.
# Table 4 rows differ only in element-wise ops: equal.
TOLERANCE = {1: 0.056, 2: 0.034, 3: 0.012, 4: 0.0}


def test_mult_adds_equal_within_each_column(counted):
    for e in experiments():
        for column in e.columns:
            first = counted[(e.table, e.rows[0], column)].mult_adds
            for row in e.rows:
                assert abs(counted[(e.table, row, column)].mult_adds / first - 1) <= TOLERANCE[e.table], (
                    e.table,
                    row,
                    column,
                )


def test_mult_adds_hand_computed(counted):
    # Table 1 x1, 1:1: 10 blocks * 2 convs * 3136 px * 32 * 32 = 64,225,280
    assert counted[(1, "1:1", "x1")].mult_adds == 64_225_280
    # Table 2 x4, g=8: c = 720, 10 * 3136 * 720 * 720 / 8 = 2,032,128,000
    assert counted[(2, "g=8", "x4")].mult_adds == 2_032_128_000
    # Table 4 c=32: per block 3136 * (32*8 + 9*8*8 + 8*32) = 3136 * 1088, times 10 = 34,119,680
    assert counted[(4, "neither", "c=32")].mult_adds == 34_119_680


def test_g1_mac_is_least_at_equal_widths(counted):
    e = table1()
    for column in e.columns:
        macs = [counted[(1, row, column)].mem_access_bytes for row in e.rows]
        assert macs == sorted(macs) and len(set(macs)) == len(macs), column
        for row in e.rows:
            # MAC of one conv1x1 = hw(c1 + c2) + c1 c2 elements (ShuffleNet V2, G1); two per block.
            kwargs = dict(e.config(row, column).arguments)
            c1, c2 = kwargs["c1"], kwargs["c2"]
            assert counted[(1, row, column)].mem_access_bytes == FLOAT * 10 * 2 * (HW * (c1 + c2) + c1 * c2)


def test_g2_mac_grows_with_groups(counted):
    e = table2()
    for column in e.columns:
        macs = [counted[(2, row, column)].mem_access_bytes for row in e.rows]
        assert macs == sorted(macs) and len(set(macs)) == len(macs), column
        for row in e.rows:
            # MAC = hw(c1 + c2) + c1 c2 / g elements per conv (G2), 10 convs.
            kwargs = dict(e.config(row, column).arguments)
            c, g = kwargs["channels"], kwargs["groups"]
            assert counted[(2, row, column)].mem_access_bytes == FLOAT * 10 * (2 * HW * c + c * c // g)


def test_g4_mac_falls_as_element_wise_ops_go(counted):
    for column in table4().columns:
        mac = {row: counted[(4, row, column)].mem_access_bytes for row in table4().rows}
        assert mac["ReLU+shortcut"] > mac["ReLU only"] > mac["neither"]
        assert mac["ReLU+shortcut"] > mac["shortcut only"] > mac["neither"]


# --- the verdict logic on hand-made numbers -------------------------------------------------------

RULE = TrendRule("best", "worst", "speed falls")


def test_clearly_faster_needs_more_than_the_iqr_and_the_noise_floor():
    assert clearly_faster(Speed(100, 1), Speed(90, 2))
    assert not clearly_faster(Speed(100, 12), Speed(90, 2))  # 10 < IQR 12: a tie
    assert not clearly_faster(Speed(100), Speed(98.5))  # 1.5 < 2% of 100
    assert clearly_faster(Speed(100), Speed(97.9))  # 2.1 > 2%
    assert not clearly_faster(Speed(90, 1), Speed(100, 1))


@pytest.mark.parametrize(
    ("speeds", "holds"),
    [
        ({"best": Speed(100, 2), "mid": Speed(95, 2), "worst": Speed(80, 3)}, True),
        # the middle row ties with the best (inside the IQR): not a break
        ({"best": Speed(100, 1), "mid": Speed(104, 5), "worst": Speed(80, 3)}, True),
        # best vs worst inside the noise: not proven
        ({"best": Speed(100, 10), "mid": Speed(97, 2), "worst": Speed(95, 5)}, False),
        # another row clearly beats the best
        ({"best": Speed(100, 1), "mid": Speed(110, 1), "worst": Speed(80, 1)}, False),
        # reversed trend
        ({"best": Speed(80, 1), "mid": Speed(90, 1), "worst": Speed(100, 1)}, False),
    ],
)
def test_judge_column(speeds, holds):
    assert judge_column(RULE, "x1", speeds).holds is holds


def test_judge_needs_every_column():
    good = {"best": Speed(100, 1), "worst": Speed(50, 1)}
    bad = {"best": Speed(100, 1), "worst": Speed(99, 1)}
    verdict = judge(RULE, {"x1": good, "x2": bad})
    assert not verdict.holds
    assert verdict.summary == "no (holds in 1 of 2 columns)"
    assert [c.holds for c in verdict.columns] == [True, False]
    assert "not clearly faster" in verdict.columns[1].reason
    assert judge(RULE, {"x1": good, "x2": good}).summary == "yes (holds in 2 of 2 columns)"


@pytest.mark.parametrize("platform", ["paper_arm", "paper_gpu"])
def test_rule_finds_the_trend_in_the_papers_own_numbers(platform):
    for e in experiments():
        speeds = {
            column: {row: Speed(getattr(e.config(row, column), platform)) for row in e.rows}
            for column in e.columns
        }
        verdict = judge(e.rule, speeds)
        assert verdict.holds, (e.table, platform, verdict.columns)


def test_paired_ratios_cancel_a_common_slowdown():
    # Round 2 runs at half speed for both rows (a busy machine): the ratio stays 0.8 every round.
    runs = {"a": [100.0, 50.0, 100.0, 100.0], "b": [80.0, 40.0, 80.0, 80.0]}
    speeds = paired(runs, "a")
    assert speeds["a"] == Speed(1.0, 0.0)
    assert math.isclose(speeds["b"].median, 0.8) and math.isclose(speeds["b"].iqr, 0.0, abs_tol=1e-12)
    assert median_iqr(runs["a"]) == (100.0, 12.5)  # q1 = 87.5 (linear between 50 and 100), q3 = 100
    with pytest.raises(ValueError, match="not paired"):
        paired({"a": [1.0, 2.0], "b": [1.0]}, "a")


# --- timing helpers ------------------------------------------------------------------------------


def test_measurement_median_and_iqr():
    m = Throughput.of([1.0, 2.0, 3.0, 4.0, 5.0], images_per_run=4)
    # numpy's linear percentiles: q1 = 2, q3 = 4
    assert (m.median, m.iqr, m.images_per_run, m.runs) == (3.0, 2.0, 4, (1.0, 2.0, 3.0, 4.0, 5.0))
    assert m.noisy  # IQR 2 > 10% of 3
    assert not Throughput.of([100.0, 101.0, 102.0], 1).noisy


def test_clock_for():
    assert clock_name(1) == "process"  # one thread: CPU time leaves out other programs' turns
    assert clock_name(2) == "wall"  # CPU time would sum the threads
    assert clock_name(2, "process") == "process"
    with pytest.raises(ValueError, match="unknown clock"):
        clock_name(1, "cycles")


def test_time_interleaved_runs_every_network_in_every_round():
    calls = []

    class Probe(nn.Module):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def forward(self, x):
            calls.append(self.name)
            return x

    plan = TimingPlan(budget_s=0.0, min_runs=4, max_runs=4, min_block_s=0.0, warmup_s=0.0, clock="wall")
    probes = [Probe("a"), Probe("b"), Probe("c")]
    measured = time_interleaved([(p, torch.zeros(2, 1)) for p in probes], plan)
    assert [len(m.runs) for m in measured] == [4, 4, 4]
    assert [m.images_per_run for m in measured] == [2, 2, 2]  # one call per block, batch 2
    timed = calls[9:]  # after 3 warm-up calls each
    assert [sorted(timed[i : i + 3]) for i in range(0, 12, 3)] == [["a", "b", "c"]] * 4
    assert timed[:3] == ["a", "b", "c"] and timed[3:6] == ["b", "c", "a"]  # the start rotates


def test_threads_set_restores():
    before = torch.get_num_threads()
    with threads_set(1) as in_force:
        assert torch.get_num_threads() == in_force == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), threads_set(1):
        raise RuntimeError
    assert torch.get_num_threads() == before


# --- the command ---------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    return build_parser()  # the real command line, bench and all


def test_parser_defaults_and_errors():
    args = _parser().parse_args(["bench", "guidelines"])
    assert (args.quick, args.threads, args.batch, args.output, args.clock) == (False, 1, 1, Path("."), "auto")
    assert args.handler is cli.run
    args = _parser().parse_args(
        ["bench", "guidelines", "--quick", "--threads", "2", "--batch", "4", "-o", "d"]
    )
    assert (args.quick, args.threads, args.batch, args.output) == (True, 2, 4, Path("d"))
    for bad in (["--threads", "0"], ["--batch", "x"], ["--clock", "cycles"]):
        with pytest.raises(SystemExit):
            _parser().parse_args(["bench", "guidelines", *bad])


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path, capsys):
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    threads = torch.get_num_threads()
    assert main(["bench", "guidelines", "--quick", "--output", str(tmp_path)]) == 0
    assert torch.get_num_threads() == threads
    out = capsys.readouterr().out
    assert out.count("trend holds here:") == 5  # one per table, then the summary
    for table in range(1, 5):
        assert f"Table {table} (G{table})" in out

    data = json.loads((tmp_path / "guidelines.json").read_text())
    assert data["schema"] == guidelines.SCHEMA
    assert data["machine"]["threads"] == 1 and data["machine"]["torch_version"] == torch.__version__
    assert data["machine"]["cpu_count"] >= 1
    assert data["settings"]["quick"] is True and data["settings"]["batch"] == 1
    assert data["settings"]["clock"] == "process"
    assert [e["table"] for e in data["experiments"]] == [1, 2, 3, 4]
    for e in data["experiments"]:
        assert len(e["columns"]) == 1  # --quick: the first column only
        assert e["verdict"]["summary"].startswith(("yes", "no")) and e["verdict"]["rule"]
        assert e["paper_arm_verdict"]["holds"] and e["paper_gpu_verdict"]["holds"]
        for config in e["configs"]:
            m = config["measured"]
            assert config["mult_adds"] > 0 and config["mem_access_bytes"] > 0
            assert config["paper_arm"] > 0 and config["paper_gpu"] > 0
            assert len(m["runs"]) >= 5 and m["median"] > 0 and m["iqr"] >= 0
        assert e["configs"][0]["relative"] == {"median": 1.0, "iqr": 0.0}  # the first row against itself
    assert data["experiments"][0]["configs"][0]["mult_adds"] == 64_225_280

    result = guidelines.load(tmp_path / "guidelines.json")
    assert guidelines.dumps(result) == (tmp_path / "guidelines.json").read_text()

    image = imread(tmp_path / "guidelines.png")
    assert image.ndim == 3 and image.shape[0] > 500 and image.shape[1] > 500
    assert image.std() > 0.01  # not a blank canvas
    assert (tmp_path / "guidelines.svg").read_text().lstrip().startswith("<?xml")

    figure = Figure(figsize=(15, 11))
    artists = plot_guidelines(figure, result)
    assert artists
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert len(axes) == 4
    for table, ax in enumerate(axes, start=1):
        assert ax.get_title().startswith(f"Table {table} (G{table}): ")
        assert "trend holds here: " in ax.get_title()
        assert ax.get_ylabel() == YLABEL and ax.get_xlabel() == XLABEL
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "measured here",
            "paper ARM",
            "paper GPU",
        ]
        assert [t.get_text() for t in ax.get_xticklabels()] == list(result.experiments[table - 1].short_rows)
        # one line per series and measured column, each divided by its column's first row
        column = result.experiments[table - 1].columns[0]
        series = {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}
        assert sorted(series) == sorted(f"{label} {column}" for label, _, _ in SERIES)
        for line in series.values():
            assert math.isclose(line.get_ydata()[0], 1.0)
    title = figure._suptitle.get_text()
    assert "1 thread(s)" in title and "batch 1" in title and "CPUs" in title and "images/sec" in title
