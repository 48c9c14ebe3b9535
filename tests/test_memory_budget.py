"""Rule M1 (memory budget) on a tiny CNN whose live activation bytes are computed by hand; the budget's
parsing (units, [tool.netprof] memory-budget, --memory-budget) and the check formats that carry it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cli_runner import run
from torch import nn

import netprof
from netprof import config, pipeline
from netprof.analysis.memory import KINDS, kind_of, span
from netprof.capture.ir import Allocation
from netprof.metrics import compute
from netprof.rules import RuleSettings, Severity, docs
from netprof.rules import memory_budget as m1
from netprof.rules import run as run_rules
from netprof.rules.registry import BUILTIN
from netprof.units import parse_nbytes

ROOT = Path(__file__).resolve().parents[1]
SPEC = f"{Path(__file__).resolve()}:tiny_cnn"


class Stage(nn.Module):
    """Two 3x3 convs with a ReLU between: a chain block (two fragments)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(c_in, c_out, 3, stride, 1)
        self.b = nn.Conv2d(c_out, c_out, 3, 1, 1)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 1, 1)
        self.stage1 = Stage(8, 8, 1)
        self.stage2 = Stage(8, 16, 2)
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        x = self.stem(x)
        x = self.stage1(x)
        x = self.stage2(x)
        return self.head(x.mean((2, 3)))


def tiny_cnn():
    return TinyCNN().eval(), torch.randn(1, 3, 16, 16)


# Live bytes by hand, float32 (4 bytes an element), batch 1, on a 3x16x16 input. The caller holds the
# input for the whole run; TinyCNN.forward's ``x`` holds each stage's input until the stage returns.
INPUT = 3 * 16 * 16 * 4  # 3072
MAP_8x16 = 8 * 16 * 16 * 4  # 8192: the stem's and stage1's maps
MAP_16x8 = 16 * 8 * 8 * 4  # 4096: stage2's maps (stride 2)
# stem, op 0 (conv): the input and its output
STEM = INPUT + MAP_8x16  # 11264
# stage1, op 2 (relu; op 3, conv b, ties): the input, x (the stem's map), a's output (relu's argument),
# relu's output; at op 3 a's output is gone and b's is there
STAGE1 = INPUT + 3 * MAP_8x16  # 27648
# stage2, op 5 (relu; op 6 ties): the input, x (stage1's map), a's output, relu's output
STAGE2 = INPUT + MAP_8x16 + 2 * MAP_16x8  # 19456
# the model's own mean, op 7: the input, x (stage2's map), the 1x16 mean
ROOT_OPS = INPUT + MAP_16x8 + 16 * 4  # 7232
# head, op 9 (addmm): the same and the 1x10 logits
HEAD = ROOT_OPS + 10 * 4  # 7272


@pytest.fixture(scope="module")
def analysis():
    model, x = tiny_cnn()
    return pipeline.analyze(model, x, memory=True)


def check(analysis, budget: int, **options) -> list:
    settings = {rule: RuleSettings(enabled=rule == m1.ID) for rule in BUILTIN}
    settings[m1.ID] = RuleSettings(options={m1.OPTION: budget, **options})
    return run_rules(analysis, settings=settings)


def test_the_hand_computed_live_bytes_of_each_unit(analysis):
    live = m1.live_bytes(analysis.memory)
    units = m1.forward_units(analysis, compute(analysis).blocks)
    assert list(units) == ["stem", "stage1", "stage2", "", "head"]
    most = {unit: max(live[i] for i in ops) for unit, ops in units.items()}
    assert most == {"stem": STEM, "stage1": STAGE1, "stage2": STAGE2, "": ROOT_OPS, "head": HEAD}
    assert units["stage1"] == [1, 2, 3] and units["stage2"] == [4, 5, 6]


# (budget, units flagged): a block is flagged when its most live bytes exceed the budget.
CASES = [
    (STAGE1, ()),  # equal to the peak: fits
    (STAGE1 - 1, ("stage1",)),
    (STAGE2, ("stage1",)),
    (STAGE2 - 1, ("stage1", "stage2")),
    (STEM, ("stage1", "stage2")),
    (STEM - 1, ("stem", "stage1", "stage2")),
    (HEAD, ("stem", "stage1", "stage2")),
    (ROOT_OPS, ("stem", "stage1", "stage2", "head")),
    (ROOT_OPS - 1, ("stem", "stage1", "stage2", "", "head")),
    (0, ()),  # no budget: nothing checked
]


