"""What every ``netprof`` command shares: exit statuses, the model and timing flags, and output writing."""

from __future__ import annotations

import argparse
import contextlib
import enum
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from netprof import config as configuration
from netprof import datafiles
from netprof.cli import argtypes
from netprof.deadlines import Deadline
from netprof.devices import CAPTURE_DEVICES
from netprof.errors import NetprofError
from netprof.prediction import profile as profiles
from netprof.report import formats
from netprof.rules import all_rules
from netprof.runtimes import RUNTIMES
from netprof.runtimes import profile as runtime_profiles
from netprof.timing.run import DEFAULT_BUDGET_S, TimingOptions

DEFAULT_SPEC = "netprof.zoo:shufflenet_v2"
SPEC_HELP = (
    "file.py:callable or package.module:callable returning a module or (module, inputs); literal builder "
    "arguments may follow, e.g. 'torchvision.models.detection:ssdlite320_mobilenet_v3_large(weights_backbone=None)' "
    "(parsed as literals, never evaluated)"
)
CACHED_PROFILE = "cached"
# Files written with -o get a fixed width and no colour, whatever the terminal.
FILE_WIDTH = 160


class ExitStatus(enum.IntEnum):
    SUCCESS = 0
    FINDINGS = 1
    USAGE_ERROR = 2
    INTERNAL_ERROR = 3
    INTERRUPTED = 130


def default_spec_note(verb: str) -> str:
    return f"no SPEC given: {verb} the built-in example {DEFAULT_SPEC} (ShuffleNet V2 1x)"


def add_model_arguments(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """``--input``, ``--dtype`` and ``--device``; without ``defaults`` they stay None (the config decides)."""
    add_input_argument(parser)
    parser.add_argument(
        "--dtype",
        type=argtypes.dtype,
        default=torch.float32 if defaults else None,
        help="dtype of --input tensors (default float32)",
    )
    parser.add_argument(
        "--device",
        choices=CAPTURE_DEVICES,
        default="auto" if defaults else None,
        help="meta: build the model on the meta device (no weights allocated); fake: fake tensors; "
        "cpu: real execution; cuda: real execution and --time on the GPU; auto (default): meta, else fake, "
        "else cpu",
    )


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML file with a [tool.netprof] table (default ./pyproject.toml when present)",
    )


