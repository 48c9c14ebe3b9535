"""The local engine: one forked worker process per model, ``jobs`` at a time.

Each model runs in a fresh fork of this process, so a model that crashes, hangs
or takes all memory costs its own row only: the parent kills a worker past its
timeout or its memory limit (its resident set, read from ``/proc``) and writes
the row as failed with the reason. Forking shares what is already imported and
needs no pickling, so a search space's builders can be closures. Timed workers
each get a core of their own (``sched_setaffinity``) and one thread: two timing
jobs never share a core. A worker killed by Ctrl-C stops the sweep, as Ctrl-C
stops the parent.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import torch

from netprof.sweep.row import SweepOptions, failed, measure
from netprof.sweep.sources import Job

_POLL_S = 0.2
_JOBS: list[Job] = []  # what the forked workers read; set before they fork


@dataclass
class _Worker:
    index: int
    process: multiprocessing.process.BaseProcess
    reader: Connection
    started: float
    core: int | None


def _child(index: int, options: SweepOptions, writer: Connection, core: int | None) -> None:
    # Ctrl-C in a terminal reaches the workers too: they die of it quietly, and the parent stops the sweep.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if core is not None:
        os.sched_setaffinity(0, {core})
        torch.set_num_threads(1)
    writer.send(measure(_JOBS[index], options))
    writer.close()


def _resident_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _death(process: multiprocessing.process.BaseProcess) -> str:
    code = process.exitcode
    if code == -signal.SIGINT:  # Ctrl-C: the sweep stops, rather than write a failed row that --resume skips
        raise KeyboardInterrupt
    if code is not None and code < 0:
        return f"worker died: {signal.Signals(-code).name}"
    return f"worker exited with status {code} without a result"


def run_local(
    jobs: list[Job],
    options: SweepOptions,
    workers: int,
    timeout_s: float | None,
    memory_limit: int | None,
    on_start: Callable[[Job], None] = lambda job: None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(job index, row)`` for every job, in the order they finish."""
    global _JOBS
    _JOBS = jobs
    context = multiprocessing.get_context("fork")
    cores = sorted(os.sched_getaffinity(0)) if options.timing is not None else []
    if cores:
        workers = min(workers, len(cores))
    pending = list(range(len(jobs)))
    running: list[_Worker] = []
    try:
        while pending or running:
            while pending and len(running) < workers:
                index = pending.pop(0)
                free = [core for core in cores if core not in {worker.core for worker in running}]
                core = free[0] if cores else None
                reader, writer = context.Pipe(duplex=False)
                process = context.Process(target=_child, args=(index, options, writer, core), daemon=True)
                on_start(jobs[index])
                process.start()
                writer.close()
                running.append(_Worker(index, process, reader, time.monotonic(), core))
            ready = wait([worker.reader for worker in running], timeout=_POLL_S)
            for worker in list(running):
                row = _outcome(worker, ready, jobs[worker.index], timeout_s, memory_limit)
                if row is not None:
                    running.remove(worker)
                    yield worker.index, row
    finally:
        for worker in running:
            worker.process.kill()
            worker.process.join()


def _outcome(
    worker: _Worker, ready: list[Any], job: Job, timeout_s: float | None, memory_limit: int | None
) -> dict[str, Any] | None:
    """The worker's row once it has one (or was stopped); None while it still runs."""
    if worker.reader in ready or worker.reader.poll():
        try:
            row = worker.reader.recv()
        except EOFError:
            worker.process.join()
            return failed(job, _death(worker.process))
        worker.process.join()
        return row
    elapsed = time.monotonic() - worker.started
    if timeout_s is not None and elapsed > timeout_s:
        return _stop(worker, job, f"timed out after {timeout_s:g} s")
    resident = _resident_bytes(worker.process.pid) if memory_limit is not None else None
    if resident is not None and memory_limit is not None and resident > memory_limit:
        return _stop(worker, job, f"over the memory limit: {resident / 1e9:.2f} GB resident")
    if not worker.process.is_alive():
        worker.process.join()
        return failed(job, _death(worker.process))
    return None


def _stop(worker: _Worker, job: Job, reason: str) -> dict[str, Any]:
    worker.process.kill()
    worker.process.join()
    return failed(job, reason)
