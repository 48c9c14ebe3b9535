"""The real ``netprof check / diff / rules / explain``: exit codes, baselines, one-line errors.

Runs on the real ``netprof.rules``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from cli_runner import run

ROOT = Path(__file__).parents[1]
MODELS = "tests/snapshots/models.py"
BAD = f"{MODELS}:bottleneck"  # 1x1 convs 64 -> 16 -> 64 over 56x56: violates G1
GOOD = f"{MODELS}:balanced"  # 32 -> 32 -> 32: no G1 finding
SCHEMA = json.loads((ROOT / "netprof/report/analysis.schema.json").read_text())


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "120")


def g1(report):
    return [f for f in report["findings"] if f["rule"] == "G1"]


def test_clean_model_exits_0(capsys):
    code, out, _ = run(capsys, "check", GOOD, "--select", "G1")
    assert code == 0
    assert "No findings" in out and "passing" in out


def test_violation_exits_1_and_is_reported(capsys):
    code, out, _ = run(capsys, "check", BAD, "--select", "G1", "--fail-on", "info")
    assert code == 1
    assert "G1" in out and "netprof explain G1" in out and "failing" in out

    code, out, _ = run(capsys, "check", BAD, "--select", "G1", "--format", "json", "--fail-on", "info")
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    modules = {f["module"] for f in g1(report)}
    assert modules & {"blocks.0.reduce", "blocks.0.expand", "blocks.0"}


def test_exit_zero_and_fail_on(capsys, tmp_path):
    code, _, _ = run(capsys, "check", BAD, "--select", "G1", "--fail-on", "info", "--exit-zero")
    assert code == 0
    # severity set to warning in the config: fails only from --fail-on warning down
    cfg = tmp_path / "netprof.toml"
    cfg.write_text('[tool.netprof.rules.G1]\nseverity = "warning"\n')
    assert run(capsys, "check", BAD, "--select", "G1", "--config", str(cfg))[0] == 0
    assert run(capsys, "check", BAD, "--select", "G1", "--config", str(cfg), "--fail-on", "warning")[0] == 1
    cfg.write_text('[tool.netprof]\nfail-on = "warning"\n[tool.netprof.rules.G1]\nseverity = "warning"\n')
    assert run(capsys, "check", BAD, "--select", "G1", "--config", str(cfg))[0] == 1
    # --exit-zero never hides an error
    assert run(capsys, "check", "missing.py:build", "--exit-zero")[0] == 2


def test_ignore_rules_and_module_globs(capsys, tmp_path):
    _, out, _ = run(capsys, "check", BAD, "--ignore-rules", "G1", "--format", "json")
    assert g1(json.loads(out)) == []
    cfg = tmp_path / "netprof.toml"
    cfg.write_text('[tool.netprof]\nignore = ["blocks.*"]\n')
    _, out, _ = run(capsys, "check", BAD, "--select", "G1", "--config", str(cfg), "--format", "json")
    assert g1(json.loads(out)) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "missing.py:build"], "model file not found: missing.py"),
        (["check", "no_colon_here"], "bad SPEC 'no_colon_here'"),
        # Found on meta, before any real run: the op, the module and the shapes that do not fit.
        (
            ["check", BAD, "--input", "1,3,8,8"],
            "failed on meta tensors: aten.convolution.default in module 'blocks.0.reduce' on 1x3x8x8, 16x64x1x1",
        ),
        (["check", BAD, "--fail-on", "fatal"], "invalid choice: 'fatal'"),
        (["check", BAD, "--baseline", "nope.json"], "baseline file not found: nope.json"),
        (["check", BAD, "--format", "xml"], "invalid choice: 'xml'"),
        (["explain", "G99"], "unknown rule 'G99'"),
        (["diff", "nope.json", "nope2.json"], "file not found: nope.json"),
    ],
)
def test_errors_are_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def _write_model(path: Path, blocks: str) -> None:
    path.write_text(
        (ROOT / MODELS).read_text()
        + f"\n\ndef changing():\n    return Net({blocks}), torch.randn(1, 64, 56, 56)\n"
    )


def test_baseline_write_then_check_then_new_violation(capsys, tmp_path):
    model = tmp_path / "net.py"
    spec = f"{model}:changing"
    baseline = tmp_path / "baseline.json"
    _write_model(model, "Bottleneck(64, 16)")
    flags = ["--select", "G1", "--fail-on", "info"]

    code, _, err = run(capsys, "check", spec, *flags, "--write-baseline", str(baseline))
    assert code == 0 and "wrote baseline" in err
    document = json.loads(baseline.read_text())
    assert document["schema"] == "netprof.baseline/1"
    known = document["models"][spec]["findings"]
    assert known and {f["rule"] for f in known} == {"G1"}
    assert document["models"][spec]["totals"]["params"] == 2 * 64 * 16

    code, out, _ = run(capsys, "check", spec, *flags, "--baseline", str(baseline))
    assert code == 0 and "No new findings" in out

    _write_model(model, "Bottleneck(64, 16), Bottleneck(64, 8)")
    code, out, _ = run(capsys, "check", spec, *flags, "--baseline", str(baseline), "--format", "json")
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    assert code == 1
    assert report["findings"] and all(f["module"].startswith("blocks.1") for f in report["findings"])
    assert report["baseline"]["known"] == len(known) and report["baseline"]["fixed"] == []

    code, out, _ = run(capsys, "check", spec, *flags, "--baseline", str(baseline), "--format", "markdown")
    assert code == 1
    assert "| **change** |" in out and "2 findings already in the baseline (not failing)" in out
    new_part, known_part = out.split("already in the baseline")
    assert "blocks.1" in new_part and "blocks.0" not in new_part  # the new findings first
    assert "blocks.0.expand" in known_part and "blocks.1" not in known_part  # then the known, collapsed

    _write_model(model, "Bottleneck(64, 64)")  # the old violation fixed
    code, out, _ = run(capsys, "check", spec, *flags, "--baseline", str(baseline))
    assert code == 0 and "fixed since" in out


def test_diff_of_two_check_reports(capsys, tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    assert (
        run(capsys, "check", BAD, "--select", "G1", "--format", "json", "-o", str(old), "--exit-zero")[0] == 0
    )
    run(
        capsys,
        "check",
        f"{MODELS}:bottleneck_twice",
        "--select",
        "G1",
        "--format",
        "json",
        "-o",
        str(new),
        "--exit-zero",
    )
    code, out, _ = run(capsys, "diff", str(old), str(new), "--format", "json")
    assert code == 0
    diff = json.loads(out)["models"][0]
    # the second bottleneck 64 -> 8 -> 64 adds 2 * 64 * 8 = 1024 params and 56 * 56 * 1024 = 3,211,264 mult_adds
    assert diff["totals"]["params"]["change"] == 1024
    assert diff["totals"]["mult_adds"]["change"] == 56 * 56 * 1024
    added = {m["path"]: m for m in diff["modules"] if m["status"] == "added"}
    assert {"blocks.1", "blocks.1.reduce", "blocks.1.expand"} <= set(added)
    assert diff["findings"]["added"] and all(
        f["module"].startswith("blocks.1") for f in diff["findings"]["added"]
    )
    assert diff["findings"]["resolved"] == []

    code, out, _ = run(capsys, "diff", str(old), str(new))
    assert code == 0 and "Modules that changed" in out and "+1.02 K" in out
    code, out, _ = run(capsys, "diff", str(new), str(old), "--format", "markdown")
    assert "**Resolved findings**" in out and "-3.21 M (-33.3%)" in out


def test_diff_of_analyze_reports_has_no_findings_section(capsys, tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    run(capsys, "analyze", BAD, "--format", "json", "-o", str(old))
    run(capsys, "analyze", GOOD, "--format", "json", "-o", str(new))
    code, out, _ = run(capsys, "diff", str(old), str(new), "--format", "json")
    assert code == 0 and json.loads(out)["models"][0]["findings"] is None
    (tmp_path / "other.json").write_text('{"schema": "something/1"}')
    code, _, err = run(capsys, "diff", str(old), str(tmp_path / "other.json"))
    assert code == 2 and "not a netprof.analysis/1 document" in err


def test_rules_and_explain(capsys):
    code, out, _ = run(capsys, "rules")
    assert code == 0 and "G1" in out and "stable" in out
    code, out, _ = run(capsys, "rules", "--format", "json")
    rules = {r["id"]: r for r in json.loads(out)}
    assert rules["G1"]["severity"] in {"info", "warning", "error"} and rules["G1"]["title"]
    code, out, _ = run(capsys, "explain", "g1")  # ids match case-insensitively
    assert code == 0 and out.startswith("#")  # piped: the raw Markdown, not a rendering
    assert "What it does" in out


def _netprof():
    return str(Path(sys.executable).with_name("netprof"))


@pytest.mark.slow
def test_installed_entry_point_diff_and_errors(tmp_path):
    report = tmp_path / "a.json"
    subprocess.run(
        [_netprof(), "analyze", GOOD, "--format", "json", "-o", str(report)], check=True, capture_output=True
    )
    result = subprocess.run(
        [_netprof(), "diff", str(report), str(report), "--format", "markdown"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "No module changed." in result.stdout
    result = subprocess.run(
        [_netprof(), "diff", str(report), "missing.json"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and result.stderr.strip() == "netprof: error: file not found: missing.json"


@pytest.mark.slow
def test_installed_entry_point_check(tmp_path):
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [_netprof(), "check", BAD, "--select", "G1", "--fail-on", "info", "--format", "sarif"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 1, result.stderr
    sarif = json.loads(result.stdout)
    assert any(r["ruleId"] == "G1" for r in sarif["runs"][0]["results"])
    result = subprocess.run(
        [_netprof(), "check", GOOD, "--select", "G1"], capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_explain_renders_markdown_in_a_terminal(capsys, monkeypatch):
    from rich.console import Console

    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    code, out, _ = run(capsys, "explain", "G1")
    assert code == 0 and "What it does" in out
    assert "## What it does" not in out  # rendered, not the raw source
