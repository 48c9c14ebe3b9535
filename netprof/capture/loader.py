"""Turn a SPEC such as ``model.py:build`` or ``torchvision.models:resnet50`` into a model and inputs.

A SPEC may end in the builder's arguments, as literals
(``torchvision.models.detection:ssdlite320_mobilenet_v3_large(weights_backbone=None)``):
they are parsed with ``ast.literal_eval``, never evaluated, so a SPEC cannot run
code of its own. The callable, so called, returns an ``nn.Module``,
``(module, example_inputs)`` or ``(module, args, kwargs)``; ``example_inputs``
is a tensor or a tuple of positional arguments, ``kwargs`` a dict of keyword
arguments (an attention mask, position ids). ``hf:PATH`` builds a Hugging Face
model from its configuration (``capture.huggingface``). Every way this can go
wrong raises a ``NetprofError`` with one line naming the cause, for the CLI to print.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_map_only

from netprof.capture import huggingface
from netprof.capture.workload import Forward
from netprof.errors import NetprofError, one_line

DEFAULT_INPUT_SHAPE = (1, 3, 224, 224)


class SpecError(NetprofError):
    """The SPEC, its callable or its inputs are unusable."""


class BuilderError(SpecError):
    """The SPEC's callable raised while building the model."""


@dataclass(frozen=True)
class LoadedModel:
    model: nn.Module
    inputs: tuple[Any, ...]
    name: str
    notes: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the forward

    @property
    def workload(self) -> Forward:
        return Forward(self.inputs, self.kwargs)


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise SpecError(f"model file not found: {path}")
    module_name = f"_netprof_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs, as an import would: dataclasses and pickling look it up.
    sys.modules[module_name] = module
    # The file's own folder first on the path, so its sibling imports resolve.
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise SpecError(f"importing {path} raised {one_line(error)}") from error
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception as error:
        raise SpecError(f"cannot import module {name!r}: {one_line(error)}") from error


