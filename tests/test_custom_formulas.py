"""Formulas users give for ops netprof cannot know: ``netprof.register_formula`` and the
``netprof.formulas`` entry point group, on a real ``torch.library`` custom op."""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest
import torch
from torch import nn

import netprof
from netprof.costs import lookup, registry
from netprof.pipeline import analyze

OP_NAME = "netprof_test.scaled_mm.default"  # how the analysis names the op


# [n, p] = netprof_test::scaled_mm([n, m], [m, p], scale): a product then one multiply per output.
@torch.library.custom_op("netprof_test::scaled_mm", mutates_args=())
def scaled_mm(a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    return torch.mm(a, b) * scale


@scaled_mm.register_fake
def _(a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    return a.new_empty(a.shape[0], b.shape[1])


def scaled_mm_cost(call: netprof.OpCall) -> netprof.Cost:
    a, b = call.args[0], call.args[1]
    mult_adds = a.shape[0] * a.shape[1] * b.shape[1]
    # two flops per multiply-add, plus the scale: one multiply per output element
    return netprof.Cost(netprof.Category.GEMM, mult_adds, 2 * mult_adds + call.out.numel)


class ScaledLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(8, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scaled_mm(x, self.weight, 0.5)


def _analyze():
    return analyze(ScaledLinear(), torch.randn(4, 8))


@pytest.fixture(autouse=True)
def registry_restored(monkeypatch):
    """Every test starts with the built-in formulas, no entry point, and leaves the registry as it found it."""
    saved = dict(registry._FORMULAS)
    monkeypatch.setattr(registry, "entry_points", lambda group: [])
    monkeypatch.setattr(registry, "_LOADED", set())
    monkeypatch.setattr(registry, "_plugins_pending", True)
    registry._RESOLVED.clear()
    yield
    registry._FORMULAS.clear()
    registry._FORMULAS.update(saved)
    registry._RESOLVED.clear()
    for name in [m for m in sys.modules if m.startswith("np_formulas_")]:
        del sys.modules[name]


def test_the_public_api_is_exported_from_the_root_package() -> None:
    for name in ("register_formula", "Cost", "Category", "OpCall", "TensorMeta", "FormulaPluginError"):
        assert name in netprof.__all__ and hasattr(netprof, name)
    assert issubclass(netprof.FormulaPluginError, netprof.NetprofError)


def test_a_custom_op_is_uncounted_until_its_formula_is_registered() -> None:
    before = _analyze()
    assert before.uncounted == {OP_NAME: 1}
    assert (before.totals.uncounted_ops, before.totals.mult_adds, before.totals.flops) == (1, 0, 0)

    netprof.register_formula("netprof_test::scaled_mm", scaled_mm_cost)
    after = _analyze()
    assert after.uncounted == {}
    assert after.totals.uncounted_ops == 0
    # (4, 8) @ (8, 16): 4 * 8 * 16 = 512 multiply-adds; flops 2 * 512 + 4 * 16 (the scale) = 1088
    assert after.totals.mult_adds == 512
    assert after.totals.flops == 1088
    (node,) = [op for op in after.ops if op.op == OP_NAME]
    assert (node.category, node.counted, node.mult_adds) == ("gemm", True, 512)
    # memory access as for any op: reads 4x8 and 8x16 float32, writes 4x16: (32 + 128 + 64) * 4 bytes
    assert node.mem_access_bytes == 896
    assert before.totals.mem_access_bytes == after.totals.mem_access_bytes


@pytest.mark.parametrize(
    "op",
    [
        "netprof_test::scaled_mm",
        "netprof_test::scaled_mm.default",
        torch.ops.netprof_test.scaled_mm,
        torch.ops.netprof_test.scaled_mm.default,
        scaled_mm,  # what torch.library.custom_op returns
    ],
    ids=["string", "string-overload", "packet", "overload", "custom-op-def"],
)
def test_every_form_of_the_op_registers_its_packet(op) -> None:
    assert lookup(torch.ops.netprof_test.scaled_mm.default) is None
    assert netprof.register_formula(op, scaled_mm_cost) is scaled_mm_cost
    assert torch.ops.netprof_test.scaled_mm in registry.registered()
    assert lookup(torch.ops.netprof_test.scaled_mm.default) is scaled_mm_cost


def test_registering_an_op_twice_is_an_error() -> None:
    netprof.register_formula("netprof_test::scaled_mm", scaled_mm_cost)
    with pytest.raises(ValueError, match=r"netprof_test.scaled_mm is already registered .*replace=True"):
        netprof.register_formula(torch.ops.netprof_test.scaled_mm, lambda call: netprof.Cost("other"))
    assert lookup(torch.ops.netprof_test.scaled_mm.default) is scaled_mm_cost
    # a built-in formula too, and it stays in place
    builtin = lookup(torch.ops.aten.mm.default)
    with pytest.raises(ValueError, match=r"aten.mm is already registered \(netprof.costs.matmul.mm\)"):
        netprof.register_formula("aten::mm", scaled_mm_cost)
    assert lookup(torch.ops.aten.mm.default) is builtin


def test_replace_overrides_a_formula_and_empties_the_lookup_cache() -> None:
    netprof.register_formula("netprof_test::scaled_mm", scaled_mm_cost)
    assert lookup(torch.ops.netprof_test.scaled_mm.default) is scaled_mm_cost  # now cached

    def free(call: netprof.OpCall) -> netprof.Cost:
        return netprof.Cost(netprof.Category.OTHER)

    netprof.register_formula("netprof_test::scaled_mm", free, replace=True)
    assert lookup(torch.ops.netprof_test.scaled_mm.default) is free
    assert _analyze().totals.mult_adds == 0
    # replace=True on an op without a formula simply registers it; on a built-in it replaces it
    assert lookup(torch.ops.aten.cummax.default) is None
    netprof.register_formula("aten::cummax", free, replace=True)
    assert lookup(torch.ops.aten.cummax.default) is free
    netprof.register_formula(torch.ops.aten.mm.default, free, replace=True)
    assert lookup(torch.ops.aten.mm.default) is free


def test_the_fixture_restored_the_built_in_formulas() -> None:
    # runs after the test above replaced aten.mm and registered aten.cummax
    assert lookup(torch.ops.aten.mm.default).__module__ == "netprof.costs.matmul"
    assert lookup(torch.ops.aten.cummax.default) is None
    assert lookup(torch.ops.netprof_test.scaled_mm.default) is None


def test_an_unknown_op_is_a_clear_error() -> None:
    with pytest.raises(
        ValueError, match=r"unknown op 'netprof_test::nope'.*registered with torch.library first"
    ):
        netprof.register_formula("netprof_test::nope", scaled_mm_cost)
    with pytest.raises(ValueError, match=r"unknown op .aten::name."):  # torch.ops.aten.name is a str
        netprof.register_formula("aten::name", scaled_mm_cost)
    with pytest.raises(ValueError, match=r"unknown op 'no_such_library::op'"):
        netprof.register_formula("no_such_library::op", scaled_mm_cost)
    with pytest.raises(ValueError, match=r"unknown op 'netprof_test::scaled_mm.nope'"):
        netprof.register_formula("netprof_test::scaled_mm.nope", scaled_mm_cost)
    for malformed in ("scaled_mm", "netprof_test::", "::scaled_mm", "netprof_test::scaled_mm."):
        with pytest.raises(ValueError, match="expected 'namespace::name'"):
            netprof.register_formula(malformed, scaled_mm_cost)
    with pytest.raises(TypeError, match="expected an op"):
        netprof.register_formula(torch.mm, scaled_mm_cost)
    with pytest.raises(TypeError, match="must be callable"):
        netprof.register_formula("netprof_test::scaled_mm", 512)
    assert lookup(torch.ops.netprof_test.scaled_mm.default) is None


# A package's entry point: `[project.entry-points."netprof.formulas"] mylib = "module:register"`.
PLUGIN = """
import netprof

CALLS = []


def cost(call):
    a, b = call.args[0], call.args[1]
    mult_adds = a.shape[0] * a.shape[1] * b.shape[1]
    return netprof.Cost(netprof.Category.GEMM, mult_adds, 2 * mult_adds)


def register():
    CALLS.append(1)
    netprof.register_formula("netprof_test::scaled_mm", cost)
    {fail}
"""


@pytest.fixture
def entry_point(tmp_path, monkeypatch):
    """Install a plugin module and declare it as the one ``netprof.formulas`` entry point."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def install(module: str, fail: str = "", value: str | None = None) -> EntryPoint:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(PLUGIN.format(fail=fail)))
        point = EntryPoint(name="mylib", value=value or f"{module}:register", group="netprof.formulas")
        monkeypatch.setattr(
            registry, "entry_points", lambda group: [point] if group == "netprof.formulas" else []
        )
        return point

    return install


def test_entry_points_are_loaded_once_on_the_first_lookup(entry_point) -> None:
    entry_point("np_formulas_ok")
    assert torch.ops.netprof_test.scaled_mm not in registry.registered()  # nothing loaded yet
    analysis = _analyze()
    assert analysis.uncounted == {}
    assert analysis.totals.mult_adds == 512  # 4 * 8 * 16
    registry._RESOLVED.clear()
    assert _analyze().totals.mult_adds == 512
    assert sys.modules["np_formulas_ok"].CALLS == [1]


def test_register_formula_loads_the_entry_points_first(entry_point) -> None:
    # so a clash with a plugin is reported where the user registers, not in the middle of an analysis
    entry_point("np_formulas_clash")
    with pytest.raises(ValueError, match="already registered .*np_formulas_clash.cost"):
        netprof.register_formula("netprof_test::scaled_mm", scaled_mm_cost)
    netprof.register_formula("netprof_test::scaled_mm", scaled_mm_cost, replace=True)
    assert lookup(torch.ops.netprof_test.scaled_mm.default) is scaled_mm_cost


def test_a_failing_entry_point_raises_a_netprof_error_naming_it(entry_point) -> None:
    entry_point("np_formulas_bad", fail="raise RuntimeError('no kernel table for this GPU')")
    with pytest.raises(netprof.FormulaPluginError) as raised:
        _analyze()
    message = str(raised.value)
    assert isinstance(raised.value, netprof.NetprofError)
    assert "\n" not in message
    assert "'mylib'" in message and "np_formulas_bad:register" in message
    assert "RuntimeError: no kernel table for this GPU" in message
    # what it registered before failing is gone, and the error comes back until the plugin is fixed
    assert torch.ops.netprof_test.scaled_mm not in registry.registered()
    with pytest.raises(netprof.FormulaPluginError, match="no kernel table"):
        lookup(torch.ops.netprof_test.scaled_mm.default)
    with pytest.raises(netprof.FormulaPluginError, match="no kernel table"):
        netprof.register_formula("netprof_test::scaled_mm", scaled_mm_cost)


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (
            "np_formulas_missing_module:register",
            "ModuleNotFoundError: No module named 'np_formulas_missing_module'",
        ),
        ("np_formulas_attr:nothing", "AttributeError"),
        ("np_formulas_attr:CALLS", "TypeError: list object is not callable"),
    ],
)
def test_an_entry_point_that_cannot_load_names_the_cause(entry_point, value, cause) -> None:
    entry_point("np_formulas_attr", value=value)
    with pytest.raises(netprof.FormulaPluginError) as raised:
        lookup(torch.ops.netprof_test.scaled_mm.default)
    assert (
        f"cost formula plugin 'mylib' ({value}, entry point group netprof.formulas) failed: {cause}"
        in str(raised.value)
    )
