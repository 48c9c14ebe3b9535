"""Run one workload (an inference forward pass, for one) under the recorder, on meta, fake or real tensors.

``meta`` and ``fake`` tensors carry shapes and dtypes but no data, so a model of
any size is captured in the time its Python code takes to run. Models whose
shapes depend on data (detection post-processing, ``.item()``) cannot run
without data; ``auto`` then falls back to a real run on the CPU. So do forwards
that make a tensor without a device (``x * torch.ones(10)``): on the CPU, where
the real model would be, it meets netprof's meta stand-ins, a mismatch of
netprof's own making that fake CPU tensors (or a real run) do not meet. Any other
failure on meta or fake tensors (a shape, dtype or argument error) is the
model's or the input's: it is reported at once, since a real run could only
fail the same way, later and with gigabytes allocated.

Nothing the caller passed is changed: the model is put in the workload's mode
(eval, for inference) for the capture; parameters and buffers are swapped for meta or fake stand-ins in the
modules' own parameter and buffer dicts; every module attribute, parameter and
buffer is bound again to its original afterwards, even when the forward raises;
a real run works on a copy.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch._subclasses.fake_tensor import (
    DataDependentOutputException,
    DynamicOutputShapeException,
    FakeTensorMode,
    UnsupportedOperatorException,
)
from torch.utils._pytree import tree_leaves, tree_map_only

from netprof.capture.dispatch import OpFailed, Recorder
from netprof.capture.ir import Capture
from netprof.capture.workload import Workload, as_workload
from netprof.errors import NetprofError, one_line

MODES = ("auto", "meta", "fake", "real")


class CaptureError(NetprofError):
    """The model could not be captured; the message names the cause."""


@contextlib.contextmanager
def _restored(model: nn.Module) -> Iterator[None]:
    """Every attribute of every module bound again to what it was on entry.

    A forward may rebind its own attributes (torchvision's AnchorGenerator caches
    ``self.cell_anchors`` moved to the input's device: meta or fake tensors, here)
    and ``eval()`` flips training flags; both are undone, also after an exception.
    """
    saved = [
        (module, dict(vars(module)), dict(module._parameters), dict(module._buffers), dict(module._modules))
        for module in model.modules()
    ]
    try:
        yield
    finally:
        for module, attributes, parameters, buffers, children in saved:
            for current, original in (
                (vars(module), attributes),
                (module._parameters, parameters),
                (module._buffers, buffers),
                (module._modules, children),
            ):
                current.clear()
                current.update(original)


@contextlib.contextmanager
def _prepared(model: nn.Module, workload: Workload) -> Iterator[None]:
    """The workload's mode for the duration of one capture attempt, every attribute restored after."""
    with _restored(model), workload.mode(model):
        yield


def _is_on_meta(model: nn.Module) -> bool:
    tensors = [*model.parameters(), *model.buffers()]
    return bool(tensors) and all(t.is_meta for t in tensors)


def _record(model: nn.Module, workload: Workload, inputs: Any, recorder: Recorder) -> None:
    recorder.track_existing(model.parameters(), "parameters")
    recorder.track_existing(model.buffers(), "buffers")
    fed = [t for t in tree_leaves(inputs) if isinstance(t, torch.Tensor)]
    recorder.feed(fed)
    recorder.track_existing(fed, "inputs")
    with recorder:
        workload.run(model, inputs)


def _substitute(model: nn.Module, convert: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Put a stand-in in place of every parameter and buffer, in each module's own dicts.

    The forward then reads and writes the stand-ins, never the user's tensors
    (a fake tensor mode would otherwise apply in-place updates to real buffers).
    A tensor shared by several modules gets one stand-in, so tied weights stay
    tied. Only call this inside ``_restored``, which puts the originals back:
    that is what ``torch.func.functional_call`` does, without its per-name
    ``setattr`` walk (a third of a small model's capture time).
    """
    stand_ins: dict[int, torch.Tensor] = {}
    for module in model.modules():
        for slots in (module._parameters, module._buffers):
            for name, tensor in slots.items():
                if tensor is not None:
                    stand_in = stand_ins.get(id(tensor))
                    if stand_in is None:
                        stand_in = stand_ins[id(tensor)] = convert(tensor)
                    slots[name] = stand_in


def _run_meta(model: nn.Module, workload: Workload, memory: bool) -> Recorder:
    meta_inputs = tree_map_only(torch.Tensor, lambda t: t.to("meta"), workload.inputs)
    recorder = Recorder(model, memory)
    if not _is_on_meta(model):
        _substitute(model, lambda t: torch.empty_like(t, device="meta").requires_grad_(t.requires_grad))
    _record(model, workload, meta_inputs, recorder)
    return recorder


def _run_fake(model: nn.Module, workload: Workload, memory: bool) -> Recorder:
    recorder = Recorder(model, memory)
    with FakeTensorMode(allow_non_fake_inputs=True) as fake_mode:

        def fake(tensor: torch.Tensor) -> torch.Tensor:
            """A fake twin; of a meta tensor, one on the CPU, so that ops dispatch as a real CPU run
            does (``scaled_dot_product_attention`` to its fused kernel, not the math path meta takes)."""
            if not tensor.is_meta:
                return fake_mode.from_tensor(tensor)
            with fake_mode:
                twin = torch.empty_strided(tensor.shape, tensor.stride(), dtype=tensor.dtype, device="cpu")
            return twin.requires_grad_(tensor.requires_grad) if tensor.is_floating_point() else twin

        fake_inputs = tree_map_only(torch.Tensor, fake, workload.inputs)
        _substitute(model, fake)
        _record(model, workload, fake_inputs, recorder)
    return recorder


def _run_real(model: nn.Module, workload: Workload, memory: bool) -> Recorder:
    # A copy, so that a workload writing into its own buffers cannot touch the user's.
    twin = copy.deepcopy(model)
    recorder = Recorder(twin, memory)
    _record(twin, workload, workload.inputs, recorder)
    return recorder


_RUNNERS = {"meta": _run_meta, "fake": _run_fake, "real": _run_real}


# What a run without data cannot do, and a run with data may: read a value, size an output by the data,
# or run an op that has no meta kernel.
_NEEDS_DATA = (
    NotImplementedError,
    DataDependentOutputException,
    DynamicOutputShapeException,
    UnsupportedOperatorException,
)
_NEEDS_DATA_WORDS = ("meta tensor", "on meta", "data-dependent", "data dependent")
# A tensor the forward made without a device (on the CPU) beside netprof's meta stand-ins, either way round:
# "Tensor on device cpu is not on the expected device meta!", "Expected all tensors to be on the same device,
# but found at least two devices, meta and cpu!".
_META_MISMATCH = re.compile(
    r"on device meta is not on the expected device|is not on the expected device meta\b|same device.*\bmeta\b"
)


def needs_data(error: BaseException) -> bool:
    """Whether ``error``, raised on meta or fake tensors, is one a real run may not meet.

    A device mismatch with a meta tensor is one: the user's model has no meta tensor, netprof's
    capture put them there, and fake CPU tensors (the next mode ``auto`` tries) meet none.
    """
    cause = error.cause if isinstance(error, OpFailed) else error
    if isinstance(cause, _NEEDS_DATA):
        return True
    said = str(cause)
    return any(word in said for word in _NEEDS_DATA_WORDS) or _META_MISMATCH.search(said) is not None


@contextlib.contextmanager
def quiet_library_logs() -> Iterator[None]:
    """PyTorch's and transformers' loggers silenced: a failed fake-tensor op logs its traceback
    before raising, and transformers warns of its own deprecations on every model it builds or runs.

    Left as they are when the ``netprof`` logger is at DEBUG (the command line's ``--debug``).
    """
    if logging.getLogger("netprof").isEnabledFor(logging.DEBUG):
        yield
        return
    loggers = [
        logging.getLogger(name)
        for name in ("torch._subclasses.fake_tensor", "torch.fx", "torch._dynamo", "transformers")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def capture(model: nn.Module, workload: Workload | Any, mode: str = "auto", memory: bool = False) -> Capture:
    """Record one run of ``workload`` on ``model``.

    ``workload`` is a ``Workload``, or example inputs (a tensor or a tuple of
    positional arguments) for one inference forward pass.

    ``mode`` is ``meta``, ``fake``, ``real`` or ``auto``: meta, then fake, then
    real, keeping the first that works (a model already on the meta device never
    runs for real). ``auto`` moves on only past a failure that needs data
    (``needs_data``); any other is raised at once. The returned capture says which
    mode ran and why others failed. With ``memory``, it also holds every storage's
    life (``Capture.allocations``).
    """
    workload = as_workload(workload)
    if mode not in MODES:
        raise CaptureError(f"unknown capture mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "auto":
        # A model on meta has no data for a real run; fake tensors still pass checks that meta tensors
        # fail (transformers takes its tracing path, without ``.item()``, on fake tensors).
        attempts = ("meta", "fake") if _is_on_meta(model) else ("meta", "fake", "real")
    else:
        attempts = (mode,)
    failures: list[str] = []
    last: Exception | None = None
    for attempt in attempts:
        try:
            with _prepared(model, workload), quiet_library_logs():
                recorder = _RUNNERS[attempt](model, workload, memory)
        except NetprofError:
            raise  # the workload's own complaint (nothing to train), complete as it is
        except Exception as error:
            said = str(error) if isinstance(error, OpFailed) else one_line(error)
            if attempt != "real" and not needs_data(error):
                raise CaptureError(f"the forward pass failed on {attempt} tensors: {said}") from error
            failures.append(f"{attempt}: {said}")
            last = error
            continue
        return Capture(
            recorder.ops,
            recorder.modules.calls(),
            attempt,
            tuple(failures),
            recorder.phases,
            recorder.allocations(),
        )
    # Chained to the last failure, so that a caller can tell one that needs data (``needs_data``).
    raise CaptureError(f"the forward pass failed ({failures[-1]})") from last
