"""The language-model report of the gallery: Llama-2-70B, prefill 4096 and 256 decode steps.

    python reports/generate_serving.py

Runs ``netprof analyze hf:benchmarks/configs/llama-2-70b --prefill 4096 --decode 256``
with the roofline of NVIDIA's published H200 SXM figures (989 TFLOP/s dense
FP16/BF16, 4.8 TB/s HBM3e: a GPU this machine does not have, hence stated, not
calibrated) and writes the terminal table, the markdown, JSON and HTML reports and the
chart to ``reports/llama-2-70b-serving/``. Nothing is timed: counts and the
prediction come from a capture on meta, so the output is the same on any machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "llama-2-70b-serving"
SPEC = "hf:benchmarks/configs/llama-2-70b"
H200 = ["--peak-tflops", "989", "--bandwidth-gbs", "4800"]
ARGS = ["analyze", SPEC, "--prefill", "4096", "--decode", "256", "--depth", "1", *H200]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    netprof = [sys.executable, "-m", "netprof"]
    for extra in (
        ["-o", str(OUT / "report.txt"), "--plot", str(OUT)],
        ["--format", "markdown", "-o", str(OUT / "report.md")],
        ["--format", "json", "-o", str(OUT / "report.json")],
        ["--format", "html", "-o", str(OUT / "report.html")],
    ):
        subprocess.run([*netprof, *ARGS, *extra], check=True, cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
