"""``[tool.netprof]`` in ``pyproject.toml``: what ``netprof check`` checks and how strictly.

Precedence, lowest first: the rules' own defaults < ``pyproject.toml`` < the command line.
Every key is validated against the small declarative schema below; an unknown key or a bad
value is one ``ConfigError`` naming the key, e.g.
``tool.netprof.rules.G1.severity: expected one of info, warning, error, got 'fatal'``.

Hand-validated rather than with ``jsonschema``: the schema is a dozen keys, and the messages
(the dotted key, a "did you mean", the rule's own option names) are the point.

    [tool.netprof]
    fail-on = "warning"             # info | warning | error
    ignore = ["features.0.*"]       # module path globs never reported
    memory-budget = "256KiB"        # rule M1: live activations per block (256KiB, 512KB, 1MiB, 2MB, bytes)
    plugins = ["mypkg.netprof_rules"]

    [[tool.netprof.models]]
    spec = "models/net.py:build"
    input = ["1,3,224,224"]         # one shape per positional tensor ("1,3,224,224" or [1, 3, 224, 224])
    dtype = "float32"
    device = "meta"                 # auto | meta | fake | cpu | cuda

    [tool.netprof.rules.G1]
    enabled = true
    severity = "warning"
    max_ratio = 3                   # any option the rule declares in default_options

    [tool.netprof.stages]           # a detector's stages by module path or glob (as ignore's)
    backbone = ["body"]             # preprocess | backbone | neck | head | postprocess
    neck = ["fpn"]
    head = ["head.cls", "head.box"]
    postprocess = ["decode"]

``stages`` overrides the stages netprof reads from a detector's module names (``netprof.detection``):
a module it names takes that stage with every module inside it, the innermost named module deciding,
and a model that no module name makes a detector is one when it names any of its modules. ``analyze``,
``predict`` and ``check`` read it: the stages table and JSON ``stages``, and the detector rules.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch

from netprof.capture.loader import SpecError, parse_dtype, parse_shape
from netprof.datafiles import read_toml
from netprof.detection import STAGES
from netprof.devices import CAPTURE_DEVICES
from netprof.errors import NetprofError
from netprof.rules import memory_budget as budget_rule
from netprof.rules.base import RuleSettings, Severity
from netprof.units import parse_nbytes

SEVERITIES = tuple(s.value for s in Severity)
T = TypeVar("T")


class ConfigError(NetprofError):
    """A configuration file or option is unusable; the message names the key."""


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """One model to check. ``None`` fields take the command line's value, then the default."""

    spec: str
    input: tuple[tuple[int, ...], ...] | None = None
    dtype: torch.dtype | None = None
    device: str | None = None


@dataclass(frozen=True)
class Config:
    """Everything ``netprof check`` was configured with, after merging every source."""

    models: tuple[ModelConfig, ...] = ()
    rules: Mapping[str, RuleSettings] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    fail_on: Severity = Severity.ERROR
    plugins: tuple[str, ...] = ()
    source: Path | None = None
    stage_modules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # stage -> paths or globs


# --- the schema: key -> (check, what it expects) ----------------------------------------------

Check = Callable[[str, Any], Any]


def _fail(key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{key}: expected {expected}, got {value!r}")


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(key, "a non-empty string", value)
    return value


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(key, "a list of strings", value)
    return tuple(value)


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, "true or false", value)
    return value


def _one_of(*choices: str) -> Check:
    def check(key: str, value: Any) -> str:
        if value not in choices:
            raise _fail(key, f"one of {', '.join(choices)}", value)
        return value

    return check


def _severity(key: str, value: Any) -> Severity:
    return Severity(_one_of(*SEVERITIES)(key, value))


def _parsed(key: str, value: Any, parse: Callable[[str], T], error: type[Exception], expected: str) -> T:
    """``parse(value)`` for a string it accepts; otherwise the error naming ``expected``."""
    if isinstance(value, str):
        try:
            return parse(value)
        except error:
            pass
    raise _fail(key, expected, value)


