"""The device names netprof takes, and what each one means: one vocabulary for every command line,
the config file and the checks behind them.

``--device`` of the analysing commands (and ``device`` of a ``[tool.netprof]`` model) says where
the model is built and how its graph is captured: ``meta`` and ``fake`` never run a kernel,
``cpu`` and ``cuda`` run the model for real, and ``auto`` tries meta, then fake, then a real run.
Timing, calibration and prediction are of real hardware: ``cpu`` or ``cuda`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Each analysing --device and the capture mode it means (netprof.capture.run's modes).
CAPTURE_MODES: Mapping[str, str] = MappingProxyType(
    {"auto": "auto", "meta": "meta", "fake": "fake", "cpu": "real", "cuda": "real"}
)
CAPTURE_DEVICES = tuple(CAPTURE_MODES)

# Where netprof times, calibrates a roof or a profile, and predicts for.
TIMING_DEVICES = ("cpu", "cuda")


def timing_device(device: str) -> str:
    """Where ``--time`` runs for an analysing ``device``: on the GPU for ``cuda``, else on the CPU."""
    return "cuda" if device == "cuda" else "cpu"
