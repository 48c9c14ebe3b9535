"""The ``netprof`` command: argument parsing and exit codes only; the work is in the Python API."""

from __future__ import annotations

import argparse
import enum
import inspect
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

import netprof
from netprof import config as configuration
from netprof.capture.loader import SpecError, load
from netprof.capture.run import CaptureError
from netprof.cli import argtypes
from netprof.cli.bench import add_bench_parser
from netprof.cli.calibrate import add_calibrate_parser, add_time_arguments, time_options
from netprof.cli.charts import add_compare_parser, add_plot_parser
from netprof.crosscheck import compare_with_fvcore
from netprof.report import diff as diffing
from netprof.report import (
    findings_diff,
    findings_markdown,
    findings_rows,
    findings_text,
    github,
    json_report,
    markdown,
    sarif,
    text,
)
from netprof.report.crosscheck import render_crosscheck
from netprof.rules import baseline as baselines
from netprof.rules.base import Severity
from netprof.timing import report as timing_report
from netprof.timing.run import TimingError

DEFAULT_SPEC = "netprof.zoo:shufflenet_v2"
DEFAULT_SPEC_NOTE = f"no SPEC given: analyzing the built-in example {DEFAULT_SPEC} (ShuffleNet V2 1x)"

# --device picks where the model is built and which capture mode runs.
_DEVICE_MODES = {"auto": "auto", "meta": "meta", "fake": "fake", "cpu": "real", "cuda": "real"}


class ExitStatus(enum.IntEnum):
    SUCCESS = 0
    FINDINGS = 1
    USAGE_ERROR = 2
    INTERNAL_ERROR = 3


class CheckFormat(str, enum.Enum):
    """``netprof check --format``: each member has one renderer in ``netprof.report``."""

    TABLE = "table"
    MARKDOWN = "markdown"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitStatus.USAGE_ERROR, f"netprof: error: {message} (see {self.prog} --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netprof", description="Count, check and time the cost of a PyTorch model.")
    parser.add_argument("--version", action="version", version=f"netprof {netprof.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    analyze = commands.add_parser(
        "analyze",
        help="count mult_adds, flops, params and memory access cost of a model",
        description="Capture one inference forward pass at the ATen level and price every op.",
    )
    analyze.add_argument(
        "spec",
        nargs="?",
        help=f"file.py:callable or package.module:callable returning a module or (module, inputs); "
        f"default: {DEFAULT_SPEC}",
    )
    analyze.add_argument(
        "--input",
        action="append",
        type=argtypes.shape,
        metavar="SHAPE",
        help="shape of one positional tensor argument, e.g. 1,3,224,224 (repeat for several)",
    )
    analyze.add_argument(
        "--dtype", type=argtypes.dtype, default=torch.float32, help="dtype of --input tensors"
    )
    analyze.add_argument(
        "--device",
        choices=list(_DEVICE_MODES),
        default="auto",
        help="meta: build the model on the meta device (no weights allocated); fake: fake tensors; "
        "cpu: real execution; cuda: real execution and --time on the GPU; auto: meta, else fake, else cpu",
    )
    analyze.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    analyze.add_argument("-o", "--output", type=Path, help="write the report to this file instead of stdout")
    analyze.add_argument("--depth", type=int, default=2, help="module depth of the table (default 2)")
    analyze.add_argument("--crosscheck", choices=["fvcore"], help="compare with another counter, per op type")
    analyze.add_argument("--debug", action="store_true", help="show tracebacks")
    add_time_arguments(analyze)
    analyze.add_argument(
        "--plot",
        type=Path,
        metavar="DIR",
        help="with --time: also write the layers, roofline and breakdown charts (PNG and SVG) to DIR",
    )
    _add_check_parser(commands)
    _add_diff_parser(commands)
    rules = commands.add_parser(
        "rules", help="list the rules", description="List every rule netprof check runs."
    )
    rules.add_argument("--format", choices=["table", "json"], default="table")
    rules.add_argument("--debug", action="store_true", help="show tracebacks")
    explain = commands.add_parser(
        "explain",
        help="print a rule's document",
        description="Print the document of a rule, e.g. netprof explain G1.",
    )
    explain.add_argument("rule", help="rule id, e.g. G1")
    explain.add_argument("--debug", action="store_true", help="show tracebacks")
    for extra in (add_calibrate_parser(commands), add_bench_parser(commands)):
        extra.add_argument("--debug", action="store_true", help="show tracebacks")
    add_plot_parser(commands)  # plot and compare bring their own --debug
    add_compare_parser(commands)
    return parser


