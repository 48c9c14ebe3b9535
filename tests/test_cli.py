"""The real CLI: reports, input overrides, and one-line errors with exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from cli_runner import run

from netprof.cli import DEFAULT_SPEC

FIXTURES = "tests/fixtures/models.py"
SCHEMA = json.loads((Path(__file__).parents[1] / "netprof/report/analysis.schema.json").read_text())


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[1])
    monkeypatch.setenv("COLUMNS", "120")


def test_json_report_is_valid_and_exact(capsys):
    code, out, err = run(capsys, "analyze", f"{FIXTURES}:tiny", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    # conv 3->8, 3x3, 224 -> 222: 8 * 222 * 222 * 3 * 9 = 10,645,344; linear 8 -> 10: 80
    assert report["totals"]["mult_adds"] == 10_645_344 + 80
    # conv 3*8*9 = 216, bn 16, linear 80 + 10
    assert report["totals"]["params"] == 216 + 16 + 90
    assert report["schema"] == "netprof.analysis/1"
    assert report["inputs"] == [{"shape": [1, 3, 224, 224], "dtype": "float32"}]
    assert any("no input given" in note for note in report["notes"])
    assert report["modules"][0]["path"] == "" and report["modules"][1]["path"] == "0"
    conv = next(op for op in report["ops"] if op["op"] == "aten.convolution.default")
    assert conv["module"] == "0" and conv["category"] == "conv" and conv["inputs"] == [None, None]
    relu = next(op for op in report["ops"] if op["module"] == "2")
    bn = next(op for op in report["ops"] if op["module"] == "1" and op["category"] == "normalization")
    assert relu["inputs"] == [bn["id"]]
    assert isinstance(report["totals"]["mem_access_bytes"], int)


def test_input_and_dtype_override(capsys):
    code, out, _ = run(
        capsys, "analyze", f"{FIXTURES}:two_inputs", "--input", "2,3", "--input", "3,4", "--format", "json"
    )
    report = json.loads(out)
    assert code == 0
    assert [i["shape"] for i in report["inputs"]] == [[2, 3], [3, 4]]
    assert report["totals"]["mult_adds"] == 2 * 3 * 4  # [2, 3] @ [3, 4]
    assert report["notes"] == []

    code, out, _ = run(
        capsys,
        "analyze",
        f"{FIXTURES}:tiny_with_inputs",
        "--dtype",
        "bfloat16",
        "--input",
        "1,3,5,5",
        "--format",
        "json",
    )
    report = json.loads(out)
    assert report["inputs"] == [{"shape": [1, 3, 5, 5], "dtype": "bfloat16"}]


def test_callable_may_return_its_inputs(capsys):
    code, out, _ = run(capsys, "analyze", f"{FIXTURES}:tiny_with_inputs", "--format", "json")
    assert code == 0
    report = json.loads(out)
    # bias-free 1x1 conv 3 -> 4 on 5x5: 4 * 25 * 3 = 300
    assert report["totals"]["mult_adds"] == 300
    # the paper's MAC: hw(c1 + c2) + c1 c2 = 25 * 7 + 12 = 187 floats
    assert report["totals"]["mem_access_bytes"] == 187 * 4


def test_table_and_markdown(capsys, tmp_path):
    code, out, _ = run(capsys, "analyze", f"{FIXTURES}:tiny")
    assert code == 0
    assert "By module" in out and "By category" in out and "Conventions" in out
    assert "10.65 M" in out  # mult_adds in human units
    assert "capture mode: meta" in out

    code, out, _ = run(capsys, "analyze", f"{FIXTURES}:tiny", "--format", "markdown")
    assert out.startswith("### netprof: `tests/fixtures/models.py:tiny`")
    assert "| mult_adds | flops | params |" in out

    target = tmp_path / "report.txt"
    code, out, err = run(capsys, "analyze", f"{FIXTURES}:tiny", "-o", str(target))
    assert code == 0 and out == "" and "wrote" in err
    assert "By module" in target.read_text()


def test_default_model_is_the_built_in_example(capsys):
    code, out, _ = run(capsys, "analyze", "--format", "json")
    report = json.loads(out)
    assert code == 0
    assert report["model"] == DEFAULT_SPEC
    assert any("built-in example" in note for note in report["notes"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyze", "missing.py:build"], "model file not found: missing.py"),
        (["analyze", "no_colon_here"], "bad SPEC 'no_colon_here'"),
        (["analyze", "netprof_no_such_pkg:build"], "cannot import module 'netprof_no_such_pkg'"),
        (["analyze", f"{FIXTURES}:nope"], "has no attribute 'nope'"),
        (["analyze", f"{FIXTURES}:raises"], "raised RuntimeError: cannot build this one"),
        (["analyze", f"{FIXTURES}:not_a_module"], "returned int, not an nn.Module"),
        (["analyze", f"{FIXTURES}:broken"], "ValueError: forward is broken"),
        (
            ["analyze", f"{FIXTURES}:tiny", "--input", "1,4,8,8"],
            "failed on meta tensors: aten.convolution.default in module '0' on 1x4x8x8, 8x3x3x3",
        ),
        (["analyze", f"{FIXTURES}:tiny", "--input", "1,x"], "bad --input"),
        (["analyze", f"{FIXTURES}:tiny", "--dtype", "float33"], "unknown --dtype 'float33'"),
        (["analyze", f"{FIXTURES}:tiny", "--device", "tpu"], "invalid choice: 'tpu'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.slow
def test_installed_entry_point_runs_in_a_fresh_process():
    netprof = Path(sys.executable).with_name("netprof")
    result = subprocess.run(
        [str(netprof), "analyze", f"{FIXTURES}:tiny_with_inputs", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["mult_adds"] == 300

    result = subprocess.run(
        [str(netprof), "analyze", "missing.py:build"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "netprof: error: model file not found: missing.py"


def test_time_crosscheck_and_their_json(capsys):
    code, out, err = run(
        capsys,
        "analyze",
        f"{FIXTURES}:tiny_with_inputs",
        "--time",
        "--repeat",
        "3",
        "--crosscheck",
        "fvcore",
        "--format",
        "json",
    )
    assert code == 0, err
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    assert report["mode"] == "real"  # timing captures the graph it times
    timing = report["timing"]
    assert timing["runs"] == 3
    # ops + overhead is the end-to-end median by definition
    assert timing["attributed_s"] + timing["overhead_s"] == pytest.approx(timing["end_to_end"]["median_s"])
    # What was measured: one timed op per op of the graph, none negative, and in every pass the ops
    # fit inside the pass (the per-pass overhead, end-to-end minus the ops, is never negative).
    assert [op["id"] for op in timing["ops"]] == [op["id"] for op in report["ops"]]
    assert all(op["time"]["q1_s"] >= 0 for op in timing["ops"])
    assert len(timing["overhead"]["times_s"]) == len(timing["end_to_end"]["times_s"]) == 3
    assert all(t >= 0 for t in timing["overhead"]["times_s"])
    assert all(t > 0 for t in timing["end_to_end"]["times_s"] + timing["plain"]["times_s"])
    assert report["crosscheck"]["netprof_total"] == 300
    assert report["crosscheck"]["fvcore_mult_adds"] == 300


def test_time_cannot_run_on_meta(capsys):
    code, out, err = run(capsys, "analyze", f"{FIXTURES}:tiny", "--time", "--device", "meta")
    assert code == 2 and out == "" and "--time runs the model for real" in err


def test_calibrate_and_bench_are_commands(capsys):
    for command in (["calibrate", "--help"], ["bench", "guidelines", "--help"]):
        code, out, _ = run(capsys, *command)
        assert code == 0 and "usage: netprof" in out


@pytest.mark.slow
def _timed_check(capsys, spec: str) -> dict:
    """The JSON report of ``netprof check SPEC --time``, three timed passes."""
    code, out, err = run(capsys, "check", spec, "--time", "--repeat", "3", "--format", "json", "--exit-zero")
    assert code == 0, err
    return json.loads(out)


def test_check_time_puts_time_shares_in_findings(capsys):
    report = _timed_check(capsys, "netprof.zoo:mobilenet_v2")
    (g4,) = [f for f in report["findings"] if f["rule"] == "G4"]
    assert 0 < g4["evidence"]["time_share"] < 1
    assert "timing" in report
    # The definition, from the report's own op list: the model-level G4 share is the median time of
    # the element-wise ops (activations, adds, normalization, depthwise convs) over all op time.
    assert g4["module"] == ""
    timing = report["timing"]
    elementwise = {"elementwise", "normalization", "depthwise_conv"}
    expected = (
        sum(op["time"]["median_s"] for op in timing["ops"] if op["category"] in elementwise)
        / timing["attributed_s"]
    )
    assert abs(g4["evidence"]["time_share"] - expected) < 1e-12


def test_check_time_puts_the_block_time_share_in_g3_findings(capsys):
    report = _timed_check(capsys, f"{FIXTURES}:four_branches")
    # four parallel convs exceed the default max_parallel_branches of 2
    (g3,) = [f for f in report["findings"] if f["rule"] == "G3"]
    assert g3["module"] == "0" and g3["evidence"]["compute_branches"] == 4
    # The definition: the median time of the ops run inside the block (its four convs and the cat)
    # over all op time, which also holds the ReLU after the block.
    timing = report["timing"]
    inside = [op for op in timing["ops"] if op["module"] == "0" or op["module"].startswith("0.")]
    assert len(inside) == 5 < len(timing["ops"])
    expected = sum(op["time"]["median_s"] for op in inside) / timing["attributed_s"]
    assert abs(g3["evidence"]["time_share"] - expected) < 1e-12
    assert f"{expected:.1%} of op time" in g3["message"]
