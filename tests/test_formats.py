"""Every ``netprof check`` and ``netprof diff`` format against its stored expected output.

The golden files live in ``tests/snapshots/``. After an intended change, regenerate them with

    NETPROF_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_formats.py

and review the diff. Version strings and the checkout's absolute path are normalised first.
"""

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
from cli_runner import run

import netprof
from netprof.report import github, sarif
from netprof.rules.base import Finding, Severity, SourceLocation
from netprof.rules.baseline import CheckedModel

ROOT = Path(__file__).parents[1]
SNAPSHOTS = ROOT / "tests/snapshots"
SARIF_SCHEMA = ROOT / "../shared/data/sarif-schema-2.1.0.json"
BAD = "tests/snapshots/models.py:bottleneck"
TWICE = "tests/snapshots/models.py:bottleneck_twice"
UPDATE = bool(os.environ.get("NETPROF_UPDATE_SNAPSHOTS"))


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")


def normalise(text: str, tmp: Path | None = None) -> str:
    if tmp is not None:
        text = text.replace(str(tmp), "<TMP>")
    text = text.replace(str(ROOT.resolve()), "<ROOT>").replace(str(ROOT), "<ROOT>")
    text = re.sub(r'"(netprof|torch|python)": "[^"]+"', r'"\1": "<VERSION>"', text)
    return re.sub(r'"(version|semanticVersion)": "(?!2\.1\.0)[^"]+"', r'"\1": "<VERSION>"', text)


def assert_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE or not path.exists():
        path.write_text(text)
        if not UPDATE:
            pytest.fail(f"{path} did not exist: written, review and commit it")
    assert text == path.read_text(), f"{name} differs; NETPROF_UPDATE_SNAPSHOTS=1 regenerates it"


@pytest.mark.parametrize(
    ("form", "name"),
    [
        ("table", "check.txt"),
        ("markdown", "check.md"),
        ("json", "check.json"),
        ("sarif", "check.sarif"),
        ("github", "check.github.txt"),
    ],
)
def test_check_format(capsys, form, name):
    code, out, err = run(capsys, "check", BAD, "--format", form, "--fail-on", "info")
    assert code == 1, err
    assert_snapshot(name, normalise(out))


def test_check_table_on_a_wide_terminal(capsys, monkeypatch):
    """From 120 columns findings are a table; narrower (check.txt, 100 columns) one paragraph each."""
    monkeypatch.setenv("COLUMNS", "140")
    code, out, err = run(capsys, "check", BAD, "--fail-on", "info")
    assert code == 1, err
    assert_snapshot("check-wide.txt", normalise(out))


def test_check_table_with_module_depth(capsys):
    _, out, _ = run(capsys, "check", BAD, "--depth", "2", "--fail-on", "info")
    assert "By module (depth 2)" in out and "blocks.0" in out


def test_markdown_with_baseline_deltas(capsys, tmp_path):
    """A baseline of the one-bottleneck model, checked against the two-bottleneck one."""
    baseline = tmp_path / "baseline.json"
    run(capsys, "check", BAD, "--write-baseline", str(baseline))
    document = json.loads(baseline.read_text())
    document["models"] = {TWICE: document["models"][BAD]}
    baseline.write_text(json.dumps(document))
    code, out, _ = run(
        capsys, "check", TWICE, "--baseline", str(baseline), "--format", "markdown", "--fail-on", "info"
    )
    assert code == 1
    assert_snapshot("check-baseline.md", normalise(out, tmp_path))


@pytest.mark.parametrize(
    ("form", "name"), [("table", "diff.txt"), ("markdown", "diff.md"), ("json", "diff.json")]
)
def test_diff_format(capsys, tmp_path, form, name):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    run(capsys, "check", BAD, "--format", "json", "-o", str(old), "--exit-zero")
    run(capsys, "check", TWICE, "--format", "json", "-o", str(new), "--exit-zero")
    code, out, _ = run(capsys, "diff", str(old), str(new), "--format", form)
    assert code == 0
    assert_snapshot(name, normalise(out, tmp_path))


def test_sarif_is_valid_against_the_sarif_2_1_0_schema(capsys):
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"SARIF schema not found at {SARIF_SCHEMA} (shared/ is not beside this checkout)")
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    _, out, _ = run(capsys, "check", BAD, "--format", "sarif", "--fail-on", "info")
    log = json.loads(out)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert all(r["fullDescription"]["text"] and r["help"]["markdown"] for r in rules if r["id"] == "G1")
    for result in run_["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "tests/snapshots/models.py"
        assert location["region"]["startLine"] >= 1
        assert result["partialFingerprints"]["netprofFinding/v1"]


def _finding(severity: Severity, message: str = "ratio 4 > 2", path: str = "net.py") -> Finding:
    return Finding(
        rule="G1",
        severity=severity,
        module="blocks.0",
        module_type="Bottleneck",
        location=SourceLocation(path, 7),
        message=message,
        measured=4.0,
        threshold=2.0,
        cost_bytes=100,
        cost_share=0.5,
        fix="equal widths",
    )


@pytest.fixture(scope="module")
def analysis():
    import torch

    return netprof.analyze(torch.nn.Conv2d(4, 4, 1), torch.randn(1, 4, 2, 2), name="m.py:build")


def test_sarif_level_follows_severity(analysis):
    findings = tuple(_finding(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    log = sarif.to_dict(
        [CheckedModel(analysis, findings)], netprof.rules.all_rules(), netprof.rules.docs.load
    )
    assert [r["level"] for r in log["runs"][0]["results"]] == ["error", "warning", "note"]


def test_github_annotations_escape_data_and_properties(analysis):
    finding = _finding(Severity.WARNING, message="100% of it,\r\nreally: yes", path="dir,a/b:c.py")
    text = github.render([CheckedModel(analysis, (finding,))], {"G1": "Equal width, please: G1"})
    assert text.count("\n") == 1  # one annotation, one line
    command, _, data = text.rstrip("\n").partition("::")[2].partition("::")
    assert command == "warning file=dir%2Ca/b%3Ac.py,line=7,title=netprof G1 (Equal width%2C please%3A G1)"
    assert (
        data == "m.py:build blocks.0 (Bottleneck): 100%25 of it,%0D%0Areally: yes%0AFix: equal widths%0A"
        "Docs: netprof explain G1"
    )
    assert github.render([CheckedModel(analysis, (_finding(Severity.INFO),))]).startswith("::notice ")