def _rule_ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError(f"expected rule ids such as G1,G2, got {text!r}")
    return ids


def _add_check_parser(commands) -> None:
    check = commands.add_parser(
        "check",
        help="check models against the ShuffleNet V2 guidelines (exit 1 on findings)",
        description="Analyze each model and run the rules on it. Exit status: 0 clean, 1 a finding at or "
        "above --fail-on, 2 usage/config/model error, 3 internal error. Configuration: [tool.netprof] in "
        "pyproject.toml; the command line overrides it.",
    )
    check.add_argument(
        "specs",
        nargs="*",
        metavar="SPEC",
        help="models to check (file.py:callable or package.module:callable); default: the models of "
        f"[tool.netprof], else {DEFAULT_SPEC}",
    )
    check.add_argument(
        "--input",
        action="append",
        type=argtypes.shape,
        metavar="SHAPE",
        help="shape of one positional tensor argument (repeat for several); overrides the config",
    )
    check.add_argument("--dtype", type=argtypes.dtype, help="dtype of --input tensors (default float32)")
    check.add_argument("--device", choices=list(_DEVICE_MODES), help="as for analyze (default auto)")
    add_time_arguments(check)
    check.add_argument("--format", choices=[f.value for f in CheckFormat], default=CheckFormat.TABLE.value)
    check.add_argument("-o", "--output", type=Path, help="write the report to this file instead of stdout")
    check.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        help="lowest severity that fails the check (default error, or [tool.netprof] fail-on)",
    )
    check.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even with findings (errors still exit 2/3)"
    )
    check.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="report and fail only on findings this baseline does not hold",
    )
    check.add_argument(
        "--write-baseline",
        type=Path,
        metavar="FILE",
        help="write every current finding to FILE as the new baseline (then exit 0)",
    )
    check.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML file with a [tool.netprof] table (default ./pyproject.toml when present)",
    )
    check.add_argument(
        "--select", action="append", type=_rule_ids, metavar="IDS", help="run only these rules, e.g. G1,G2"
    )
    check.add_argument(
        "--ignore-rules",
        action="append",
        type=_rule_ids,
        metavar="IDS",
        help="do not run these rules, e.g. G3",
    )
    check.add_argument("--depth", type=int, help="also show the module table down to this depth")
    check.add_argument("--debug", action="store_true", help="show tracebacks")


def _add_diff_parser(commands) -> None:
    diff = commands.add_parser(
        "diff",
        help="compare two JSON reports: totals, modules and findings",
        description="Compare two netprof analyze/check --format json outputs: what a change did to "
        "mult_adds, params, memory access cost and findings, per module.",
    )
    diff.add_argument("old", type=Path, help="report before the change")
    diff.add_argument("new", type=Path, help="report after the change")
    diff.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    diff.add_argument("-o", "--output", type=Path, help="write the report to this file instead of stdout")
    diff.add_argument("--depth", type=int, help="only modules down to this depth (default: all)")
    diff.add_argument("--debug", action="store_true", help="show tracebacks")


def _refuse_untimeable(args: argparse.Namespace, device: str) -> None:
    if args.time and device in ("meta", "fake"):
        raise CaptureError(f"--time runs the model for real: it cannot be combined with --device {device}")


