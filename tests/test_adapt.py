"""netprof adapt: the budget, NetAdapt on a small model through Torch-Pruning, its report, chart and CLI.

The loop itself is checked by hand on a fake model in test_adapt_search.py; here the real pieces are
joined: a hand-written device profile (test_prediction.hand_profile) prices the proposals, so every
number is deterministic, and nothing here asserts a timing.
"""

import itertools
import json
import sys

import pytest
import torch
from cli_runner import run as run_cli
from matplotlib.figure import Figure
from test_prediction import hand_profile

import netprof.adapt
from netprof import pipeline
from netprof.adapt import BudgetError, Step, parse_budget
from netprof.adapt.document import AdaptReport, LayerChannels, State
from netprof.capture.loader import load
from netprof.charts.adapt import plot_mult_adds, plot_trajectory
from netprof.prediction import profile as profiles
from netprof.report import adapt as adapt_report
from netprof.timing.measurement import Measurement

SPEC = "tests/fixtures/models.py:two_convs"
INPUT = (1, 3, 64, 64)


@pytest.mark.parametrize(
    ("text", "fraction", "seconds"),
    [
        ("0.6x", 0.6, None),
        (".5X", 0.5, None),
        ("12ms", None, 0.012),
        ("800us", None, 800e-6),
        ("0.5 s", None, 0.5),
    ],
)
def test_a_budget_as_written(text, fraction, seconds):
    budget = parse_budget(text)
    assert budget.fraction == fraction
    assert budget.seconds == (None if seconds is None else pytest.approx(seconds))


def test_a_budget_names_its_target():
    assert parse_budget("0.6x").target_s(0.020) == pytest.approx(0.012)  # 0.6 * 20 ms
    assert parse_budget("12ms").target_s(1.0) == pytest.approx(0.012)  # whatever the base
    # A relative budget is measured against the measured base; an absolute one against its seconds.
    assert parse_budget("0.6x").met_by(0.0059, 0.010) and not parse_budget("0.6x").met_by(0.0061, 0.010)
    assert parse_budget("6ms").met_by(0.0059, 1.0) and not parse_budget("6ms").met_by(0.0061, 0.001)


@pytest.mark.parametrize("text", ["1.5x", "1x", "0x", "fast", "-3ms", "12", "0ms", "12 parsecs"])
def test_a_bad_budget_is_refused(text):
    with pytest.raises(BudgetError, match="--budget"):
        parse_budget(text)


@pytest.fixture(scope="module")
def adapted():
    loaded = load(SPEC, [INPUT])
    model, x = loaded.model, loaded.inputs[0]
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    result = netprof.adapt.adapt(model, x, "0.7x", hand_profile(), step=0.1, measure=None, spec=SPEC)
    return model, x, before, result


def test_the_adapted_model_meets_the_predicted_budget_and_reprices_the_same(adapted):
    _, x, _, result = adapted
    report = result.report
    assert report.reached and report.iterations
    assert report.final.latency_predicted_s <= 0.7 * report.base.latency_predicted_s
    # Priced again from scratch, independently of the loop's own bookkeeping.
    again = pipeline.predict(result.model, x, hand_profile()).prediction.latency_s
    assert report.final.latency_predicted_s == pytest.approx(again, rel=1e-9)
    predicted = [report.base.latency_predicted_s, *(step.predicted_s for step in report.iterations)]
    assert all(later < earlier for earlier, later in itertools.pairwise(predicted))


def test_counts_follow_the_channels_left_by_hand(adapted):
    _, _, _, result = adapted
    model, report = result.model, result.report
    c0, c1 = model[0].out_channels, model[3].out_channels
    hw = 64 * 64
    # Base: 16*3*9*4096 + 24*16*9*4096 + 24*10 = 1,769,472 + 14,155,776 + 240 multiply-adds.
    assert report.base.mult_adds == 15_925_488
    assert report.final.mult_adds == c0 * 3 * 9 * hw + c1 * c0 * 9 * hw + c1 * 10
    # Parameters: both convolutions, two affine batch norms, the classifier's weight and bias.
    assert report.final.params == c0 * 27 + 2 * c0 + c1 * c0 * 9 + 2 * c1 + c1 * 10 + 10
    # Coupled channels went together: each batch norm and the classifier follow their convolution.
    assert (model[1].num_features, model[3].in_channels) == (c0, c0)
    assert (model[4].num_features, model[8].in_features) == (c1, c1)


