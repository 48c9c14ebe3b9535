"""The Ray engine: the same rows as Ray tasks, on a running cluster or a local one.

Each model is one task (``max_retries=0``: a model that kills its worker is a
failed row, not a retry loop). Tasks time out inside the worker (a ``Deadline``,
as Ray has no per-task timeout). Timed tasks ask for one unit of the custom
resource ``netprof_timing``: give each node ``--resources='{"netprof_timing": 1}'``
so that a node times one model at a time; a local cluster started here gets it.
``ray`` is an optional extra: ``pip install 'netprof[ray]'``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from netprof.deadlines import Deadline
from netprof.errors import NetprofError, TimedOut
from netprof.sweep.row import SweepOptions, failed, measure
from netprof.sweep.sources import Job

TIMING_RESOURCE = "netprof_timing"


class RayError(NetprofError):
    """Ray is missing or its cluster cannot be reached."""


def measure_within(job: Job, options: SweepOptions, timeout_s: float | None) -> dict[str, Any]:
    """``measure``, stopped after ``timeout_s`` seconds by an alarm in the worker."""
    message = f"timed out after {timeout_s:g} s" if timeout_s is not None else ""
    try:
        with Deadline(timeout_s, message):
            return measure(job, options)
    except TimedOut:  # a BaseException: the model's own ``except Exception`` cannot keep it
        return failed(job, message)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayError("--ray needs ray: pip install 'netprof[ray]'") from None
    return ray


def run_ray(
    jobs: list[Job],
    options: SweepOptions,
    address: str | None,
    timeout_s: float | None,
    cpus: int | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(job index, row)`` for every job, in the order Ray finishes them."""
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(
                    num_cpus=cpus,
                    resources={TIMING_RESOURCE: 1},
                    log_to_driver=False,
                    include_dashboard=False,
                )
        except Exception as error:
            raise RayError(
                f"cannot start or reach a Ray cluster at {address or 'this machine'}: {error}"
            ) from error
    task = ray.remote(max_retries=0)(measure_within)
    resources = {TIMING_RESOURCE: 1} if options.timing is not None else {}
    waiting = {
        task.options(num_cpus=1, resources=resources).remote(job, options, timeout_s): i
        for i, job in enumerate(jobs)
    }
    try:
        while waiting:
            done, _ = ray.wait(list(waiting), num_returns=1)
            for ref in done:
                index = waiting.pop(ref)
                try:
                    row = ray.get(ref)
                except Exception as error:  # noqa: BLE001 - the worker died: its row says so
                    row = failed(jobs[index], f"worker died: {type(error).__name__}")
                yield index, row
    finally:
        for ref in waiting:
            ray.cancel(ref, force=True)
        if started_here:
            with contextlib.suppress(Exception):
                ray.shutdown()
