"""One device vocabulary (netprof.devices): every --device choice and check takes its names from it."""

from __future__ import annotations

from netprof.capture.run import MODES
from netprof.cli.main import build_parser
from netprof.devices import CAPTURE_DEVICES, CAPTURE_MODES, TIMING_DEVICES


def test_each_device_means_a_capture_mode():
    assert set(CAPTURE_MODES.values()) <= set(MODES)
    assert {device for device, mode in CAPTURE_MODES.items() if mode == "real"} == set(TIMING_DEVICES)


def _device_choices(parser) -> dict[str, tuple[str, ...]]:
    found = {}
    for action in parser._actions:
        if "--device" in action.option_strings:
            found[parser.prog] = tuple(action.choices)
        if isinstance(action.choices, dict):  # the subcommands
            for sub in action.choices.values():
                found.update(_device_choices(sub))
    return found


def test_every_command_line_offers_the_shared_names():
    choices = _device_choices(build_parser())
    assert choices, "no --device option found"
    for prog, names in choices.items():
        assert names in (CAPTURE_DEVICES, TIMING_DEVICES), (prog, names)