def test_each_layer_s_channels_chain_from_base_to_final(adapted):
    _, _, _, result = adapted
    report = result.report
    layers = {layer.path: layer for layer in report.layers}
    assert {"0", "3"} <= set(layers) and (layers["0"].channels_before, layers["3"].channels_before) == (
        16,
        24,
    )
    assert (layers["0"].channels_after, layers["3"].channels_after) == (
        result.model[0].out_channels,
        result.model[3].out_channels,
    )
    for path, layer in layers.items():
        channels = layer.channels_before
        for step in (step for step in report.iterations if step.layer == path):
            assert step.channels_before == channels and step.removed >= 1
            channels = step.channels_after
        assert channels == layer.channels_after


def test_the_given_model_is_left_as_it_was_and_the_output_keeps_its_shape(adapted):
    model, x, before, result = adapted
    assert model[0].out_channels == 16 and model[3].out_channels == 24
    after = model.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    with torch.no_grad():
        assert result.model.eval()(x).shape == model.eval()(x).shape == (1, 10)


def hand_report(
    budget: str = "0.6x", final_times: tuple[float, ...] = (0.0070, 0.0071, 0.0072)
) -> AdaptReport:
    steps = (
        Step(1, "features.1", 32, 24, 0.0020, 5.0, 0.0080, 250_000_000, 3_400_000, 12),
        Step(2, "features.2", 96, 80, 0.0022, 3.0, 0.0058, 200_000_000, 3_300_000, 5),
    )
    return AdaptReport(
        spec="torchvision.models:mobilenet_v2",
        budget=parse_budget(budget),
        target_s=0.006,
        step_s=0.00025,
        profile="cpu|a hand-written test CPU|threads=1|float32",
        runtime="eager",
        base=State(0.010, 300_000_000, 3_500_000, Measurement.of((0.0100, 0.0102, 0.0104), 1)),
        final=State(0.0058, 200_000_000, 3_300_000, Measurement.of(final_times, 1)),
        iterations=steps,
        layers=(
            LayerChannels("features.1", 32, 24),
            LayerChannels("features.2", 96, 80),
            LayerChannels("x", 8, 8),
        ),
        reached=True,
        probes=17,
        seconds=3.0,
    )


def test_the_json_document_has_the_issue_s_fields():
    document = adapt_report.to_dict(hand_report())
    assert document["schema"] == "netprof.adapt/1" and document["spec"] == "torchvision.models:mobilenet_v2"
    assert document["budget"] == {
        "text": "0.6x",
        "fraction": 0.6,
        "seconds": None,
        "target_predicted_s": 0.006,
    }
    assert document["base"]["latency_measured_s"] == pytest.approx(0.0102)  # the median of three
    assert (
        document["final"]["latency_predicted_s"] == 0.0058 and document["final"]["mult_adds"] == 200_000_000
    )
    first = document["iterations"][0]
    assert {k: first[k] for k in ("index", "layer", "removed", "predicted_s", "mult_adds")} == {
        "index": 1,
        "layer": "features.1",
        "removed": 8,
        "predicted_s": 0.0080,
        "mult_adds": 250_000_000,
    }
    assert document["layers"][1] == {"path": "features.2", "channels_before": 96, "channels_after": 80}
    assert document["note"].startswith("accuracy not evaluated")
    assert document["measured_ratio"] == pytest.approx(0.0071 / 0.0102)


def test_a_measured_miss_is_said_loudly_and_a_hit_is_not():
    missed = hand_report()  # 7.1 ms of 10.2 ms measured: 0.70x, not 0.6x
    assert missed.measured_meets_budget is False
    (warning,) = missed.warnings
    assert "misses the budget 0.6x" in warning and "(0.70x)" in warning
    kept = hand_report(final_times=(0.0060, 0.0061, 0.0062))  # 6.1 / 10.2 = 0.598x
    assert kept.measured_meets_budget is True and kept.warnings == ()
    assert hand_report("7ms").measured_meets_budget is False  # 7.1 ms > 7 ms


def test_the_terminal_table_lists_the_changed_layers_the_warning_and_the_note():
    from rich.console import Console

    console = Console(record=True, width=160, color_system=None)
    adapt_report.table(hand_report())(console)
    text = console.export_text()
    assert "Layers changed" in text and "features.2" in text and "96" in text and "-17%" in text
    assert "warning: the measured latency misses the budget 0.6x" in text
    assert "accuracy not evaluated" in text
    assert "| features.1 | 32 | 24 | -25% |" in adapt_report.to_markdown(hand_report())


