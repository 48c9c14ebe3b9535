"""Time the real kernels of a model, op by op, and show where FLOPs and speed disagree.

>>> analysis = netprof.analyze(model, x, time=True)
>>> analysis.timing.disagreements[0].describe()
'max_pool2d_with_indices: 0% of mult_adds, 11% of time'
"""

from netprof.timing.attribution import (
    Disagreement,
    GroupTiming,
    KernelTiming,
    OpTiming,
    Timing,
    attribute,
    group,
    roofline,
)
from netprof.timing.calibrate import Calibration
from netprof.timing.figure2 import FIGURE2, figure2_category
from netprof.timing.measurement import Measurement
from netprof.timing.run import DEFAULT_BUDGET_S, DivergenceWarning, Runner, TimingError, time_analysis

__all__ = [
    "DEFAULT_BUDGET_S",
    "FIGURE2",
    "Calibration",
    "Disagreement",
    "DivergenceWarning",
    "GroupTiming",
    "KernelTiming",
    "Measurement",
    "OpTiming",
    "Runner",
    "Timing",
    "TimingError",
    "attribute",
    "figure2_category",
    "group",
    "roofline",
    "time_analysis",
]
