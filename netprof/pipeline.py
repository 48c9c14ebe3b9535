"""The one path from a model to its results, which every command, benchmark and the Python API take.

    RunRequest -> build -> capture -> analysis -> [timing] [stages] [crosscheck] [prediction] [rules] -> Result
    RunRequest with ``generation`` -> build -> prefill and decode phases -> [serving prediction] -> Result

A command turns its flags into one ``RunRequest`` and makes one call,
``execute``; a reporter turns the ``Result`` into its format. A new dimension of
a run (a runtime, a model transform) is a field of the request and of the
result, filled by one more step here.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from netprof import units
from netprof.analysis import Analysis, analyze, build, input_metas
from netprof.capture.huggingface import DEFAULT_TOKENS
from netprof.capture.loader import Builder, BuilderError, LoadedModel, load
from netprof.capture.run import CaptureError, capture, needs_data
from netprof.capture.workload import Forward, TrainingError, TrainStep, Workload, as_workload
from netprof.config import Config
from netprof.crosscheck import against_fvcore
from netprof.detection import StageModules, override_notes
from netprof.detection.load import DetectionLoadError, LoadPoint, load_point, with_candidates
from netprof.devices import CAPTURE_MODES, timing_device
from netprof.environment import available_memory
from netprof.errors import one_line
from netprof.prediction import DeviceProfile
from netprof.prediction import predict as predict_latency
from netprof.result import Result
from netprof.rules import Finding
from netprof.rules import run as run_rules
from netprof.runtimes.backends import require as require_runtime
from netprof.runtimes.predict import predict as predict_on_runtime
from netprof.runtimes.profile import RuntimeProfile
from netprof.runtimes.run import time_on_runtime
from netprof.serving import Roofline, analyze_generation, predict_generation
from netprof.serving.cache import DecodeError
from netprof.serving.phases import default_prefill
from netprof.timing.attribution import Timing
from netprof.timing.ranking import spec_name
from netprof.timing.run import TimingOptions, device_of, ensure_runnable, time_analysis, to_device

# The prompt a language model gets when the request names none: hf:'s natural token ids.
DEFAULT_PREFILL = DEFAULT_TOKENS[1]


@dataclass(frozen=True)
class Generate:
    """Prefill and decode of a language model: ``batch`` sequences of a ``prefill``-token prompt, then
    ``decode`` steps that reuse the model's KV cache; ``roofline`` predicts each phase on a stated device."""

    batch: int = 1
    prefill: int | None = None  # None: DEFAULT_PREFILL tokens, and the notes say so
    decode: int = 0
    roofline: Roofline | None = None


@dataclass(frozen=True)
class RunRequest:
    """Everything one run computes: which model on which inputs, and what to measure beside the counts."""

    spec: str | Builder
    input_shapes: Sequence[tuple[int, ...]] | None = None  # None: the builder's inputs, else 1x3x224x224
    dtype: torch.dtype = torch.float32
    device: str = "auto"  # a key of devices.CAPTURE_MODES
    hf_class: str | None = None  # the transformers auto class of an hf: spec
    notes: tuple[str, ...] = ()
    timing: TimingOptions | None = None  # time every op on a real run
    train: TrainStep | None = None  # a training step instead of a forward pass
    memory: bool = False  # follow every tensor's life
    crosscheck: bool = False  # fvcore's counts beside netprof's
    profile: DeviceProfile | None = None  # predict the latency on this device profile
    generation: Generate | None = None  # prefill and decode instead of one forward pass
    rules: Config | None = None  # run the rules with this configuration
    candidates: int | None = None  # a detector's NMS gets about this many boxes (netprof.detection.load)
    detections: tuple[int, ...] = ()  # post-processing at each of these candidate counts, beside the run
    # A detector's stages by module path ([tool.netprof.stages]), over those its module names give.
    stage_modules: StageModules = field(default_factory=dict)

    def validate(self) -> None:
        """Refuse, in one line, a combination no run can honour."""
        if self.device not in CAPTURE_MODES:
            raise CaptureError(f"unknown device {self.device!r}: one of {', '.join(CAPTURE_MODES)}")
        if self.timing is not None:
            _refuse_timing_without_data(self.device)
        if self.train is not None and (self.timing is not None or self.crosscheck):
            raise TrainingError(
                "--time and --crosscheck run one forward pass: they do not combine with --train"
            )
        if self.generation is not None:
            self._refuse_with_generation(self.generation)
        if (self.candidates is not None or self.detections) and (self.train is not None or self.memory):
            raise DetectionLoadError("--detections loads a detector's inference: drop --train and --memory")
        if self.timing is not None:  # last: it imports the runtime, which leaves files in the user's cache
            _refuse_runtime_off_cpu(self.timing.runtime, self.device)

    def _refuse_with_generation(self, generation: Generate) -> None:
        if self.train is not None or self.memory:
            raise TrainingError("--train and --memory count one pass or step: drop --prefill/--decode")
        if self.timing is not None or self.crosscheck:
            raise DecodeError("--time and --crosscheck analyze one forward pass: drop --prefill/--decode")
        if self.input_shapes:
            raise DecodeError(
                "--prefill and --decode make the token ids: use --batch and --prefill, not --input"
            )
        if self.rules is not None:
            raise DecodeError("the rules check one forward pass: drop --prefill/--decode")
        if self.candidates is not None or self.detections:
            raise DecodeError("--detections loads a detector's post-processing: drop --prefill/--decode")
        if self.profile is not None and generation.roofline is not None:
            raise DecodeError("predict on a profile or on a roofline, not both")


