"""The flags of ``netprof analyze`` on a language model: ``--prefill``, ``--decode`` and the serving prediction.

Prefill and decode are asked for when ``--prefill`` or ``--decode`` is given, or
the SPEC is an ``hf:`` text model given no ``--input``: the prompt pass and the
decode steps are counted (``netprof.serving``), and with
``--peak-tflops``/``--bandwidth-gbs`` or ``--predict`` each phase is predicted on
that device.
"""

from __future__ import annotations

import argparse

from netprof import pipeline
from netprof.capture import huggingface
from netprof.cli import argtypes, common
from netprof.serving import Roofline
from netprof.serving.cache import DecodeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("language models (prefill and decode)")
    group.add_argument(
        "--batch", type=argtypes.positive(int), default=1, help="sequences per pass (default 1)"
    )
    group.add_argument(
        "--prefill",
        type=argtypes.positive(int),
        metavar="P",
        help="prompt tokens (default 512 for hf: text models)",
    )
    group.add_argument(
        "--decode", type=argtypes.positive(int), default=0, metavar="D", help="decode steps after the prompt"
    )
    group.add_argument(
        "--hf-class", metavar="AUTO", help="transformers auto class for hf: specs (default: by config)"
    )
    group.add_argument(
        "--peak-tflops", type=argtypes.positive(float), help="predict on a device of this peak"
    )
    group.add_argument(
        "--bandwidth-gbs", type=argtypes.positive(float), help="... and this memory bandwidth (GB/s)"
    )
    common.add_predict_argument(parser, "predict each phase's time")


def wanted(args: argparse.Namespace) -> bool:
    """Whether ``analyze`` should count prefill and decode rather than one forward pass.

    The flags that only mean something for prefill and decode are refused on one forward pass.
    """
    spec = args.spec or ""
    if args.prefill is not None or args.decode or args.batch != 1:
        return True
    if huggingface.is_hf_spec(spec) and not args.input and huggingface.takes_token_ids(spec):
        return True
    if args.peak_tflops is not None or args.bandwidth_gbs is not None or args.predict is not None:
        raise DecodeError(
            "--predict, --peak-tflops and --bandwidth-gbs predict prefill and decode: add --prefill "
            "(for one forward pass, use netprof predict)"
        )
    return False


def _roofline(args: argparse.Namespace) -> Roofline | None:
    if (args.peak_tflops is None) != (args.bandwidth_gbs is None):
        raise DecodeError("--peak-tflops and --bandwidth-gbs go together: give both")
    if args.peak_tflops is None:
        return None
    return Roofline(args.peak_tflops * 1e12, args.bandwidth_gbs * 1e9)


def request(args: argparse.Namespace) -> pipeline.Generate | None:
    """The prefill and decode the flags ask for; None for one forward pass."""
    if not wanted(args):
        return None
    return pipeline.Generate(args.batch, args.prefill, args.decode, _roofline(args))
