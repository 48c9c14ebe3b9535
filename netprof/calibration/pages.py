"""What a byte of fresh pages costs here: the ceiling on an eager profile's fresh-pages price.

A grouped convolution's large per-call buffers reach a network as fresh pages (``transient_bytes``): a
page fault and a zeroed page per 4 KiB. The calibration fits that price on its synthetic networks, where
it shares the work with the bytes past the cache and the kinds' own per-byte costs, and the fit cannot
tell them apart: on the Xeon VM, as the probed cache moved from 73-84 to 41 MiB between calibrations,
the fitted price went from 480-550 to 730-950 ps a byte, while page faults cost 210-255 ps a byte, and
the batch-8 predictions of depthwise-heavy networks rose with it to 1.26-1.33x. So the price is held at
most at what this machine's page faults cost, measured directly: writing a freshly allocated buffer
against writing one already mapped. The buffer is larger than glibc's largest mmap threshold (32 MiB),
so every allocation maps fresh pages and every free hands them back.
"""

from __future__ import annotations

import statistics
import time

import torch

PROBE_BYTES = 64 * 2**20
ROUNDS = 7


def page_fault_cost(nbytes: int = PROBE_BYTES, rounds: int = ROUNDS) -> float:
    """Seconds per byte that writing ``nbytes`` of fresh pages costs beyond writing mapped ones (median of
    ``rounds``; 0 if it measured nothing)."""
    elements = nbytes // 4
    mapped = torch.zeros(elements)
    fresh_s, mapped_s = [], []
    for _ in range(rounds):
        begin = time.perf_counter()
        torch.empty(elements).fill_(1.0)  # allocated, faulted in page by page, freed: handed back
        fresh_s.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        mapped.fill_(1.0)
        mapped_s.append(time.perf_counter() - begin)
    return max(0.0, (statistics.median(fresh_s) - statistics.median(mapped_s)) / nbytes)
