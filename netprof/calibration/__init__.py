"""Device profiles made here: micro-benchmarks timed on this machine and fitted (``netprof calibrate``)."""
