"""The timed pass as a Chrome trace-event file: valid events, proper nesting, op slices summing to the
attributed time, the args Perfetto shows, and the CLI flag."""

import dataclasses
import itertools
import json

import pytest
import torch
from torch import nn

import netprof
from netprof.module_paths import ancestors
from netprof.report import trace
from tests.cli_runner import run

FIXTURES = "tests/fixtures/models.py"
REQUIRED = ("ph", "ts", "dur", "pid", "tid")
OP_ARGS = (
    "op",
    "module",
    "category",
    "mult_adds",
    "flops",
    "mem_access_bytes",
    "input_shapes",
    "output_shapes",
    "median_s",
    "gflop_per_s",
    "gb_per_s",
)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.norm = nn.BatchNorm2d(8)

    def forward(self, x):
        return torch.relu(self.norm(self.conv(x))) + x


class Nested(nn.Module):
    """Two levels of modules, a module called twice (``act``) and ops run by the root itself."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.blocks = nn.Sequential(Block(), Block())
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        x = self.act(self.stem(x))
        x = self.act(self.blocks(x))
        return self.head(x.mean((2, 3)))


@pytest.fixture(scope="module")
def timed():
    torch.manual_seed(0)
    return netprof.run(Nested(), torch.randn(1, 3, 16, 16), timing=netprof.TimingOptions(repeat=3, threads=1))


@pytest.fixture(scope="module")
def document(timed):
    # Through JSON and back, as a viewer reads it.
    predicted = {op.id: 1e-6 * (i + 1) for i, op in enumerate(timed.timing.ops)}
    return json.loads(json.dumps(trace.build(timed.analysis, timed.timing, predicted, profile="test")))


def slices(document, cat=None):
    return [e for e in document["traceEvents"] if e["ph"] == "X" and (cat is None or (e["cat"] == cat))]


def ops(document):
    return [e for e in slices(document) if e["cat"] not in ("module", trace.OVERHEAD)]


def test_every_slice_has_the_trace_event_fields(document):
    assert set(document) == {"traceEvents", "displayTimeUnit", "otherData"}
    assert document["displayTimeUnit"] == "ms"
    for event in slices(document):
        assert all(field in event for field in REQUIRED), event
        assert isinstance(event["name"], str) and event["name"]
        assert event["ts"] >= 0 and event["dur"] >= 0
        assert (event["pid"], event["tid"]) == (trace.PID, trace.TID)
    # Every event is a complete slice or metadata.
    assert {e["ph"] for e in document["traceEvents"]} == {"X", "M"}


def test_metadata_names_the_process_and_the_thread(document, timed):
    meta = {e["name"]: e for e in document["traceEvents"] if e["ph"] == "M"}
    assert set(meta) == {"process_name", "thread_name"}
    assert all(e["pid"] == trace.PID and "name" in e["args"] for e in meta.values())
    assert "Nested" in meta["process_name"]["args"]["name"]
    other = document["otherData"]
    assert other["netprof"] == netprof.__version__
    assert other["model"] == "Nested"
    assert other["device"] == "cpu" and other["clock"] == "time.perf_counter_ns"
    assert other["repeat"] == timed.timing.runs == 3
    assert other["threads"] == 1
    assert "median" in other["timeline"] and "end to end" in other["timeline"]
    assert other["profile"] == "test"


def test_op_slices_are_the_ops_in_order_and_sum_to_the_attributed_time(document, timed):
    op_slices = ops(document)
    assert [e["args"]["id"] for e in op_slices] == [op.id for op in timed.timing.ops]
    assert sum(e["dur"] for e in op_slices) * 1e-6 == pytest.approx(timed.timing.attributed_s)
    for event, op in zip(op_slices, timed.timing.ops):
        assert event["dur"] * 1e-6 == pytest.approx(op.time.median)
    # Laid end to end: each op starts where the one before it ends.
    for before, after in itertools.pairwise(op_slices):
        assert after["ts"] == pytest.approx(before["ts"] + before["dur"], abs=1e-6)


def test_ops_nest_inside_every_module_around_them(document):
    modules = slices(document, "module")
    tolerance = 1e-6  # microseconds: float rounding of ts + dur

    def contains(outer, inner):
        return (
            outer["ts"] <= inner["ts"] + tolerance
            and inner["ts"] + inner["dur"] <= outer["ts"] + outer["dur"] + tolerance
        )

    for op in ops(document):
        for path in ancestors(op["args"]["module"]):
            around = [m for m in modules if m["args"]["path"] == path and contains(m, op)]
            assert len(around) == 1, (op["name"], op["args"]["module"], path)
    # Module slices nest too: any two are disjoint or one holds the other, and every module
    # slice sits inside a slice of its parent module.
    for a in modules:
        for b in modules:
            if a is b:
                continue
            a_end, b_end = a["ts"] + a["dur"], b["ts"] + b["dur"]
            disjoint = a_end <= b["ts"] + tolerance or b_end <= a["ts"] + tolerance
            assert disjoint or contains(a, b) or contains(b, a), (a["name"], b["name"])
        path = a["args"]["path"]
        if path:
            parent = ancestors(path)[-2]
            assert any(m["args"]["path"] == parent and contains(m, a) for m in modules)


def test_a_module_called_twice_has_two_slices_and_the_root_spans_all_ops(document, timed):
    modules = slices(document, "module")
    act = [m for m in modules if m["args"]["path"] == "act"]
    assert len(act) == 2
    assert sum(m["args"]["ops"] for m in act) == sum(op.module == "act" for op in timed.timing.ops)
    (root,) = [m for m in modules if m["args"]["path"] == ""]
    assert root["name"] == "Nested" and root["ts"] == 0
    assert root["dur"] * 1e-6 == pytest.approx(timed.timing.attributed_s)
    # A module slice's time is its ops' medians, and its slice is exactly as long.
    for module in modules:
        assert module["dur"] * 1e-6 == pytest.approx(module["args"]["time_s"])


def test_overhead_follows_the_ops_to_make_the_end_to_end_median(document, timed):
    overhead = slices(document, trace.OVERHEAD)
    if timed.timing.overhead_s <= 0:
        assert overhead == []
        return
    (slice_,) = overhead
    end = slice_["ts"] + slice_["dur"]
    assert end * 1e-6 == pytest.approx(timed.timing.end_to_end.median)
    assert slice_["ts"] * 1e-6 == pytest.approx(timed.timing.attributed_s)


def test_op_args_hold_counts_shapes_rates_and_prediction(document, timed):
    nodes = {node.id: node for node in timed.analysis.ops}
    for event in ops(document):
        args = event["args"]
        assert all(field in args for field in OP_ARGS), args
        node = nodes[args["id"]]
        assert (args["mult_adds"], args["flops"], args["mem_access_bytes"]) == (
            node.mult_adds,
            node.flops,
            node.mem_access_bytes,
        )
        assert args["category"] == event["cat"] == node.category
        assert len(args["input_shapes"]) == len(node.input_metas)
        assert args["predicted_s"] > 0
        if args["median_s"] > 0:
            assert args["gflop_per_s"] == pytest.approx(args["flops"] / args["median_s"] / 1e9)
            assert args["gb_per_s"] == pytest.approx(args["mem_access_bytes"] / args["median_s"] / 1e9)
    (conv, *_) = [e for e in ops(document) if e["name"] == "convolution"]
    assert conv["args"]["input_shapes"][0] == "1x3x16x16 float32"
    assert conv["args"]["output_shapes"] == ["1x8x16x16 float32"]


def test_without_a_prediction_there_is_no_predicted_time(timed):
    document = trace.build(timed.analysis, timed.timing)
    assert all("predicted_s" not in e["args"] for e in slices(document))
    assert "predicted_ops_s" not in document["otherData"]


def test_a_cuda_timing_is_labelled_with_its_clock(timed):
    # On CUDA the op times are already CUDA-event times (netprof.timing.clocks); the trace says so.
    on_gpu = dataclasses.replace(timed.timing, device="cuda:0")
    document = trace.build(timed.analysis, on_gpu)
    assert document["otherData"]["device"] == "cuda:0"
    assert document["otherData"]["clock"] == "CUDA events"
    (process,) = [e for e in document["traceEvents"] if e["name"] == "process_name"]
    assert process["args"]["name"].endswith("on cuda:0")


def test_analyze_time_trace_writes_the_file(capsys, tmp_path):
    path = tmp_path / "trace.json"
    code, _, err = run(capsys, "analyze", f"{FIXTURES}:tiny", "--time", "--repeat", "3", "--trace", str(path))
    assert code == 0, err
    assert f"wrote {path}" in err
    document = json.loads(path.read_text())
    op_slices = ops(document)
    assert op_slices and all(all(field in e for field in REQUIRED) for e in op_slices)
    assert document["otherData"]["repeat"] == 3
    assert sum(e["dur"] for e in op_slices) * 1e-6 == pytest.approx(document["otherData"]["attributed_s"])
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind


def test_trace_without_time_is_one_line_exit_2(capsys, tmp_path):
    path = tmp_path / "trace.json"
    code, out, err = run(capsys, "analyze", f"{FIXTURES}:tiny", "--trace", str(path))
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "--trace" in err and "--time" in err
    assert not path.exists()