def _analyze(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    spec = args.spec or DEFAULT_SPEC
    if args.time and args.device in ("meta", "fake"):
        raise CaptureError(
            f"--time runs the model for real: it cannot be combined with --device {args.device}"
        )
    if args.plot is not None and not args.time:
        raise TimingError("--plot charts measured times: add --time")
    loaded = load(spec, args.input, args.dtype, "cpu" if args.device == "cuda" else args.device)
    notes = loaded.notes if args.spec else (DEFAULT_SPEC_NOTE, *loaded.notes)
    timing_device = "cuda" if args.device == "cuda" else "cpu"
    with err.status(f"capturing {spec} ...", spinner="dots"):
        analysis = netprof.analyze(
            loaded.model,
            loaded.inputs,
            mode=_DEVICE_MODES[args.device],
            name=spec,
            notes=notes,
            **time_options(args, timing_device),
        )
    if args.plot is not None:
        from netprof.charts.files import write_model_charts

        for path in write_model_charts(analysis, args.plot, name=spec):
            err.print(f"wrote {path}", markup=False, highlight=False)
    crosscheck = None
    if args.crosscheck == "fvcore":
        with err.status("running fvcore on the same model ...", spinner="dots"):
            crosscheck = compare_with_fvcore(loaded.model, loaded.inputs, analysis)
    if args.format == "json":
        _emit(json_report.dumps(analysis, crosscheck), args.output, out, err)
    elif args.format == "markdown":
        report = markdown.render(analysis, args.depth)
        if crosscheck is not None:
            report += markdown.crosscheck_section(crosscheck)
        _emit(report, args.output, out, err)
    elif args.output:
        with args.output.open("w") as handle:
            _render_table(
                analysis, crosscheck, Console(file=handle, width=160, color_system=None), args.depth
            )
        err.print(f"wrote {args.output}")
    else:
        _render_table(analysis, crosscheck, out, args.depth)
    return ExitStatus.SUCCESS


def _render_table(analysis: netprof.Analysis, crosscheck: Any, console: Console, depth: int) -> None:
    text.render(analysis, console, depth)
    if analysis.timing is not None:
        console.print()
        timing_report.render(analysis.timing, console, depth)
    if crosscheck is not None:
        console.print()
        console.print(render_crosscheck(crosscheck))


def _emit(report: str, output: Path | None, out: Console, err: Console) -> None:
    if output is None:
        sys.stdout.write(report)
        return
    output.write_text(report)
    err.print(f"wrote {output}")


def _rules_api():
    """``netprof.rules``: imported when a command needs it, so ``analyze`` never depends on it."""
    from netprof import rules

    return rules


def _all_rules(plugins: Sequence[str] = ()) -> list[Any]:
    all_rules = _rules_api().all_rules
    if plugins and "plugins" in inspect.signature(all_rules).parameters:
        return list(all_rules(plugins=plugins))
    return list(all_rules())


def _doc(rule_id: str) -> str | None:
    try:
        return _rules_api().docs.load(rule_id)
    except (LookupError, OSError):
        return None


def _flatten(groups: list[list[str]] | None) -> list[str] | None:
    return None if groups is None else [item for group in groups for item in group]


def _check(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    rules = _rules_api()
    known = {rule.id: dict(getattr(rule, "default_options", {}) or {}) for rule in _all_rules()}
    config = configuration.load(args.config, known)
    if config.plugins:
        known = {
            rule.id: dict(getattr(rule, "default_options", {}) or {}) for rule in _all_rules(config.plugins)
        }
    config = configuration.with_command_line(
        config,
        fail_on=Severity(args.fail_on) if args.fail_on else None,
        select=_flatten(args.select),
        ignore_rules=_flatten(args.ignore_rules) or (),
        known=known,
    )
    baseline = baselines.load(args.baseline) if args.baseline else None

    if args.specs:
        models = [configuration.ModelConfig(spec) for spec in args.specs]
    else:
        models = list(config.models) or [configuration.ModelConfig(DEFAULT_SPEC)]
    results: list[tuple[Any, list[Any]]] = []
    for model in models:
        device = args.device or model.device or "auto"
        loaded = load(
            model.spec,
            args.input or (list(model.input) if model.input else None),
            args.dtype or model.dtype or torch.float32,
            device,
        )
        notes = loaded.notes
        if not args.specs and not config.models:
            notes = (DEFAULT_SPEC_NOTE.replace("analyzing", "checking"), *notes)
        _refuse_untimeable(args, device)
        with err.status(f"checking {model.spec} ...", spinner="dots"):
            analysis = netprof.analyze(
                loaded.model,
                loaded.inputs,
                mode=_DEVICE_MODES[device],
                name=model.spec,
                notes=notes,
                **time_options(args, "cuda" if device == "cuda" else "cpu"),
            )
            findings = rules.run(
                analysis,
                model=loaded.model,
                settings=config.rules,
                ignore=config.ignore,
                plugins=config.plugins,
            )
        results.append((analysis, list(findings)))

    if args.write_baseline:
        baselines.write(args.write_baseline, results)
        count = sum(len(findings) for _, findings in results)
        err.print(f"wrote baseline {args.write_baseline} ({count} findings)", markup=False, highlight=False)
        baseline = baselines.load(args.write_baseline)
    checked = [baselines.triage(analysis, findings, baseline) for analysis, findings in results]
    _emit_check(args, checked, config.fail_on, out, err)
    if findings_rows.failing(checked, config.fail_on) and not args.exit_zero:
        return ExitStatus.FINDINGS
    return ExitStatus.SUCCESS


def _emit_check(
    args: argparse.Namespace, checked: list, fail_on: Severity, out: Console, err: Console
) -> None:
    form = CheckFormat(args.format)
    if form is CheckFormat.TABLE:
        if args.output:
            with args.output.open("w") as handle:
                findings_text.render(
                    checked, Console(file=handle, width=160, color_system=None), fail_on, args.depth
                )
            err.print(f"wrote {args.output}")
        else:
            findings_text.render(checked, out, fail_on, args.depth)
        return
    if form is CheckFormat.MARKDOWN:
        report = findings_markdown.render(checked, fail_on, args.depth)
    elif form is CheckFormat.JSON:
        documents = [
            json_report.check_to_dict(c.analysis, c.findings, _baseline_summary(args, c)) for c in checked
        ]
        report = json.dumps(documents[0] if len(documents) == 1 else documents, indent=1) + "\n"
    elif form is CheckFormat.SARIF:
        report = sarif.dumps(checked, _all_rules(), _doc)
    else:
        report = github.render(checked, findings_rows.rule_titles(_all_rules()))
    _emit(report, args.output, out, err)


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


def _diff(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    result = diffing.diff(diffing.load(args.old), diffing.load(args.new), args.depth)
    if args.format == "json":
        report = findings_diff.render_json(result)
    elif args.format == "markdown":
        report = findings_diff.render_markdown(result)
    elif args.output:
        with args.output.open("w") as handle:
            findings_diff.render_table(result, Console(file=handle, width=160, color_system=None))
        err.print(f"wrote {args.output}")
        return ExitStatus.SUCCESS
    else:
        findings_diff.render_table(result, out)
        return ExitStatus.SUCCESS
    _emit(report, args.output, out, err)
    return ExitStatus.SUCCESS


def _list_rules(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    rules = sorted(_all_rules(), key=lambda rule: rule.id)
    rows = [
        {
            "id": r.id,
            "title": r.title,
            "severity": str(Severity(r.default_severity)),
            "status": str(getattr(r, "status", "stable")),
            "options": dict(getattr(r, "default_options", {}) or {}),
        }
        for r in rules
    ]
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return ExitStatus.SUCCESS
    table = Table(show_edge=False, pad_edge=False)
    for name in ("id", "title", "severity", "status", "options"):
        table.add_column(name, overflow="fold")
    for row in rows:
        options = ", ".join(f"{k}={v}" for k, v in row["options"].items())
        table.add_row(row["id"], row["title"], row["severity"], row["status"], options, style=None)
    out.print(table)
    out.print("[dim]netprof explain ID prints a rule's document.[/dim]")
    return ExitStatus.SUCCESS


def _explain(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    ids = {rule.id.upper(): rule.id for rule in _all_rules()}
    rule_id = ids.get(args.rule.upper())
    if rule_id is None:
        raise configuration.ConfigError(
            f"unknown rule {args.rule!r}; known: {', '.join(sorted(ids.values()))}"
        )
    doc = _rules_api().docs.load(rule_id)
    if out.is_terminal:
        out.print(Markdown(doc))
    else:
        sys.stdout.write(doc if doc.endswith("\n") else doc + "\n")
    return ExitStatus.SUCCESS


def _run_handler(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    """Subcommands that bring their own handler (calibrate, bench)."""
    return ExitStatus(args.handler(args, out, err))


_COMMANDS = {
    "analyze": _analyze,
    "check": _check,
    "diff": _diff,
    "rules": _list_rules,
    "explain": _explain,
    "calibrate": _run_handler,
    "bench": _run_handler,
    "plot": _run_handler,
    "compare": _run_handler,
}
_USER_ERRORS = (
    SpecError,
    CaptureError,
    OSError,
    configuration.ConfigError,
    baselines.BaselineError,
    diffing.DiffError,
    TimingError,
)


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    out, err = Console(), Console(stderr=True)
    try:
        return _COMMANDS[args.command](args, out, err)
    except _USER_ERRORS as error:
        if args.debug:
            raise
        err.print(f"netprof: error: {error}", markup=False, highlight=False, soft_wrap=True)
        return ExitStatus.USAGE_ERROR
    except Exception as error:  # the last line of defence: no traceback without --debug
        if args.debug:
            raise
        err.print(
            f"netprof: internal error: {type(error).__name__}: {error} (rerun with --debug and report it)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return ExitStatus.INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
