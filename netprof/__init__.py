"""netprof: count, check and time the cost of a PyTorch model, op by op.

>>> import netprof, torch, torchvision
>>> analysis = netprof.analyze(torchvision.models.mobilenet_v2(), torch.randn(1, 3, 224, 224))
>>> analysis.totals.mult_adds
>>> result = netprof.run(model, x, timing=netprof.TimingOptions(repeat=20))
>>> result.timing.disagreements[0].describe()
"""

from netprof.analysis import Analysis
from netprof.capture.run import CaptureError
from netprof.capture.workload import Forward, Workload
from netprof.costs import CONVENTIONS
from netprof.environment import __version__
from netprof.errors import NetprofError
from netprof.pipeline import Result, analyze, run
from netprof.timing.run import TimingOptions

__all__ = [
    "CONVENTIONS",
    "Analysis",
    "CaptureError",
    "Forward",
    "NetprofError",
    "Result",
    "TimingOptions",
    "Workload",
    "__version__",
    "analyze",
    "run",
]
