"""The one path from a model to its results, which every command, benchmark and the Python API take.

    spec or module + workload -> capture -> analysis -> [timing] [crosscheck] -> Result

A ``Result`` carries the analysis and whatever was computed beside it; the
analysis knows nothing of those. A new kind of run (a training step, prefill and
decode) is a new ``Workload``; a new result (a prediction, a memory timeline) is
a new field here, filled by one more step, with no change to ``Analysis``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from netprof import units
from netprof.analysis import Analysis, build
from netprof.capture.ir import TensorMeta
from netprof.capture.loader import Builder, BuilderError, LoadedModel, load
from netprof.capture.run import CaptureError, capture, needs_data
from netprof.capture.workload import Forward, TrainStep, Workload, as_workload, input_tensors
from netprof.config import Config
from netprof.crosscheck import Crosscheck, against_fvcore
from netprof.devices import CAPTURE_MODES
from netprof.environment import available_memory
from netprof.errors import one_line
from netprof.prediction import DeviceProfile, Prediction
from netprof.prediction import predict as predict_latency
from netprof.rules import Finding
from netprof.rules import run as run_rules
from netprof.timing.attribution import Timing
from netprof.timing.ranking import spec_name
from netprof.timing.run import TimingOptions, device_of, ensure_runnable, time_analysis, to_device


@dataclass(frozen=True)
class Result:
    """One model's analysis and what was computed beside it."""

    analysis: Analysis
    timing: Timing | None = None  # measured op times, when timed
    crosscheck: Crosscheck | None = None  # another counter's view, when asked for
    prediction: Prediction | None = None  # predicted latency on a device profile, when asked for

    @property
    def op_seconds(self) -> dict[int, float] | None:
        """Op id -> measured median seconds; ``None`` when the model was not timed."""
        return None if self.timing is None else {op.id: op.time.median for op in self.timing.ops}

    @property
    def op_predicted_s(self) -> dict[int, float] | None:
        """Op id -> predicted seconds; ``None`` without a prediction."""
        return None if self.prediction is None else {op.id: op.predicted_s for op in self.prediction.ops}


def analyze(
    model: nn.Module,
    workload: Workload | Any,
    *,
    mode: str = "auto",
    name: str | None = None,
    notes: tuple[str, ...] = (),
    memory: bool = False,
) -> Analysis:
    """Capture one run of ``workload`` on ``model`` (``mode``: meta, fake, real or auto) and price every op;
    with ``memory``, also follow every tensor's life (``Analysis.memory``)."""
    workload = as_workload(workload)
    recorded = capture(model, workload, mode, memory)
    return build(model, recorded, name or type(model).__name__, _input_metas(workload), notes)


def run(
    model: nn.Module,
    workload: Workload | Any,
    *,
    mode: str = "auto",
    name: str | None = None,
    notes: tuple[str, ...] = (),
    timing: TimingOptions | None = None,
    crosscheck: bool = False,
    memory: bool = False,
) -> Result:
    """Analyze, and with ``timing`` also time every op on a real run; with ``crosscheck`` compare with fvcore.

    A timed model is captured for real on the timing device, so the timed ops are
    the analysed ones. The model is left exactly as it was.
    """
    workload = as_workload(workload)
    name = name or type(model).__name__
    if timing is None:
        analysis = analyze(model, workload, mode=mode, name=name, notes=notes, memory=memory)
        measured = None
    else:
        analysis, measured = _timed(model, workload, mode, name, notes, timing, memory)
    result = Result(analysis, measured)
    return add_crosscheck(result, model, workload) if crosscheck else result


def _timed(
    model: nn.Module,
    workload: Workload,
    mode: str,
    name: str,
    notes: tuple[str, ...],
    options: TimingOptions,
    memory: bool,
) -> tuple[Analysis, Timing]:
    if mode not in ("auto", "real"):
        raise CaptureError(
            f"timing runs the model for real: capture mode {mode!r} cannot be timed (use auto or real)"
        )
    device = device_of(options.device)
    ensure_runnable(model)
    if device.type == "cpu":
        recorded = capture(model, workload, "real", memory)
    else:  # the graph of the device that is timed: kernels and their choice differ across devices
        recorded = capture(*to_device(model, workload, device), "real", memory)
    analysis = build(model, recorded, name, _input_metas(workload), notes)
    measured = time_analysis(
        model,
        workload,
        analysis,
        device=device,
        repeat=options.repeat,
        budget_s=options.budget_s,
        threads=options.threads,
    )
    return analysis, measured


def add_crosscheck(result: Result, model: nn.Module, workload: Workload | Any) -> Result:
    """``result`` with fvcore's counts of the same model beside netprof's, per op family."""
    workload = as_workload(workload)
    if not isinstance(workload, Forward) or workload.kwargs:
        raise CaptureError("the fvcore crosscheck runs a forward pass with positional arguments only")
    return dataclasses.replace(result, crosscheck=against_fvcore(model, workload.args, result.analysis))


def add_prediction(result: Result, profile: DeviceProfile) -> Result:
    """``result`` with its latency predicted on ``profile``'s device (nothing runs)."""
    return dataclasses.replace(result, prediction=predict_latency(result.analysis, profile))


def predict(
    model: nn.Module,
    workload: Workload | Any,
    profile: DeviceProfile,
    *,
    mode: str = "meta",
    name: str | None = None,
    notes: tuple[str, ...] = (),
) -> Result:
    """The model's latency on ``profile``'s device, from a capture on meta: no weight is read, nothing runs."""
    analysis = analyze(model, workload, mode=mode, name=name, notes=notes)
    return add_prediction(Result(analysis), profile)


def _input_metas(workload: Workload) -> tuple[TensorMeta, ...]:
    return tuple(TensorMeta.of(tensor) for tensor in input_tensors(workload))


