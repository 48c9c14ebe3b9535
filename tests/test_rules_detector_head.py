"""D2: a detector's head holding the model's most parallel branches (G3 in the head), counted by hand on
tiny detectors, SSDLite320 and netprof's YOLOv8n."""

import json
from pathlib import Path

import pytest
import torch
from cli_runner import run
from fixtures.detectors import pyramid
from torchvision.models import detection

import netprof
from netprof.rules import all_rules
from netprof.rules import run as run_rules
from netprof.rules.base import RuleSettings
from netprof.zoo import yolo

ROOT = Path(__file__).parents[1]
RULES = [rule.id for rule in all_rules()]


def _only(*ids, **options):
    return {
        rule: RuleSettings(enabled=rule in ids, options=options if rule == "D2" else {}) for rule in RULES
    }


def _found(analysis, *ids, op_seconds=None, stage_modules=None, **options):
    findings = run_rules(
        analysis, settings=_only(*ids, **options), op_seconds=op_seconds, stage_modules=stage_modules
    )
    return [(f.rule, f.module) for f in findings], {f.rule: f for f in findings}


def _pyramid(**kwargs):
    model, x = pyramid(**kwargs)
    return netprof.analyze(model, x)


def test_a_two_level_decoupled_head_is_four_branches_where_nothing_else_branches():
    analysis = _pyramid(levels=2)
    found, by_rule = _found(analysis, "D2", "G3")
    assert found == [("D2", "head")]  # G3 sees no block: the head has an entry per level
    d2 = by_rule["D2"]
    # 2 levels x (class, box) = 4 branches of one 1x1 conv each; no block elsewhere branches: G3's 2.
    assert (d2.measured, d2.threshold) == (4, 2)
    assert d2.evidence["levels"] == 2 and d2.evidence["branches_per_level"] == [2, 2]
    assert d2.evidence["fragments"] == 4 and d2.evidence["shared_across_levels"] is False
    # The box convs read the levels again: 8x16x16 and 8x8x8 float32 maps, 4 * (2048 + 512) bytes;
    # the head concatenates nothing.
    assert d2.evidence["reread_bytes"] == 10_240 and d2.evidence["merge_bytes"] == 0
    assert d2.cost_bytes == 10_240
    assert "head runs 4 parallel branches (2 per level over 2 levels), 4 fragments" in d2.message
    assert "share one head across the levels" in d2.fix


def test_the_head_is_flagged_only_where_it_branches_more_than_any_other_block():
    found, by_rule = _found(_pyramid(levels=2, mixer=3), "D2", "G3")
    assert sorted(found) == [("D2", "head"), ("G3", "backbone.mixer")]
    d2 = by_rule["D2"]
    assert (d2.measured, d2.threshold) == (4, 3)  # the mixer's three parallel convs raise the bar
    assert d2.evidence["widest_other_block"] == "backbone.mixer"
    found, _ = _found(_pyramid(levels=2, mixer=4), "D2", "G3")
    assert found == [("G3", "backbone.mixer")]  # 4 in the backbone: the head is not where they are
    found, _ = _found(_pyramid(levels=1), "D2", "G3")
    assert found == []  # one level: class and box, 2 branches, within G3's limit
    found, _ = _found(_pyramid(levels=2), "D2", max_parallel_branches=4)
    assert found == []


def test_a_head_shared_across_levels_is_told_to_run_once_over_them():
    _, by_rule = _found(_pyramid(levels=3, shared=True), "D2")
    d2 = by_rule["D2"]
    assert d2.measured == 6 and d2.evidence["shared_across_levels"] is True
    # 4 * (8*16*16 + 8*8*8 + 8*4*4): each of the three maps read a second time
    assert d2.cost_bytes == 4 * (2048 + 512 + 128)
    assert "shared across the levels but run once per level" in d2.fix


def test_a_head_g3_sees_as_one_block_is_g3s():
    found, by_rule = _found(_pyramid(levels=1, concat=True), "D2", "G3")
    assert found == [("G3", "head")]  # one map in, one concatenation out: a block with 3 branches
    assert by_rule["G3"].measured == 3