def _refuse_runtime_off_cpu(runtime: str, device: str) -> None:
    """A deployment runtime runs on this CPU, from an export: its package must be there."""
    if runtime == "eager":
        return
    if device not in ("auto", "cpu"):
        raise CaptureError(
            f"--runtime {runtime} runs on the CPU: it cannot be combined with --device {device}"
        )
    require_runtime(runtime)


def _refuse_timing_without_data(device: str) -> None:
    if CAPTURE_MODES[device] in ("meta", "fake"):
        raise CaptureError(f"--time runs the model for real: it cannot be combined with --device {device}")


def execute(
    request: RunRequest,
    progress: Callable[[Iterable[int]], Iterable[int]] = iter,
    available: Callable[[], int | None] | None = None,
) -> Result:
    """Build the requested model and compute everything ``request`` asks for, in one ``Result``.

    ``progress`` wraps the decode steps' loop (a progress bar) when there are any; ``available`` says
    how much memory a real build may take (``load_and_run``).
    The model is left exactly as it was built.
    """
    request.validate()
    if request.generation is not None:
        return _generate(request, request.generation, progress)
    loaded, result = load_and_run(request, available)
    if request.stage_modules:
        result = add_stage_modules(result, request.stage_modules)
    if request.crosscheck:
        result = add_crosscheck(result, loaded.model, loaded.workload)
    if request.profile is not None:
        result = add_prediction(result, request.profile)
    if request.rules is not None:
        result = dataclasses.replace(result, findings=tuple(check(result, loaded.model, request.rules)))
    if request.detections:
        result = dataclasses.replace(result, loads=tuple(_load_point(request, n) for n in request.detections))
    return result


def _load_point(request: RunRequest, candidates: int) -> LoadPoint:
    """The request's model run again with about ``candidates`` boxes into NMS: its post-processing."""
    at_load = dataclasses.replace(request, candidates=candidates, detections=(), crosscheck=False, rules=None)
    result = execute(at_load)
    return load_point(candidates, result.analysis, result.stages, result.op_seconds, result.op_predicted_s)


def _generate(
    request: RunRequest, generate: Generate, progress: Callable[[Iterable[int]], Iterable[int]]
) -> Result:
    prefill = generate.prefill or DEFAULT_PREFILL
    loaded, built_on_cpu = load_on_meta(request.spec, [(generate.batch, prefill)], hf_class=request.hf_class)
    prefill = generate.prefill or default_prefill(loaded.model, prefill)  # Whisper: a 4-token decoder prompt
    defaults = () if generate.prefill else (f"no --prefill given: a {prefill}-token prompt",)
    # Fake tensors by default: no weight runs, and attention dispatches to its fused kernel as in a real run.
    generation = analyze_generation(
        loaded.model,
        batch=generate.batch,
        prefill=prefill,
        decode=generate.decode,
        mode="fake" if request.device == "auto" else CAPTURE_MODES[request.device],
        name=request.spec if isinstance(request.spec, str) else loaded.name,
        notes=request.notes + defaults + loaded.notes + built_on_cpu,
        progress=progress,
    )
    device = generate.roofline or request.profile
    serving = None if device is None else predict_generation(generation, device)
    return Result(generation.prefill_analysis, generation=generation, serving=serving)


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
    # The graph of the device that is timed: kernels and their choice differ across devices.
    on_device, device_workload = (
        (model, workload) if device.type == "cpu" else to_device(model, workload, device)
    )
    first = capture(on_device, device_workload, "real", memory)
    warmed = _after_one_call(on_device, device_workload)
    recorded = capture(warmed, device_workload, "real", memory)
    if len(recorded.ops) != len(first.ops):
        later = f"the model's first call ran {len(first.ops)} ops and every later call {len(recorded.ops)}"
        notes += (f"{later} (it keeps state between calls, a cache): counted and timed is a later call",)
    analysis = build(model, recorded, name, input_metas(workload), notes)
    if options.runtime != "eager":
        return analysis, time_on_runtime(
            warmed,
            workload,
            analysis,
            options.runtime,
            repeat=options.repeat,
            budget_s=options.budget_s,
            threads=options.threads,
        )
    measured = time_analysis(
        warmed,
        workload,
        analysis,
        device=device,
        repeat=options.repeat,
        budget_s=options.budget_s,
        threads=options.threads,
    )
    return analysis, measured


