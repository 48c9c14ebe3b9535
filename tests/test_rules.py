"""Rules G1-G4 on tiny models, ESLint style: tables of valid and invalid cases with options;
then the public API (settings, ignore, ranking, locations, plugins, documents)."""

from __future__ import annotations

import inspect
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import netprof
import netprof.rules
from netprof.rules import RuleSettings, Severity, docs, run
from netprof.rules.registry import BUILTIN

ROOT = Path(__file__).resolve().parents[1]


class Bottleneck(nn.Module):
    """x + 1x1(1x1(x)), with widths c -> mid -> c and optional groups or kernel."""

    def __init__(self, c: int = 16, mid: int = 64, groups: int = 1, kernel: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, mid, kernel, padding=kernel // 2, groups=groups, bias=False)
        self.conv2 = nn.Conv2d(mid, c, kernel, padding=kernel // 2, groups=groups, bias=False)

    def forward(self, x):
        return x + self.conv2(torch.relu(self.conv1(x)))


class FourWay(nn.Module):
    def __init__(self, c: int = 16) -> None:
        super().__init__()
        self.b = nn.ModuleList(nn.Conv2d(c, c // 4, 1) for _ in range(4))

    def forward(self, x):
        return torch.cat([b(x) for b in self.b], 1)


class Depthwise(nn.Module):
    def __init__(self, c: int = 16) -> None:
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return x + torch.relu(self.bn(self.dw(x)))


def net(block: nn.Module, stem_out: int = 16) -> nn.Module:
    """stem 1x1 (3 -> stem_out), the block, head 1x1: the block is module "1"."""
    return nn.Sequential(nn.Conv2d(3, stem_out, 1), block, nn.Conv2d(16, 16, 1)).eval()


def check(rule: str, model: nn.Module, options: dict | None = None) -> list:
    analysis = netprof.analyze(model, torch.randn(1, 3, 16, 16))
    settings = {r: RuleSettings(enabled=r == rule) for r in BUILTIN}
    settings[rule] = RuleSettings(enabled=True, options=options or {})
    return run(analysis, model, settings)


# (model builder, options, modules expected to be flagged); an empty tuple is a valid case.
CASES = {
    "G1": [
        (lambda: net(Bottleneck(16, 16)), {}, ()),  # 1:1
        (lambda: net(Bottleneck(16, 64)), {}, ("1.conv1", "1.conv2")),  # 1:4, ratio 1.235 > 1.15
        (lambda: net(Bottleneck(16, 64)), {"max_ratio": 1.3}, ()),
        (lambda: net(Bottleneck(16, 32)), {}, ()),  # 1:2, ratio 1.05
        (lambda: net(Bottleneck(16, 32)), {"max_ratio": 1.0}, ("1.conv1", "1.conv2")),
        (lambda: net(Bottleneck(16, 64, kernel=3)), {}, ()),  # 3x3: pointwise only
        (lambda: net(Bottleneck(16, 64, kernel=3)), {"pointwise_only": False}, ("1.conv1", "1.conv2")),
        (lambda: net(Bottleneck(16, 16), stem_out=16), {"max_ratio": 1.0, "exempt_stem_and_head": True}, ()),
        (lambda: net(Bottleneck(16, 16)), {"exempt_stem_and_head": False}, ("0",)),  # stem 3 -> 16
        (lambda: net(Depthwise()), {"max_ratio": 1.0}, ()),  # depthwise: never G1
    ],
    "G2": [
        (lambda: net(Bottleneck(16, 64)), {}, ()),
        (lambda: net(Bottleneck(16, 64, groups=4)), {}, ("1.conv1", "1.conv2")),
        (lambda: net(Bottleneck(16, 64, groups=4)), {"max_groups": 4}, ()),
        (lambda: net(Bottleneck(16, 64, groups=4)), {"max_groups": 2}, ("1.conv1", "1.conv2")),
        (lambda: net(Depthwise()), {}, ()),  # depthwise is G4's
    ],
    "G3": [
        (lambda: net(Bottleneck(16, 16)), {}, ()),  # residual: 1 compute branch + identity
        (lambda: net(FourWay()), {}, ("1",)),  # 4 branches > 2
        (lambda: net(FourWay()), {"max_parallel_branches": 4}, ()),
        (lambda: net(Bottleneck(16, 16)), {"max_fragments": 1}, ("1",)),  # 2 fragments > 1
        (lambda: net(Bottleneck(16, 16)), {"max_parallel_branches": 0}, ("1",)),
    ],
    "G4": [
        (lambda: net(Bottleneck(16, 16)), {}, ()),
        (lambda: net(Depthwise()), {}, ("",)),  # dw + BN + ReLU + add: mostly element-wise
        (lambda: net(Depthwise()), {"max_share": 0.99}, ()),
        (lambda: net(Bottleneck(16, 16)), {"max_share": 0.0}, ("",)),
        (lambda: net(Depthwise()), {"per_block": True}, ("1",)),
    ],
}


@pytest.mark.parametrize(
    ("rule", "build", "options", "expected"),
    [(rule, *case) for rule, cases in CASES.items() for case in cases],
    ids=[f"{rule}-{i}" for rule, cases in CASES.items() for i in range(len(cases))],
)
def test_rule_cases(rule, build, options, expected):
    findings = check(rule, build(), options)
    assert sorted(f.module for f in findings) == sorted(expected)
    for f in findings:
        assert f.rule == rule and f.fix and f.message
        assert f.cost_bytes >= 0 and 0 <= f.cost_share <= 1
        if rule != "G4":
            assert f.measured > f.threshold


def test_g1_finding_numbers():
    model = net(Bottleneck(16, 64))
    (first, _) = check("G1", model)
    # conv 16 -> 64 at 16x16 = 256 positions: mac = 256*16 + 256*64 + 16*64 = 21504,
    # balanced = 2*256*sqrt(16*64) + 1024 = 17408, ratio 1.2353, excess 4096 elements = 16384 bytes
    assert first.measured == pytest.approx(21504 / 17408)
    assert first.threshold == 1.15
    assert first.cost_bytes == 16384
    assert "32->32" in first.fix  # sqrt(16 * 64)
    assert first.severity is Severity.WARNING


def test_g2_finding_numbers():
    findings = check("G2", net(Bottleneck(16, 64, groups=4)))
    conv1 = next(f for f in findings if f.module == "1.conv1")
    # 16 -> 64, g=4 at 256 positions: mac = 4096 + 16384 + 256 = 20736, dense 16 -> 16:
    # 4096 + 4096 + 256 = 8448; excess 12288 elements = 49152 bytes
    assert conv1.cost_bytes == 49152
    assert conv1.measured == 4 and conv1.threshold == 1
    assert "16->16" in conv1.fix


def test_findings_ranked_by_cost_and_configurable():
    model = net(Bottleneck(16, 64, groups=4))
    analysis = netprof.analyze(model, torch.randn(1, 3, 16, 16))
    findings = run(analysis, model, {"G4": RuleSettings(options={"max_share": 0.0})})
    costs = [f.cost_bytes for f in findings]
    assert costs == sorted(costs, reverse=True) and len(findings) >= 3
    quiet = run(
        analysis, model, {"G2": RuleSettings(enabled=False), "G1": RuleSettings(severity=Severity.ERROR)}
    )
    assert not any(f.rule == "G2" for f in quiet)
    assert {f.severity for f in quiet if f.rule == "G1"} == {Severity.ERROR}
    assert run(analysis, model, ignore=["1.*"]) == [
        f for f in run(analysis, model) if not f.module.startswith("1.")
    ]


def test_source_location_names_the_class_that_built_the_module():
    model = net(Bottleneck(16, 64))
    analysis = netprof.analyze(model, torch.randn(1, 3, 16, 16))
    located = run(analysis, model, {"G2": RuleSettings(enabled=False)})
    f = next(f for f in located if f.module == "1.conv1")
    assert f.location is not None
    assert Path(f.location.path).resolve() == Path(__file__).resolve()
    assert f.location.line == inspect.getsourcelines(Bottleneck)[1]
    assert all(f.location is None for f in run(analysis))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"G9": RuleSettings()}, "G9"),
        ({"G1": RuleSettings(options={"max_raito": 1.2})}, "max_raito"),
        ({"G1": RuleSettings(options={"max_ratio": "high"})}, "max_ratio"),
        ({"G2": RuleSettings(options={"max_groups": 2.5})}, "max_groups"),
        ({"G4": RuleSettings(enabled=False, options={"per_block": 1})}, "per_block"),
    ],
)
def test_bad_settings_raise_naming_the_key(settings, message):
    analysis = netprof.analyze(net(Bottleneck()), torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match=message):
        run(analysis, settings=settings)