def _size(key: str, value: Any) -> int:
    """Bytes, as a positive int or a string such as "256KiB", "512KB", "1MiB" or "2MB"."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    expected = 'a size such as "256KiB", "512KB", "1MiB", "2MB" or a number of bytes'
    return _parsed(key, value, parse_nbytes, ValueError, expected)


def _dtype(key: str, value: Any) -> torch.dtype:
    try:
        return parse_dtype(_string(key, value))
    except SpecError:
        raise _fail(key, "a torch dtype name such as float32 or bfloat16", value) from None


def _shape(key: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        return tuple(value)
    return _parsed(key, value, parse_shape, SpecError, 'a shape such as "1,3,224,224" or [1, 3, 224, 224]')


def _shapes(key: str, value: Any) -> tuple[tuple[int, ...], ...]:
    """One shape, or a list of shapes (one per positional tensor)."""
    if isinstance(value, str) or (
        isinstance(value, list) and value and all(isinstance(v, int) for v in value)
    ):
        return (_shape(key, value),)
    if isinstance(value, list) and value:
        return tuple(_shape(f"{key}[{i}]", v) for i, v in enumerate(value))
    raise _fail(key, 'a shape such as "1,3,224,224", or a list of shapes', value)


_MODEL_SCHEMA: dict[str, Check] = {
    "spec": _string,
    "input": _shapes,
    "dtype": _dtype,
    "device": _one_of(*CAPTURE_DEVICES),
}
_RULE_SCHEMA: dict[str, Check] = {"enabled": _boolean, "severity": _severity}
_TOP_SCHEMA = ("models", "rules", "ignore", "fail-on", "plugins", "memory-budget", "stages")


def _table(key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _fail(key, "a table", value)
    return value


def _unknown(key: str, name: str, known: Iterable[str], what: str = "key") -> ConfigError:
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(known)}"
    return ConfigError(f"{key}.{name}: unknown {what}{hint}")


def _stages(key: str, value: Any) -> dict[str, tuple[str, ...]]:
    """Stage -> module paths or globs; a pattern under two stages would give one module two."""
    stages: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for name, patterns in _table(key, value).items():
        if name not in STAGES:
            close = difflib.get_close_matches(name, STAGES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{key}.{name}: unknown stage; {hint}expected one of {', '.join(STAGES)}")
        stages[name] = _strings(f"{key}.{name}", patterns)
        for pattern in stages[name]:
            if owner.setdefault(pattern, name) != name:
                raise ConfigError(f"{key}.{name}: {pattern!r} is under {key}.{owner[pattern]} too")
    return stages


def _model(key: str, value: Any) -> ModelConfig:
    if isinstance(value, str):
        return ModelConfig(_string(key, value))
    table = _table(key, value)
    for name in table:
        if name not in _MODEL_SCHEMA:
            raise _unknown(key, name, _MODEL_SCHEMA)
    if "spec" not in table:
        raise ConfigError(f"{key}.spec: required")
    parsed = {name: _MODEL_SCHEMA[name](f"{key}.{name}", v) for name, v in table.items()}
    return ModelConfig(**parsed)


def _option(key: str, value: Any, default: Any) -> Any:
    """A rule option must have the type of its default (an int default also takes a float)."""
    if isinstance(default, bool) or default is None:
        ok = isinstance(value, bool) if isinstance(default, bool) else True
        expected = "true or false"
    elif isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        expected = "a number"
    elif isinstance(default, str):
        ok = isinstance(value, str)
        expected = "a string"
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, list)
        expected = "a list"
    else:
        ok, expected = True, ""
    if not ok:
        raise _fail(key, expected, value)
    return value


def _rule(key: str, value: Any, default_options: Mapping[str, Any] | None) -> RuleSettings:
    table = _table(key, value)
    settings: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for name, item in table.items():
        if name in _RULE_SCHEMA:
            settings[name] = _RULE_SCHEMA[name](f"{key}.{name}", item)
        elif default_options is None:
            options[name] = item  # a rule this run cannot see (a plugin's): passed through
        elif name in default_options:
            options[name] = _option(f"{key}.{name}", item, default_options[name])
        else:
            raise _unknown(key, name, [*_RULE_SCHEMA, *default_options], "option")
    return RuleSettings(options=options, **settings)


def parse(
    table: Mapping[str, Any],
    known_rules: Mapping[str, Mapping[str, Any]] | None = None,
    source: Path | None = None,
    prefix: str = "tool.netprof",
) -> Config:
    """``[tool.netprof]`` as a ``Config``.

    ``known_rules`` maps each rule id to its ``default_options``; with it, unknown rule ids and
    option names are errors. Without it (or for a rule id it lacks while plugins are
    configured) options are passed through unchecked.
    """
    table = _table(prefix, table)
    for name in table:
        if name not in _TOP_SCHEMA:
            raise _unknown(prefix, name, _TOP_SCHEMA)
    models = table.get("models", [])
    if not isinstance(models, list):
        raise _fail(f"{prefix}.models", "a list of model tables", models)
    plugins = _strings(f"{prefix}.plugins", table.get("plugins", []))
    rules: dict[str, RuleSettings] = {}
    for rule_id, value in _table(f"{prefix}.rules", table.get("rules", {})).items():
        key = f"{prefix}.rules.{rule_id}"
        if known_rules is not None and rule_id not in known_rules and not plugins:
            raise _unknown(f"{prefix}.rules", rule_id, sorted(known_rules), "rule")
        rules[rule_id] = _rule(key, value, None if known_rules is None else known_rules.get(rule_id))
    if "memory-budget" in table:
        budget = _size(f"{prefix}.memory-budget", table["memory-budget"])
        if budget_rule.OPTION in rules.get(budget_rule.ID, RuleSettings()).options:
            raise ConfigError(
                f"{prefix}.memory-budget: {prefix}.rules.{budget_rule.ID}.{budget_rule.OPTION} sets it"
                " too; keep one"
            )
        rules = _with_memory_budget(rules, budget)
    return Config(
        models=tuple(_model(f"{prefix}.models[{i}]", m) for i, m in enumerate(models)),
        rules=rules,
        ignore=_strings(f"{prefix}.ignore", table.get("ignore", [])),
        fail_on=_severity(f"{prefix}.fail-on", table.get("fail-on", Severity.ERROR.value)),
        plugins=plugins,
        source=source,
        stage_modules=_stages(f"{prefix}.stages", table.get("stages", {})),
    )


def _with_memory_budget(rules: Mapping[str, RuleSettings], budget: int) -> dict[str, RuleSettings]:
    """``rules`` with rule M1's budget set (its other settings kept)."""
    setting = rules.get(budget_rule.ID, RuleSettings())
    options = {**setting.options, budget_rule.OPTION: budget}
    return {**rules, budget_rule.ID: replace(setting, options=options)}