def _after_one_call(model: nn.Module, workload: Workload) -> nn.Module:
    """A copy of ``model`` that has run ``workload`` once: what every timed pass after the warm-up runs.
    torchvision's detectors compute their anchors on the first call and reuse them from the second."""
    twin = copy.deepcopy(model)
    with workload.mode(twin):
        workload.run(twin, workload.inputs)
    return twin


def add_stage_modules(result: Result, stage_modules: StageModules) -> Result:
    """``result`` with a detector's stages set by module path (stage -> paths or globs) over those its
    module names give, and a note naming the patterns that match no module of a detector."""
    notes = override_notes(result.analysis.modules, stage_modules)
    analysis = dataclasses.replace(result.analysis, notes=result.analysis.notes + notes)
    return dataclasses.replace(result, analysis=analysis, stage_modules=stage_modules)


def add_crosscheck(result: Result, model: nn.Module, workload: Workload | Any) -> Result:
    """``result`` with fvcore's counts of the same model beside netprof's, per op family."""
    workload = as_workload(workload)
    if not isinstance(workload, Forward) or workload.kwargs:
        raise CaptureError("the fvcore crosscheck runs a forward pass with positional arguments only")
    return dataclasses.replace(result, crosscheck=against_fvcore(model, workload.args, result.analysis))


def add_prediction(result: Result, profile: DeviceProfile) -> Result:
    """``result`` with its latency predicted on ``profile``'s device (nothing runs); a runtime's profile
    prices the kernels that runtime fuses the ops into."""
    if isinstance(profile, RuntimeProfile):
        return dataclasses.replace(result, prediction=predict_on_runtime(result.analysis, profile))
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
        _refuse_timing_without_data(device)
        timing = dataclasses.replace(timing, device=timing_device(device))
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
    request: RunRequest, available: Callable[[], int | None] | None = None
) -> tuple[LoadedModel, Result]:
    """Build ``request``'s model and analyze it (its counts, timing and memory; ``execute`` adds the rest):
    with ``device="auto"``, on meta first, unless the request times it or needs its weights (a crosscheck
    runs another counter on the real model).

    A builder or forward that cannot run on meta for want of data gets a real build on the CPU,
    after a check that its weights, twice (a real run works on a copy), fit in the memory
    ``available`` says is free (default: the kernel's ``MemAvailable``); a model that would not fit
    is refused with both numbers.
    """
    spec, dtype, device, hf_class = request.spec, request.dtype, request.device, request.hf_class
    timing, notes, weights = request.timing, request.notes, request.crosscheck
    train, memory = request.train, request.memory
    shapes = list(request.input_shapes) if request.input_shapes else None
    step = {"train": train, "memory": memory}
    loaded_at = functools.partial(_at_load, candidates=request.candidates)
    if device == "meta" and timing is None and not weights:
        loaded, built_on_cpu = load_on_meta(spec, shapes, dtype, hf_class)
        loaded = loaded_at(loaded)
        return loaded, run_loaded(loaded, device="meta", notes=notes + built_on_cpu, **step)
    if device != "auto" or timing is not None or weights:
        loaded = loaded_at(load(spec, shapes, dtype, device, hf_class))
        return loaded, run_loaded(loaded, device=device, timing=timing, notes=notes, **step)
    on_meta, built_on_cpu = load_on_meta(spec, shapes, dtype, hf_class)
    on_meta = loaded_at(on_meta)
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
    loaded = loaded_at(load(spec, shapes, dtype, "cpu", hf_class))
    return loaded, run_loaded(loaded, device="auto", notes=notes, **step)


def _at_load(loaded: LoadedModel, candidates: int | None) -> LoadedModel:
    """``loaded`` with its detector set to pass about ``candidates`` boxes to NMS (a copy), with a note."""
    if candidates is None:
        return loaded
    on_meta = any(p.is_meta for p in loaded.model.parameters())
    model, note = with_candidates(loaded.model, candidates, None if on_meta else loaded.inputs)
    return dataclasses.replace(loaded, model=model, notes=(*loaded.notes, note))


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
        fusion=result.fusion,
        stage_modules=result.stage_modules,
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
    ``(short name, result)`` in the given order. A spec that cannot be built fails before its
    ``progress`` line."""
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
