"""netprof: count, check and time the cost of a PyTorch model, op by op.

>>> import netprof, torch, torchvision
>>> analysis = netprof.analyze(torchvision.models.mobilenet_v2(), torch.randn(1, 3, 224, 224))
>>> analysis.totals.mult_adds
>>> result = netprof.run(model, x, timing=netprof.TimingOptions(repeat=20))
>>> result.timing.disagreements[0].describe()
>>> netprof.whatif(model, x, ["width=0.5", "quantize=int8"]).variants[0].totals  # compression what-ifs
>>> netprof.register_formula("mylib::flash_attn", my_cost)  # my_cost(call: netprof.OpCall) -> netprof.Cost
"""

from netprof.analysis import Analysis
from netprof.capture.ir import OpCall, TensorMeta
from netprof.capture.run import CaptureError
from netprof.capture.workload import Forward, Workload
from netprof.compression.whatif import whatif
from netprof.costs import CONVENTIONS
from netprof.costs.custom import register_formula
from netprof.costs.registry import FormulaPluginError
from netprof.costs.types import Category, Cost
from netprof.environment import __version__
from netprof.errors import NetprofError
from netprof.pipeline import Result, analyze, run
from netprof.timing.run import TimingOptions

__all__ = [
    "CONVENTIONS",
    "Analysis",
    "CaptureError",
    "Category",
    "Cost",
    "FormulaPluginError",
    "Forward",
    "NetprofError",
    "OpCall",
    "Result",
    "TensorMeta",
    "TimingOptions",
    "Workload",
    "__version__",
    "analyze",
    "register_formula",
    "run",
    "whatif",
]
