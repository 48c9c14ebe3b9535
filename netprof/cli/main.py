"""The ``netprof`` command: parse, dispatch to one module per command, map errors to exit statuses.

Each command module declares ``NAME``, ``HELP`` and ``DESCRIPTION``, adds its
flags in ``add_arguments(parser)`` and does its work in ``run(args, out, err) ->
ExitStatus``. Ctrl-C is one line and exit 130, as shells report SIGINT; every
file is written atomically, so an interrupted run leaves none half-written. A ``NetprofError`` (bad input a user
can fix) is one line on stderr and exit 2; anything else is an internal error,
exit 3; ``--debug`` shows the traceback of either.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import NoReturn

from rich.console import Console

from netprof.cli import (
    adapt,
    analyze,
    bench,
    calibrate,
    check,
    common,
    compare,
    diff,
    explain,
    plot,
    predict,
    rules,
    sweep,
    whatif,
)
from netprof.environment import __version__
from netprof.errors import NetprofError, TimedOut

# In the order ``netprof --help`` lists them.
COMMANDS = (
    analyze,
    check,
    predict,
    diff,
    rules,
    explain,
    calibrate,
    bench,
    plot,
    compare,
    sweep,
    whatif,
    adapt,
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(common.ExitStatus.USAGE_ERROR, f"netprof: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netprof", description="Count, check and time the cost of a PyTorch model.")
    parser.add_argument("--version", action="version", version=f"netprof {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        subparser = commands.add_parser(command.NAME, help=command.HELP, description=command.DESCRIPTION)
        command.add_arguments(subparser)
        subparser.add_argument("--debug", action="store_true", help="show tracebacks")
        subparser.set_defaults(handler=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.debug:
        logging.getLogger("netprof").setLevel(logging.DEBUG)  # and PyTorch's own log is not silenced
    else:
        # torchao (installed with ExecuTorch, imported by transformers when present) registers Enums
        # with pytree, and torch warns its maintainers of a deprecation on every import: not the user's.
        logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    out, err = Console(), Console(stderr=True)
    try:
        with common.stops(getattr(args, "timeout", None)):
            return common.ExitStatus(args.handler(args, out, err))
    except KeyboardInterrupt:
        if args.debug:
            raise
        err.print("netprof: interrupted", markup=False, highlight=False)
        return common.ExitStatus.INTERRUPTED
    except (NetprofError, TimedOut) as error:
        if args.debug:
            raise
        err.print(f"netprof: error: {error}", markup=False, highlight=False, soft_wrap=True)
        return common.ExitStatus.USAGE_ERROR
    except Exception as error:  # the last line of defence: no traceback without --debug
        if args.debug:
            raise
        err.print(
            f"netprof: internal error: {type(error).__name__}: {error} (rerun with --debug and report it)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return common.ExitStatus.INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
