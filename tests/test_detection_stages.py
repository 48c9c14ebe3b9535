"""A detector's stages (netprof.detection): found from torchvision's module names, a partition of its ops."""

import json
from pathlib import Path

import jsonschema
import pytest
import torch
from cli_runner import run
from torchvision.models import detection, resnet18

from netprof import pipeline
from netprof.analysis import ModuleSummary, Totals
from netprof.detection import STAGES, StageError, override_notes, split
from netprof.detection.stages import module_stages

ROOT = Path(__file__).parents[1]
SCHEMA = json.loads((ROOT / "netprof/report/analysis.schema.json").read_text())
SSDLITE = "torchvision.models.detection:ssdlite320_mobilenet_v3_large(weights_backbone=None)"


def _modules(*paths):
    return [ModuleSummary(path, "Module", 1, 0, Totals()) for path in ("", *paths)]


def test_each_detector_layout_names_its_stages():
    fpn = module_stages(_modules("transform", "backbone", "backbone.body", "backbone.fpn", "head"))
    assert fpn == {"backbone.body": "backbone", "backbone.fpn": "neck", "head": "head"}
    ssd = module_stages(
        _modules("backbone", "backbone.features", "backbone.extra", "head", "anchor_generator")
    )
    assert ssd == {"backbone.features": "backbone", "backbone.extra": "neck", "head": "head"}
    two_stage = module_stages(
        _modules("backbone", "rpn", "rpn.head", "roi_heads", "roi_heads.box_head", "roi_heads.box_predictor")
    )
    assert two_stage == {
        "backbone": "backbone",
        "rpn.head": "head",
        "roi_heads.box_head": "head",
        "roi_heads.box_predictor": "head",
    }
    assert module_stages(_modules("features", "classifier")) is None
    assert module_stages(_modules("backbone", "classifier")) is None


def test_stages_set_by_module_path_replace_those_the_names_give():
    ssd = _modules("backbone", "backbone.features", "backbone.extra", "head")
    assert module_stages(ssd, {"backbone": ["backbone.extra"]}) == {
        "backbone.features": "backbone",
        "backbone.extra": "backbone",
        "head": "head",
    }
    # A module named by hand takes its subtree: the names' backbone.body and backbone.fpn are gone.
    fpn = _modules("backbone", "backbone.body", "backbone.fpn", "head", "head.cls", "head.box")
    assert module_stages(fpn, {"backbone": ["backbone"]}) == {"backbone": "backbone", "head": "head"}
    # A glob names every module it matches; the innermost named module decides.
    assert module_stages(fpn, {"neck": ["head.*"]}) == {
        "backbone.body": "backbone",
        "backbone.fpn": "neck",
        "head": "head",
        "head.cls": "neck",
        "head.box": "neck",
    }
    # No detector by its names: one when the overrides name its modules, not when they name none.
    classifier = _modules("features", "classifier")
    assert module_stages(classifier, {"backbone": ["features"], "head": ["classifier"]}) == {
        "features": "backbone",
        "classifier": "head",
    }
    assert module_stages(classifier, {"backbone": ["body"]}) is None
    with pytest.raises(
        StageError, match=r"module 'head' is named by backbone \('h\*'\) and by head \('head'\)"
    ):
        module_stages(fpn, {"backbone": ["h*"], "head": ["head"]})


def test_a_pattern_that_names_nothing_is_a_note_on_a_detector_only():
    ssd = _modules("backbone", "backbone.features", "backbone.extra", "head")
    (note,) = override_notes(ssd, {"backbone": ["backbone.extra", "backbone.xtra"], "neck": ["fpn"]})
    assert (
        note
        == "[tool.netprof.stages] names no module of this model with backbone 'backbone.xtra', neck 'fpn'"
    )
    assert override_notes(ssd, {"backbone": ["backbone.extra"]}) == ()
    assert override_notes(_modules("features", "classifier"), {"backbone": ["body"]}) == ()


def _analysis(builder, side=320):
    model = builder(weights=None, weights_backbone=None).eval()
    return pipeline.analyze(model, torch.randn(1, 3, side, side))


