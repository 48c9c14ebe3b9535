"""Spearman's rho by hand, and netprof compare on tiny models whose order is known by construction."""

from __future__ import annotations

import json
import math

import pytest
from matplotlib.image import imread

import netprof
from netprof.cli import main
from netprof.timing.ranking import ranks, spearman

TINY = "tests/fixtures/models.py:tiny"
TINIER = "tests/fixtures/models.py:tiny_with_inputs"


def test_ranks_average_ties():
    # 10 is 1st; the two 20s share ranks 2 and 3: (2 + 3) / 2 = 2.5; 30 is 4th
    assert list(ranks([10, 20, 20, 30])) == [1, 2.5, 2.5, 4]
    assert list(ranks([3, 1, 2])) == [3, 1, 2]


def test_spearman_by_hand():
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [10, 200, 3000]) == pytest.approx(1.0)  # only the order counts
    # no ties: 1 - 6 sum d^2 / (n (n^2 - 1)); ranks [1,2,3,4] vs [2,1,4,3]: d^2 = 1+1+1+1 = 4
    # 1 - 6 * 4 / (4 * 15) = 1 - 0.4 = 0.6
    assert spearman([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(0.6)


def test_spearman_with_ties_is_pearson_of_ranks():
    # x ranks [1, 2.5, 2.5, 4], y ranks [1, 2, 3, 4]; centred: [-1.5, 0, 0, 1.5], [-1.5, -0.5, 0.5, 1.5]
    # sum xy = 2.25 + 2.25 = 4.5; sum x^2 = 4.5; sum y^2 = 5: rho = 4.5 / sqrt(4.5 * 5) = 0.9487
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(22.5))


def test_spearman_undefined():
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([1], [2]))
    with pytest.raises(ValueError):
        spearman([1, 2], [1])


def test_compare_two_tiny_models(tmp_path, capsys):
    argv = ["compare", TINY, TINIER, "--repeat", "3", "--threads", "1", "--format", "json"]
    assert main([*argv, "--output", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""  # -o DIR: the report goes into the folder, beside the charts
    report = json.loads((tmp_path / "compare.json").read_text())
    assert [m["name"] for m in report["models"]] == ["tiny", "tiny_with_inputs"]
    assert report["threads"] == 1
    assert all(m["latency"]["runs"] == 3 for m in report["models"])
    # The premise, by construction: tiny's 3x3 convolution on 224 x 224 has thousands of times the
    # mult_adds of a 1x1 convolution on 5 x 5, and takes many times as long, an order no noise reverses.
    tiny, tinier = report["models"]
    assert tiny["mult_adds"] > 1000 * tinier["mult_adds"]
    assert tiny["latency"]["median_s"] > tinier["latency"]["median_s"]
    # Both rank them [2, 1]: d = 0, rho = 1 - 0 = 1.
    assert report["spearman_latency_vs_mult_adds"] == 1.0
    assert json.loads((tmp_path / "flops_vs_latency.json").read_text())["models"] == report["models"]
    image = imread(tmp_path / "flops_vs_latency.png")
    assert image.size > 0 and image[..., :3].std() > 0.01


def test_compare_three_models_of_known_order(capsys):
    specs = [
        f"tests/fixtures/models.py:{name}" for name in ("linear_small", "pool_and_linear", "linear_wide")
    ]
    assert main(["compare", *specs, "--repeat", "5", "--threads", "1", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    models = {m["name"]: m for m in report["models"]}
    # mult_adds: 4 * 4 = 16; the 16 x 16 linear beside the pool 16 * 16 = 256; 16 * 512 * 512 = 4,194,304
    assert [models[n]["mult_adds"] for n in ("linear_small", "pool_and_linear", "linear_wide")] == [
        16,
        256,
        4_194_304,
    ]
    # memory access, float32 (int64 pool indices): small (4 in + 16 w + 4 b + 4 out) * 4 = 112;
    # pool (2 * 131,072 * 4 in and out + 131,072 * 8 indices) + linear (16 + 256 + 16 + 16) * 4
    # = 2,097,152 + 1,216 = 2,098,368; wide (8,192 + 262,144 + 512 + 8,192) * 4 = 1,116,160
    assert [models[n]["mem_access_bytes"] for n in ("linear_small", "linear_wide", "pool_and_linear")] == [
        112,
        1_116_160,
        2_098_368,
    ]
    # The premise, by construction (one thread: about 9 us, 120 us and 8 ms here): latency ranks them
    # small < wide < pool, an order no noise reverses at these ratios.
    latency = {name: m["latency"]["median_s"] for name, m in models.items()}
    assert latency["linear_small"] < latency["linear_wide"] < latency["pool_and_linear"]
    # mult_adds ranks [1, 2, 3] (small, pool, wide), latency ranks [1, 3, 2]: d^2 = 0 + 1 + 1 = 2,
    # rho = 1 - 6 * 2 / (3 * (9 - 1)) = 1 - 12 / 24 = 0.5
    assert report["spearman_latency_vs_mult_adds"] == pytest.approx(0.5)
    # memory access ranks them as latency does: rho = 1
    assert report["spearman_latency_vs_mem_access_bytes"] == pytest.approx(1.0)


def test_comparison_figure_reads_back():
    from netprof.charts.files import comparison_figure
    from netprof.pipeline import time_specs
    from netprof.timing.ranking import rank_models

    results = time_specs([TINY, TINIER], netprof.TimingOptions(repeat=3, threads=1))
    comparison = rank_models([(name, result.analysis, result.timing) for name, result in results])
    fig = comparison_figure(comparison, [(name, result.timing) for name, result in results])
    left, right = fig.axes
    for ax, word in ((left, "mult_adds"), (right, "MAC")):
        assert word in ax.get_title() and "Spearman" in ax.get_title()
        (line,) = [line for line in ax.lines if line.get_gid() == "models"]
        assert len(line.get_xdata()) == 2
        assert {t.get_text() for t in ax.texts} == {"tiny", "tiny_with_inputs"}
        assert "ms" in ax.get_ylabel()
    assert list(left.lines[0].get_xdata()) == [p.mult_adds / 1e6 for p in comparison.points]


def test_compare_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # no name cut short
    specs = [
        f"tests/fixtures/models.py:{name}" for name in ("linear_small", "pool_and_linear", "linear_wide")
    ]
    assert main(["compare", *specs, "--repeat", "5", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    rows = [[cell.strip() for cell in line.split("│")] for line in out.splitlines() if "│" in line]
    # One row per model in the order given: mult_adds (M), MAC (MB) and params (M) as the test above counts
    # them: 16 and 256 are 0.0 M, 4,194,304 is 4.2 M; 112 B, 2,098,368 B and 1,116,160 B are 0.0, 2.1 and
    # 1.1 MB; the wide layer's 512 * 512 + 512 = 262,656 parameters are 0.26 M; 5 runs each.
    assert [(row[0], row[1], row[2], row[3], row[6]) for row in rows] == [
        ("linear_small", "0.0", "0.0", "0.00", "5"),
        ("pool_and_linear", "0.0", "2.1", "0.00", "5"),
        ("linear_wide", "4.2", "1.1", "0.26", "5"),
    ], out
    # rho = 0.5 with mult_adds and 1 with MAC, derived in the test above.
    line = " ".join(out.split())
    assert (
        "Spearman rank correlation of latency with mult_adds: +0.50, with MAC (mem_access_bytes): +1.00;"
        in line
    )
