"""Findings grouped by rule and kind of fix (issue 12): the PR comment, the table, the annotations.

The golden file ``tests/golden/shufflenet_v1_g3.md`` is the comment of ``netprof check
netprof.zoo:shufflenet_v1_g3 --format markdown``; after an intended change regenerate it with

    NETPROF_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_findings_groups.py

and review the diff.
"""

import io
import os
from pathlib import Path

import pytest
import torch
from cli_runner import run
from rich.console import Console
from torch import nn

import netprof
from netprof import source_paths
from netprof.capture.loader import resolve
from netprof.report import findings_groups as fg
from netprof.report import findings_markdown, findings_text, github, sarif
from netprof.rules import all_rules, docs
from netprof.rules import run as run_rules
from netprof.rules.base import Finding, Severity, SourceLocation
from netprof.rules.baseline import CheckedModel
from netprof.zoo import shufflenet_v1_g3

ROOT = Path(__file__).parents[1]
GOLDEN = ROOT / "tests/golden/shufflenet_v1_g3.md"
UPDATE = bool(os.environ.get("NETPROF_UPDATE_SNAPSHOTS"))


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def shufflenet() -> CheckedModel:
    model = shufflenet_v1_g3()
    analysis = netprof.analyze(model, torch.randn(1, 3, 224, 224), name="netprof.zoo:shufflenet_v1_g3")
    return CheckedModel(analysis, tuple(run_rules(analysis, model)))


@pytest.fixture(scope="module")
def tiny():
    return netprof.analyze(nn.Conv2d(4, 4, 1), torch.randn(1, 4, 2, 2), name="m.py:build")


def _finding(module: str, fix: str, cost: int = 100, rule: str = "G2", **evidence) -> Finding:
    return Finding(
        rule=rule,
        severity=Severity.WARNING,
        module=module,
        module_type="Conv2d",
        location=SourceLocation("models/net.py", 7),
        message=f"{module} has too many groups",
        measured=4,
        threshold=1,
        cost_bytes=cost,
        cost_share=cost / 1e6,
        fix=fix,
        evidence=evidence,
    )


# --- the pull-request comment --------------------------------------------------------------------


def test_shufflenet_v1_comment_is_grouped_small_and_matches_the_golden_file(capsys):
    code, out, err = run(capsys, "check", "netprof.zoo:shufflenet_v1_g3", "--format", "markdown")
    assert code == 0, err
    if UPDATE or not GOLDEN.exists():
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(out)
        if not UPDATE:
            pytest.fail(f"{GOLDEN} did not exist: written, review and commit it")
    assert out == GOLDEN.read_text(), "NETPROF_UPDATE_SNAPSHOTS=1 regenerates the golden file"
    assert len(out.encode()) < 6 * 1024  # was 26 KB: 53 rows, 31 of them the same G2 finding
    assert "**53 findings** (52 warnings, 1 info) in 3 groups" in out
    # One row per group: the 31 G2 findings on the same kind of conv are one, naming their modules.
    group_rows = [line for line in out.splitlines() if line.startswith("| :")]
    assert len(group_rows) == 3
    (g2,) = [row for row in group_rows if "[G2]" in row]
    assert "| 31 |" in g2 and "`stage2.1.expand.0`" in g2 and "and 28 more" in g2
    # Every finding, with its measured value, in the collapsed list.
    details = out.split("<details>")[1]
    assert details.count("| G2 |") == 31 and details.count("| G1 |") == 21
    assert "| G2 | `stage4.3.compress.0` | 3 > 1 |" in details
    # Paths inside the repository are relative to its root, never absolute.
    assert "`netprof/zoo/layers.py:42`" in out and str(ROOT) not in out


def _long_paths_model_source(count: int) -> str:
    return f"""
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.grouped_pointwise_projection_convolution_of_this_residual_block = nn.Conv2d(8, 8, 1, groups=2, bias=False)

    def forward(self, x):
        return self.grouped_pointwise_projection_convolution_of_this_residual_block(x)


class Deep(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder_with_a_rather_long_descriptive_name = nn.Sequential(*[Block() for _ in range({count})])

    def forward(self, x):
        return self.encoder_with_a_rather_long_descriptive_name(x)


def build():
    return Deep(), torch.randn(1, 8, 4, 4)
"""