@pytest.mark.parametrize(("budget", "flagged"), CASES, ids=[str(b) for b, _ in CASES])
def test_blocks_over_the_budget_are_flagged(analysis, budget, flagged):
    findings = check(analysis, budget)
    assert sorted(f.module for f in findings) == sorted(flagged)
    for f in findings:
        assert f.rule == "M1" and f.severity is Severity.ERROR and f.message and f.fix
        assert f.measured > f.threshold == budget
        assert f.cost_bytes == f.measured - budget and 0 <= f.cost_share <= 1


def test_finding_numbers_and_the_largest_live_tensors_at_the_peak(analysis):
    (f,) = check(analysis, 20_000)
    assert (f.module, f.module_type, f.measured, f.cost_bytes) == ("stage1", "Stage", STAGE1, STAGE1 - 20_000)
    e = f.evidence
    assert (e["worst_op"], e["worst_op_name"], e["worst_op_module"]) == (2, "aten.relu.default", "stage1")
    assert e["by_kind"] == {"inputs": INPUT, "activations": 3 * MAP_8x16}
    assert e["live_bytes"] == STAGE1 and e["budget_bytes"] == 20_000 and e["over_bytes"] == STAGE1 - 20_000
    assert e["model_peak_bytes"] == STAGE1 and e["ops"] == 3
    params = sum(p.numel() for p in TinyCNN().parameters())
    assert e["weight_bytes"] == 4 * params  # in flash: given, not counted
    # stage1's worst op is the model's peak: the profile names what is live there, largest first
    assert [(t["bytes"], t["module"], t["shape"]) for t in e["largest_live"]] == [
        (MAP_8x16, "stem", [1, 8, 16, 16]),
        (MAP_8x16, "stage1.a", [1, 8, 16, 16]),
        (MAP_8x16, "stage1", [1, 8, 16, 16]),
    ]
    assert "27.0 KiB of activations and inputs live at this block's worst op" in f.message
    assert "over the 19.5 KiB budget by 7.5 KiB" in f.message
    assert "8.0 KiB 1x8x16x16 from stem" in f.message
    # 27648 / 20000 = 1.38x; 1 / sqrt(1.3824) = 85.05% of each side
    assert "1.38x" in f.fix and "85% of each side" in f.fix and "patch" in f.fix


def test_live_at_agrees_with_the_profile(analysis):
    for op in range(len(analysis.ops)):
        by_kind = dict.fromkeys(KINDS, 0)
        for allocation in analysis.memory.live_at(op):
            by_kind[kind_of(allocation)] += allocation.nbytes
        assert by_kind == {kind: analysis.memory.timeline[kind][op] for kind in KINDS}


def test_spans():
    made_before = Allocation(100, -1, None, "inputs", "", "")
    short = Allocation(10, 1, 3, "", "forward", "a")  # live at ops 1 and 2
    freed_at_once = Allocation(20, 2, 2, "", "forward", "b")  # live at its own op only
    assert span(made_before, 4) == (0, 4)
    assert span(short, 4) == (1, 3)
    assert span(freed_at_once, 4) == (2, 3)


def test_the_largest_live_tensors_of_a_block_away_from_the_peak(analysis):
    findings = check(analysis, STAGE2 - 1)
    stage2 = next(f for f in findings if f.module == "stage2")
    # op 5: stage1's map held by x, then stage2.a's output and the relu's (the input, 3072, is fourth)
    assert [
        (t["bytes"], t["kind"], t["module"], t["created_op"]) for t in stage2.evidence["largest_live"]
    ] == [
        (MAP_8x16, "activations", "stage1.b", 3),
        (MAP_16x8, "activations", "stage2.a", 4),
        (MAP_16x8, "activations", "stage2", 5),
    ]
    assert "4.0 KiB 1x16x8x8 from stage2.a" in stage2.message