def run_loaded(
    loaded: LoadedModel,
    *,
    device: str = "auto",
    timing: TimingOptions | None = None,
    notes: tuple[str, ...] = (),
    train: TrainStep | None = None,
    memory: bool = False,
) -> Result:
    """``run`` on a model that ``load`` built for ``device`` (meta builds on meta; cuda on the CPU), with
    ``device`` deciding the capture mode and where ``timing`` runs. ``train`` (its optimizer and loss)
    runs a training step on the loaded inputs instead of a forward pass."""
    if timing is not None:
        if device in ("meta", "fake"):
            raise CaptureError(
                f"--time runs the model for real: it cannot be combined with --device {device}"
            )
        timing = dataclasses.replace(timing, device="cuda" if device == "cuda" else "cpu")
    workload = (
        loaded.workload
        if train is None
        else dataclasses.replace(train, args=loaded.inputs, kwargs=loaded.kwargs)
    )
    return run(
        loaded.model,
        workload,
        mode=CAPTURE_MODES[device],
        name=loaded.name,
        notes=notes + loaded.notes,
        timing=timing,
        memory=memory,
    )


def load_and_run(
    spec: str | Builder,
    input_shapes: Sequence[tuple[int, ...]] | None = None,
    dtype: torch.dtype = torch.float32,
    device: str = "auto",
    *,
    timing: TimingOptions | None = None,
    notes: tuple[str, ...] = (),
    weights: bool = False,
    available: Callable[[], int | None] | None = None,
    hf_class: str | None = None,
    train: TrainStep | None = None,
    memory: bool = False,
) -> tuple[LoadedModel, Result]:
    """Build ``spec``'s model and analyze it: with ``device="auto"``, on meta first, unless the
    caller times it or needs its ``weights`` (a crosscheck runs another counter on the real model).

    A builder or forward that cannot run on meta for want of data gets a real build on the CPU,
    after a check that its weights, twice (a real run works on a copy), fit in the memory
    ``available`` says is free (default: the kernel's ``MemAvailable``); a model that would not fit
    is refused with both numbers.
    """
    shapes = list(input_shapes) if input_shapes else None
    step = {"train": train, "memory": memory}
    if device != "auto" or timing is not None or weights:
        loaded = load(spec, shapes, dtype, device, hf_class)
        return loaded, run_loaded(loaded, device=device, timing=timing, notes=notes, **step)
    on_meta, built_on_cpu = load_on_meta(spec, shapes, dtype, hf_class)
    if built_on_cpu:
        return on_meta, run_loaded(on_meta, device="auto", notes=notes + built_on_cpu, **step)
    # Memory depends on which kernels run: fake CPU tensors dispatch attention to the fused kernel a
    # real run uses, meta tensors to the unfused math path that keeps its score matrices.
    without_data = "fake" if train is not None or memory else "meta"
    try:
        return on_meta, run_loaded(on_meta, device=without_data, notes=notes, **step)
    except CaptureError as error:
        if not needs_data(error.__cause__ or error):
            raise
        _refuse_unless_it_fits(on_meta.model, (available or available_memory)(), error)
    loaded = load(spec, shapes, dtype, "cpu", hf_class)
    return loaded, run_loaded(loaded, device="auto", notes=notes, **step)


def load_on_meta(
    spec: str | Builder,
    input_shapes: Sequence[tuple[int, ...]] | None = None,
    dtype: torch.dtype = torch.float32,
    hf_class: str | None = None,
) -> tuple[LoadedModel, tuple[str, ...]]:
    """``spec``'s model built on meta (no weight allocated), else on the CPU when its builder needs
    data; with the note that says so in the second case."""
    shapes = list(input_shapes) if input_shapes else None
    try:
        return load(spec, shapes, dtype, "meta", hf_class), ()
    except BuilderError as error:
        note = f"the builder cannot run on meta ({one_line(error.__cause__ or error)}): built on the CPU"
        return load(spec, shapes, dtype, "cpu", hf_class), (note,)


def _refuse_unless_it_fits(model: nn.Module, free: int | None, why: CaptureError) -> None:
    weights = sum(t.nbytes for t in (*model.parameters(), *model.buffers()))
    if free is not None and 2 * weights > free:
        raise CaptureError(
            f"{why}; a real run would need {units.nbytes(2 * weights)} (the model's {units.nbytes(weights)} of "
            f"weights, twice: netprof runs a copy) and {units.nbytes(free)} is available: refused. "
            "Analyze what runs without data with --device meta"
        )


def check(result: Result, model: nn.Module | None, config: Config) -> list[Finding]:
    """The rules' findings on one result, configured by ``config`` (timed results carry time shares)."""
    return run_rules(
        result.analysis,
        model=model,
        settings=config.rules,
        ignore=config.ignore,
        plugins=config.plugins,
        op_seconds=result.op_seconds,
        op_predicted_s=result.op_predicted_s,
    )


def time_specs(
    specs: Sequence[str],
    options: TimingOptions,
    *,
    input_shapes: Sequence[tuple[int, ...]] | None = None,
    progress: Callable[[str], None] | None = None,
    profile: DeviceProfile | None = None,
) -> list[tuple[str, Result]]:
    """Load and time each spec in turn (on the CPU build), and predict it on ``profile`` when given;
    ``(short name, result)`` in the given order."""
    done: list[tuple[str, Result]] = []
    taken: set[str] = set()
    for spec in specs:
        name = spec_name(spec, taken)
        taken.add(name)
        loaded = load(spec, list(input_shapes) if input_shapes else None, device="cpu")
        if progress:
            progress(f"timing {name} ...")
        result = run_loaded(loaded, device=options.device, timing=options)
        done.append((name, result if profile is None else add_prediction(result, profile)))
    return done
