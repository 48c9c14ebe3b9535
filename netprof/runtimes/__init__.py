"""Time, attribute and predict a model as a deployment runtime runs it, not as eager PyTorch does.

A runtime fuses convolution, batch-norm and activation into one kernel, folds
constants and picks other kernels, so which FLOPs cost time changes. netprof
exports the model (``export``: ONNX; ``executorch``: a ``.pte`` lowered to
XNNPACK; ``inductor``: a ``torch.export`` program for ``torch.compile``), runs it
in the runtime under a profiler (``onnxruntime``, ``openvino``, ``executorch``,
``inductor`` with ``torch.profiler``), and joins every executed kernel
back to the captured ATen ops it computes (``join``), so that kernel times roll up
to the model's modules and a fused group is visible as one. A runtime profile
(``profile``) holds its measured fusion pairs (``fusion``), with which ``predict``
prices the kernels a runtime would run, without running it.

Each runtime but ``compile`` (torch itself, with a C++ compiler) is an optional
extra: ``pip install 'netprof[onnx]'``, ``'netprof[openvino]'`` or
``'netprof[executorch]'``; without it, a request for that runtime is one line.
"""

from netprof.runtimes.backends import RUNTIMES, RuntimeMissing, backend_for

__all__ = ["RUNTIMES", "RuntimeMissing", "backend_for"]
