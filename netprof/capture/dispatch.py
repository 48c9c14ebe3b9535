"""The recording mode: every ATen op of a forward pass, with its data-flow edges.

Capture happens at the ATen level (``__torch_dispatch__``), below autograd and
below every Python-level API, so functional calls, operators such as ``x @ w``,
fused fast paths and attention kernels are all seen; module hooks and tracing
miss some of them.

Speed on the meta device: most meta kernels are Python reference
implementations (a meta ``relu`` costs ~250 us, a meta batch norm ~600 us,
``torch.empty_strided`` ~1.5 us). A meta kernel is a pure function of its
arguments' shapes, strides and dtypes, so its result is remembered per call
signature (``_META_RESULTS``) and later calls only allocate empty meta tensors
of the remembered layout. An in-place op returns its ``self`` unchanged in
shape, so on meta its kernel is not run at all. Views, ``out=`` ops and ops that
change a tensor's metadata always run their kernel, and nothing is remembered
for fake or real tensors.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from netprof.capture.ir import Allocation, CapturedOp, OpCall, TensorMeta
from netprof.capture.lifetimes import Lifetimes
from netprof.capture.modules import ModuleStack
from netprof.errors import one_line

_Tensor = torch.Tensor
_empty_strided = torch.empty_strided
_META = torch.device("meta")

# What to do with an op on meta tensors, decided once per OpOverload.
_RUN, _CACHE, _SELF = 0, 1, 2
_PLANS: dict[torch._ops.OpOverload, int] = {}
# (op, argument signature) -> how to build the result; cleared when it reaches _MAX_RESULTS.
_META_RESULTS: dict[tuple[Any, ...], Any] = {}
_MAX_RESULTS = 1 << 16
# Non-tensor argument types whose value can be part of a cache key.
_KEYABLE = (
    int,
    float,
    bool,
    str,
    complex,
    type(None),
    torch.dtype,
    torch.device,
    torch.memory_format,
    torch.layout,
)


def _shapes(args: Any) -> str:
    """``"1x5, 8x4 float32"``: the tensor arguments of a failed op, as its error names them."""
    tensors = [a for a in args if isinstance(a, _Tensor)]
    if not tensors:
        return ""
    dtypes = {str(t.dtype).removeprefix("torch.") for t in tensors}
    shapes = ", ".join("x".join(map(str, t.shape)) or "scalar" for t in tensors)
    return f"{shapes} {'/'.join(sorted(dtypes))}"


class OpFailed(Exception):
    """An op raised during capture; says which op and in which module."""

    def __init__(self, op: str, module: str, cause: BaseException, shapes: str = "") -> None:
        where = f"module '{module}'" if module else "the root module"
        on = f" on {shapes}" if shapes else ""
        super().__init__(f"{op} in {where}{on} raised {one_line(cause)}")
        self.op, self.module, self.cause = op, module, cause


# Ops whose result shares its input's storage without saying so in the schema: a cached fresh result
# would make a copy of what is one storage (and count its bytes twice in the memory record).
_UNANNOTATED_VIEWS = frozenset({torch.ops.aten._unsafe_view})


_INPLACE = getattr(torch.Tag, "inplace", None)

# Whether an op's result can be constant: never for a random one (dropout, randn), always for one that
# reads only its inputs' shapes and dtypes (``new_zeros``, ``ones_like``), else when all it reads is.
_VARIES, _SHAPE_ONLY, _FOLLOWS = 0, 1, 2
_READS_NO_DATA = frozenset(
    getattr(torch.ops.aten, name)
    for name in (
        "new_zeros",
        "new_ones",
        "new_full",
        "new_empty",
        "new_empty_strided",
        "zeros_like",
        "ones_like",
        "full_like",
        "empty_like",
    )
)
_CONSTANCY: dict[torch._ops.OpOverload, int] = {}


def _constancy(func: torch._ops.OpOverload) -> int:
    if torch.Tag.nondeterministic_seeded in func.tags:
        return _VARIES
    return _SHAPE_ONLY if func.overloadpacket in _READS_NO_DATA else _FOLLOWS


def _plan(func: torch._ops.OpOverload) -> int:
    """``_SELF`` for a plain in-place op, ``_CACHE`` for an op returning fresh tensors, else ``_RUN``."""
    schema = func._schema
    tags = func.tags
    # An out= variant needs no tag of its own (``Tag.out`` is newer than torch 2.11): its schema is mutable.
    if func.is_view or torch.Tag.inplace_view in tags or func.namespace == "prim":
        return _RUN
    if func.overloadpacket in _UNANNOTATED_VIEWS:
        return _RUN
    arguments, returns = schema.arguments, schema.returns
    # In place: tagged so where torch has the tag (not 2.11), and by its schema: the op writes its first
    # argument, returns it and writes nothing else.
    if (
        (_INPLACE is None or _INPLACE in tags)
        and len(returns) == 1
        and returns[0].alias_info is not None
        and arguments
        and arguments[0].alias_info is not None
        and arguments[0].alias_info.is_write
        and not any(a.alias_info is not None and a.alias_info.is_write for a in arguments[1:])
    ):
        return _SELF
    if schema.is_mutable or any(r.alias_info is not None for r in returns):
        return _RUN
    if not returns or any(
        not isinstance(r.type, (torch.TensorType, torch.OptionalType, torch.ListType)) for r in returns
    ):
        return _RUN
    return _CACHE


class _Metas(dict):
    """id(tensor) -> TensorMeta for one call, reusing the meta recorded when the tensor was produced."""

    __slots__ = ("produced",)

    def __init__(self, produced: dict[int, tuple[Any, int, TensorMeta]]) -> None:
        super().__init__()
        self.produced = produced

    def of(self, tensor: _Tensor) -> TensorMeta:
        meta = self.get(id(tensor))
        if meta is None:
            found = self.produced.get(id(tensor))
            if found is not None and found[0]() is tensor:
                meta = found[2]
            else:
                meta = TensorMeta.of(tensor)
            self[id(tensor)] = meta
        return meta


def _scan(value: Any, tensors: list[_Tensor], metas: _Metas, key: list[Any]) -> Any:
    """``value`` with every tensor replaced by its ``TensorMeta``; tensors and key parts are appended.

    A key part of ``None`` marks a value that cannot be part of a cache key.
    """
    if isinstance(value, _Tensor):
        meta = metas.of(value)
        tensors.append(value)
        key.append(meta if value.is_meta else None)
        return meta
    if isinstance(value, (list, tuple)):
        key.append(len(value))
        converted = [_scan(item, tensors, metas, key) for item in value]
        return converted if isinstance(value, list) else tuple(converted)
    # The type is part of the key: 1, 1.0 and True hash alike but promote differently.
    key.append((type(value), value) if isinstance(value, _KEYABLE) else None)
    return value


def _result_builder(out: Any, tensors: list[_Tensor]) -> Any:
    """How to rebuild ``out`` from a call's tensors: a nested recipe, or None when it cannot be."""
    if isinstance(out, _Tensor):
        for index, tensor in enumerate(tensors):
            if out is tensor:
                return ("arg", index)
        if not out.is_meta or out.layout != torch.strided:
            return None
        return ("new", tuple(out.shape), out.stride(), out.dtype)
    if out is None:
        return ("none",)
    if isinstance(out, (list, tuple)):
        parts = [_result_builder(item, tensors) for item in out]
        if any(part is None for part in parts):
            return None
        return ("list" if isinstance(out, list) else "tuple", tuple(parts))
    return None