@pytest.mark.parametrize(
    ("builder", "weights", "metadata"),
    [
        (
            detection.ssdlite320_mobilenet_v3_large,
            detection.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1,
            True,
        ),
        # Not the metadata's model: its box head runs once per proposal, and how many survive depends on
        # the weights and the image (torchvision's "_ops", 0.719 G, is for trained weights); without backbone
        # weights its batch-norms are trainable BatchNorm2d, not FrozenBatchNorm2d (24,400 more parameters).
        (
            detection.fasterrcnn_mobilenet_v3_large_320_fpn,
            detection.FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1,
            False,
        ),
    ],
)
def test_stages_partition_the_ops_and_postprocessing_does_no_multiply_adds(builder, weights, metadata):
    analysis = _analysis(builder)
    found = split(analysis)
    assert tuple(stage.name for stage in found) == STAGES
    assert sum(stage.totals.ops for stage in found) == analysis.totals.ops
    assert sum(stage.totals.mult_adds for stage in found) == analysis.totals.mult_adds
    assert sum(stage.params for stage in found) == analysis.params
    if metadata:  # torchvision's metadata counts the same detector ("_ops" are GMACs: multiply-adds)
        assert analysis.totals.mult_adds == pytest.approx(weights.meta["_ops"] * 1e9, rel=0.01)
        assert analysis.params == weights.meta["num_params"]
    by_name = {stage.name: stage for stage in found}
    assert by_name["postprocess"].totals.mult_adds < 0.01 * analysis.totals.mult_adds
    assert by_name["postprocess"].params == 0
    assert all(stage.time_s is None and stage.predicted_s is None for stage in found)


def test_a_classifier_has_no_stages():
    analysis = pipeline.analyze(resnet18(), torch.randn(1, 3, 64, 64), mode="meta")
    assert split(analysis) is None


def test_stage_times_are_the_sums_of_their_ops_times():
    analysis = _analysis(detection.ssdlite320_mobilenet_v3_large)
    seconds = {op.id: 1e-6 * (i + 1) for i, op in enumerate(analysis.ops)}
    found = split(analysis, seconds, seconds)
    assert sum(stage.time_s for stage in found) == pytest.approx(sum(seconds.values()))
    assert [stage.time_s for stage in found] == [stage.predicted_s for stage in found]