def test_inputs_are_named_as_inputs(analysis):
    (stem,) = [f for f in check(analysis, STEM - 1) if f.module == "stem"]
    assert [t["kind"] for t in stem.evidence["largest_live"]] == ["activations", "inputs"]
    assert "3.0 KiB 1x3x16x16 input" in stem.message


def test_needs_the_memory_profile_only_with_a_budget():
    model, x = tiny_cnn()
    plain = netprof.analyze(model, x)
    assert check(plain, 0) == []
    with pytest.raises(ValueError, match="M1 needs the memory profile"):
        check(plain, 1024)


def test_a_negative_budget_is_refused(analysis):
    with pytest.raises(ValueError, match="budget_bytes"):
        check(analysis, -1)


def test_budget_of_the_settings():
    assert m1.budget_of({}) is None
    assert m1.budget_of({"M1": RuleSettings(options={"budget_bytes": 512})}) == 512
    assert m1.budget_of({"M1": RuleSettings(enabled=False, options={"budget_bytes": 512})}) is None
    assert m1.budget_of({"M1": RuleSettings(options={"budget_bytes": 0})}) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("256KiB", 256 * 1024),
        ("512KB", 512_000),
        ("1MiB", 2**20),
        ("2MB", 2_000_000),
        ("4096", 4096),
        ("1.5 MiB", 3 * 2**19),
        ("64kib", 65536),
        ("100B", 100),
        ("1GiB", 2**30),
    ],
)
def test_sizes(text, expected):
    assert parse_nbytes(text) == expected


@pytest.mark.parametrize("text", ["", "KiB", "0", "-1KiB", "256KX", "1.3B", "256 K", "1,024", "2TB", "lots"])
def test_bad_sizes(text):
    with pytest.raises(ValueError, match="expected a size such as 256KiB"):
        parse_nbytes(text)


def test_memory_budget_in_the_config():
    known = {"M1": {"budget_bytes": 0}}
    parsed = config.parse({"memory-budget": "256KiB"}, known)
    assert parsed.rules["M1"].options == {"budget_bytes": 262144}
    assert config.parse({"memory-budget": 300000}, known).rules["M1"].options == {"budget_bytes": 300000}
    severe = config.parse({"memory-budget": "1MB", "rules": {"M1": {"severity": "warning"}}}, known)
    assert severe.rules["M1"] == RuleSettings(severity=Severity.WARNING, options={"budget_bytes": 1_000_000})
    with pytest.raises(
        config.ConfigError, match=r"tool.netprof.memory-budget: expected a size .* got 'lots'"
    ):
        config.parse({"memory-budget": "lots"}, known)
    with pytest.raises(config.ConfigError, match="tool.netprof.memory-budget: expected a size"):
        config.parse({"memory-budget": True}, known)
    with pytest.raises(config.ConfigError, match="keep one"):
        config.parse({"memory-budget": "1MiB", "rules": {"M1": {"budget_bytes": 5}}}, known)
    # the command line replaces the file's budget
    merged = config.with_command_line(parsed, memory_budget=1024, known=known)
    assert merged.rules["M1"].options == {"budget_bytes": 1024}


def test_the_document():
    text = docs.load("M1")
    assert text.startswith("# M1: memory-budget\n")
    assert "flash" in text and "MCUNet" in text and "| `budget_bytes` | `0` |" in text


# --- netprof check ----------------------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no pyproject.toml here
    monkeypatch.setenv("COLUMNS", "120")
    return tmp_path


def _json(capsys, *argv):
    code, out, err = run(capsys, "check", SPEC, "--format", "json", *argv)
    return code, json.loads(out) if out else None, err


def m1_modules(report) -> list[str]:
    return sorted(f["module"] for f in report["findings"] if f["rule"] == "M1")


@pytest.mark.parametrize(
    ("budget", "code", "flagged"),
    [
        ("27KiB", 0, []),  # 27648: the peak fits
        ("27647", 1, ["stage1"]),
        ("20KB", 1, ["stage1"]),  # 20000
        ("19KiB", 1, ["stage1"]),  # 19456 = stage2's peak
        ("11KiB", 1, ["stage1", "stage2"]),  # 11264 = the stem's
        ("11263", 1, ["stage1", "stage2", "stem"]),
    ],
)
def test_check_memory_budget(capsys, in_tmp, budget, code, flagged):
    status, report, err = _json(capsys, "--select", "M1", "--memory-budget", budget)
    assert status == code, err
    assert m1_modules(report) == flagged
    assert report["memory"]["peak_bytes"] >= STAGE1  # the run was captured with its memory


