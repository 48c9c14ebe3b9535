"""OpenVINO on the CPU: a plain compiled model for latency, one with performance counters for kernels.

``InferRequest.get_profiling_info()`` gives each runtime node's ``real_time``
after a run; the runtime model's nodes carry ``originalLayersNames``, the
original (ONNX) nodes fused into each, so OpenVINO names its own join.

The CPU plugin counts each node's time in whole microseconds, cut down
(``PerfCount`` adds ``duration_cast<microseconds>`` of each run), so a kernel
reads on average half a microsecond short: 50-65 us over the 106-133 kernels of
ShuffleNet V2 or EfficientNet-B0. ``TRUNCATION_S`` is added back to each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from netprof.runtimes.export import ExportedModel
from netprof.runtimes.kernels import Kernel, timed

TRUNCATION_S = 0.5e-6  # what a count cut down to whole microseconds loses, on average


def compile_options(threads: int, profiling: bool) -> dict[str, object]:
    return {
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "PERF_COUNT": "YES" if profiling else "NO",
    }


def default_precision() -> str:
    """The precision OpenVINO's CPU plugin computes a float32 model in unless told otherwise."""
    import openvino as ov

    return ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()


def precision_notes(precision: str) -> list[str]:
    """Where the CPU has bfloat16 or float16 arithmetic, OpenVINO computes in it by default (its
    ``INFERENCE_PRECISION_HINT``): its times are of that precision, which a report must say."""
    if precision == "f32":
        return []
    return [
        (
            f"OpenVINO ran the model in {precision}, its default inference precision on this CPU, not in "
            "float32: its times are of that precision"
        )
    ]


class OpenVino:
    name = "openvino"

    def __init__(self, exported: ExportedModel, feeds: Sequence[np.ndarray], threads: int) -> None:
        import openvino as ov

        core = ov.Core()
        model = core.read_model(str(exported.path))
        self._profiled_model = core.compile_model(model, "CPU", compile_options(threads, True))
        self.plain = core.compile_model(model, "CPU", compile_options(threads, False)).create_infer_request()
        self.profiled = self._profiled_model.create_infer_request()
        self.exported = exported
        self.feeds = list(feeds)
        self._times: list[dict[str, float]] = []
        self._executed: dict[str, tuple[str, str]] = {}

    def plain_run(self) -> float:
        return timed(lambda: self.plain.infer(self.feeds))

    def profiled_run(self) -> float:
        seconds = timed(lambda: self.profiled.infer(self.feeds))
        times = {}
        for info in self.profiled.get_profiling_info():
            if info.status.name == "EXECUTED":
                times[info.node_name] = info.real_time.total_seconds() + TRUNCATION_S
                self._executed.setdefault(info.node_name, (info.node_type, info.exec_type))
        self._times.append(times)
        return seconds

    def kernel_times(self) -> list[dict[str, float]]:
        return list(self._times)

    def kernels(self) -> Sequence[Kernel]:
        """Runtime nodes that ran, with their original layers; OpenVINO names a layer by its ONNX node's
        name, or, for a node it rebuilt (``Gemm`` as ``MatMul`` and ``Add``), by the tensor it writes."""
        names = {node.name for node in self.exported.nodes}
        writer = {tensor: node.name for node in self.exported.nodes for tensor in node.outputs}
        kernels = []
        for node in self._profiled_model.get_runtime_model().get_ordered_ops():
            name = node.get_friendly_name()
            if name not in self._executed:
                continue
            original = str(node.get_rt_info()["originalLayersNames"].astype(str))
            node_type, exec_type = self._executed[name]
            layers = [writer.get(n, n) if n not in names else n for n in original.split(",") if n]
            kernels.append(Kernel(name, node_type, exec_type, tuple(dict.fromkeys(layers))))
        return tuple(kernels)

    def notes(self) -> list[str]:
        return precision_notes(self._profiled_model.get_property("INFERENCE_PRECISION_HINT").get_type_name())

    def close(self) -> None:
        self.plain = self.profiled = self._profiled_model = None
