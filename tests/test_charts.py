"""Charts read back: axes titles, labels, log scales and the number of points match the data."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import imread

import netprof
from netprof.charts import plot_breakdown, plot_layers, plot_roofline
from netprof.charts.breakdown import OVERHEAD, shares
from netprof.charts.layers import STRIP_GID, layer_points
from netprof.charts.roofline import NO_CALIBRATION, placed
from netprof.cli import main
from netprof.timing.calibrate import Calibration
from netprof.timing.figure2 import FIGURE2
from netprof.timing.measurement import Measurement
from tests.fixtures.models import tiny

TINY = "tests/fixtures/models.py:tiny"


@pytest.fixture(autouse=True)
def _no_cached_roof(tmp_path, monkeypatch):
    """No calibration from the user's cache leaks into a test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def timed(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:  # module scope runs before the autouse fixture
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        return netprof.run(
            tiny().eval(), torch.randn(1, 3, 32, 32), timing=netprof.TimingOptions(repeat=3, threads=1)
        )


def _points(ax) -> int:
    return sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))


def _not_blank(path) -> None:
    assert path.stat().st_size > 0
    image = imread(path)
    assert image.size > 0
    assert image[..., :3].std() > 0.01  # not one flat colour


def test_layers_every_op_is_a_point_on_log_axes(timed):
    fig = Figure()
    ax = fig.add_subplot()
    plot_layers(ax, timed.timing, title="tiny")
    assert ax.get_title() == "tiny"
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert "multiply-adds" in ax.get_xlabel() and "seconds" in ax.get_ylabel()
    assert _points(ax) == len(timed.timing.ops)
    # the tiny model has ops with and without mult_adds: the strip separates them
    assert any(op.mult_adds == 0 for op in timed.timing.ops)
    assert [line.get_gid() for line in ax.lines].count(STRIP_GID) == 1
    assert ax.get_xticklabels()[0].get_text() == "0"
    strip = [p for p in layer_points(timed.timing) if p.on_strip]
    counted = [p for p in layer_points(timed.timing) if not p.on_strip]
    assert max(p.x for p in strip) < min(p.x for p in counted)
    assert {c.get_gid() for c in ax.collections} == {op.category for op in timed.timing.ops}


def test_roofline_without_calibration_says_so_and_draws_points(timed):
    fig = Figure()
    ax = fig.add_subplot()
    plot_roofline(ax, timed.timing)
    assert timed.timing.calibration is None
    assert NO_CALIBRATION in [t.get_text() for t in ax.texts]
    assert not [line for line in ax.lines if line.get_gid() in ("peak", "bandwidth")]
    assert _points(ax) == sum(placed(op) for op in timed.timing.ops) > 0
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert "GFLOP/s" in ax.get_ylabel() and "FLOP per byte" in ax.get_xlabel()


def test_roofline_with_calibration_draws_the_roof(timed):
    one = Measurement.of([1.0], 1)
    roof = Calibration("k", "cpu", 1, peak_flops=100e9, bandwidth=10e9, gemm=one, copy=one)
    timing = dataclasses.replace(timed.timing, calibration=roof)
    fig = Figure()
    ax = fig.add_subplot()
    plot_roofline(ax, timing)
    lines = {line.get_gid(): line for line in ax.lines}
    assert set(lines) == {"peak", "bandwidth"}
    # the roof meets at the ridge: 100 GFLOP/s / 10 GB/s = 10 FLOP per byte
    assert lines["peak"].get_xdata()[0] == pytest.approx(10.0)
    assert lines["peak"].get_ydata()[0] == pytest.approx(100.0)
    assert lines["bandwidth"].get_ydata()[-1] == pytest.approx(100.0)
    assert NO_CALIBRATION not in [t.get_text() for t in ax.texts]


def test_breakdown_one_stacked_bar_per_model_adding_to_100(timed):
    fig = Figure()
    ax = fig.add_subplot()
    plot_breakdown(ax, [("a", timed.timing), ("b", timed.timing)])
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_label() for b in bars] == [*FIGURE2, OVERHEAD]
    assert all(len(b.patches) == 2 for b in bars)
    assert sum(b.patches[0].get_height() for b in bars) == pytest.approx(100.0)
    assert sum(shares(timed.timing).values()) == pytest.approx(100.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert "%" in ax.get_ylabel()


@pytest.mark.slow
def test_plot_command_writes_every_chart(tmp_path):
    assert main(["plot", TINY, "--repeat", "3", "--threads", "1", "--output", str(tmp_path)]) == 0
    for kind in ("layers", "roofline", "breakdown"):
        _not_blank(tmp_path / f"{kind}.png")
        assert (tmp_path / f"{kind}.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.slow
def test_plot_command_one_kind(tmp_path):
    assert main(["plot", TINY, "--kind", "roofline", "--repeat", "3", "--output", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix) == ["roofline.png", "roofline.svg"]


@pytest.mark.slow
def test_analyze_time_plot(tmp_path, capsys):
    out = tmp_path / "charts"
    assert main(["analyze", TINY, "--time", "--repeat", "3", "--plot", str(out), "--format", "json"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "breakdown.png",
        "breakdown.svg",
        "layers.png",
        "layers.svg",
        "roofline.png",
        "roofline.svg",
    ]
    _not_blank(out / "layers.png")


def test_analyze_plot_needs_time(tmp_path, capsys):
    assert main(["analyze", TINY, "--plot", str(tmp_path)]) == 2
    assert "--time" in capsys.readouterr().err


def test_charts_figure_names_the_machine(timed):
    from netprof.charts.files import model_figure

    fig = model_figure(timed.timing, "layers", "tiny")
    title = fig.axes[0].get_title()
    assert "tiny" in title and "1 thread" in title and "CPUs" in title