def read(path: Path) -> Mapping[str, Any]:
    """The ``[tool.netprof]`` table of a TOML file (empty when it has none)."""
    document = read_toml(path, ConfigError, "config file not found")
    tool = document.get("tool", {})
    if not isinstance(tool, dict) or not isinstance(tool.get("netprof", {}), dict):
        raise ConfigError(f"{path}: tool.netprof: expected a table")
    return tool.get("netprof", {})


def load(path: Path | None, known_rules: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
    """``path``, else ``./pyproject.toml`` when present, else the defaults.

    An explicit ``path`` must exist; errors name the file and the key.
    """
    if path is None:
        path = Path("pyproject.toml")
        if not path.is_file():
            return Config()
    table = read(path)
    try:
        return parse(table, known_rules, source=path)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def with_command_line(
    config: Config,
    *,
    fail_on: Severity | None = None,
    select: Iterable[str] | None = None,
    ignore_rules: Iterable[str] = (),
    known: Iterable[str] = (),
    memory_budget: int | None = None,
) -> Config:
    """The command line over the file: ``--fail-on`` replaces, ``--select`` enables only the
    rules it names, ``--ignore-rules`` disables rules (every id must be a known rule), and
    ``--memory-budget`` (bytes) replaces rule M1's budget."""
    known = list(known)
    rules = dict(config.rules)
    for flag, ids in (("--select", select or ()), ("--ignore-rules", ignore_rules)):
        for rule_id in ids:
            if known and rule_id not in known:
                close = difflib.get_close_matches(rule_id, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
                raise ConfigError(f"{flag}: unknown rule {rule_id!r}; {hint}")
    if select is not None:
        chosen = set(select)
        for rule_id in known:
            rules[rule_id] = replace(rules.get(rule_id, RuleSettings()), enabled=rule_id in chosen)
    for rule_id in ignore_rules:
        rules[rule_id] = replace(rules.get(rule_id, RuleSettings()), enabled=False)
    if memory_budget is not None:
        rules = _with_memory_budget(rules, memory_budget)
    return replace(config, rules=rules, fail_on=fail_on or config.fail_on)
