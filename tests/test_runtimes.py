"""Timing in a deployment runtime, end to end through the CLI: the JSON's kernels, their join to the
captured ops, and what check says of findings whose ops the runtime fused away.

Structure only: no assertion here reads a measured time (kernel times against latency are
``benchmarks/runtimes.py``'s to report).
"""

import json
from pathlib import Path

import jsonschema
import pytest
from cli_runner import run

ROOT = Path(__file__).parents[1]
MODELS = f"{ROOT}/tests/fixtures/models.py"
SCHEMA = json.loads((ROOT / "netprof/report/analysis.schema.json").read_text())
RUNTIMES = ["onnxruntime", "openvino"]

pytestmark = pytest.mark.slow


def _analyze(capsys, spec, runtime, *more):
    code, out, err = run(
        capsys,
        "analyze",
        spec,
        "--runtime",
        runtime,
        "--threads",
        "1",
        "--repeat",
        "3",
        "--format",
        "json",
        *more,
    )
    assert code == 0, err
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    return report


def _joined(report):
    """Ops with mult_adds, and those among them a kernel computes."""
    working = {op["id"] for op in report["ops"] if op["mult_adds"] > 0}
    joined = {i for kernel in report["timing"]["kernels"] for i in kernel["op_ids"]}
    return working, working & joined


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_conv_bn_relu_runs_as_one_fused_kernel_that_lists_all_three(capsys, runtime):
    report = _analyze(capsys, f"{MODELS}:tiny", runtime)
    timing = report["timing"]
    assert timing["runtime"] == runtime
    assert timing["plain"]["median_s"] > 0
    ops = {op["id"]: op for op in report["ops"]}
    conv = [k for k in timing["kernels"] if any(ops[i]["category"] == "conv" for i in k["op_ids"])]
    assert len(conv) == 1
    fused = {ops[i]["op"] for i in conv[0]["op_ids"]}
    assert {"aten.convolution.default", "aten.native_batch_norm.default", "aten.relu.default"} <= fused
    assert conv[0]["fused"]
    # the kernel's time is the convolution's; batch-norm and ReLU cost nothing of their own
    by_op = {op["id"]: op["time"]["median_s"] for op in timing["ops"]}
    assert by_op[next(i for i in conv[0]["op_ids"] if ops[i]["category"] == "conv")] == conv[0]["median_s"]
    assert all(by_op[i] == 0 for i in conv[0]["op_ids"] if ops[i]["category"] != "conv")
    working, joined = _joined(report)
    assert joined == working


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_mobilenet_v2_kernels_join_its_ops_through_fusion(capsys, runtime):
    report = _analyze(capsys, "torchvision.models:mobilenet_v2", runtime)
    ops = {op["id"]: op for op in report["ops"]}
    kernels = report["timing"]["kernels"]
    convs_fused = [
        k for k in kernels if k["fused"] and any("conv" in ops[i]["category"] for i in k["op_ids"])
    ]
    assert len(convs_fused) >= 10  # the bar; 52 of 52 convolutions fuse their batch-norm here
    working, joined = _joined(report)
    assert len(joined) >= 0.9 * len(working)
    # no op is computed by two kernels
    ids = [i for k in kernels for i in k["op_ids"]]
    assert len(ids) == len(set(ids))
    # the module roll-up sums the kernels credited to captured ops
    root = next(m for m in report["timing"]["modules"] if m["name"] == "")
    credited = sum(k["median_s"] for k in kernels if k["op_ids"])
    assert root["time_s"] == pytest.approx(credited, rel=1e-9)


def test_the_text_report_marks_fused_kernels(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run(capsys, "analyze", f"{MODELS}:tiny", "--runtime", "onnxruntime", "--repeat", "2")
    assert code == 0, err
    assert "onnxruntime kernels:" in out
    assert "fused convolution+native_batch_norm+relu" in out


def test_check_says_which_findings_vanish_into_fused_kernels(capsys):
    code, out, err = run(
        capsys, "check", "netprof.zoo:shufflenet_v1_g3", "--runtime", "onnxruntime", "--repeat", "2",
        "--format", "json", "--exit-zero",
    )  # fmt: skip
    assert code == 0, err
    findings = json.loads(out)["findings"]
    g4 = next(f for f in findings if f["rule"] == "G4")
    fusion = g4["evidence"]["fusion"]
    assert fusion["runtime"] == "onnxruntime"
    assert 0 < fusion["fused_ops"] <= fusion["ops"]
    assert "on onnxruntime:" in g4["message"]


def test_markdown_html_and_trace_show_the_runtime_kernels(capsys, tmp_path):
    trace, page = tmp_path / "trace.json", tmp_path / "page.html"
    argv = ["analyze", f"{MODELS}:tiny", "--runtime", "onnxruntime", "--repeat", "2"]
    code, out, err = run(capsys, *argv, "--format", "markdown", "--trace", str(trace))
    assert code == 0, err
    assert "#### Measured in onnxruntime on cpu" in out
    assert "| kernel | type | time | share | computes | module |" in out
    assert "fused convolution+native_batch_norm+relu" in out
    events = json.loads(trace.read_text())["traceEvents"]
    kernels = [e for e in events if e.get("tid") == 2 and e["ph"] == "X"]
    fused = [e for e in kernels if e["cat"] == "fused"]
    assert len(fused) == 1 and len(fused[0]["args"]["op_ids"]) >= 3
    code, _, err = run(capsys, *argv, "--format", "html", "-o", str(page))
    assert code == 0, err
    assert "onnxruntime kernels:" in page.read_text()


@pytest.mark.parametrize("spec", [f"{MODELS}:tiny", "torchvision.models:mobilenet_v2"])
def test_executorch_delegate_calls_join_every_op_of_their_partition(capsys, spec):
    """XNNPACK's operator events carry no debug handles in the pip build: a delegate call is one kernel,
    joined by its debug handles to every op of its partition, and the report says so."""
    report = _analyze(capsys, spec, "executorch")
    timing = report["timing"]
    assert timing["runtime"] == "executorch"
    assert timing["plain"]["median_s"] > 0
    kernels = timing["kernels"]
    calls = [k for k in kernels if k["op_type"] == "DELEGATE_CALL"]
    assert calls and all(k["provider"] == "XnnpackBackend" for k in calls)
    assert all(k["provider"] == "portable" for k in kernels if k not in calls)
    assert len({k["name"] for k in kernels}) == len(kernels)
    working, joined = _joined(report)
    assert joined == working
    ids = [i for k in kernels for i in k["op_ids"]]
    assert len(ids) == len(set(ids))  # no op is computed by two kernels
    # each kernel's time is credited to one op, its largest: the rest of its partition costs nothing
    by_op = {op["id"]: op["time"]["median_s"] for op in timing["ops"]}
    for kernel in kernels:
        credited = [i for i in kernel["op_ids"] if by_op[i] > 0]
        assert len(credited) <= 1
    root = next(m for m in timing["modules"] if m["name"] == "")
    assert root["time_s"] == pytest.approx(sum(k["median_s"] for k in kernels if k["op_ids"]), rel=1e-9)
    note = next(w for w in timing["warnings"] if w.startswith("executorch: the XnnpackBackend delegate"))
    assert f"({len(calls)} partition call(s) cover" in note
    assert "per-op times inside it need an ExecuTorch build" in note
