"""The gallery's HTML reports and their screenshots.

    python reports/generate_html.py

Writes ``reports/html/resnet18.html`` (``netprof analyze torchvision.models:resnet18
--time --repeat 20 --threads 1 --format html``) and ``reports/html/shufflenet_v1_g3.html``
(``netprof check netprof.zoo:shufflenet_v1_g3 --format html``), then opens each in
headless Chromium (Playwright, the system's ``chromium``), offline, and saves a
screenshot of each beside it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "html"
REPORTS = {
    "resnet18": ["analyze", "torchvision.models:resnet18", "--time", "--repeat", "20", "--threads", "1"],
    "shufflenet_v1_g3": ["check", "netprof.zoo:shufflenet_v1_g3", "--exit-zero"],
}


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    for name, args in REPORTS.items():
        command = [
            sys.executable,
            "-m",
            "netprof",
            *args,
            "--format",
            "html",
            "-o",
            str(OUT / f"{name}.html"),
        ]
        subprocess.run(command, check=True, cwd=ROOT)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for name in REPORTS:
            page = browser.new_context(offline=True, viewport={"width": 1300, "height": 1000}).new_page()
            page.goto((OUT / f"{name}.html").as_uri())
            if name == "resnet18":
                page.click('.ops th[data-key="time_s"]')
                page.click('.ops th[data-key="time_s"]')  # descending: the slowest first
                page.click('.controls button[data-metric="time_s"]')
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"wrote {OUT / f'{name}.png'}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
