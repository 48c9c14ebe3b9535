"""netprof.zoo.yolo: YOLOv8 built from its layer table (a TOML config), counted against Ultralytics' own."""

import json
import shutil
from importlib import resources

import pytest
import torch
from cli_runner import run

import netprof
from netprof.detection import split
from netprof.zoo import yolo

# Ultralytics' model summary of yolov8n.yaml: "225 layers, 3,157,200 parameters"; its counter
# (utils.torch_utils.get_flops: thop, 2 x the multiply-adds of every conv, at 640x640) gives 8.7439872
# GFLOPs for the fused model (batch-norm folded into the convs), the 8.7 of its published table.
YOLOV8N_PARAMS = 3_157_200
YOLOV8N_FUSED_GFLOPS = 8.7439872


@pytest.fixture(scope="module")
def yolov8n():
    model = yolo(scale="n").eval()
    return model, netprof.analyze(model, torch.randn(1, 3, 640, 640))


def test_yolov8n_has_ultralytics_parameter_count(yolov8n):
    model, analysis = yolov8n
    assert analysis.params == sum(p.numel() for p in model.parameters()) == YOLOV8N_PARAMS


def test_yolov8n_convolutions_agree_with_ultralytics_counter_and_nothing_is_uncounted(yolov8n):
    _, analysis = yolov8n
    conv = sum(op.mult_adds for op in analysis.ops if "conv" in op.category)
    assert 2 * conv / 1e9 == pytest.approx(YOLOV8N_FUSED_GFLOPS, rel=0.03)
    assert analysis.totals.uncounted_ops == 0 and not analysis.uncounted


def test_yolov8n_against_ultralytics_built_here(yolov8n):
    """The same comparison with Ultralytics' counter run here, when the optional package is installed."""
    pytest.importorskip("ultralytics", reason="the live Ultralytics comparison needs pip install ultralytics")
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils.torch_utils import get_flops

    reference = DetectionModel("yolov8n.yaml", verbose=False).eval()
    assert sum(p.numel() for p in reference.parameters()) == YOLOV8N_PARAMS
    reference.fuse(verbose=False)
    _, analysis = yolov8n
    conv = sum(op.mult_adds for op in analysis.ops if "conv" in op.category)
    assert 2 * conv / 1e9 == pytest.approx(get_flops(reference, 640), rel=0.03)


def test_yolov8n_decodes_a_box_and_80_scores_per_anchor(yolov8n):
    model, _ = yolov8n
    with torch.no_grad():
        out = model(torch.randn(1, 3, 320, 320))
    assert out.shape == (1, 84, 40 * 40 + 20 * 20 + 10 * 10)  # strides 8, 16, 32
    assert ((out[:, 4:] >= 0) & (out[:, 4:] <= 1)).all()


def test_yolo_stages_are_backbone_neck_head_and_decoding(yolov8n):
    _, analysis = yolov8n
    stages = {stage.name: stage for stage in split(analysis)}
    assert list(stages) == ["backbone", "neck", "head", "postprocess"]
    assert stages["backbone"].modules == tuple(sorted(f"model.{i}" for i in range(10)))
    assert stages["postprocess"].modules == ("model.22",)
    assert stages["postprocess"].params == 16  # the distribution's fixed 1x1 conv
    assert stages["postprocess"].totals.mult_adds < 0.01 * analysis.totals.mult_adds
    assert sum(stage.params for stage in stages.values()) == analysis.params


def test_a_config_file_of_ones_own(tmp_path, capsys):
    config = tmp_path / "mine.toml"
    shutil.copy(resources.files("netprof.zoo").joinpath("configs", "yolov8.toml"), config)
    config.write_text(config.read_text().replace("nc = 80", "nc = 3"))
    code, out, err = run(
        capsys,
        "analyze",
        f"netprof.zoo:yolo(config='{config}', scale='n')",
        "--input",
        "1,3,320,320",
        "--format",
        "json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["totals"]["params"] < YOLOV8N_PARAMS  # 3 classes instead of 80
    assert [stage["name"] for stage in report["stages"]] == ["backbone", "neck", "head", "postprocess"]


def test_yolo_with_nms_ends_in_detections_and_its_load_can_be_chosen():
    from netprof.detection.load import DetectionLoadError, load_point, with_candidates

    model = yolo(scale="n", nms=True).eval()
    image = torch.randn(1, 3, 320, 320)
    with torch.no_grad():
        (detections,) = model(image)
    # untrained: every anchor's best sigmoid score is above 0.25; at most 300 detections, 6 numbers each
    assert detections.shape == (300, 6) and (detections[:, 4] > 0.25).all()
    twin, note = with_candidates(model, 100)
    assert note == "100 candidate boxes: the best 100 of all, score threshold off"
    assert (model.score_thresh, model.topk_candidates) == (0.25, 30_000)  # the model itself is untouched
    analysis = netprof.analyze(twin, image)
    assert analysis.totals.uncounted_ops == 0
    point = load_point(100, analysis, split(analysis), None, None)
    # one class-aware NMS over the 100 best anchors: 4,950 pairs x 12 flops + 100 x 3 are part of it
    assert (point.nms_boxes, point.nms_calls) == (100, 1) and point.postprocess.totals.flops > 4950 * 12 + 300
    with pytest.raises(DetectionLoadError, match="YOLO has no score threshold"):
        with_candidates(yolo(scale="n"), 100)  # without nms=True there is no NMS to load