def test_a_500_finding_comment_stays_under_githubs_limit(capsys, tmp_path):
    """500 grouped convs with long module paths: uncut, the comment would be about 70,000 characters."""
    source = tmp_path / "deep.py"
    source.write_text(_long_paths_model_source(500))
    spec = f"{source}:build"
    code, out, err = run(capsys, "check", spec, "--select", "G2", "--format", "markdown", "--exit-zero")
    assert code == 0, err
    assert len(out) <= findings_markdown.MAX_CHARS < findings_markdown.GITHUB_LIMIT
    assert "### netprof check: 500 warnings in 1 model" in out
    assert "| :warning: [G2](rules/G2.md) | 500 |" in out  # the group row survives the cut
    # The details list was cut, not the rows, and one line says what is missing and where it is.
    summary = next(line for line in out.splitlines() if line.startswith("<details><summary>The first "))
    shown = int(summary.split("The first ")[1].split(" of ")[0])
    assert 0 < shown < 500 and "of 500 new findings" not in summary
    (omitted,) = [line for line in out.splitlines() if line.startswith("**Shortened")]
    assert f"{500 - shown} of 500 findings not listed here" in omitted
    assert "--format json" in omitted and "HTML" in omitted
    assert out.rstrip().endswith("</sub>")
    # Uncut, the same comment would be over GitHub's limit: the cap is what keeps it postable.
    model, x = resolve(spec)()
    analysis = netprof.analyze(model, x, name=spec)
    findings = tuple(f for f in run_rules(analysis, model) if f.rule == "G2")
    assert len(findings) == 500
    uncut = _render([CheckedModel(analysis, findings)], 10**9)
    assert len(uncut) > findings_markdown.GITHUB_LIMIT and "Shortened" not in uncut
    assert _render([CheckedModel(analysis, findings)], findings_markdown.MAX_CHARS) == out


def _render(models, limit):
    return findings_markdown.render(models, Severity.ERROR, limit=limit)


def test_the_cap_cuts_details_then_rows_and_says_how_many_are_not_listed(tiny):
    # 60 kinds of fix (numbers blank out, so the kinds differ in words), 5 modules each.
    words = [f"{a}{b}" for a in "abcdefghij" for b in "uvwxyz"]
    findings = tuple(
        _finding(f"stage.{kind}.block{i}", f"replace it, variant {kind}", cost=1000 - j)
        for j, kind in enumerate(words)
        for i in range(5)
    )
    model = CheckedModel(tiny, findings)
    full = _render([model], 10**9)
    assert "Shortened" not in full and full.count("| :warning:") == 60
    # Room for every row but not every detail: rows stay, details are cut from the end.
    rows_only = len(full.split("<details>")[0]) + 2500
    text = _render([model], rows_only)
    assert len(text) <= rows_only and text.count("| :warning:") == 60
    assert "<details><summary>The first " in text
    # Less room: rows are cut too, the last groups first, and the count of unlisted findings is right.
    for limit in (3000, 5000, 9000):
        text = _render([model], limit)
        assert len(text) <= limit
        kept_rows = text.count("| :warning:")
        assert 0 < kept_rows < 60 and f"{60 - kept_rows} more groups not shown" in text
        named = min(5, findings_markdown.ROW_MODULES) * kept_rows
        assert f"{300 - named} of 300 findings not listed here" in text
        assert "<details>" not in text


def test_many_models_still_fit(tiny):
    findings = tuple(_finding(f"m.{i}", f"fix {chr(97 + i % 26)}{i // 26}x") for i in range(80))
    models = [CheckedModel(tiny, findings)] * 40
    text = _render(models, 20_000)
    assert len(text) <= 20_000 and "Shortened" in text
    assert text.startswith(findings_markdown.MARKER)


def test_new_findings_first_then_the_baselines_collapsed_and_cut_first(tiny):
    new = tuple(_finding(f"new.{i}", "use groups=1", cost=10) for i in range(3))
    old = tuple(_finding(f"old.{i}", "use groups=1", cost=1000) for i in range(300))
    model = CheckedModel(tiny, new, baselined=old, previous=dict(tiny.headline()))
    text = _render([model], 10**9)
    new_part, known_part = text.split("300 findings already in the baseline (not failing)")
    assert "`new.0`" in new_part and "old." not in new_part
    assert "`old.0`" in known_part and "new." not in known_part
    assert "**3 new findings**" in text
    small = _render([model], len(text) - 10)
    assert "`new.2`" in small and "300 finding(s) already in the baseline are not shown" in small
    assert "the findings already in the baseline also left out" in small


def test_rule_summary_with_a_profile_gives_the_predicted_time(tiny):
    findings = (_finding("a", "f", 300, op_id=1), _finding("b", "f", 200, op_id=2))
    text = findings_markdown.render(
        [CheckedModel(tiny, findings)], Severity.ERROR, predicted=[{1: 0.002, 2: 0.001}]
    )
    (line,) = [line for line in text.splitlines() if line.startswith("- :warning:")]
    assert "2 findings, 500 B (0.1%) of memory access, their ops predicted at 3 ms; worst `a` (300 B)" in line
    assert "predicted" not in _render([CheckedModel(tiny, findings)], 10**9).split("| rule |")[0]


# --- grouping -----------------------------------------------------------------------------------