def known_rule_options(plugins: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Each rule's id and default options: what a config's rule tables are checked against."""
    return {rule.id: dict(getattr(rule, "default_options", {}) or {}) for rule in all_rules(plugins)}


def read_config(path: Path | None) -> configuration.Config:
    """``--config FILE``, else ``./pyproject.toml`` when present, else the defaults; checked as ``check``
    checks it, so a bad key stops every command the same way."""
    return configuration.load(path, known_rule_options())


def add_input_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        action="append",
        type=argtypes.shape,
        metavar="SHAPE",
        help="shape of one positional tensor argument, e.g. 1,3,224,224 (repeat for several)",
    )


def add_output_directory_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help=f"directory for {what} (default: current directory)",
    )


def add_time_arguments(parser: argparse.ArgumentParser) -> None:
    """``--time``, ``--repeat``, ``--budget`` and ``--threads``."""
    group = parser.add_argument_group("timing")
    group.add_argument(
        "--time",
        action="store_true",
        help="also run the model for real and time every op (capture becomes 'real'; needs --device cpu or auto)",
    )
    add_repeat_and_threads(group, None, "timed passes (default: as many as fit in --budget)")
    add_budget_argument(group, DEFAULT_BUDGET_S, "time spent on timed passes when --repeat is not given")
    group.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="eager",
        help="what runs the timed model (implies --time): eager PyTorch (default), or exported to ONNX and run in "
        "ONNX Runtime or OpenVINO, or to a .pte program run in ExecuTorch with XNNPACK, or compiled by "
        "torch.compile with Inductor (C++), on the CPU, each kernel timed by the runtime's profiler and joined "
        "to the ops it computes (pip install 'netprof[onnx]' / 'netprof[openvino]' / 'netprof[executorch]'; "
        "compile needs only a C++ compiler)",
    )


def add_detections_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--detections",
        type=argtypes.positive_ints,
        metavar="N[,N...]",
        help="a torchvision detector's post-processing (NMS and decoding) again at each count of candidate "
        "boxes into NMS, e.g. 10,100,1000 (score threshold off, top-k caps sized for N), counted and, when "
        "timed or predicted, timed and predicted, in a table beside the run's",
    )


def add_budget_argument(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: float, what: str
) -> None:
    parser.add_argument(
        "--budget",
        type=argtypes.positive(float),
        default=default,
        metavar="SECONDS",
        help=f"{what} (default {default:g})",
    )


def add_repeat_and_threads(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, repeat: int | None, repeat_help: str
) -> None:
    """``--repeat N`` (default ``repeat``) and ``--threads N``: how often and on how many threads to time."""
    parser.add_argument(
        "--repeat", type=argtypes.positive(int), default=repeat, metavar="N", help=repeat_help
    )
    add_threads_argument(parser)


def add_threads_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--threads",
        type=argtypes.positive(int),
        metavar="N",
        help="torch intra-op threads while timing (default: torch's)",
    )


def timing_options(args: argparse.Namespace) -> TimingOptions | None:
    """The parsed timing flags; ``None`` without ``--time`` (which ``--runtime`` other than eager implies).
    The device follows ``--device``."""
    runtime = getattr(args, "runtime", "eager")
    if not args.time and runtime == "eager":
        return None
    return TimingOptions(repeat=args.repeat, budget_s=args.budget, threads=args.threads, runtime=runtime)


def add_predict_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--predict",
        nargs="?",
        const=CACHED_PROFILE,
        metavar="PROFILE",
        help=f"{what} on a device profile (netprof calibrate -o FILE; without a file, the profile cached "
        "for this CPU and thread count)",
    )


def device_profile(
    path: Path | None, device: str, threads: int | None, dtype: torch.dtype = torch.float32
) -> profiles.DeviceProfile:
    """The profile in ``path``, else the one cached for ``device``, ``threads`` (default torch's) and ``dtype``."""
    if path is not None:
        return runtime_profiles.load(path)  # an eager profile, or a runtime's (predicted with its fusions)
    return profiles.cached(device, threads or torch.get_num_threads(), str(dtype).removeprefix("torch."))


def latency_profile(
    path: Path | None, runtime: str | None, device: str, threads: int | None, dtype: torch.dtype
) -> profiles.DeviceProfile:
    """The profile a prediction prices with: ``runtime``'s (``path``, else the one cached for it and the
    thread count), else the eager profile of ``device`` (``path``, else the cached one). A file of the
    wrong runtime or device is one line naming both."""
    if runtime is not None:
        if path is None:
            return runtime_profiles.cached(runtime, threads or torch.get_num_threads())
        return runtime_profiles.for_runtime(runtime_profiles.load(path), runtime, str(path))
    profile = device_profile(path, device, threads, dtype)
    if path is not None:
        runtime_profiles.for_runtime(profile, runtime_profiles.EAGER, str(path))
    if profile.device != device:
        raise profiles.ProfileError(
            f"{path} is a profile of {profile.device} ({profile.processor}), not of {device}"
        )
    return profile


def predict_profile(args: argparse.Namespace) -> profiles.DeviceProfile | None:
    """The profile ``--predict`` names; None without the flag."""
    if args.predict is None:
        return None
    return device_profile(None if args.predict == CACHED_PROFILE else Path(args.predict), "cpu", args.threads)


def add_timeout_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=argtypes.positive(float),
        metavar="SECONDS",
        help="give up after this long (a forward that never returns ends with one line, exit 2)",
    )


def stops(timeout: float | None) -> Deadline:
    """``--timeout`` and Ctrl-C, raised as ``TimedOut`` and KeyboardInterrupt whatever code runs when they come."""
    return Deadline(timeout, f"gave up after {timeout:g} s (--timeout)" if timeout else "", ctrl_c=True)


def add_output_argument(parser: argparse.ArgumentParser) -> None:
    """``-o FILE``: a command that writes one report writes it to one file (one that writes several
    files takes ``-o DIR``: ``add_output_directory_argument``)."""
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write the report to this file instead of stdout"
    )


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """A file or folder that cannot be written is the user's to fix: one line, exit 2."""
    try:
        yield
    except OSError as error:
        raise NetprofError(f"cannot write {path}: {error.strerror or error}") from error


def output_directory(path: Path) -> Path:
    """``path``, made now if need be, so that a folder that cannot be made fails before any work."""
    with writing(path):
        path.mkdir(parents=True, exist_ok=True)
    return path


def write_text(report: str, output: Path | None, err: Console) -> None:
    """``report`` to ``output``, else to stdout (raw, so that JSON stays clean)."""
    if output is None:
        sys.stdout.write(report)
        return
    with writing(output):
        datafiles.write_text(output, report)
    say(err, f"wrote {output}")


def write_table(render: Callable[[Console], None], output: Path | None, out: Console, err: Console) -> None:
    """Render a rich table on ``out``, or into ``output`` as plain text at a fixed width."""
    if output is None:
        render(out)
        return
    with writing(output), datafiles.replaced(output) as temporary, temporary.open("w") as handle:
        render(Console(file=handle, width=FILE_WIDTH, color_system=None))
    say(err, f"wrote {output}")


def add_format_argument(parser: argparse.ArgumentParser, command: str, help: str | None = None) -> None:
    """``--format``, with the formats the registry has for ``command``."""
    parser.add_argument("--format", choices=formats.names(command), default=formats.TABLE, help=help)


def emit(command: str, format: str, document: Any, output: Path | None, out: Console, err: Console) -> None:
    """``document`` as ``command`` writes it in ``format``, to ``output`` (a file), else the terminal."""
    report = formats.render(command, format, document)
    if isinstance(report, str):
        write_text(report, output, err)
    else:
        write_table(report, output, out, err)


def say(err: Console, line: str) -> None:
    """A line on stderr, printed as is (no rich markup or highlighting)."""
    err.print(line, markup=False, highlight=False, soft_wrap=True)