def test_the_trajectory_chart_reads_back_its_data():
    report = hand_report()
    figure = Figure()
    latency, counts = figure.subplots(1, 2)
    artists = {artist.get_gid(): artist for artist in plot_trajectory(latency, report)}
    assert list(artists["predicted"].get_ydata()) == pytest.approx([10.0, 8.0, 5.8])
    assert list(artists["target"].get_ydata()) == pytest.approx([6.0, 6.0])
    assert artists["measured"].get_offsets().ravel().tolist() == pytest.approx([0, 10.2, 2, 7.1])
    (line,) = plot_mult_adds(counts, report)
    assert list(line.get_ydata()) == pytest.approx([300.0, 250.0, 200.0])


@pytest.fixture
def saved_profile(tmp_path):
    path = tmp_path / "profile.json"
    profiles.save(hand_profile(), path)
    return path


def test_the_cli_writes_the_model_the_report_and_the_chart(capsys, tmp_path, saved_profile):
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        capsys, "adapt", SPEC, "--input", "1,3,64,64", "--budget", "0.7x", "--step", "0.1",
        "--profile", str(saved_profile), "--threads", "1", "--measure-budget", "0.1", "-o", str(out_dir),
    )  # fmt: skip
    assert code == 0, err
    document = json.loads((out_dir / "report.json").read_text())
    for state in ("base", "final"):
        assert set(document[state]) >= {"latency_predicted_s", "latency_measured_s", "mult_adds", "params"}
        assert document[state]["latency_measured_s"] > 0
    assert isinstance(document["measured_meets_budget"], bool)
    model = torch.load(out_dir / "model.pt", weights_only=False)
    channels = {layer["path"]: layer["channels_after"] for layer in document["layers"]}
    assert (model[0].out_channels, model[3].out_channels) == (channels["0"], channels["3"])
    with torch.no_grad():
        assert model.eval()(torch.randn(INPUT)).shape == (1, 10)
    assert (out_dir / "trajectory.png").is_file() and (out_dir / "trajectory.svg").is_file()
    assert "Layers changed" in out and "accuracy not evaluated" in out
    assert "iteration 1:" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--budget", "1.5x"], "between 0 and 1"),
        (["--budget", "fast"], "a fraction such as 0.6x or a latency such as 12ms"),
        (["--budget", "0.6x", "--step", "2"], "a fraction of the base latency below 1"),
    ],
)
def test_bad_flags_are_one_line_exit_2(capsys, tmp_path, saved_profile, argv, message):
    code, _, err = run_cli(capsys, "adapt", SPEC, *argv, "--profile", str(saved_profile), "-o", str(tmp_path))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_without_a_profile_adapt_names_the_calibrate_command(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    code, _, err = run_cli(capsys, "adapt", SPEC, "--budget", "0.6x", "--threads", "1", "-o", str(tmp_path))
    assert code == 2 and "netprof calibrate --device cpu --threads 1" in err
    assert len(err.strip().splitlines()) == 1


def test_a_model_that_raises_is_one_line_exit_2(capsys, tmp_path, saved_profile):
    code, _, err = run_cli(
        capsys, "adapt", "tests/fixtures/models.py:raises", "--budget", "0.6x", "--profile", str(saved_profile),
        "-o", str(tmp_path),
    )  # fmt: skip
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_without_torch_pruning_adapt_names_the_extra(capsys, tmp_path, saved_profile, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # find_spec then finds nothing
    code, _, err = run_cli(
        capsys, "adapt", SPEC, "--budget", "0.6x", "--profile", str(saved_profile), "-o", str(tmp_path)
    )
    assert code == 2 and "pip install 'netprof[compression]'" in err


@pytest.mark.parametrize(("removed", "kept"), [(1, 16), (3, 16), (9, 8), (17, 7), (20, 4)])
def test_a_layer_keeps_a_multiple_of_eight_filters_above_eight(removed, kept):
    from netprof.adapt.space import PruningSpace

    model, x = load(SPEC).model, load(SPEC).inputs
    space = PruningSpace(x, hand_profile())
    assert space.channels(model, "3") == 24
    assert space.channels(space.prune(model, "3", removed), "3") == kept
