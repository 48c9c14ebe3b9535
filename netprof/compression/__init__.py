"""Compression what-ifs: a model pruned, narrowed, factorized or quantized, priced before anyone trains it.

``pruning`` removes output channels through Torch-Pruning's dependency graph (shared with ``netprof adapt``).
"""