def test_fix_kind_blanks_numbers_and_keeps_kernel_sizes():
    a = "use groups=1 for this 1x1 conv: a dense 60->80 conv saves 501.8 KB of memory access"
    b = "use groups=1 for this 1x1 conv: a dense 120->160 conv saves 1.2 MB of memory access"
    assert (
        fg.fix_kind(a)
        == fg.fix_kind(b)
        == ("use groups=# for this 1x1 conv: a dense #-># conv saves # of memory access")
    )
    assert fg.fix_kind(a) != fg.fix_kind(a.replace("1x1", "3x3"))


def test_shufflenet_groups(shufflenet):
    groups = fg.group_findings(shufflenet.findings)
    assert [(g.rule, len(g.findings)) for g in groups] == [("G2", 31), ("G1", 21), ("G4", 1)]
    g2 = groups[0]
    assert g2.cost_bytes == sum(f.cost_bytes for f in shufflenet.findings if f.rule == "G2")
    assert g2.worst.module == "stage2.1.expand.0" and g2.module_types == ("Conv2d",)
    assert g2.locations == ("netprof/zoo/layers.py:42",)
    summaries = fg.summarize(groups)
    assert [(s.rule, s.count, s.groups) for s in summaries] == [("G2", 31, 1), ("G1", 21, 1), ("G4", 1, 1)]
    assert fg.natural_key("stage2.9") < fg.natural_key("stage2.10")


def test_terminal_table_is_grouped(shufflenet):
    console = Console(file=io.StringIO(), width=100, no_color=True)
    findings_text.render([shufflenet], console, Severity.ERROR)
    out = console.file.getvalue()
    assert "in 3 groups" in out and "warning G2 x31" in out and "warning G1 x21" in out
    assert out.count("docs: netprof explain") == 3
    assert "31 findings, " in out and "worst stage2.1.expand.0" in out


def test_github_one_annotation_per_group_sarif_one_result_per_finding(shufflenet):
    annotations = github.render([shufflenet], {"G2": "excessive-group-convolution"}).splitlines()
    assert len(annotations) == 3
    (g2,) = [a for a in annotations if "netprof G2" in a]
    assert g2.startswith("::warning file=netprof/zoo/layers.py,line=42,title=netprof G2")
    assert "%3A 31 findings::" in g2 and "and 21 more (Conv2d)" in g2
    log = sarif.to_dict([shufflenet], all_rules(), docs.load)
    assert len(log["runs"][0]["results"]) == 53


# --- paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (
            "/opt/venv/lib/python3.11/site-packages/torchvision/models/resnet.py",
            "torchvision/models/resnet.py",
        ),
        ("/usr/lib/python3/dist-packages/timm/layers/conv.py", "timm/layers/conv.py"),
        ("netprof/zoo/layers.py", "netprof/zoo/layers.py"),
        (str(ROOT / "netprof/zoo/layers.py"), "netprof/zoo/layers.py"),
        (
            str(ROOT / ".venv/lib/python3.12/site-packages/torch/nn/modules/conv.py"),
            "torch/nn/modules/conv.py",
        ),
        ("/elsewhere/models/net.py", "/elsewhere/models/net.py"),
    ],
)
def test_display_path(path, shown):
    assert source_paths.display_path(path) == shown


def test_paths_are_relative_to_the_repository_root_from_a_subdirectory(monkeypatch, tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path / "models")
    assert source_paths.repository_root() == tmp_path.resolve()
    assert source_paths.display_path("net.py") == "models/net.py"
    assert source_paths.repository_path(str(tmp_path / "models/net.py")) == "models/net.py"
    assert source_paths.repository_path("/elsewhere/net.py") is None
    site = "/x/lib/python3.11/site-packages/torchvision/models/resnet.py"
    assert source_paths.repository_path(site) is None
    assert fg.location_text(SourceLocation(site, 108)) == "torchvision/models/resnet.py:108"


def test_installed_package_class_is_named_in_the_annotation_not_as_its_file(tiny):
    site = "/opt/venv/lib/python3.11/site-packages/torchvision/models/resnet.py"
    finding = Finding(
        rule="G2",
        severity=Severity.WARNING,
        module="layer1.0.conv2",
        module_type="Conv2d",
        location=SourceLocation(site, 108),
        message="3x3 conv has 64 groups",
        measured=64,
        threshold=1,
        cost_bytes=10,
        cost_share=0.1,
        fix="use groups=1",
    )
    (line,) = github.render([CheckedModel(tiny, (finding,))]).splitlines()
    assert line.startswith("::warning title=netprof G2::")
    assert "layer1.0.conv2 (Conv2d) at torchvision/models/resnet.py:108: 3x3 conv" in line
    text = _render([CheckedModel(tiny, (finding,))], 10**9)
    assert "`torchvision/models/resnet.py:108`" in text and "site-packages" not in text
