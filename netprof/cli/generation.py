"""``netprof analyze`` on a language model: ``--prefill``, ``--decode`` and the serving prediction.

Taken when ``--prefill`` or ``--decode`` is given, or the SPEC is an ``hf:``
text model given no ``--input``: the prompt pass and the decode steps are
counted (``netprof.serving``), and with ``--peak-tflops``/``--bandwidth-gbs``
or ``--predict`` each phase is timed on that device.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.progress import track

from netprof import pipeline
from netprof.capture import huggingface
from netprof.cli import argtypes, common
from netprof.devices import CAPTURE_MODES
from netprof.report import markdown as analysis_markdown
from netprof.report import text
from netprof.serving import charts, report
from netprof.serving.cache import DecodeError
from netprof.serving.phases import analyze_generation
from netprof.serving.predict import Roofline, predict_generation


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


def _device(args: argparse.Namespace) -> Roofline | None:
    if (args.peak_tflops is None) != (args.bandwidth_gbs is None):
        raise DecodeError("--peak-tflops and --bandwidth-gbs go together: give both")
    if args.peak_tflops is None:
        return None
    return Roofline(args.peak_tflops * 1e12, args.bandwidth_gbs * 1e9)


def run(args: argparse.Namespace, out: Console, err: Console) -> common.ExitStatus:
    if args.time or args.crosscheck:
        raise DecodeError("--time and --crosscheck analyze one forward pass: drop --prefill/--decode")
    if args.input:
        raise DecodeError("--prefill and --decode make the token ids: use --batch and --prefill, not --input")
    spec = args.spec or common.DEFAULT_SPEC
    roofline = _device(args)
    profile = common.predict_profile(args)
    prefill = args.prefill or huggingface.DEFAULT_TOKENS[1]
    defaults = () if args.prefill else (f"no --prefill given: a {prefill}-token prompt",)
    with err.status(f"building {spec} ...", spinner="dots"):
        loaded, built_on_cpu = pipeline.load_on_meta(spec, [(args.batch, prefill)], hf_class=args.hf_class)
    # Fake tensors by default: no weight runs, and attention dispatches to its fused kernel as in a real run.
    mode = "fake" if args.device == "auto" else CAPTURE_MODES[args.device]
    with err.status(
        f"capturing the prefill of {prefill} tokens and {args.decode} decode steps ...", spinner="dots"
    ):
        generation = analyze_generation(
            loaded.model,
            batch=args.batch,
            prefill=prefill,
            decode=args.decode,
            mode=mode,
            name=spec,
            notes=defaults + loaded.notes + built_on_cpu,
            progress=lambda steps: track(steps, description="decode steps", console=err, transient=True),
        )
    device = roofline or profile
    prediction = None if device is None else predict_generation(generation, device)
    if args.plot is not None:
        with common.writing(args.plot):
            paths = charts.write_generation_chart(generation, roofline, args.plot)
        for path in paths:
            common.say(err, f"wrote {path}")
    if args.format == "json":
        common.write_text(report.json_document(generation, prediction), args.output, err)
    elif args.format == "markdown":
        document = analysis_markdown.render(generation.prefill_analysis, args.depth)
        common.write_text(
            document + "\n" + report.markdown(generation, prediction, roofline), args.output, err
        )
    else:

        def render(console: Console) -> None:
            text.render(generation.prefill_analysis, console, args.depth)
            console.print()
            report.render(generation, console, prediction, roofline)

        common.write_table(render, args.output, out, err)
    return common.ExitStatus.SUCCESS