def _literal_arguments(spec: str, call: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``"(3, width=0.5)"`` -> ``((3,), {"width": 0.5})``; anything but literals is a ``SpecError``."""
    source = f"_{call}"
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as error:
        raise SpecError(
            f"bad SPEC {spec!r}: its arguments {call} are not valid Python ({error.msg})"
        ) from None
    if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name) or tree.func.id != "_":
        raise SpecError(f"bad SPEC {spec!r}: expected callable(arguments) after the ':'")

    def literal(node: ast.expr) -> Any:
        try:
            return ast.literal_eval(node)  # a Starred node is not a literal either
        except ValueError:
            raise SpecError(
                f"bad SPEC {spec!r}: {ast.get_source_segment(source, node)} is not a literal (a builder "
                "argument is a number, string, None, True, False, or a tuple, list, set or dict of them)"
            ) from None

    if any(keyword.arg is None for keyword in tree.keywords):
        raise SpecError(f"bad SPEC {spec!r}: ** unpacking is not a literal argument")
    return tuple(literal(a) for a in tree.args), {k.arg: literal(k.value) for k in tree.keywords if k.arg}


def resolve(spec: str) -> Any:
    """The callable named by ``spec``, with the SPEC's literal arguments bound to it if it has any."""
    spec = spec.strip()
    name, paren, rest = spec.partition("(")
    if paren:
        if not rest.endswith(")"):
            raise SpecError(f"bad SPEC {spec!r}: its builder arguments must end with ')'")
        args, kwargs = _literal_arguments(spec, paren + rest)
        return functools.partial(resolve(name), *args, **kwargs)
    target, sep, attribute = spec.rpartition(":")
    if not sep or not target or not attribute:
        raise SpecError(f"bad SPEC {spec!r}: expected file.py:callable or package.module:callable")
    module = _import_file(Path(target)) if target.endswith(".py") else _import_module(target)
    builder = module
    for part in attribute.split("."):
        if not hasattr(builder, part):
            raise SpecError(f"{target} has no attribute {attribute!r}")
        builder = getattr(builder, part)
    if not callable(builder):
        raise SpecError(f"{spec} is not callable")
    return builder


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,224,224"`` (or ``1x3x224x224``) -> ``(1, 3, 224, 224)``."""
    parts = text.replace("x", ",").split(",")
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        raise SpecError(
            f"bad --input {text!r}: expected comma-separated integers such as 1,3,224,224"
        ) from None
    if any(size < 0 for size in shape):
        raise SpecError(f"bad --input {text!r}: sizes must not be negative")
    return shape


def parse_dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise SpecError(f"unknown --dtype {name!r}: use a torch dtype name such as float32, bfloat16, int64")
    return dtype


def _make_input(shape: tuple[int, ...], dtype: torch.dtype, device: str) -> torch.Tensor:
    if dtype.is_floating_point or dtype.is_complex:
        return torch.randn(shape, dtype=dtype, device=device)
    return torch.zeros(shape, dtype=dtype, device=device)


Builder = tuple[str, Callable[[], Any]]  # a name and a callable that builds, as a SPEC's callable does


def load(
    spec: str | Builder,
    input_shapes: list[tuple[int, ...]] | None = None,
    dtype: torch.dtype = torch.float32,
    device: str = "auto",
    hf_class: str | None = None,
) -> LoadedModel:
    """Build the model of ``spec`` and decide its example inputs.

    ``spec`` is a SPEC string, or ``(name, builder)``: a callable that a sweep's
    search space hands over directly. ``device="meta"`` calls the builder under
    ``torch.device("meta")`` so that no weight is allocated; any other value builds
    on the CPU. An ``hf:PATH`` spec is built from its Hugging Face configuration
    (``hf_class``: the auto class to build it with) and gets its natural input.
    """
    if isinstance(spec, tuple):
        spec, builder = spec
    elif huggingface.is_hf_spec(spec):
        built = huggingface.load(spec, input_shapes, hf_class, "meta" if device == "meta" else "cpu")
        return LoadedModel(built.model, built.inputs, spec, built.notes)
    else:
        builder = resolve(spec)
    build_device = "meta" if device == "meta" else "cpu"
    context = torch.device("meta") if device == "meta" else contextlib.nullcontext()
    try:
        with context:
            built = builder()
    except Exception as error:
        raise BuilderError(f"{spec} raised {one_line(error)}") from error
    model, inputs, kwargs = _unpack(built)
    if not isinstance(model, nn.Module):
        raise SpecError(
            f"{spec} returned {type(model).__name__}, not an nn.Module, (module, inputs) or (module, args, kwargs)"
        )
    notes: list[str] = []
    if input_shapes:
        inputs = tuple(_make_input(shape, dtype, build_device) for shape in input_shapes)
    elif inputs is None:
        inputs = (_make_input(DEFAULT_INPUT_SHAPE, dtype, build_device),)
        shape = "x".join(map(str, DEFAULT_INPUT_SHAPE))
        notes.append(f"no input given: used a {shape} {str(dtype).removeprefix('torch.')} tensor")
    elif not isinstance(inputs, tuple):
        inputs = (inputs,)
    if device == "meta":
        inputs, kwargs = tree_map_only(torch.Tensor, lambda t: t.to("meta"), (inputs, kwargs))
    return LoadedModel(model, inputs, spec, tuple(notes), kwargs)


def _unpack(built: Any) -> tuple[Any, Any, dict[str, Any]]:
    """``(model, inputs or None, kwargs)`` from what a builder returned."""
    if isinstance(built, tuple) and len(built) == 3 and isinstance(built[2], dict):
        model, args, kwargs = built
        return model, args if isinstance(args, tuple) else (args,), dict(kwargs)
    if isinstance(built, tuple) and len(built) == 2:
        return built[0], built[1], {}
    return built, None, {}