def _build(recipe: Any, tensors: list[_Tensor]) -> Any:
    kind = recipe[0]
    if kind == "new":
        return _empty_strided(recipe[1], recipe[2], dtype=recipe[3], device=_META)
    if kind == "arg":
        return tensors[recipe[1]]
    if kind == "none":
        return None
    parts = [_build(part, tensors) for part in recipe[1]]
    return parts if kind == "list" else tuple(parts)


def _results(out: Any, found: list[_Tensor]) -> list[_Tensor]:
    if isinstance(out, _Tensor):
        found.append(out)
    elif isinstance(out, (list, tuple)):
        for item in out:
            _results(item, found)
    return found


class _RecordingMode(TorchDispatchMode):
    def __init__(self, modules: ModuleStack, memory: bool) -> None:
        super().__init__()
        self.ops: list[CapturedOp] = []
        self.modules = modules
        self.paused = False
        self.phase = "forward"
        self.phases: list[tuple[str, int]] = []
        self.lifetimes = Lifetimes(lambda: len(self.ops)) if memory else None
        # id(tensor) -> (weak reference, producing op id, TensorMeta). The reference tells a live
        # tensor from a freed one whose id was reused, and lets a real run free its activations
        # (torch's WeakIdKeyDictionary does the same with a callback per key, ten times slower).
        self._produced: dict[int, tuple[Any, int, TensorMeta]] = {}
        # ids of the tensors the workload passed in (and of what an unrecorded step made), and the ops whose
        # result depends on none of them (``CapturedOp.constant``).
        self.fed: set[int] = set()
        self._constant_ops: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.paused:
            out = func(*args, **kwargs)
            self.fed.update(id(tensor) for tensor in _results(out, []))
            return out
        tensors: list[_Tensor] = []
        metas = _Metas(self._produced)
        key: list[Any] = [func]
        call_args = tuple(_scan(value, tensors, metas, key) for value in args)
        call_kwargs = {}
        for name, value in kwargs.items():
            key.append(name)
            call_kwargs[name] = _scan(value, tensors, metas, key)
        out = self._run(func, args, kwargs, tensors, key)
        # prim ops are metadata queries; profiler ops the record_function markers an optimizer step emits.
        if func.namespace not in ("prim", "profiler"):
            self._record(func, call_args, call_kwargs, tensors, metas, out)
        return out

    def _run(self, func, args, kwargs, tensors: list[_Tensor], key: list[Any]) -> Any:
        plan = _PLANS.get(func)
        if plan is None:
            plan = _PLANS[func] = _plan(func)
        all_meta = plan != _RUN and tensors and None not in key
        if all_meta and plan == _SELF:
            return tensors[0] if args and args[0] is tensors[0] else self._call(func, args, kwargs)
        if not all_meta:
            return self._call(func, args, kwargs)
        signature = tuple(key)
        recipe = _META_RESULTS.get(signature)
        if recipe is not None:
            return _build(recipe, tensors)
        out = self._call(func, args, kwargs)
        recipe = _result_builder(out, tensors)
        if recipe is not None:
            if len(_META_RESULTS) >= _MAX_RESULTS:
                _META_RESULTS.clear()
            _META_RESULTS[signature] = recipe
        return out

    def _call(self, func, args, kwargs) -> Any:
        try:
            return func(*args, **kwargs)
        except OpFailed:
            raise
        except Exception as error:
            raise OpFailed(str(func), self.modules.current, error, _shapes(args)) from error

    def _record(self, func, call_args, call_kwargs, tensors, metas, out) -> None:
        inputs: list[int | None] = []
        input_metas: list[TensorMeta] = []
        seen: set[int] = set()
        produced = self._produced
        constancy = _CONSTANCY.get(func)
        if constancy is None:
            constancy = _CONSTANCY[func] = _constancy(func)
        constant = constancy != _VARIES
        for tensor in tensors:
            # A tensor passed twice (x * x) is read once.
            if id(tensor) not in seen:
                seen.add(id(tensor))
                found = produced.get(id(tensor))
                source = found[1] if found is not None and found[0]() is tensor else None
                inputs.append(source)
                input_metas.append(metas[id(tensor)])
                if constancy == _FOLLOWS and constant:
                    constant = id(tensor) not in self.fed if source is None else source in self._constant_ops
        op_id = len(self.ops)
        if constant:
            self._constant_ops.add(op_id)
        results = _results(out, [])
        output_metas = tuple(TensorMeta.of(t) for t in results)
        self.ops.append(
            CapturedOp(
                id=op_id,
                func=func,
                module=self.modules.current,
                inputs=tuple(inputs),
                input_metas=tuple(input_metas),
                call=OpCall(call_args, call_kwargs, output_metas),
                constant=constant,
            )
        )
        for tensor, meta in zip(results, output_metas):
            produced[id(tensor)] = (weakref.ref(tensor), op_id, meta)
        if self.lifetimes is not None:
            for tensor in results:
                self.lifetimes.track(tensor, op_id, self.phase, self.modules.current)