def test_analyze_reports_the_stages_in_json_and_the_table(capsys):
    code, out, err = run(capsys, "analyze", SSDLITE, "--input", "1,3,320,320", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    assert [stage["name"] for stage in report["stages"]] == list(STAGES)
    code, out, err = run(capsys, "analyze", SSDLITE, "--input", "1,3,320,320")
    assert code == 0, err
    assert "Detector stages" in out and "postprocess: " in out
    code, out, err = run(capsys, "analyze", "torchvision.models:resnet18", "--format", "json")
    assert "stages" not in json.loads(out)


def _d1(analysis, op_seconds, stage_modules=None):
    from netprof.rules import all_rules
    from netprof.rules import run as run_rules
    from netprof.rules.base import RuleSettings

    only_d1 = {rule.id: RuleSettings(enabled=rule.id == "D1") for rule in all_rules()}
    return run_rules(analysis, settings=only_d1, op_seconds=op_seconds, stage_modules=stage_modules)


def test_d1_flags_post_processing_that_takes_time_at_no_multiply_adds():
    analysis = _analysis(detection.ssdlite320_mobilenet_v3_large)
    post = {stage.name: stage for stage in split(analysis)}["postprocess"]
    assert post.totals.ops > 0
    # Every op 1 us; post-processing ops 10 us: its share is set by hand, not measured.
    heavy = {op.id: 1e-6 for op in analysis.ops}
    ids = [op.id for op in analysis.ops][-post.totals.ops :]
    heavy |= {i: 10e-6 for i in ids}
    expected = 10 * len(ids) / (10 * len(ids) + len(analysis.ops) - len(ids))
    (found,) = _d1(analysis, heavy)
    assert found.rule == "D1" and found.module == ""
    assert found.measured == pytest.approx(expected)
    assert found.evidence["basis"] == "measured" and found.evidence["mult_adds_share"] == 0
    light = {op.id: (1e-9 if op.id in set(ids) else 1e-6) for op in analysis.ops}
    assert _d1(analysis, light) == []
    assert _d1(analysis, None) == []  # neither timed nor predicted: nothing to judge


def test_d1_says_nothing_of_a_classifier():
    analysis = pipeline.analyze(resnet18(), torch.randn(1, 3, 64, 64), mode="meta")
    assert _d1(analysis, {op.id: 1e-6 for op in analysis.ops}) == []


def test_the_stage_chart_has_a_bar_per_measure_and_a_colour_per_stage():
    from matplotlib.figure import Figure

    from netprof.charts.stages import plot_stages

    analysis = _analysis(detection.ssdlite320_mobilenet_v3_large)
    counted = split(analysis)
    ax = Figure().add_subplot()
    containers = plot_stages(ax, counted)
    assert [c.patches[0].get_gid() for c in containers] == list(STAGES)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mult_adds", "mem_access_bytes"]
    timed = split(analysis, {op.id: 1e-6 for op in analysis.ops})
    ax = Figure().add_subplot()
    plot_stages(ax, timed)
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "time (measured)"
    widths = [
        bar.get_width() for container in plot_stages(Figure().add_subplot(), timed) for bar in container
    ]
    assert sum(widths) == pytest.approx(3.0)  # three bars, each the whole model


def test_the_html_page_shows_the_stages(capsys, tmp_path):
    page = tmp_path / "ssd.html"
    code, _, err = run(
        capsys, "analyze", SSDLITE, "--input", "1,3,320,320", "--format", "html", "-o", str(page)
    )
    assert code == 0, err
    text = page.read_text()
    assert "Detector stages" in text and "postprocess" in text


NAMED_BY_HAND = f"{ROOT}/tests/fixtures/detectors.py:named_by_hand"
STAGES_TOML = """
[tool.netprof.stages]
backbone = ["body"]
neck = ["fpn"]
head = ["head.cls", "head.box"]
postprocess = ["decode"]
"""


def _stages_json(out):
    return {stage["name"]: stage for stage in json.loads(out).get("stages", [])}


def test_a_model_named_otherwise_gets_its_stages_from_pyproject(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "analyze", NAMED_BY_HAND, "--format", "json")
    assert code == 0, err
    assert "stages" not in json.loads(out)  # no module named backbone: no detector by its names
    (tmp_path / "pyproject.toml").write_text(STAGES_TOML)
    code, out, err = run(capsys, "analyze", NAMED_BY_HAND, "--format", "json")
    assert code == 0, err
    jsonschema.validate(json.loads(out), SCHEMA)
    stages = _stages_json(out)
    assert list(stages) == ["backbone", "neck", "head", "postprocess"]
    assert {name: stage["modules"] for name, stage in stages.items()} == {
        "backbone": ["body"],
        "neck": ["fpn"],
        "head": ["head.box", "head.cls"],
        "postprocess": ["decode"],
    }
    # 1x3x32x32; body: 3x3 conv 3 -> 8, stride 2: 16x16 outputs * 8 * (3 * 3 * 3) = 55,296, params 8 * 27 + 8;
    # fpn: 1x1 8 -> 8 over 256 positions: 256 * 8 * 8 = 16,384, params 64 + 8; head: two 1x1 8 -> 4:
    # 2 * 256 * 4 * 8 = 16,384, params 2 * (32 + 4); decode: a sigmoid and an exp, no multiply-adds.
    assert {name: stage["mult_adds"] for name, stage in stages.items()} == {
        "backbone": 55_296,
        "neck": 16_384,
        "head": 16_384,
        "postprocess": 0,
    }
    assert {name: stage["params"] for name, stage in stages.items()} == {
        "backbone": 224,
        "neck": 72,
        "head": 72,
        "postprocess": 0,
    }
    assert stages["postprocess"]["ops"] == 2
    code, out, err = run(capsys, "analyze", NAMED_BY_HAND)
    assert code == 0, err
    assert "Detector stages" in out and "head: head.box, head.cls" in out


def test_an_override_moves_ssdlite_extra_layers_from_the_neck_to_the_backbone(capsys, tmp_path):
    code, out, err = run(capsys, "analyze", SSDLITE, "--input", "1,3,320,320", "--format", "json")
    assert code == 0, err
    named = _stages_json(out)
    config = tmp_path / "netprof.toml"
    config.write_text('[tool.netprof.stages]\nbackbone = ["backbone.extra"]\n')
    argv = ["analyze", SSDLITE, "--input", "1,3,320,320", "--format", "json", "--config", str(config)]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    moved = _stages_json(out)
    assert list(moved) == ["preprocess", "backbone", "head", "postprocess"]  # the neck is empty
    assert moved["backbone"]["modules"] == ["backbone.extra", "backbone.features"]
    for key in ("mult_adds", "params", "ops", "mem_access_bytes"):
        assert moved["backbone"][key] == named["backbone"][key] + named["neck"][key]
    assert named["neck"]["mult_adds"] == 18_070_976  # the README's 18.07 M: what moved
    for name in ("preprocess", "head", "postprocess"):
        assert moved[name] == named[name]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[tool.netprof.stages]\nbakbone = ["body"]\n',
            "tool.netprof.stages.bakbone: unknown stage; did you mean 'backbone'?",
        ),
        ('[tool.netprof.stages]\nhead = "head"\n', "tool.netprof.stages.head: expected a list of strings"),
        # Found on the model: two stages' patterns name one module.
        (
            '[tool.netprof.stages]\nbackbone = ["*"]\nhead = ["head"]\n',
            "module 'head' is named by backbone ('*') and by head ('head')",
        ),
    ],
)
def test_bad_stages_exit_2_with_one_line(capsys, tmp_path, toml, message):
    config = tmp_path / "netprof.toml"
    config.write_text(toml)
    code, out, err = run(capsys, "analyze", NAMED_BY_HAND, "--config", str(config))
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_the_request_carries_the_stages_to_the_result_and_notes_what_names_nothing():
    request = pipeline.RunRequest(
        NAMED_BY_HAND, stage_modules={"backbone": ["body"], "head": ["head.cls", "head.obj"]}
    )
    result = pipeline.execute(request)
    assert [(stage.name, stage.modules) for stage in result.stages] == [
        ("backbone", ("body",)),
        ("head", ("head.cls",)),
        # fpn and head.box are named by nothing: after the backbone's first op, post-processing.
        ("postprocess", ("decode", "fpn", "head")),
    ]
    assert result.analysis.notes[-1] == (
        "[tool.netprof.stages] names no module of this model with head 'head.obj'"
    )
    assert pipeline.execute(pipeline.RunRequest(NAMED_BY_HAND)).stages is None


