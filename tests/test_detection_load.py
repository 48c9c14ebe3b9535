"""--detections: a detector's post-processing at a chosen number of candidate boxes into NMS.

Hand-computed loads (netprof.detection.load): SSDLite320 scores 91 classes, 90 of them objects; each
keeps ceil(N / 90) boxes. Faster R-CNN MobileNetV3-320-FPN's RPN runs one NMS over its 3 levels' best 150
anchors each (450 boxes), then every proposal it keeps (ceil(N / 90)) has a box for each of 90 classes.
"""

import json
from pathlib import Path

import jsonschema
import pytest
import torch
import torchvision
from cli_runner import run

import netprof
from netprof.detection import split
from netprof.detection.load import NMS_OP, DetectionLoadError, load_point, nms_boxes, with_candidates

SCHEMA = json.loads((Path(__file__).parents[1] / "netprof/report/analysis.schema.json").read_text())
SSDLITE = "torchvision.models.detection:ssdlite320_mobilenet_v3_large(weights_backbone=None)"


@pytest.fixture(scope="module")
def ssdlite():
    return torchvision.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None
    ).eval()


def _image():
    return ([torch.rand(3, 320, 320)],)


@pytest.mark.parametrize(("candidates", "boxes", "calls"), [(100, 2 * 90, 1), (1000, 12 * 90, 90)])
def test_ssdlite_keeps_the_best_boxes_of_each_class(ssdlite, candidates, boxes, calls):
    twin, note = with_candidates(ssdlite, candidates)
    assert (ssdlite.score_thresh, ssdlite.topk_candidates) == (0.001, 300)  # the model as built is untouched
    assert twin.score_thresh == 0.0 and twin.topk_candidates == boxes // 90
    assert (
        note
        == f"{candidates} candidate boxes: the best {boxes // 90} of each of 90 classes, score threshold off"
    )
    # batched_nms offsets the classes apart up to 1,000 boxes (4,000 coordinates) on the CPU, and above
    # that runs one NMS per class
    assert nms_boxes(netprof.analyze(twin, _image())) == (boxes, calls)


def test_faster_rcnn_sets_its_score_threshold_for_the_count():
    build = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn
    model, image = build(weights=None, weights_backbone=None), _image()
    twin, note = with_candidates(model, 1000, image)
    assert model.roi_heads.score_thresh == 0.05  # the model as built is untouched
    assert twin.rpn._post_nms_top_n["testing"] == 150  # and the proposals stay as built
    # 150 proposals x 90 classes are scored; the threshold leaves the best 1,000 above it, and those
    # tied with the 1,000th (an untrained head scores identical proposals alike)
    above = int(note.split("above which ")[1].split()[0].replace(",", ""))
    assert note.startswith("1000 candidate boxes: score threshold ") and 1000 <= above <= 1100
    assert note.endswith(f"{above:,} of the 13,500 (proposal, class) scores of this input lie")
    analysis = netprof.analyze(twin, image)
    point = load_point(1000, analysis, split(analysis), None, None)
    # the RPN's NMS over 3 x 150 anchors, then batched NMS over those scores' boxes (less any that
    # torchvision drops as too small)
    rpn, *second = [node.input_metas[0].shape[0] for node in analysis.ops if node.op == NMS_OP]
    assert rpn == 450 and 0.95 * above <= sum(second) <= above and point.nms_boxes == rpn + sum(second)
    assert point.postprocess.name == "postprocess" and point.postprocess.totals.mult_adds == 0
    assert point.ops_s is None and point.predicted_ops_s is None


def test_a_two_stage_threshold_is_not_set_on_meta():
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None
    )
    twin, note = with_candidates(model, 100, None)
    assert twin.roi_heads.score_thresh == 0.05 and "not set on meta" in note


def test_a_model_without_post_processing_knobs_is_one_clear_error():
    with pytest.raises(DetectionLoadError, match="ResNet has no score threshold and top-k candidates"):
        with_candidates(torchvision.models.resnet18(weights=None), 10)


def test_cli_reports_each_load_in_json(capsys):
    code, out, err = run(
        capsys, "analyze", SSDLITE, "--input", "1,3,320,320", "--detections", "10,1000", "--format", "json"
    )
    assert code == 0, err
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    loads = document["detections"]
    assert [(load["candidates"], load["nms_boxes"], load["nms_calls"]) for load in loads] == [
        (10, 90, 1),
        (1000, 1080, 90),
    ]
    assert all(
        load["postprocess"]["mult_adds"] == 0 and load["postprocess"]["time_s"] is None for load in loads
    )
    # the NMS itself: 90 boxes, 4,005 pairs x 12 flops + 90 x 3, is part of the post-processing's flops
    assert loads[0]["postprocess"]["flops"] > 4005 * 12 + 90 * 3
    # the run itself is the model as built: its default thresholds
    assert document["stages"][-1]["name"] == "postprocess"


def test_cli_table_and_markdown_show_the_loads(capsys):
    code, out, err = run(
        capsys, "analyze", SSDLITE, "--input", "1,3,320,320", "--detections", "100", "--format", "markdown"
    )
    assert code == 0, err
    assert "### Post-processing per NMS load" in out and "| 100 | 180 | 1 |" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["torchvision.models:resnet18", "--detections", "10"], "ResNet has no score threshold"),
        ([SSDLITE, "--input", "1,3,320,320", "--detections", "10", "--train"], "drop --train and --memory"),
    ],
)
def test_bad_loads_are_one_line_exit_2(capsys, argv, message):
    code, _, err = run(capsys, "analyze", *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_count_that_is_not_positive_is_refused_by_the_parser(capsys):
    code, _, err = run(capsys, "analyze", SSDLITE, "--detections", "10,0")
    assert code == 2 and "expected a positive int, got '0'" in err


def test_predict_prices_each_load_on_a_profile(capsys):
    profile = Path(__file__).parents[1] / "benchmarks/results/profile_cpu_t1_avx512.json"
    argv = [SSDLITE, "--input", "1,3,320,320", "--detections", "100", "--profile", str(profile)]
    code, out, err = run(capsys, "predict", *argv, "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    (load,) = document["detections"]
    # nothing measured; the post-processing predicted on the profile's nms, topk and masked_index kinds
    assert load["postprocess"]["time_s"] is None and load["postprocess"]["predicted_s"] > 0
    assert load["predicted_ops_s"] > load["postprocess"]["predicted_s"] and load["nms_boxes"] == 180
    assert all(stage["predicted_s"] is not None for stage in document["stages"])
