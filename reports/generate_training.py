"""The training report of the gallery: resnet18, one AdamW step at batch 8, with its memory.

    python reports/generate_training.py

Runs ``netprof analyze torchvision.models:resnet18 --input 8,3,224,224 --train
--optimizer adamw --memory`` and writes the terminal table, the markdown and JSON
reports and the memory timeline chart to ``reports/resnet18-training/``. Nothing is
timed: counts and memory come from a capture without weights, the same on any machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "resnet18-training"
ARGS = ["analyze", "torchvision.models:resnet18", "--input", "8,3,224,224", "--train", "--optimizer", "adamw"]
ARGS += ["--memory", "--depth", "1"]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    netprof = [sys.executable, "-m", "netprof", *ARGS]
    for extra in (
        ["-o", str(OUT / "report.txt"), "--plot", str(OUT)],
        ["--format", "markdown", "-o", str(OUT / "report.md")],
        ["--format", "json", "-o", str(OUT / "report.json")],
    ):
        subprocess.run([*netprof, *extra], check=True, cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
