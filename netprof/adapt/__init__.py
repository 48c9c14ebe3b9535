"""NetAdapt without fine-tuning: remove filters until a model's predicted latency meets a budget.

``search`` is the loop, over any way of pruning and pricing (``Space``); ``space`` binds it to
Torch-Pruning (``netprof.compression.pruning``) and netprof's predictor; ``run.adapt`` adapts one model
and measures the result; ``document`` is what every report of it reads. From a notebook::

    import netprof.adapt
    adapted = netprof.adapt.adapt(model, x, "0.6x", profile)   # profile: netprof.prediction.profile.cached(...)
    adapted.model, adapted.report.final.latency_predicted_s
"""

from netprof.adapt.budget import Budget, BudgetError, parse_budget
from netprof.adapt.document import AdaptReport
from netprof.adapt.run import Adaptation, AdaptError, adapt
from netprof.adapt.search import Step

__all__ = [
    "AdaptError",
    "AdaptReport",
    "Adaptation",
    "Budget",
    "BudgetError",
    "Step",
    "adapt",
    "parse_budget",
]
