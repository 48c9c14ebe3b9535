"""Time per phase, time to first token, time per output token and tokens/s, from counts alone.

Two sources: a roofline of a stated peak and bandwidth (a GPU you do not have:
each op takes ``max(flops / peak, bytes / bandwidth)``), or a ``netprof
calibrate`` device profile (``netprof.prediction``). Each phase is labelled by
where most of its predicted time goes: ops bound by compute or by memory. Decode
steps between the captured ones are on the line through them, as their counts are.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass

from netprof import units
from netprof.analysis import Analysis
from netprof.prediction import DeviceProfile
from netprof.prediction import predict as predict_latency
from netprof.records import pick
from netprof.roofline import Roofline
from netprof.serving.phases import DECODE, ENCODE, PREFILL, GenerationAnalysis

Device = Roofline | DeviceProfile


@dataclass(frozen=True)
class PassTime:
    seconds: float
    bound: str  # "compute", "memory" or "overhead": where most of the time goes


@dataclass(frozen=True)
class PhaseTime:
    name: str
    seconds: float
    bound: str
    per_step_s: tuple[float, ...]  # one per pass


@dataclass(frozen=True)
class ServingPrediction:
    device: str
    phases: tuple[PhaseTime, ...]
    batch: int
    roofline: Roofline | None = None  # the stated device, when predicted on a roofline rather than a profile

    @property
    def time_to_first_token_s(self) -> float:
        """Every phase before the decode: the prefill, after an encoder-decoder's encode."""
        return sum(phase.seconds for phase in self.phases if phase.name != DECODE)

    @property
    def time_per_output_token_s(self) -> float | None:
        decode = self._decode
        return None if decode is None else decode.seconds / len(decode.per_step_s)

    @property
    def tokens_per_s(self) -> float | None:
        """Decode throughput: generated tokens (one per sequence per step) per second."""
        per_token = self.time_per_output_token_s
        return None if not per_token else self.batch / per_token

    @property
    def _decode(self) -> PhaseTime | None:
        return next((phase for phase in self.phases if phase.name == DECODE), None)

    def to_dict(self) -> dict[str, object]:
        return pick(self, "device", "time_to_first_token_s", "time_per_output_token_s", "tokens_per_s")


def pass_time(analysis: Analysis, device: Device) -> PassTime:
    """One pass's predicted seconds on ``device`` and what bounds it."""
    by_bound: Counter[str] = Counter()
    if isinstance(device, Roofline):
        for op in analysis.ops:
            bound, op_s = device.place(op.flops, op.mem_access_bytes)
            if bound is not None:
                by_bound[bound] += op_s
        seconds = sum(by_bound.values())
    else:
        prediction = predict_latency(analysis, device)
        for op in prediction.ops:
            by_bound[op.bound] += op.predicted_s
        by_bound["overhead"] += prediction.framework_s
        seconds = prediction.latency_s
    bound = by_bound.most_common(1)[0][0] if by_bound else "memory"
    return PassTime(seconds, bound)


def _interpolated(points: list[tuple[int, float]], context: int) -> float:
    """Seconds at ``context`` on the broken line through the captured ``(context, seconds)`` points."""
    contexts = [c for c, _ in points]
    index = bisect.bisect_left(contexts, context)
    if index < len(points) and contexts[index] == context:
        return points[index][1]
    (c0, s0), (c1, s1) = points[max(index - 1, 0)], points[min(index, len(points) - 1)]
    return s0 + (s1 - s0) * (context - c0) / (c1 - c0)


def predict_generation(generation: GenerationAnalysis, device: Device) -> ServingPrediction:
    """Each phase of ``generation`` timed on ``device`` (nothing runs)."""
    phases = []
    passes = ((ENCODE, generation.encode_analysis), (PREFILL, generation.prefill_analysis))
    for phase_name, analysis in passes:
        if analysis is not None:
            timed_pass = pass_time(analysis, device)
            phases.append(PhaseTime(phase_name, timed_pass.seconds, timed_pass.bound, (timed_pass.seconds,)))
    if generation.decode is not None:
        timed = [(context, pass_time(analysis, device)) for context, analysis in generation.captured_steps]
        points = [(context, time.seconds) for context, time in timed]
        steps = tuple(_interpolated(points, step.context) for step in generation.decode.steps)
        bound = Counter(time.bound for _, time in timed).most_common(1)[0][0]
        phases.append(PhaseTime(DECODE, sum(steps), bound, steps))
    name = device.describe() if isinstance(device, Roofline) else f"profile {device.key}"
    roofline = device if isinstance(device, Roofline) else None
    return ServingPrediction(name, tuple(phases), generation.prefill.batch, roofline)


def describe(prediction: ServingPrediction) -> str:
    """One line: time to first token, time per output token and tokens/s."""
    line = f"time to first token {units.seconds(prediction.time_to_first_token_s)}"
    if prediction.time_per_output_token_s is not None:
        line += f", time per output token {units.seconds(prediction.time_per_output_token_s)}"
        line += f", {prediction.tokens_per_s:,.1f} tokens/s"
    return f"{line} ({prediction.device})"