_ACTIVE: list[_RecordingMode] = []


@contextlib.contextmanager
def unrecorded() -> Iterator[None]:
    """Run what is inside without recording it, in the same tensor mode (meta, fake or real).

    A workload uses it for set-up that is not part of what it measures: a decode
    step builds its KV cache with an unrecorded prefill.
    """
    if not _ACTIVE:
        yield
        return
    mode = _ACTIVE[-1]
    paused, mode.paused = mode.paused, True
    try:
        with mode.modules.uncounted():
            yield
    finally:
        mode.paused = paused


def mark_phase(name: str) -> None:
    """Ops recorded from now on belong to phase ``name`` (a workload's forward, backward, optimizer)."""
    if _ACTIVE:
        mode = _ACTIVE[-1]
        mode.phase = name
        mode.phases.append((name, len(mode.ops)))
        mode.modules.forget_backward()


def label_memory(tensors: Iterable[torch.Tensor], kind: str) -> None:
    """Tell the memory record what ``tensors`` are (``gradients``, ``optimizer_state``)."""
    if _ACTIVE and _ACTIVE[-1].lifetimes is not None:
        _ACTIVE[-1].lifetimes.label(tensors, kind)


def track_existing(tensors: Iterable[torch.Tensor], kind: str) -> None:
    """Tensors a workload made before what it records (optimizer state from a warm-up step), live from
    the start."""
    if _ACTIVE and _ACTIVE[-1].lifetimes is not None:
        for tensor in tensors:
            _ACTIVE[-1].lifetimes.track(tensor, -1, "", "", kind)


