"""The HTML report, opened in a real browser (headless Chromium through Playwright) with the network off.

Assertions go through the page itself: no console error, no request but the file,
as many icicle boxes as the analysis has modules, a click on a module filters the
op table to its ops, sorting by time puts the slowest op first, and a finding links
to its rule's text. Needs Debian's ``chromium`` (``.ci/run`` installs it); where it
is absent the tests skip and say why.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torchvision

import netprof
from netprof import pipeline
from netprof.config import Config
from netprof.report import html, pages

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the test extra: pip install -e '.[test]' (playwright)"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: apt-get install -y chromium")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def open_page(browser, path: Path):
    """The page at ``path``, offline, with every console error and request it makes recorded."""
    context = browser.new_context(offline=True)
    page = context.new_page()
    page.errors, page.requests = [], []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(path.as_uri())
    return page


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    model = torchvision.models.resnet18(weights=None)
    result = netprof.run(
        model, torch.randn(1, 3, 64, 64), timing=netprof.TimingOptions(repeat=3, budget_s=20)
    )
    path = tmp_path_factory.mktemp("html") / "resnet18.html"
    path.write_text(html.render([pages.model_page(result, "resnet18")]))
    return result, path


def table_modules(page) -> list[str]:
    return page.eval_on_selector_all(".ops tbody tr td.module", "cells => cells.map(c => c.title)")


def test_the_report_loads_offline_with_no_error_and_no_request(browser, resnet18):
    _, path = resnet18
    page = open_page(browser, path)
    assert page.errors == []
    assert page.requests == [path.as_uri()]
    assert "<script src" not in path.read_text() and "<link" not in path.read_text()


def test_the_icicle_has_a_box_per_module_and_a_click_filters_the_table(browser, resnet18):
    result, path = resnet18
    page = open_page(browser, path)
    assert page.locator(".icicle .node").count() == len(result.analysis.modules)
    assert len(table_modules(page)) == len(result.analysis.ops)
    page.click('.icicle .node[data-path="layer2"]')
    shown = table_modules(page)
    expected = [op for op in result.analysis.ops if op.module == "layer2" or op.module.startswith("layer2.")]
    assert len(shown) == len(expected) > 0
    assert all(module.startswith("layer2.") or module == "layer2" for module in shown)
    # Focused, the icicle shows layer2's subtree only.
    subtree = [m for m in result.analysis.modules if m.path == "layer2" or m.path.startswith("layer2.")]
    assert page.locator(".icicle .node").count() == len(subtree)


def test_sorting_by_time_puts_the_slowest_op_first(browser, resnet18):
    result, path = resnet18
    page = open_page(browser, path)
    slowest = max(result.timing.ops, key=lambda op: op.time.median)
    page.click('.ops th[data-key="id"]')  # away from the default order, then back to time, descending
    page.click('.ops th[data-key="time_s"]')
    first = page.eval_on_selector(".ops tbody tr", "row => Number(row.dataset.op)")
    assert first == slowest.id


def test_a_finding_links_to_its_rule_text(browser, tmp_path):
    loaded, result = pipeline.load_and_run(pipeline.RunRequest("netprof.zoo:shufflenet_v1_g3"))
    findings = pipeline.check(result, loaded.model, Config())
    assert any(finding.rule == "G2" for finding in findings)
    path = tmp_path / "check.html"
    path.write_text(html.render([pages.model_page(result, "shufflenet_v1_g3", findings)]))
    page = open_page(browser, path)
    assert page.errors == []
    link = page.locator('.finding a.rule-link[href="#rule-G2"]').first
    link.click()
    assert page.evaluate("location.hash") == "#rule-G2"
    text = page.text_content("#rule-G2 .rule-doc")
    assert text.startswith((Path(__file__).parents[1] / "rules" / "G2.md").read_text()[:40])
    # A finding's module link focuses the icicle on that module.
    module = findings[0].module
    page.click(f'.finding a[data-path="{module}"]')
    assert page.locator(".icicle .node.focus").get_attribute("data-path") == module


def test_resnet50_report_stays_small(tmp_path):
    result = netprof.run(torchvision.models.resnet50(weights=None), torch.randn(1, 3, 224, 224))
    document = html.render([pages.model_page(result, "resnet50")])
    assert len(document.encode()) < 5_000_000


def test_prefill_and_decode_show_their_phases_above_a_working_page(browser, tmp_path):
    """The prompt pass's page with the phases table, its verdict and the per-token chart above it; the
    icicle and op table below still work (the static table is not the op table the script drives)."""
    request = pipeline.RunRequest(
        f"{Path(__file__).parents[1]}/examples/llama.py:llama_tiny", generation=pipeline.Generate(1, 8, 3)
    )
    result = pipeline.execute(request)
    path = tmp_path / "llama.html"
    path.write_text(html.render([pages.model_page(result, "llama_tiny")]))
    page = open_page(browser, path)
    assert page.errors == []
    headers = page.eval_on_selector_all("table.static th", "cells => cells.map(c => c.textContent)")
    assert headers == ["", "prefill", "decode, 3 steps", "first step (context 9)", "last step (context 11)"]
    assert page.locator("svg").count() >= 1
    assert page.locator(".icicle .node").count() == len(result.analysis.modules)
    assert len(table_modules(page)) == len(result.analysis.ops)
