"""Time a netprof calibration pack in ONNX Runtime on this device; needs only onnxruntime and numpy.

    python run.py --threads 1 -o results.json

Copied as ``run.py`` into the pack ``netprof calibrate --runtime onnxruntime --export-pack DIR``
writes, next to ``manifest.json`` and one ONNX file per micro-benchmark. For a
phone (Termux), a Raspberry Pi or a Jetson: no torch, no netprof. Each model
runs in a plain session (one intra-op thread pool of ``--threads``, no inter-op
pool, every graph optimization), two warm-up runs, then until its share of
``--budget`` seconds has gone by (at least 5 runs, at most 200), in ``--rounds``
rounds over the whole list; its lowest round median goes to ``results.json``
with the manifest. Then each model runs once more under ONNX Runtime's profiler:
each kernel's median, and the optimized graph the session ran (its nodes, not its
weights), go there too, so that netprof can credit each kernel to the ops it
computes. Last, a cache probe (``cache_probe``) measures how much of the last-level
cache this process really gets. The manifest and results then go to ``netprof
calibrate --runtime onnxruntime --import-results results.json -o profile.json`` turns
into a profile.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time

RESULTS_FORMAT = "netprof.runtime-results/2"
_SUFFIX = "_kernel_time"  # a kernel's event in ONNX Runtime's trace: "<node>_kernel_time"
WARMUP, MIN_RUNS, MAX_RUNS = 2, 5, 200
CACHES = "/sys/devices/system/cpu/cpu0/cache"  # Linux's list of the first CPU's caches
PROBE_BLOCK = 1 << 20  # bytes of each array the cache probe reads
PROBE_LIMIT = 1 << 30  # the most it reads (at most an eighth of the memory)


def _processor() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_rows(root: str = CACHES) -> list[list[str]]:
    """The first CPU's caches as Linux lists them, ``[level, type, size]`` each, as text; none where it
    does not. netprof reads its own machine's with this too (``netprof.calibration.caches``)."""
    try:
        names = sorted(name for name in os.listdir(root) if name.startswith("index"))
    except OSError:
        return []
    rows = []
    for name in names:
        try:
            rows.append([_read(os.path.join(root, name, field)) for field in ("level", "type", "size")])
        except OSError:
            continue
    return rows