class Recorder:
    """Context manager recording every op run inside it, attributed to ``root``'s modules.

    With ``memory``, it also records every storage's life (``netprof.capture.lifetimes``).
    """

    def __init__(self, root: torch.nn.Module, memory: bool = False) -> None:
        self.modules = ModuleStack(root)
        self._mode = _RecordingMode(self.modules, memory)

    @property
    def ops(self) -> tuple[CapturedOp, ...]:
        return tuple(self._mode.ops)

    @property
    def phases(self) -> tuple[tuple[str, int], ...]:
        return tuple(self._mode.phases)

    def feed(self, tensors: Iterable[torch.Tensor]) -> None:
        """The workload's inputs: an op reading none of them, directly or through other ops, is constant."""
        self._mode.fed.update(id(tensor) for tensor in tensors)

    def track_existing(self, tensors: Iterable[torch.Tensor], kind: str) -> None:
        """Storages that exist before the run (parameters, buffers, inputs), live from its start."""
        if self._mode.lifetimes is not None:
            for tensor in tensors:
                self._mode.lifetimes.track(tensor, -1, "", "", kind)

    def allocations(self) -> tuple[Allocation, ...] | None:
        return None if self._mode.lifetimes is None else self._mode.lifetimes.allocations()

    def __enter__(self) -> Recorder:
        self.modules.__enter__()
        self._mode.__enter__()
        _ACTIVE.append(self._mode)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _ACTIVE.remove(self._mode)
        try:
            self._mode.__exit__(*exc_info)
        finally:
            self.modules.__exit__(*exc_info)
