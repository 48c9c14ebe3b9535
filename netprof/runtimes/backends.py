"""The runtimes netprof runs an exported model in, each behind the same small interface.

A backend opens two sessions of one exported model with the same thread count:
a plain one (the runtime's own latency, no profiler) and a profiled one whose
every run reports each executed kernel's time. ``kernels()`` says which nodes of
``exported`` each kernel covers (``netprof.runtimes.join``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from netprof.errors import NetprofError
from netprof.runtimes.export import ExportedModel
from netprof.runtimes.kernels import Kernel

# "eager" is PyTorch itself, timed op by op by netprof.timing; "compile" is torch.compile (Inductor),
# which needs no package beyond torch, only a C++ compiler.
RUNTIMES = ("eager", "onnxruntime", "openvino", "executorch", "compile")
_EXTRAS = {
    "onnxruntime": ("onnxruntime", "onnx"),
    "openvino": ("openvino", "openvino"),
    "executorch": ("executorch", "executorch"),
}


class RuntimeMissing(NetprofError):
    """The runtime's package is not installed."""


class Backend(Protocol):
    name: str
    # The graph whose node names ``kernels()`` gives: the exported one, or for ``compile`` the graph
    # Inductor was given, known once it has compiled.
    exported: ExportedModel

    def plain_run(self) -> float:
        """Seconds of one inference in the plain session."""

    def profiled_run(self) -> float:
        """Seconds of one inference in the profiled session."""

    def kernel_times(self) -> list[dict[str, float]]:
        """Per profiled run, in order: kernel name -> seconds."""

    def kernels(self) -> Sequence[Kernel]:
        """The executed kernels, in execution order (after at least one profiled run)."""

    def notes(self) -> list[str]:
        """What the runtime's profile cannot say, for the report's warnings (after the kernels)."""

    def close(self) -> None:
        """Release the sessions (and the profiler's files)."""


def require(runtime: str) -> None:
    """Nothing if the runtime's package is installed, else one line naming the extra that installs it.

    Looked up, not imported: importing ONNX Runtime writes a telemetry file in the user's cache, which
    a request refused for another reason must not leave behind.
    """
    if runtime == "compile":
        from netprof.runtimes.inductor import compiler

        if compiler() is None:
            raise RuntimeMissing(
                "--runtime compile needs a C++ compiler for Inductor's CPU kernels: install g++ or set $CXX"
            )
        return
    if runtime not in _EXTRAS:
        raise RuntimeMissing(f"unknown runtime {runtime!r}: one of {', '.join(RUNTIMES)}")
    module, extra = _EXTRAS[runtime]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules (tests do)
        found = False
    if not found:
        raise RuntimeMissing(
            f"--runtime {runtime} needs the {module} package: pip install 'netprof[{extra}]'"
        )


def backend_for(runtime: str, exported: ExportedModel, feeds: Sequence[np.ndarray], threads: int) -> Backend:
    """A backend of ``runtime`` with ``exported`` loaded in both sessions, inputs ``feeds``."""
    require(runtime)
    if runtime == "onnxruntime":
        from netprof.runtimes.onnxruntime import OnnxRuntime

        return OnnxRuntime(exported, feeds, threads)
    if runtime == "executorch":
        from netprof.runtimes.executorch import ExecuTorch

        return ExecuTorch(exported, feeds, threads)
    if runtime == "compile":
        from netprof.runtimes.inductor import Inductor

        return Inductor(exported, feeds, threads)
    from netprof.runtimes.openvino import OpenVino

    return OpenVino(exported, feeds, threads)
