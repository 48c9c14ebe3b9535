"""``netprof check``: run the rules on each model; exit 1 on findings at or above ``--fail-on``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from netprof import config as configuration
from netprof import pipeline
from netprof.cli import common
from netprof.prediction import profile as profiles
from netprof.report import findings_rows
from netprof.report.check import CheckReport
from netprof.rules import baseline as baselines
from netprof.rules.base import Severity
from netprof.rules.memory_budget import budget_of
from netprof.units import parse_nbytes


def _rule_ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError(f"expected rule ids such as G1,G2, got {text!r}")
    return ids


def _size(text: str) -> int:
    try:
        return parse_nbytes(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


NAME = "check"
HELP = "check models against the ShuffleNet V2 guidelines and a memory budget (exit 1 on findings)"
DESCRIPTION = (
    "Analyze each model and run the rules on it: G1-G4, M1 when a memory budget is set, D1 and D2 on "
    "detectors. Exit "
    "status: 0 clean, 1 a finding at or above --fail-on, 2 usage/config/model error, 3 internal error. "
    "Configuration: [tool.netprof] in pyproject.toml; the command line overrides it."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs",
        nargs="*",
        metavar="SPEC",
        help="models to check (file.py:callable or package.module:callable); default: the models of "
        f"[tool.netprof], else {common.DEFAULT_SPEC}",
    )
    common.add_model_arguments(parser, defaults=False)
    common.add_time_arguments(parser)
    common.add_format_argument(parser, NAME)
    common.add_output_argument(parser)
    common.add_timeout_argument(parser)
    parser.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        help="lowest severity that fails the check (default error, or [tool.netprof] fail-on)",
    )
    parser.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even with findings (errors still exit 2/3)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="report and fail only on findings this baseline does not hold",
    )
    parser.add_argument(
        "--write-baseline",
        type=Path,
        metavar="FILE",
        help="write every current finding to FILE as the new baseline (then exit 0)",
    )
    common.add_config_argument(parser)
    parser.add_argument(
        "--select", action="append", type=_rule_ids, metavar="IDS", help="run only these rules, e.g. G1,G2"
    )
    parser.add_argument(
        "--ignore-rules",
        action="append",
        type=_rule_ids,
        metavar="IDS",
        help="do not run these rules, e.g. G3",
    )
    parser.add_argument(
        "--memory-budget",
        type=_size,
        metavar="SIZE",
        help="rule M1: flag blocks whose live activations exceed SIZE (256KiB, 512KB, 1MiB, 2MB or bytes; "
        "default [tool.netprof] memory-budget, else none)",
    )
    parser.add_argument("--depth", type=int, help="also show the module table down to this depth")
    common.add_predict_argument(parser, "G3 and G4 findings also say the time their ops take")


def _flatten(groups: list[list[str]] | None) -> list[str] | None:
    return None if groups is None else [item for group in groups for item in group]


def _config(args: argparse.Namespace) -> configuration.Config:
    """Defaults < pyproject.toml (or --config) < the command line."""
    config = common.read_config(args.config)
    return configuration.with_command_line(
        config,
        fail_on=Severity(args.fail_on) if args.fail_on else None,
        select=_flatten(args.select),
        ignore_rules=_flatten(args.ignore_rules) or (),
        known=common.known_rule_options(config.plugins),
        memory_budget=args.memory_budget,
    )


def _models(
    args: argparse.Namespace, config: configuration.Config
) -> tuple[list[configuration.ModelConfig], bool]:
    """The models to check, and whether they are the built-in default."""
    if args.specs:
        return [configuration.ModelConfig(spec) for spec in args.specs], False
    if config.models:
        return list(config.models), False
    return [configuration.ModelConfig(common.DEFAULT_SPEC)], True


def _check_one(
    args: argparse.Namespace,
    model: configuration.ModelConfig,
    config: configuration.Config,
    notes: tuple[str, ...],
    profile: profiles.DeviceProfile | None,
) -> pipeline.Result:
    """``model`` analyzed and checked: its findings are ``result.findings``."""
    return pipeline.execute(
        pipeline.RunRequest(
            model.spec,
            args.input or (list(model.input) if model.input else None),
            args.dtype or model.dtype or torch.float32,
            args.device or model.device or "auto",
            notes=notes,
            timing=common.timing_options(args),
            memory=budget_of(config.rules) is not None,  # M1 reads the memory profile
            profile=profile,
            rules=config,
            stage_modules=config.stage_modules,
        )
    )


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    config = _config(args)
    baseline = baselines.load(args.baseline) if args.baseline else None
    models, default = _models(args, config)
    notes = (common.default_spec_note("checking"),) if default else ()
    profile = common.predict_profile(args)
    results = []
    for model in models:
        with err.status(f"checking {model.spec} ...", spinner="dots"):
            results.append(_check_one(args, model, config, notes, profile))

    if args.write_baseline:
        with common.writing(args.write_baseline):
            baselines.write(args.write_baseline, [(result.analysis, result.findings) for result in results])
        count = sum(len(result.findings) for result in results)
        common.say(err, f"wrote baseline {args.write_baseline} ({count} findings)")
        baseline = baselines.load(args.write_baseline)
    checked = [baselines.triage(result.analysis, result.findings, baseline) for result in results]
    report = CheckReport(
        results,
        checked,
        config.fail_on,
        args.depth,
        [_baseline_summary(args, c) for c in checked],
    )
    common.emit(NAME, args.format, report, args.output, out, err)
    if findings_rows.failing(checked, config.fail_on) and not args.exit_zero:
        return common.ExitStatus.FINDINGS
    return common.ExitStatus.SUCCESS


def _baseline_summary(args: argparse.Namespace, checked: baselines.CheckedModel) -> dict[str, Any] | None:
    path = args.write_baseline or args.baseline
    if path is None:
        return None
    return {
        "path": str(path),
        "known": len(checked.baselined),
        "fixed": [entry.fingerprint for entry in checked.fixed],
        "previous_totals": dict(checked.previous) if checked.previous is not None else None,
    }
