"""Charts of timed analyses, in matplotlib's object-oriented style.

Every ``plot_*`` function draws on an ``Axes`` (or a ``Figure``) the caller
made and returns the artists it added; nothing touches pyplot's global state,
and matplotlib is imported only when a figure is actually made
(``netprof.charts.files``), so ``import netprof`` never pays for it.

=================  ==========================================================
plot_layers        FLOPs vs latency per op, log-log; 0-mult_adds ops on a strip
plot_roofline      every op on the calibrated roofline
plot_breakdown     ShuffleNet V2 Figure-2 stacked bars, one per model
plot_versus        latency vs mult_adds or MAC across models, with Spearman rho
plot_whatif        compression variants' latency vs mult_adds, the base's proportional line
=================  ==========================================================
"""

from netprof.charts.breakdown import plot_breakdown
from netprof.charts.layers import plot_layers
from netprof.charts.roofline import plot_roofline
from netprof.charts.versus import plot_comparison, plot_versus
from netprof.charts.whatif import plot_whatif

__all__ = ["plot_breakdown", "plot_comparison", "plot_layers", "plot_roofline", "plot_versus", "plot_whatif"]
