"""[tool.netprof]: parsing, precedence, and one clear error naming the key (exit 2)."""

from pathlib import Path

import pytest
import torch
from cli_runner import run

from netprof import config
from netprof.rules.base import Severity

KNOWN = {"G1": {"max_ratio": 2.0}, "G4": {"min_share": 0.1}}
SPEC = "tests/snapshots/models.py:bottleneck"
STAGE_NAMES = "preprocess, backbone, neck, head, postprocess"


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[1])
    monkeypatch.setenv("COLUMNS", "120")


def test_full_table_parses():
    parsed = config.parse(
        {
            "fail-on": "warning",
            "ignore": ["blocks.*.expand"],
            "plugins": [],
            "models": [
                {"spec": "a.py:build", "input": "1,3,32,32", "dtype": "bfloat16", "device": "meta"},
                {"spec": "b.py:build", "input": [[1, 3], "2,4"]},
                "c.py:build",
            ],
            "rules": {"G1": {"enabled": True, "severity": "info", "max_ratio": 3}},
            "stages": {"backbone": ["body"], "head": ["head.cls", "head.*.box"]},
        },
        KNOWN,
    )
    assert parsed.stage_modules == {"backbone": ("body",), "head": ("head.cls", "head.*.box")}
    assert parsed.fail_on is Severity.WARNING
    assert parsed.ignore == ("blocks.*.expand",)
    assert parsed.models[0] == config.ModelConfig("a.py:build", ((1, 3, 32, 32),), torch.bfloat16, "meta")
    assert parsed.models[1].input == ((1, 3), (2, 4))
    assert parsed.models[2] == config.ModelConfig("c.py:build")
    assert parsed.rules["G1"].severity is Severity.INFO and parsed.rules["G1"].options == {"max_ratio": 3}


def test_defaults_when_no_pyproject(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.load(None) == config.Config()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"rules": {"G1": {"severity": "fatal"}}},
            "tool.netprof.rules.G1.severity: expected one of info, warning, error, got 'fatal'",
        ),
        ({"fail_on": "error"}, "tool.netprof.fail_on: unknown key; did you mean 'fail-on'?"),
        ({"fail-on": 1}, "tool.netprof.fail-on: expected one of info, warning, error, got 1"),
        ({"rules": {"G9": {}}}, "tool.netprof.rules.G9: unknown rule; expected one of G1, G4"),
        (
            {"rules": {"G1": {"max_ration": 3}}},
            "tool.netprof.rules.G1.max_ration: unknown option; did you mean 'max_ratio'?",
        ),
        (
            {"rules": {"G1": {"max_ratio": "three"}}},
            "tool.netprof.rules.G1.max_ratio: expected a number, got 'three'",
        ),
        (
            {"rules": {"G1": {"enabled": "yes"}}},
            "tool.netprof.rules.G1.enabled: expected true or false, got 'yes'",
        ),
        ({"rules": {"G1": 3}}, "tool.netprof.rules.G1: expected a table, got 3"),
        ({"models": [{"input": "1,3"}]}, "tool.netprof.models[0].spec: required"),
        (
            {"models": [{"spec": "a.py:b", "device": "tpu"}]},
            "tool.netprof.models[0].device: expected one of auto, meta, fake, cpu, cuda, got 'tpu'",
        ),
        (
            {"models": [{"spec": "a.py:b", "input": ["1,x"]}]},
            "tool.netprof.models[0].input[0]: expected a shape",
        ),
        (
            {"models": [{"spec": "a.py:b", "dtype": "float33"}]},
            "tool.netprof.models[0].dtype: expected a torch dtype",
        ),
        ({"models": [{"spec": "a.py:b", "batch": 2}]}, "tool.netprof.models[0].batch: unknown key"),
        ({"ignore": "blocks.*"}, "tool.netprof.ignore: expected a list of strings, got 'blocks.*'"),
        (
            {"stages": {"trunk": ["body"]}},
            f"tool.netprof.stages.trunk: unknown stage; expected one of {STAGE_NAMES}",
        ),
        ({"stages": {"head": "head"}}, "tool.netprof.stages.head: expected a list of strings, got 'head'"),
        ({"stages": {"head": [1]}}, "tool.netprof.stages.head: expected a list of strings, got [1]"),
        ({"stages": ["head"]}, "tool.netprof.stages: expected a table, got ['head']"),
        (
            {"stages": {"neck": ["fpn"], "head": ["fpn"]}},
            "tool.netprof.stages.head: 'fpn' is under tool.netprof.stages.neck too",
        ),
    ],
)
def test_bad_value_is_one_error_naming_the_key(table, message):
    with pytest.raises(config.ConfigError) as error:
        config.parse(table, KNOWN)
    assert message in str(error.value)


