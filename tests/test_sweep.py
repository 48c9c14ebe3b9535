"""netprof sweep: rows per model from lists, registries and search spaces; failures, timeouts, resume, Ray."""

from __future__ import annotations

import contextlib
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
from fixtures.models import tiny
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


def test_the_ray_engine_times_a_model_out_inside_its_worker(tmp_path):
    # The alarm is raised in the Ray worker itself; the row's own ``except Exception`` must not keep it.
    from netprof.sweep.ray_engine import measure_within

    space = write_space(
        tmp_path,
        "def hangs():\n    until = time.monotonic() + 30\n    while time.monotonic() < until:\n        pass\n",
    )
    row = measure_within(Job("hangs", f"{space}:hangs"), SweepOptions(), timeout_s=0.5)
    assert row["error"] == "timed out after 0.5 s"


def test_a_worker_over_its_memory_limit_is_stopped(tmp_path):
    space = write_space(
        tmp_path, "def big():\n    blob = bytearray(400_000_000)\n    time.sleep(30)\n    return blob\n"
    )
    (job,) = [Job("big", f"{space}:big")]
    ((_, row),) = list(run_local([job], SweepOptions(), workers=1, timeout_s=20, memory_limit=200_000_000))
    assert row["error"].startswith("over the memory limit")


