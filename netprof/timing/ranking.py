"""FLOPs vs latency across models: does a lower count mean a faster network here?

``netprof compare SPEC SPEC ...`` times each model (``netprof.pipeline.time_specs``)
and ranks them. The latency of a model is the median of its *plain* forward passes
(``Timing.plain``: no dispatch mode, no instrumentation), the figure a user of
the model sees. Agreement between a cost metric and latency is Spearman's rank
correlation: 1 when the metric orders the models exactly as their latency does,
-1 when exactly backwards. ShuffleNet V2's claim is that mult_adds (FLOPs) is an
indirect metric; this says, on this machine, how well each ordering holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from netprof.analysis import Analysis
from netprof.records import pick
from netprof.timing.attribution import Timing
from netprof.timing.measurement import Measurement


def ranks(values: Sequence[float]) -> np.ndarray:
    """1-based ranks, ties sharing the mean of the ranks they span: ``[10, 20, 20, 30]`` -> ``[1, 2.5, 2.5, 4]``."""
    data = np.asarray(values, dtype=float)
    order = np.argsort(data, kind="stable")
    result = np.empty(len(data), dtype=float)
    result[order] = np.arange(1, len(data) + 1, dtype=float)
    for value in np.unique(data):
        tied = data == value
        if tied.sum() > 1:
            result[tied] = result[tied].mean()
    return result


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson's correlation of the (tie-averaged) ranks; ``nan`` if either side is constant.

    With ties the textbook ``1 - 6 sum d^2 / (n (n^2 - 1))`` is wrong; the
    correlation of the ranks is right in every case.
    """
    if len(x) != len(y):
        raise ValueError(f"spearman needs two sequences of one length, got {len(x)} and {len(y)}")
    if len(x) < 2:
        return math.nan
    rx, ry = ranks(x), ranks(y)
    dx, dy = rx - rx.mean(), ry - ry.mean()
    denominator = math.sqrt(float((dx * dx).sum() * (dy * dy).sum()))
    if denominator == 0:
        return math.nan
    return float((dx * dy).sum()) / denominator


@dataclass(frozen=True, slots=True)
class ModelPoint:
    """One timed model: its counts and its latency (plain forward passes, seconds)."""

    name: str
    mult_adds: int
    flops: int
    mem_access_bytes: int
    params: int
    batch: int
    latency: Measurement
    device: str
    threads: int
    predicted_s: float | None = None  # on a device profile, when one was given

    @property
    def images_per_s(self) -> float:
        return self.batch / self.latency.median if self.latency.median > 0 else math.inf


@dataclass(frozen=True, slots=True)
class Comparison:
    """Several models, and how well each count ranks their latency (``nan`` when undefined)."""

    points: tuple[ModelPoint, ...]
    rho_mult_adds: float
    rho_mem_access: float
    rho_predicted: float | None = None  # of the predicted latency, when every model has one

    @property
    def device(self) -> str:
        return self.points[0].device if self.points else "cpu"

    @property
    def threads(self) -> int:
        return self.points[0].threads if self.points else 1


def model_point(
    name: str, analysis: Analysis, timing: Timing, predicted_s: float | None = None
) -> ModelPoint:
    first = analysis.inputs[0] if analysis.inputs else None
    shape = getattr(first, "shape", None)
    return ModelPoint(
        name=name,
        mult_adds=analysis.totals.mult_adds,
        flops=analysis.totals.flops,
        mem_access_bytes=analysis.totals.mem_access_bytes,
        params=analysis.params,
        batch=int(shape[0]) if shape else 1,
        latency=timing.plain,
        device=timing.device,
        threads=timing.threads,
        predicted_s=predicted_s,
    )


def rank_models(
    timed: Sequence[tuple[str, Analysis, Timing]], predicted: Mapping[str, float] | None = None
) -> Comparison:
    """Rank correlation of latency with mult_adds, with memory access cost and, given each model's
    ``predicted`` latency by name, with the prediction."""
    points = tuple(
        model_point(name, analysis, timing, (predicted or {}).get(name)) for name, analysis, timing in timed
    )
    latency = [p.latency.median for p in points]
    guesses = [p.predicted_s for p in points]
    return Comparison(
        points,
        spearman([p.mult_adds for p in points], latency),
        spearman([p.mem_access_bytes for p in points], latency),
        spearman(guesses, latency) if predicted and None not in guesses else None,
    )


def spec_name(spec: str, taken: set[str] | None = None) -> str:
    """``netprof.zoo:shufflenet_v2_x1_0`` -> ``shufflenet_v2_x1_0``; the whole spec if that name is taken."""
    name = spec.rpartition(":")[2] or spec
    return spec if taken is not None and name in taken else name


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def to_dict(comparison: Comparison) -> dict[str, Any]:
    """The JSON form; absolute times are of this machine only."""
    return {
        "device": comparison.device,
        "threads": comparison.threads,
        "latency": "median of plain forward passes (no instrumentation), seconds; machine-specific",
        "spearman_latency_vs_mult_adds": _number(comparison.rho_mult_adds),
        "spearman_latency_vs_mem_access_bytes": _number(comparison.rho_mem_access),
        "spearman_latency_vs_predicted": None
        if comparison.rho_predicted is None
        else _number(comparison.rho_predicted),
        "models": [
            {
                **pick(
                    p,
                    "name",
                    "mult_adds",
                    "flops",
                    "mem_access_bytes",
                    "params",
                    "batch",
                    "images_per_s",
                    "predicted_s",
                ),
                "latency": p.latency.to_dict(),
            }
            for p in comparison.points
        ],
    }


def rho_text(rho: float) -> str:
    return "undefined" if math.isnan(rho) else f"{rho:+.2f}"