def cache_probe(rounds: int = 3) -> list[list[float]]:
    """``[bytes, seconds per byte]`` of reading that many bytes over and over, for 1 MiB up to 1 GiB (or
    an eighth of the memory) in steps of sqrt(2); each the median of ``rounds`` rounds over the sizes.

    The price stays flat while the bytes fit in what this process gets of the last-level cache and rises
    to DRAM's past it, as a network's pass finds what the pass before touched. A virtual machine's share
    of a server's cache can be a fraction of what Linux lists (on this project's Xeon, 480 MiB listed,
    the price began to rise past 55 MiB and reached DRAM's by 190 MiB), so netprof prices a pass's misses
    on what this measures (``netprof.calibration.caches.measured_pass_cache``)."""
    import numpy as np

    count = max(1, min(PROBE_LIMIT, _memory_bytes() // 8) // PROBE_BLOCK)
    blocks = [np.full(PROBE_BLOCK // 4, 1.0, dtype=np.float32) for _ in range(count)]  # written: real pages
    sizes = sorted({round(2 ** (step / 2)) for step in range(int(2 * math.log2(count)) + 1)})
    measured: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(rounds):
        for size in sizes:
            measured[size].append(_read_seconds(blocks[:size]) / (size * PROBE_BLOCK))
    return [[size * PROBE_BLOCK, statistics.median(times)] for size, times in measured.items()]


def _read_seconds(blocks: list) -> float:
    """The median seconds of reading every block once (a vectorized max), warm: at least 3 reads, 20 ms."""
    for block in blocks:
        block.max()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - started < 0.02:
        begin = time.perf_counter()
        for block in blocks:
            block.max()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return 2 * PROBE_LIMIT


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read().strip()


def _quartiles(times: list[float]) -> tuple[float, float, float]:
    ordered = sorted(times)

    def at(q: float) -> float:
        position = q * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return at(0.25), at(0.5), at(0.75)


def _options(threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return options


def _runs(session, shape: list[int], budget_s: float) -> list[float]:
    """Seconds of each run after two warm-up runs, until ``budget_s`` (at least 5 runs, at most 200)."""
    import numpy as np

    feeds = {session.get_inputs()[0].name: np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}
    for _ in range(WARMUP):
        session.run(None, feeds)
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < MAX_RUNS and (len(times) < MIN_RUNS or time.perf_counter() - started < budget_s):
        begin = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - begin)
    return times


def time_model(path: str, shape: list[int], threads: int, budget_s: float) -> tuple[float, float, int]:
    """Median, IQR and count of plain runs of one model, after two warm-up runs."""
    import onnxruntime as ort

    session = ort.InferenceSession(path, _options(threads), providers=["CPUExecutionProvider"])
    times = _runs(session, shape, budget_s)
    q1, median, q3 = _quartiles(times)
    return median, q3 - q1, len(times)


def profile_model(path: str, shape: list[int], threads: int, budget_s: float) -> dict:
    """Each kernel's op type, provider and median seconds under ONNX Runtime's profiler (the warm-up runs
    left out), and the optimized graph the session ran, base64, without its weights."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="netprof-pack-") as scratch:
        options = _options(threads)
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(scratch, "profile")
        options.optimized_model_filepath = os.path.join(scratch, "optimized.onnx")
        # The weights go to a file of their own, left behind: netprof reads the graph's nodes only.
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", "weights")
        options.add_session_config_entry(
            "session.optimized_model_external_initializers_min_size_in_bytes", "0"
        )
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        _runs(session, shape, budget_s)
        with open(session.end_profiling(), encoding="utf-8") as file:
            events = json.load(file)
        with open(options.optimized_model_filepath, "rb") as file:
            graph = base64.b64encode(file.read()).decode("ascii")
    starts = sorted(e["ts"] for e in events if e.get("name") == "model_run")[WARMUP:]
    per_kernel: dict[str, list[float]] = {}
    kinds: dict[str, list[str]] = {}
    for event in events:
        name = event.get("name", "")
        if event.get("cat") != "Node" or not name.endswith(_SUFFIX) or not starts or event["ts"] < starts[0]:
            continue
        kernel = name[: -len(_SUFFIX)]
        run = sum(start <= event["ts"] for start in starts) - 1
        times = per_kernel.setdefault(kernel, [0.0] * len(starts))
        times[run] += event["dur"] * 1e-6
        args = event.get("args", {})
        kinds.setdefault(kernel, [args.get("op_name", "?"), args.get("provider", "?")])
    return {
        "kernels": {k: [*kinds[k], statistics.median(times)] for k, times in per_kernel.items()},
        "graph": graph,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time a netprof calibration pack in ONNX Runtime.")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    parser.add_argument("-o", "--output", default="results.json", help="where to write the results")
    parser.add_argument("--budget", type=float, default=0.3, help="seconds of timed runs per model")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the whole list (default 3)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    import onnxruntime as ort

    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "manifest.json"), encoding="utf-8") as file:
        manifest = json.load(file)
    benches = manifest["benches"]
    started = time.perf_counter()
    rounds: dict[str, list[tuple[float, float, int]]] = {bench["name"]: [] for bench in benches}
    for round_ in range(args.rounds):
        for index, bench in enumerate(benches):
            print(
                f"round {round_ + 1}/{args.rounds} [{index + 1}/{len(benches)}] {bench['name']}",
                file=sys.stderr,
            )
            rounds[bench["name"]].append(
                time_model(
                    os.path.join(here, bench["file"]),
                    bench["input_shape"],
                    args.threads,
                    args.budget / args.rounds,
                )
            )
    kernels = {}
    for index, bench in enumerate(benches):
        print(f"profiler [{index + 1}/{len(benches)}] {bench['name']}", file=sys.stderr)
        kernels[bench["name"]] = profile_model(
            os.path.join(here, bench["file"]), bench["input_shape"], args.threads, args.budget / args.rounds
        )
    print("cache probe: reading 1 MiB to 1 GiB over and over", file=sys.stderr)
    probe = cache_probe()
    times = {}
    for name, measured in rounds.items():
        median, iqr, runs = min(measured)
        times[name] = {
            "median_s": median,
            "iqr_s": iqr,
            "runs": runs,
            "round_medians_s": [m[0] for m in measured],
        }
    results = {
        "format": RESULTS_FORMAT,
        "runtime": "onnxruntime",
        "runtime_version": ort.__version__,
        "threads": args.threads,
        "processor": _processor(),
        "machine": platform.machine(),
        "caches": cache_rows(),
        "cache_probe": probe,
        "seconds": time.perf_counter() - started,
        "manifest": manifest,
        "times": times,
        "kernels": kernels,
    }
    with open(args.output, "w", encoding="utf-8") as file:
        json.dump(results, file, indent=1)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
