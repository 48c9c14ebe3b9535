"""A detection model: data-dependent post-processing forces the real-execution fallback."""

import pytest
import torch
import torchvision
from torchvision.models import get_model_weights

import netprof


@pytest.mark.slow
def test_ssdlite_analyzes_end_to_end():
    name = "ssdlite320_mobilenet_v3_large"
    meta = get_model_weights(name).DEFAULT.meta
    model = torchvision.models.get_model(name, weights=None, weights_backbone=None)

    analysis = netprof.analyze(model, ([torch.rand(3, 320, 320)],))

    # nonzero() in the box decoding has a data-dependent shape: meta and fake fail, real runs.
    assert analysis.mode == "real"
    assert [note.split(":")[0] for note in analysis.notes] == ["capture mode meta", "capture mode fake"]
    # Source: torchvision's weight metadata (_ops = multiply-adds, num_params).
    assert analysis.params == meta["num_params"]
    assert analysis.totals.mult_adds == pytest.approx(meta["_ops"] * 1e9, rel=0.005)
    # Post-processing is counted too: NMS and its box bookkeeping, at no multiply-adds.
    assert analysis.totals.uncounted_ops == 0 and not analysis.uncounted
    nms = [op for op in analysis.ops if op.op == "torchvision.nms.default"]
    assert nms and all(op.mult_adds == 0 and op.flops > 0 for op in nms)
    # The backbone is attributed to its modules.
    assert analysis.module("backbone").totals.mult_adds > 0.5 * analysis.totals.mult_adds


@pytest.mark.slow
def test_a_detector_spec_built_on_meta_falls_back_to_a_real_run(tmp_path):
    """From a SPEC, netprof builds on meta first; the capture's failure says it needs data, so the model
    is rebuilt on the CPU and run for real (it fits in memory)."""
    from netprof import pipeline

    source = tmp_path / "det.py"
    source.write_text(
        "import torch, torchvision\n"
        "def build():\n"
        "    model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)\n"
        "    return model, ([torch.rand(3, 320, 320)],)\n"
    )
    _, result = pipeline.load_and_run(pipeline.RunRequest(f"{source}:build"))
    assert result.analysis.mode == "real"
    assert any(op.op == "torchvision.nms.default" for op in result.analysis.ops)