def test_plugin_rules_pass_through_unchecked():
    parsed = config.parse({"plugins": ["my.rules"], "rules": {"X1": {"limit": 5}}}, KNOWN)
    assert parsed.rules["X1"].options == {"limit": 5}


def test_command_line_overrides_the_file():
    base = config.parse({"fail-on": "info", "rules": {"G1": {"enabled": False, "max_ratio": 3}}}, KNOWN)
    merged = config.with_command_line(base, fail_on=Severity.ERROR, select=["G1"], known=KNOWN)
    assert merged.fail_on is Severity.ERROR
    assert merged.rules["G1"].enabled is True and merged.rules["G1"].options == {"max_ratio": 3}
    assert merged.rules["G4"].enabled is False
    ignored = config.with_command_line(base, ignore_rules=["G4"], known=KNOWN)
    assert ignored.fail_on is Severity.INFO and ignored.rules["G4"].enabled is False
    with pytest.raises(config.ConfigError, match="--select: unknown rule 'G7'"):
        config.with_command_line(base, select=["G7"], known=KNOWN)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[tool.netprof.rules.G1]\nseverity = "fatal"\n',
            "tool.netprof.rules.G1.severity: expected one of info, warning, error, got 'fatal'",
        ),
        ("[tool.netprof]\nfail-on = [\n", "invalid TOML"),
        ("[tool.netprof]\ncolour = true\n", "tool.netprof.colour: unknown key"),
        (
            '[tool.netprof.stages]\nbakbone = ["body"]\n',
            f"tool.netprof.stages.bakbone: unknown stage; did you mean 'backbone'? expected one of {STAGE_NAMES}",
        ),
        (
            '[tool.netprof.stages]\nhead = "head"\n',
            "tool.netprof.stages.head: expected a list of strings, got 'head'",
        ),
    ],
)
def test_bad_config_file_exits_2_with_one_line(capsys, tmp_path, toml, message):
    path = tmp_path / "netprof.toml"
    path.write_text(toml)
    code, out, err = run(capsys, "check", SPEC, "--config", str(path))
    assert code == 2 and out == ""
    assert message in err and str(path) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_config_file_and_unknown_select(capsys, tmp_path):
    code, _, err = run(capsys, "check", SPEC, "--config", str(tmp_path / "nope.toml"))
    assert code == 2 and "config file not found" in err
    code, _, err = run(capsys, "check", SPEC, "--select", "G9")
    assert code == 2 and "--select: unknown rule 'G9'" in err


def test_pyproject_in_the_working_directory_is_read(capsys, tmp_path, monkeypatch):
    root = Path(__file__).parents[1]
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.netprof]\nfail-on = "info"\n[[tool.netprof.models]]\nspec = "{root / SPEC}"\n'
        '[tool.netprof.rules.G1]\nseverity = "info"\n'
    )
    monkeypatch.chdir(tmp_path)
    code, _, _ = run(capsys, "check", "--format", "json")
    assert code == 1  # info findings fail with fail-on = "info"
    code, _, _ = run(capsys, "check", "--fail-on", "error")  # the command line wins
    assert code == 0
