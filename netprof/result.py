"""What one run of the pipeline produced: the analysis and whatever was computed beside it.

Every reporter reads a ``Result``; a new capability adds a field here and a
section to the reporters, not a new kind of run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netprof.analysis import Analysis
from netprof.crosscheck import Crosscheck
from netprof.detection import Stage, StageModules, split
from netprof.detection.load import LoadPoint
from netprof.prediction import Prediction
from netprof.rules import Finding, Fusion
from netprof.serving import GenerationAnalysis, ServingPrediction
from netprof.timing.attribution import Timing


@dataclass(frozen=True)
class Result:
    """One model's analysis and what was computed beside it.

    For a language model's prefill and decode, ``analysis`` is the prompt pass
    and ``generation`` holds every phase.
    """

    analysis: Analysis
    timing: Timing | None = None  # measured op times, when timed
    crosscheck: Crosscheck | None = None  # another counter's view, when asked for
    prediction: Prediction | None = None  # predicted latency on a device profile, when asked for
    generation: GenerationAnalysis | None = None  # prefill and decode phases, when asked for
    serving: ServingPrediction | None = None  # each phase's predicted time, when a device was given
    findings: tuple[Finding, ...] | None = None  # the rules' findings, when the rules ran
    loads: tuple[LoadPoint, ...] | None = None  # a detector's post-processing per NMS load, when asked for
    # A detector's stages set by module path ([tool.netprof.stages]), over those its module names give.
    stage_modules: StageModules = field(default_factory=dict)

    @property
    def op_seconds(self) -> dict[int, float] | None:
        """Op id -> measured median seconds; ``None`` when the model was not timed."""
        return None if self.timing is None else {op.id: op.time.median for op in self.timing.ops}

    @property
    def fusion(self) -> Fusion | None:
        """What the deployment runtime the model was timed in fused away; ``None`` for eager or untimed."""
        if self.timing is None or self.timing.runtime == "eager":
            return None
        return Fusion(self.timing.runtime, self.timing.fused_into)

    @property
    def op_predicted_s(self) -> dict[int, float] | None:
        """Op id -> predicted seconds; ``None`` without a prediction."""
        return None if self.prediction is None else {op.id: op.predicted_s for op in self.prediction.ops}

    @property
    def stages(self) -> tuple[Stage, ...] | None:
        """A detector's stages with their counts, measured and predicted seconds; ``None`` for a model
        that is not a detector (``netprof.detection``)."""
        return split(self.analysis, self.op_seconds, self.op_predicted_s, self.stage_modules)
