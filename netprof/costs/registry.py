"""One registry of cost formulas, keyed by ATen overload packet.

Formulas are registered with ``@formula(aten.mm, ...)`` in the modules of this
package; registering a packet twice is an error, so there is one source of truth.
Ops without a formula fall back on what the ATen schema says about them: a view
is free, a ``pointwise``-tagged op is element-wise, a ``reduction``-tagged op is
a reduction, and a ``view_copy`` (the copying twin of a view that functionalized
graphs use) moves data. Anything else is *uncounted*: reported, never silently zero.

Users add formulas for ops netprof cannot know (``torch.library`` custom ops) through
``netprof.register_formula`` (``netprof.costs.custom``), which writes to this same
registry, and packages through the ``netprof.formulas`` entry point group: each entry
point names a callable taking no arguments that calls ``netprof.register_formula``.
Those are loaded once, on the first ``lookup`` (or ``register_formula``), never at import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

import torch

from netprof.capture.ir import OpCall
from netprof.costs.types import Category, Cost
from netprof.errors import NetprofError, one_line

Formula = Callable[[OpCall], Cost]

_FORMULAS: dict[torch._ops.OpOverloadPacket, Formula] = {}
# Formulas of ops from a library netprof does not import (torchvision's), by qualified name: their
# packets exist only once the library is loaded, which a model that calls them has done.
_BY_NAME: dict[str, Formula] = {}
# lookup() per overload, remembered: the schema tags are slow to read. Emptied on registration.
_RESOLVED: dict[torch._ops.OpOverload, Formula | None] = {}

ENTRY_POINT_GROUP = "netprof.formulas"
_plugins_pending = True  # until every entry point of the group has registered its formulas
_loading = False  # True while the entry points run (they call register_formula, which loads them)
_LOADED: set[tuple[str, str]] = set()  # (name, value) of every entry point that ran
_PLUGIN_LOCK = threading.RLock()


class FormulaPluginError(NetprofError):
    """A ``netprof.formulas`` entry point that failed to load or to register its formulas."""


def formula(*packets: torch._ops.OpOverloadPacket, replace: bool = False) -> Callable[[Formula], Formula]:
    """Register ``fn`` as the cost formula of every overload of ``packets``.

    A packet that already has a formula is an error, unless ``replace`` is true.
    """

    def register(fn: Formula) -> Formula:
        # Check every packet before registering any, so a failed call leaves the registry unchanged.
        for index, packet in enumerate(packets):
            if packet in packets[:index]:
                raise ValueError(f"a cost formula for {packet} is already registered")
            if packet in _FORMULAS and not replace:
                raise ValueError(
                    f"a cost formula for {packet} is already registered ({_origin(_FORMULAS[packet])}); "
                    "pass replace=True to replace it"
                )
        for packet in packets:
            _FORMULAS[packet] = fn
        _RESOLVED.clear()
        return fn

    return register


def formula_by_name(*names: str) -> Callable[[Formula], Formula]:
    """Register ``fn`` for the ops ``"namespace::name"`` of a library that may not be loaded (or installed):
    it applies when such an op is captured. A name registered twice is an error."""

    def register(fn: Formula) -> Formula:
        for name in names:
            if name in _BY_NAME:
                raise ValueError(
                    f"a cost formula for {name} is already registered ({_origin(_BY_NAME[name])})"
                )
            _BY_NAME[name] = fn
        _RESOLVED.clear()
        return fn

    return register


def _origin(fn: Formula) -> str:
    """``"netprof.costs.matmul.mm"``: where a registered formula was defined."""
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def load_plugins() -> None:
    """Run every ``netprof.formulas`` entry point not yet run; a failing one raises ``FormulaPluginError``.

    A failed entry point leaves no formula of its own behind and is tried again on the next
    call, so the error is raised until the package is fixed or uninstalled, never swallowed.
    """
    global _plugins_pending, _loading
    with _PLUGIN_LOCK:
        if not _plugins_pending or _loading:
            return
        _loading = True
        try:
            for point in entry_points(group=ENTRY_POINT_GROUP):
                key = (point.name, point.value)
                if key not in _LOADED:
                    _run_plugin(point)
                    _LOADED.add(key)
            _plugins_pending = False
        finally:
            _loading = False


def _run_plugin(point: EntryPoint) -> None:
    saved = dict(_FORMULAS)
    try:
        register = point.load()
        if not callable(register):
            raise TypeError(f"{type(register).__name__} object is not callable")
        register()
    except BaseException as error:
        _FORMULAS.clear()
        _FORMULAS.update(saved)
        _RESOLVED.clear()
        if not isinstance(error, Exception):  # KeyboardInterrupt, a --timeout: not the plugin's fault
            raise
        raise FormulaPluginError(
            f"cost formula plugin {point.name!r} ({point.value}, entry point group {ENTRY_POINT_GROUP}) "
            f"failed: {one_line(error)}"
        ) from error


def elementwise_cost(call: OpCall) -> Cost:
    """One flop per output element; no multiply-adds."""
    return Cost(Category.ELEMENTWISE, flops=call.out.numel if call.outputs else 0)


def reduction_cost(call: OpCall) -> Cost:
    return Cost(Category.REDUCTION, flops=call.out.numel if call.outputs else 0)


def lookup(func: torch._ops.OpOverload) -> Formula | None:
    """The formula for ``func``, or None when its arithmetic is unknown."""
    try:
        return _RESOLVED[func]
    except KeyError:
        if _plugins_pending:
            load_plugins()
        found = _RESOLVED[func] = _resolve(func)
        return found


def _resolve(func: torch._ops.OpOverload) -> Formula | None:
    found = _FORMULAS.get(func.overloadpacket) or _BY_NAME.get(func.overloadpacket._qualified_op_name)
    if found is not None:
        return found
    if func.is_view or torch.Tag.inplace_view in func.tags:
        return _view_cost
    if torch.Tag.view_copy in func.tags:
        return _copy_cost
    if torch.Tag.pointwise in func.tags:
        return elementwise_cost
    if torch.Tag.reduction in func.tags:
        return reduction_cost
    return None


def _view_cost(call: OpCall) -> Cost:
    return Cost(Category.VIEW, moves_memory=False)


def _copy_cost(call: OpCall) -> Cost:
    return Cost(Category.DATA_MOVEMENT)


def registered() -> frozenset[torch._ops.OpOverloadPacket]:
    """Every packet with an explicit formula (for tests and docs); entry points are not loaded for it."""
    return frozenset(_FORMULAS)
