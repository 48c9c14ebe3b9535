"""The ``netprof`` command: argument parsing and exit codes only; the work is in the Python API."""

from __future__ import annotations

import argparse
import enum
import sys
from pathlib import Path
from typing import NoReturn

import torch
from rich.console import Console

import netprof
from netprof.capture.loader import SpecError, load, parse_dtype, parse_shape
from netprof.capture.run import CaptureError
from netprof.report import json_report, markdown, text

DEFAULT_SPEC = "netprof.zoo:shufflenet_v2"
DEFAULT_SPEC_NOTE = f"no SPEC given: analyzing the built-in example {DEFAULT_SPEC} (ShuffleNet V2 1x)"

# --device picks where the model is built and which capture mode runs.
_DEVICE_MODES = {"auto": "auto", "meta": "meta", "fake": "fake", "cpu": "real"}


class ExitStatus(enum.IntEnum):
    SUCCESS = 0
    FINDINGS = 1
    USAGE_ERROR = 2
    INTERNAL_ERROR = 3


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
        type=_checked(parse_shape),
        metavar="SHAPE",
        help="shape of one positional tensor argument, e.g. 1,3,224,224 (repeat for several)",
    )
    analyze.add_argument("--dtype", type=_checked(parse_dtype), default=torch.float32, help="dtype of --input tensors")
    analyze.add_argument(
        "--device",
        choices=list(_DEVICE_MODES),
        default="auto",
        help="meta: build the model on the meta device (no weights allocated); fake: fake tensors; "
        "cpu: real execution; auto: meta, else fake, else cpu",
    )
    analyze.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    analyze.add_argument("-o", "--output", type=Path, help="write the report to this file instead of stdout")
    analyze.add_argument("--depth", type=int, default=2, help="module depth of the table (default 2)")
    analyze.add_argument("--crosscheck", choices=["fvcore"], help="compare with another counter, per op type")
    analyze.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _checked(parse):
    """Adapt a parser raising SpecError to argparse's error reporting."""

    def convert(text: str):
        try:
            return parse(text)
        except SpecError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = parse.__name__
    return convert


def _analyze(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    spec = args.spec or DEFAULT_SPEC
    loaded = load(spec, args.input, args.dtype, args.device)
    notes = loaded.notes if args.spec else (DEFAULT_SPEC_NOTE, *loaded.notes)
    with err.status(f"capturing {spec} ...", spinner="dots"):
        analysis = netprof.analyze(
            loaded.model, loaded.inputs, mode=_DEVICE_MODES[args.device], name=spec, notes=notes
        )
    if args.format == "json":
        report = json_report.dumps(analysis)
    elif args.format == "markdown":
        report = markdown.render(analysis, args.depth)
    else:
        report = None
    if report is not None:
        _emit(report, args.output, out, err)
    elif args.output:
        with args.output.open("w") as handle:
            text.render(analysis, Console(file=handle, width=160, color_system=None), args.depth)
        err.print(f"wrote {args.output}")
    else:
        text.render(analysis, out, args.depth)
    return ExitStatus.SUCCESS


def _emit(report: str, output: Path | None, out: Console, err: Console) -> None:
    if output is None:
        sys.stdout.write(report)
        return
    output.write_text(report)
    err.print(f"wrote {output}")


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    out, err = Console(), Console(stderr=True)
    try:
        return _analyze(args, out, err)
    except (SpecError, CaptureError, OSError) as error:
        if args.debug:
            raise
        err.print(f"netprof: error: {error}", markup=False, highlight=False, soft_wrap=True)
        return ExitStatus.USAGE_ERROR
    except Exception as error:  # noqa: BLE001 - the last line of defence: no traceback without --debug
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