def test_resume_after_an_interrupted_sweep_redoes_nothing(tmp_path):
    # m3 blocks until the sweep is interrupted, so Ctrl-C comes after exactly m0..m2 whatever the machine's
    # speed; it goes to the whole process group, workers included, as a terminal sends it.
    log, started = tmp_path / "built.log", tmp_path / "m3 started"
    space = write_space(
        tmp_path,
        f"LOG, STARTED = {str(log)!r}, {str(started)!r}\n"
        "def logged(name):\n"
        "    def build():\n"
        "        with open(LOG, 'a') as f: f.write(name + '\\n')\n"
        "        if name == 'm3' and os.environ.get('NETPROF_TEST_BLOCK'):\n"
        "            open(STARTED, 'w').close()\n"
        "            time.sleep(600)\n"
        "        return nn.Linear(4, 4), torch.randn(1, 4)\n"
        "    return build\n"
        "def candidates():\n"
        "    for i in range(8):\n"
        "        yield f'm{i}', logged(f'm{i}')\n",
    )
    out = tmp_path / "out"
    command = [sys.executable, "-m", "netprof", "sweep", f"{space}:candidates", "-o", str(out), "--jobs", "1"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "NETPROF_TEST_BLOCK": "1"},
        start_new_session=True,
        text=True,
    )
    try:
        until = time.monotonic() + 120
        while not started.exists() and time.monotonic() < until and process.poll() is None:
            time.sleep(0.05)
        assert started.exists(), "the sweep never reached m3"
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:  # neither the sweep nor its blocked worker outlives the test
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130 and err.strip().splitlines()[-1:] == ["netprof: interrupted"], err
    assert "Traceback" not in err
    done_before = [json.loads(line)["name"] for line in (out / "rows.jsonl").read_text().splitlines()]
    assert done_before == ["m0", "m1", "m2"]
    finished = subprocess.run(
        [*command, "--resume"], check=False, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    assert "resuming: 3 of 8 models already done" in finished.stderr
    assert list(rows_of(out)) == [f"m{i}" for i in range(8)]
    assert all(not row["error"] for row in rows_of(out).values())
    # m3 was started twice (interrupted, then resumed); nothing done before was built again.
    assert log.read_text().split() == ["m0", "m1", "m2", "m3", "m3", "m4", "m5", "m6", "m7"]


def test_a_worker_stopped_by_ctrl_c_stops_the_sweep_rather_than_fail_its_row(tmp_path):
    # Ctrl-C in a terminal reaches the workers too: a failed row would be skipped by --resume.
    space = write_space(tmp_path, "def interrupted():\n    os.kill(os.getpid(), 2)\n    time.sleep(30)\n")
    jobs = [Job("interrupted", f"{space}:interrupted")]
    with pytest.raises(KeyboardInterrupt):
        list(run_local(jobs, SweepOptions(), workers=1, timeout_s=60, memory_limit=None))


def test_pareto_front_by_hand():
    points = [("a", 1.0, 70.0), ("b", 2.0, 75.0), ("c", 2.5, 72.0), ("d", 3.0, 80.0), ("e", 0.5, 60.0)]
    # c is slower than b and less accurate: dominated; every other point is best at its latency.
    assert sweep_results.pareto_front(points) == ["e", "a", "b", "d"]


def test_accuracy_gives_the_pareto_front_in_the_summary_and_a_chart(capsys, tmp_path):
    specs = tmp_path / "specs.txt"
    specs.write_text("netprof.zoo:shufflenet_v2\nnetprof.zoo:mobilenet_v2\nnetprof.zoo:squeezenet1_1\n")
    accuracy = tmp_path / "accuracy.csv"
    accuracy.write_text(
        "name,accuracy\nnetprof.zoo:shufflenet_v2,69.4\nnetprof.zoo:mobilenet_v2,71.9\nnetprof.zoo:squeezenet1_1,70.0\n"
    )
    profile = tmp_path / "profile.json"
    profiles.save(hand_profile(), profile)
    out = tmp_path / "out"
    code, _, err = run(
        capsys, "sweep", str(specs), "-o", str(out), "--predict", str(profile), "--accuracy", str(accuracy)
    )
    assert code == 0, err
    rows = rows_of(out)
    latency = {name.removeprefix("netprof.zoo:"): float(row["predicted_s"]) for name, row in rows.items()}
    # On the hand profile SqueezeNet 1.1 < ShuffleNet V2 < MobileNet V2 in latency. SqueezeNet's accuracy is
    # made up (70.0) to beat ShuffleNet's 69.4: SqueezeNet, the fastest, is on the front; ShuffleNet, slower
    # and less accurate, is dominated; MobileNet V2, the most accurate (71.9), is on it.
    assert 0 < latency["squeezenet1_1"] < latency["shufflenet_v2"] < latency["mobilenet_v2"], latency
    summary = (out / "summary.md").read_text()
    section = summary.split("## Pareto front (latency against accuracy)\n")[1].split("\n## ")[0]
    on_front = [
        line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| netprof.zoo:")
    ]
    assert on_front == ["netprof.zoo:squeezenet1_1", "netprof.zoo:mobilenet_v2"]  # by latency
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


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="two timed workers at once need two cores")
def test_pinned_timing_uses_one_core_per_worker(tmp_path):
    from netprof.timing.run import TimingOptions

    def recording(name: str, other: str):
        """A builder that records, inside its worker, the cores and threads it may use, then waits for the
        other worker's record, so that the two run at the same time."""

        def build():
            (tmp_path / name).write_text(
                json.dumps([sorted(os.sched_getaffinity(0)), torch.get_num_threads()])
            )
            until = time.monotonic() + 30
            while not (tmp_path / other).exists() and time.monotonic() < until:
                time.sleep(0.05)
            return tiny()

        return build

    jobs = [Job("a", recording("a", "b")), Job("b", recording("b", "a"))]
    options = SweepOptions(timing=TimingOptions(repeat=3, budget_s=10))
    rows = dict(run_local(jobs, options, workers=4, timeout_s=60, memory_limit=None))
    assert all(row["error"] is None and row["measured_s"] > 0 for row in rows.values()), rows
    (cores_a, threads_a), (cores_b, threads_b) = (json.loads((tmp_path / name).read_text()) for name in "ab")
    assert len(cores_a) == len(cores_b) == 1 and cores_a != cores_b  # one core each, never the same
    assert threads_a == threads_b == 1
    assert set(cores_a + cores_b) <= os.sched_getaffinity(0)  # and the parent keeps all of its own