def test_check_without_a_budget_captures_no_memory(capsys, in_tmp):
    status, report, err = _json(capsys)
    assert status == 0, err
    assert m1_modules(report) == [] and "memory" not in report


def test_check_budget_from_the_config_file_and_the_command_line_over_it(capsys, in_tmp):
    (in_tmp / "pyproject.toml").write_text('[tool.netprof]\nmemory-budget = "20KB"\n')
    status, report, _ = _json(capsys, "--select", "M1")
    assert status == 1 and m1_modules(report) == ["stage1"]
    status, report, _ = _json(capsys, "--select", "M1", "--memory-budget", "11263")
    assert status == 1 and m1_modules(report) == ["stage1", "stage2", "stem"]
    status, report, _ = _json(capsys, "--select", "M1", "--memory-budget", "1MiB")
    assert status == 0 and m1_modules(report) == []
    # configured like any rule: a severity below --fail-on passes, --ignore-rules turns it off
    (in_tmp / "pyproject.toml").write_text(
        '[tool.netprof]\nmemory-budget = 20000\n[tool.netprof.rules.M1]\nseverity = "warning"\n'
    )
    status, report, _ = _json(capsys, "--select", "M1")
    assert status == 0 and [f["severity"] for f in report["findings"]] == ["warning"]
    status, report, _ = _json(capsys, "--ignore-rules", "M1")
    assert m1_modules(report) == [] and "memory" not in report


def test_check_json_carries_the_evidence(capsys, in_tmp):
    _, report, _ = _json(capsys, "--select", "M1", "--memory-budget", "20000")
    (f,) = report["findings"]
    assert (f["rule"], f["severity"], f["module"], f["measured"], f["threshold"]) == (
        "M1",
        "error",
        "stage1",
        STAGE1,
        20000,
    )
    assert f["evidence"]["by_kind"] == {"inputs": INPUT, "activations": 3 * MAP_8x16}
    assert f["fingerprint"]


def test_check_sarif_and_table_carry_the_finding(capsys, in_tmp):
    code, out, _ = run(
        capsys, "check", SPEC, "--select", "M1", "--memory-budget", "20000", "--format", "sarif"
    )
    assert code == 1
    log = json.loads(out)
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "M1" and result["level"] == "error"
    assert result["properties"]["module"] == "stage1" and result["properties"]["measured"] == STAGE1
    assert "Fix: shrink what is live here" in result["message"]["text"]
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    (descriptor,) = [r for r in rules if r["id"] == "M1"]
    assert "live activations exceed a memory budget" in descriptor["fullDescription"]["text"]

    code, out, _ = run(capsys, "check", SPEC, "--select", "M1", "--memory-budget", "20000")
    assert code == 1 and "M1" in out and "stage1" in out and "netprof explain M1" in out


def test_explain_and_rules_list_m1(capsys):
    code, out, _ = run(capsys, "explain", "M1")
    assert code == 0 and "memory-budget" in out
    code, out, _ = run(capsys, "rules", "--format", "json")
    (row,) = [r for r in json.loads(out) if r["id"] == "M1"]
    assert row["severity"] == "error" and row["options"] == {"budget_bytes": 0}


@pytest.mark.parametrize(("stride", "flagged"), [(1, ["conv"]), (2, [])])
def test_the_documents_example(stride, flagged):
    """rules/M1.md: at 256KiB on 1x3x96x96, 108 KiB of input + 576 KiB of output is flagged; stride 2
    leaves 108 + 144 = 252 KiB."""
    model = nn.Sequential()
    model.conv = nn.Conv2d(3, 16, 3, stride=stride, padding=1)
    findings = check(pipeline.analyze(model, torch.randn(1, 3, 96, 96), memory=True), parse_nbytes("256KiB"))
    assert [f.module for f in findings] == flagged
    live = 3 * 96 * 96 * 4 + 16 * (96 // stride) ** 2 * 4
    assert live == (108 + (576 if stride == 1 else 144)) * 1024
    assert all(f.measured == live for f in findings)
