"""Benchmarks that time networks on this machine, next to published numbers.

``netprof bench guidelines`` (``netprof.cli.bench``) rebuilds the guideline experiments of ShuffleNet V2
(Ma et al. 2018, Tables 1-4), times them and says whether each table's trend holds here:

    >>> from netprof.bench import Settings, run_guidelines
    >>> result = run_guidelines(Settings.for_run(quick=True))
    >>> [e.verdict.holds for e in result.experiments]

The chart, ``netprof.bench.chart.plot_guidelines(fig, result)``, imports matplotlib only when called.
"""

from netprof.bench.guidelines import GuidelinesResult, Settings, load, run_guidelines
from netprof.bench.trend import Speed, TrendRule, Verdict, judge

__all__ = ["GuidelinesResult", "Settings", "Speed", "TrendRule", "Verdict", "judge", "load", "run_guidelines"]
