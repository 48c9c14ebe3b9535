"""CUDA timing: netprof's per-op times (CUDA events) against torch.profiler's kernel times.

One known op, a 4096 x 4096 x 4096 float32 matrix product: 4096 * 4096 * 4096 =
68,719,476,736 multiply-adds, a kernel of milliseconds on any current GPU, long
enough that launch gaps (tens of microseconds) and event resolution (about half
a microsecond) do not matter.
"""

import math
import statistics

import pytest
import torch
from torch import nn
from torch.autograd import DeviceType

import netprof
from netprof.timing import Runner

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="needs a CUDA GPU: netprof's CUDA clock times each op with a pair of CUDA events",
    ),
]

N = 4096
PASS_MARK = "netprof_test_cuda_pass_"


class MatMul(nn.Module):
    def forward(self, a, b):
        return torch.mm(a, b)


def _operands(device="cpu"):
    return torch.randn(N, N, device=device), torch.randn(N, N, device=device)


def _kernel_seconds_per_pass(prof) -> dict[int, float]:
    """Device time of the kernels launched inside netprof's dispatch mode, per marked pass.

    Every op netprof times runs inside the mode (profiler event ``PythonDispatchMode``);
    that event's ``device_time_total`` sums the kernels its children launched. The
    L2 flush of ``CudaClock.begin_pass`` runs before the mode is entered, so it is
    left out, as netprof's op times leave it out. The mode never nests: it is
    switched off while it runs an op.
    """
    per_pass: dict[int, float] = {}
    for event in prof.events():
        if event.device_type != DeviceType.CPU or event.name != "PythonDispatchMode":
            continue
        parent = event.cpu_parent
        while parent is not None and not parent.name.startswith(PASS_MARK):
            parent = parent.cpu_parent
        if parent is not None:
            index = int(parent.name.removeprefix(PASS_MARK))
            per_pass[index] = per_pass.get(index, 0.0) + 1e-6 * event.device_time_total  # us -> s
    return per_pass


def test_cuda_op_time_agrees_with_profiler_kernel_time():
    device = torch.device("cuda", torch.cuda.current_device())
    model = MatMul()
    a, b = _operands(device)
    analysis = netprof.analyze(model, (a, b), mode="real")
    expected = [node.op for node in analysis.ops]
    assert expected == ["aten.mm.default"]
    assert analysis.totals.mult_adds == N * N * N  # 68,719,476,736
    runner = Runner(model, (a, b), expected, device)
    ours: dict[int, float] = {}
    with torch.no_grad():
        for _ in range(3):  # cuBLAS handle, heuristics and the flush buffer, before anything counts
            runner.instrumented()
        # The very same passes, measured by both.
        with torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        ) as prof:
            for index in range(10):
                with torch.profiler.record_function(f"{PASS_MARK}{index}"):
                    _, ops, same = runner.instrumented()
                assert same and len(ops) == 1
                ours[index] = math.fsum(ops)
    theirs = _kernel_seconds_per_pass(prof)
    assert sorted(theirs) == sorted(ours)
    assert all(t > 0 for t in theirs.values()), theirs
    # netprof's pair of events brackets the kernel plus the launch gap in front of it (the GPU is idle
    # at the start of a pass, so the start event completes before the kernel is enqueued): tens of
    # microseconds against a kernel of 0.3 ms (TF32) to 2 ms (IEEE float32) on an H100-class GPU.
    # A loose bound, 0.5x to 2x, still catches a wrong unit (1e3), host time measured in place of
    # device time (a launch takes microseconds, the kernel milliseconds) or another op's time.
    # The median over passes, as on the CPU, so that one preempted launch does not decide it.
    ratios = [ours[i] / theirs[i] for i in sorted(ours)]
    assert all(r > 0 for r in ratios), ratios
    assert 0.5 < statistics.median(ratios) < 2.0, ratios


def test_run_times_a_matmul_on_cuda():
    a, b = _operands()
    result = netprof.run(MatMul(), (a, b), timing=netprof.TimingOptions(device="cuda", repeat=5))
    timing = result.timing
    assert result.analysis.mode == "real"
    assert timing.device == f"cuda:{torch.cuda.current_device()}"
    assert [op.op for op in timing.ops] == ["aten.mm.default"]
    assert timing.runs == 5 and timing.diverged_runs == 0
    (mm,) = timing.ops
    assert mm.mult_adds == N * N * N  # 68,719,476,736
    # On one stream the events are ordered: pass start, op start, op end, pass end, so the op's
    # time lies inside its pass's.
    for r in range(timing.runs):
        assert 0 < mm.time.times[r] <= timing.end_to_end.times[r], r
    # 2 * 68.7e9 flops take between 0.1 ms (at 1,000 TFLOP/s) and 1 s (at 137 GFLOP/s) in float32 on
    # any GPU: seconds, not milliseconds, from elapsed_time's milliseconds.
    assert 1e-4 < mm.time.median < 1.0