PLUGIN = """
from netprof.rules.base import Severity, Status, finding

class EveryBlock:
    id = "{id}"
    title = "every-block"
    status = Status.{status}
    default_severity = Severity.INFO
    default_options = {{"min_fragments": 1}}
    doc = "# {id}: every block"

    def check(self, context, options):
        for block in context.metrics.blocks.values():
            if block.fragments >= options["min_fragments"]:
                yield finding(self, context, block.path, message="a block", measured=block.fragments,
                              threshold=options["min_fragments"], cost_bytes=1, fix="none")

RULE = EveryBlock()
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    def write(name: str, rule_id: str = "X100", status: str = "STABLE") -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(PLUGIN.format(id=rule_id, status=status)))
        return f"{name}:RULE"

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for name in [m for m in sys.modules if m.startswith("np_plugin_")]:
        del sys.modules[name]


def test_plugin_rule_from_the_plugins_list(plugin):
    spec = plugin("np_plugin_a")
    assert [r.id for r in netprof.rules.all_rules([spec])] == [
        "G1",
        "G2",
        "G3",
        "G4",
        "M1",
        "D1",
        "D2",
        "X100",
    ]
    model = net(Bottleneck())
    analysis = netprof.analyze(model, torch.randn(1, 3, 16, 16))
    findings = run(analysis, model, {"X100": RuleSettings(options={"min_fragments": 2})}, plugins=[spec])
    (mine,) = [f for f in findings if f.rule == "X100"]
    assert (mine.module, mine.measured, mine.severity) == ("1", 2, Severity.INFO)
    with pytest.raises(ValueError, match="X100"):
        run(analysis, settings={"X100": RuleSettings()})  # without the plugin the id is unknown
    assert docs.load("X100", plugins=[spec]) == "# X100: every block"


def test_preview_plugin_runs_only_when_enabled(plugin):
    spec = plugin("np_plugin_b", "X200", "PREVIEW")
    analysis = netprof.analyze(net(Bottleneck()), torch.randn(1, 3, 16, 16))
    assert not [f for f in run(analysis, plugins=[spec]) if f.rule == "X200"]
    enabled = run(analysis, settings={"X200": RuleSettings(enabled=True)}, plugins=[spec])
    assert [f.rule for f in enabled if f.rule == "X200"] == ["X200"]


def test_bad_plugins_raise(plugin):
    with pytest.raises(ValueError, match="already used"):
        netprof.rules.all_rules([plugin("np_plugin_c", "G1")])
    with pytest.raises(ValueError, match="package.module:OBJECT"):
        netprof.rules.all_rules(["no_colon"])
    with pytest.raises(ValueError, match="np_plugin_missing"):
        netprof.rules.all_rules(["np_plugin_missing:RULE"])
    with pytest.raises(ValueError, match="lacks"):
        netprof.rules.all_rules(["math:pi"])


def test_entry_point_plugins(plugin, monkeypatch):
    from importlib.metadata import EntryPoint

    plugin("np_plugin_d", "X300")
    ep = EntryPoint(name="x300", value="np_plugin_d:RULE", group="netprof.rules")
    monkeypatch.setattr(
        "netprof.rules.registry.entry_points", lambda group: [ep] if group == "netprof.rules" else []
    )
    assert "X300" in [r.id for r in netprof.rules.all_rules()]


SECTIONS = [
    "## What it does",
    "## Why is this bad?",
    "## What triggers it",
    "## Options",
    "## How to fix",
    "## Example",
]


@pytest.mark.parametrize("rule_id", ["G1", "G2", "G3", "G4", "M1", "D1", "D2"])
def test_rule_documents(rule_id):
    text = docs.load(rule_id)
    rule = BUILTIN[rule_id].rule
    assert text.startswith(f"# {rule_id}: {rule.title}\n")
    positions = [text.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    options = text[text.index("## Options") : text.index("## How to fix")]
    for name, default in rule.default_options.items():  # every option documented with its default
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        assert f"| `{name}` | `{shown}` |" in options


def test_documents_found_in_an_installed_copy(tmp_path, monkeypatch):
    installed = tmp_path / "share" / "netprof" / "rules"
    installed.mkdir(parents=True)
    (installed / "G1.md").write_text("# G1: installed")
    monkeypatch.setattr(docs, "search_path", lambda: [tmp_path / "missing", installed])
    assert docs.load("G1") == "# G1: installed"
    with pytest.raises(ValueError, match="G7"):
        docs.load("G7")


def test_pyproject_ships_every_document():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (patterns,) = config["tool"]["setuptools"]["data-files"].values()
    shipped = {p.name for pattern in patterns for p in ROOT.glob(pattern)}
    assert {f"{rule_id}.md" for rule_id in BUILTIN} <= shipped
    assert list(config["tool"]["setuptools"]["data-files"]) == ["share/netprof/rules"]