def test_d2_follows_the_stages_set_by_module_path_and_says_the_heads_time():
    analysis = _pyramid(levels=2)
    assert _found(analysis, "D2", stage_modules={"neck": ["head"]})[0] == []  # no head stage left
    # Every op 1 us: the stem, the level-1 conv and the head's 4 convs; the head is 4 of 6 us.
    assert len(analysis.ops) == 6
    _, by_rule = _found(analysis, "D2", op_seconds={op.id: 1e-6 for op in analysis.ops})
    assert by_rule["D2"].evidence["time_share"] == pytest.approx(4 / 6)
    assert "measured: 66.7% of op time" in by_rule["D2"].message


def test_check_reports_d2_and_lists_it(capsys):
    spec = f"{ROOT}/tests/fixtures/detectors.py:pyramid"
    code, out, err = run(capsys, "check", spec, "--select", "D2", "--format", "json")
    assert code == 0, err  # a warning: below the default --fail-on error
    (finding,) = json.loads(out)["findings"]
    assert (finding["rule"], finding["module"], finding["measured"]) == ("D2", "head", 4)
    code, out, _ = run(capsys, "rules", "--format", "json")
    rules = {rule["id"]: rule for rule in json.loads(out)}
    assert rules["D2"]["title"] == "detector-head-fragmentation"
    assert rules["D2"]["options"] == {"max_parallel_branches": 2}


def test_ssdlite_head_has_a_conv_per_level_per_task():
    model = detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None).eval()
    analysis = netprof.analyze(model, [torch.randn(3, 320, 320)])
    found, by_rule = _found(analysis, "D2")
    assert found == [("D2", "head")]
    d2 = by_rule["D2"]
    # 6 levels (2 of the backbone's, 4 of its extra layers) x (classification, regression) = 12 branches,
    # each a depthwise 3x3 and a 1x1 conv: 24 fragments; no block outside the head has two compute branches.
    assert (d2.measured, d2.threshold) == (12, 2)
    assert d2.evidence["levels"] == 6 and d2.evidence["branches_per_level"] == [2] * 6
    assert d2.evidence["fragments"] == 24 and d2.evidence["widest_other_branches"] == 1
    # Re-read: the regression branch reads each level again, 672x20x20, 480x10x10, 512x5x5, 256x3x3,
    # 256x2x2, 128x1x1 float32: 4 * 333,056 bytes.
    assert d2.evidence["reread_bytes"] == 1_332_224
    # Merged: 6 anchors per location over 400 + 100 + 25 + 9 + 4 + 1 locations = 3,234 boxes; the class
    # scores (91) and the boxes (4) concatenated, each read and written: 2 * 4 * 3,234 * (91 + 4).
    assert d2.evidence["merge_bytes"] == 2_457_840
    assert d2.cost_bytes == 1_332_224 + 2_457_840


def test_yolov8n_detect_head_runs_a_box_and_a_class_chain_per_level():
    model = yolo(scale="n").eval()
    analysis = netprof.analyze(model, torch.randn(1, 3, 320, 320))
    found, by_rule = _found(analysis, "D2")
    assert found == [("D2", "model.22")]
    d2 = by_rule["D2"]
    # 3 levels (P3-P5) x (cv2 boxes, cv3 classes) = 6 branches of 3 convs: 18 fragments. The widest block
    # elsewhere is SPPF (model.9): its input and three chained max-pools concatenated, 3 compute branches.
    assert (d2.measured, d2.threshold) == (6, 3)
    assert d2.evidence["fragments"] == 18 and d2.evidence["widest_other_block"] == "model.9"
    # cv3 reads each level again: 64x40x40, 128x20x20, 256x10x10 float32 = 4 * 179,200 bytes. Detect
    # concatenates the branches in its own forward, post-processing: the head merges nothing.
    assert d2.evidence["reread_bytes"] == 716_800 and d2.evidence["merge_bytes"] == 0