def test_d1_reads_the_stages_set_by_module_path():
    from fixtures.detectors import named_by_hand

    model, x = named_by_hand()
    analysis = pipeline.analyze(model, x)
    # body, fpn, head.cls, head.box 1 us each; decode's sigmoid and exp 3 us each: 6 of 10 us.
    seconds = {op.id: 3e-6 if op.module == "decode" else 1e-6 for op in analysis.ops}
    assert _d1(analysis, seconds) == []  # no detector by its names
    stages = {"backbone": ["body"], "neck": ["fpn"], "head": ["head.*"], "postprocess": ["decode"]}
    (found,) = _d1(analysis, seconds, stages)
    assert found.measured == pytest.approx(0.6) and found.evidence["mult_adds_share"] == 0
    assert "(box decoding, score filtering, NMS: decode)" in found.message


def test_the_stage_table_shows_only_the_times_it_has():
    from rich.console import Console

    from netprof.analysis import Totals
    from netprof.detection import Stage
    from netprof.report import stages as stage_report

    def table(time_s, predicted_s):
        rows = [Stage("backbone", ("body",), Totals(mult_adds=3), 1, time_s, predicted_s)]
        rows.append(Stage("postprocess", ("decode",), Totals(), 0, time_s, predicted_s))
        console = Console(record=True, width=120)
        stage_report.render(rows, console)
        return console.export_text()

    counted = table(None, None)
    assert "time" not in counted and "predicted" not in counted and "mult_adds" in counted
    predicted = table(None, 0.002)
    assert "predicted" in predicted and "2 ms" in predicted and "│ time" not in predicted
    both = table(0.001, 0.002)
    assert "time" in both and "predicted" in both and "50.0%" in both  # each stage half of either total
    assert "params" not in both and "params" in predicted  # beside both times, left to the other formats
