"""netprof sweep: rows per model from lists, registries and search spaces; failures, timeouts, resume, Ray."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from cli_runner import run
from test_prediction import hand_profile

import netprof
from netprof import zoo
from netprof.prediction import profile as profiles
from netprof.sweep import results as sweep_results
from netprof.sweep.local import run_local
from netprof.sweep.row import COLUMNS, STATIC, SweepOptions
from netprof.sweep.sources import Job, SourceError, jobs_from

ROOT = Path(__file__).resolve().parents[1]
SMALL_TORCHVISION = "torchvision:squeezenet*"  # squeezenet1_0 and squeezenet1_1


def write_space(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "space.py"
    path.write_text("import os, time, torch\nfrom torch import nn\nfrom netprof import zoo\n" + body)
    return path


def rows_of(directory: Path) -> dict[str, dict]:
    with (directory / "rows.csv").open() as handle:
        return {row["name"]: row for row in csv.DictReader(handle)}


def test_a_list_a_registry_glob_and_a_failing_spec_give_one_row_each(capsys, tmp_path):
    specs = tmp_path / "specs.txt"
    specs.write_text(
        "# seed networks\nnetprof.zoo:shufflenet_v2\nnetprof.zoo:mobilenet_v2  # 1:6\nno_such_module:x\n"
    )
    code, _, err = run(
        capsys, "sweep", str(specs), SMALL_TORCHVISION, "-o", str(tmp_path / "out"), "--jobs", "2"
    )
    assert code == 0, err
    rows = rows_of(tmp_path / "out")
    assert list(rows) == [
        "netprof.zoo:shufflenet_v2",
        "netprof.zoo:mobilenet_v2",
        "no_such_module:x",
        "squeezenet1_0",
        "squeezenet1_1",
    ]
    with (tmp_path / "out" / "rows.csv").open() as handle:
        assert next(csv.reader(handle)) == list(COLUMNS)
    # The same numbers as one analysis of the model.
    alone = netprof.analyze(zoo.shufflenet_v2(), torch.randn(1, 3, 224, 224))
    assert int(rows["netprof.zoo:shufflenet_v2"]["mult_adds"]) == alone.totals.mult_adds
    assert rows["netprof.zoo:mobilenet_v2"]["findings_G1"] not in ("", "0")
    assert rows["no_such_module:x"]["error"].startswith("SpecError: cannot import module 'no_such_module'")
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "5 models, 4 analyzed, 1 failed" in summary and "| SpecError | 1 |" in summary


def test_a_search_space_of_builders_and_a_worker_that_dies_or_hangs(tmp_path):
    space = write_space(
        tmp_path,
        "def candidates():\n"
        "    for width in (0.5, 1.0):\n"
        "        yield f'shufflenet_v2_x{width}', lambda width=width: zoo.shufflenet_v2(scale=width)\n"
        "    yield 'dies', lambda: os.kill(os.getpid(), 9)\n"
        "    yield 'hangs', lambda: time.sleep(60)\n",
    )
    jobs = jobs_from([f"{space}:candidates"])
    assert [job.name for job in jobs] == ["shufflenet_v2_x0.5", "shufflenet_v2_x1.0", "dies", "hangs"]
    rows = dict(run_local(jobs, SweepOptions(), workers=2, timeout_s=5, memory_limit=None))
    by_name = {row["name"]: row for row in rows.values()}
    assert by_name["dies"]["error"] == "worker died: SIGKILL"
    assert by_name["hangs"]["error"] == "timed out after 5 s"
    half, whole = by_name["shufflenet_v2_x0.5"], by_name["shufflenet_v2_x1.0"]
    assert half["error"] is None and whole["error"] is None
    assert (
        half["mult_adds"]
        < whole["mult_adds"]
        == netprof.analyze(zoo.shufflenet_v2(scale=1.0), torch.randn(1, 3, 224, 224)).totals.mult_adds
    )


def test_a_worker_over_its_memory_limit_is_stopped(tmp_path):
    space = write_space(
        tmp_path, "def big():\n    blob = bytearray(400_000_000)\n    time.sleep(30)\n    return blob\n"
    )
    (job,) = [Job("big", f"{space}:big")]
    ((_, row),) = list(run_local([job], SweepOptions(), workers=1, timeout_s=20, memory_limit=200_000_000))
    assert row["error"].startswith("over the memory limit")


def test_resume_after_an_interrupted_sweep_redoes_nothing(tmp_path):
    log = tmp_path / "built.log"
    space = write_space(
        tmp_path,
        f"LOG = {str(log)!r}\n"
        "def slow(name):\n"
        "    def build():\n"
        "        with open(LOG, 'a') as f: f.write(name + '\\n')\n"
        "        time.sleep(0.6)\n"
        "        return nn.Linear(4, 4), torch.randn(1, 4)\n"
        "    return build\n"
        "def candidates():\n"
        "    for i in range(8):\n"
        "        yield f'm{i}', slow(f'm{i}')\n",
    )
    out = tmp_path / "out"
    command = [sys.executable, "-m", "netprof", "sweep", f"{space}:candidates", "-o", str(out), "--jobs", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    rows_file = out / "rows.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        not rows_file.exists() or len(rows_file.read_text().splitlines()) < 3
    ):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    done_before = [json.loads(line)["name"] for line in rows_file.read_text().splitlines()]
    assert 3 <= len(done_before) < 8
    finished = subprocess.run([*command, "--resume"], capture_output=True, text=True, cwd=ROOT, check=True)
    assert f"resuming: {len(done_before)} of 8 models already done" in finished.stderr
    assert list(rows_of(out)) == [f"m{i}" for i in range(8)]
    built = log.read_text().split()
    for name in done_before:
        assert built.count(name) == 1, f"{name} was built again after the resume"


def test_pareto_front_by_hand():
    points = [("a", 1.0, 70.0), ("b", 2.0, 75.0), ("c", 2.5, 72.0), ("d", 3.0, 80.0), ("e", 0.5, 60.0)]
    # c is slower than b and less accurate: dominated; every other point is best at its latency.
    assert sweep_results.pareto_front(points) == ["e", "a", "b", "d"]


def test_accuracy_gives_the_pareto_front_in_the_summary_and_a_chart(capsys, tmp_path):
    specs = tmp_path / "specs.txt"
    specs.write_text("netprof.zoo:shufflenet_v2\nnetprof.zoo:mobilenet_v2\nnetprof.zoo:squeezenet1_1\n")
    accuracy = tmp_path / "accuracy.csv"
    accuracy.write_text("name,accuracy\nnetprof.zoo:shufflenet_v2,69.4\nnetprof.zoo:mobilenet_v2,71.9\n")
    profile = tmp_path / "profile.json"
    profiles.save(hand_profile(), profile)
    out = tmp_path / "out"
    code, _, err = run(
        capsys, "sweep", str(specs), "-o", str(out), "--predict", str(profile), "--accuracy", str(accuracy)
    )
    assert code == 0, err
    rows = rows_of(out)
    assert all(float(row["predicted_s"]) > 0 for row in rows.values())
    assert "## Pareto front (latency against accuracy)" in (out / "summary.md").read_text()
    assert (out / "latency.png").exists() and (out / "pareto.png").exists()


def test_bad_sources_are_one_line(capsys, tmp_path):
    for source, message in (
        ("no_such_file.py:space", "model file not found"),
        (
            f"{ROOT}/tests/fixtures/models.py:tiny",
            "returned Sequential: expected SPECs or (name, builder) pairs",
        ),
        ("torchvision:no_such_model*", "torchvision:no_such_model* names no models"),
    ):
        code, _, err = run(capsys, "sweep", source, "-o", str(tmp_path / "out"))
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(SourceError):
        jobs_from(["torchvision:no_such_model*"])


@pytest.mark.ray
def test_a_local_ray_cluster_gives_the_rows_of_the_local_engine(tmp_path):
    ray = pytest.importorskip("ray", reason="the ray extra: pip install 'netprof[ray]'")
    from netprof.sweep.ray_engine import run_ray

    jobs = jobs_from(["torchvision:squeezenet*", "torchvision:shufflenet_v2_x0_5", "torchvision:mnasnet0_5"])
    jobs += [Job(name, f"netprof.zoo:{name}") for name in ("shufflenet_v2", "mobilenet_v1", "mobilenet_v2")]
    jobs += [
        Job("mobilenet_v3_small", "torchvision.models:mobilenet_v3_small"),
        Job("broken", "no_such_module:x"),
    ]
    jobs += [Job("resnet18", "torchvision.models:resnet18")]
    assert len(jobs) == 10
    local = {jobs[i].name: row for i, row in run_local(jobs, SweepOptions(), 2, 120, None)}
    try:
        on_ray = {jobs[i].name: row for i, row in run_ray(jobs, SweepOptions(), None, 120, cpus=2)}
    finally:
        ray.shutdown()
    assert set(on_ray) == set(local)
    for name in local:
        assert {c: on_ray[name][c] for c in STATIC} == {c: local[name][c] for c in STATIC}, name
    assert on_ray["broken"]["error"].startswith("SpecError")


def test_pinned_timing_uses_one_core_per_worker(tmp_path):
    from netprof.timing.run import TimingOptions

    jobs = [Job("tiny", f"{ROOT}/tests/fixtures/models.py:tiny")]
    options = SweepOptions(timing=TimingOptions(repeat=3, budget_s=10))
    ((_, row),) = list(run_local(jobs, options, workers=4, timeout_s=60, memory_limit=None))
    assert row["error"] is None and row["measured_s"] > 0
    assert os.sched_getaffinity(0)  # the parent keeps all its cores
