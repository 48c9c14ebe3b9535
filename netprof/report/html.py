"""One self-contained HTML file: the module tree as an icicle, a sortable op table, findings, charts.

Everything is inline (the page's script and style from ``netprof/report/assets``,
each model's numbers as JSON, the charts as SVG), so the file opens offline and
makes no request. The script is ~250 lines of our own: an icicle of absolutely
placed boxes and a table do not need a charting library, and leaving one out
keeps the file small (resnet50's report is ~0.2 MB) and free of third-party code.
Several models (``check`` on many, ``compare``) are sections side by side, each
with its own data and controls.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from netprof import units
from netprof.analysis import Analysis
from netprof.environment import __version__
from netprof.module_paths import ancestors
from netprof.prediction import Prediction
from netprof.report.json_report import module_entry
from netprof.timing.attribution import Timing

_METRICS = (("mult_adds", "mult_adds"), ("mem_access_bytes", "memory access"), ("params", "params"))


@dataclass(frozen=True)
class ModelPage:
    """What one model's section shows; everything but the analysis is optional."""

    analysis: Analysis
    timing: Timing | None = None
    prediction: Prediction | None = None
    findings: Sequence[Any] = ()  # netprof.rules.Finding
    charts: Sequence[str] = ()  # inline SVG documents
    rule_docs: Mapping[str, str] = field(default_factory=dict)  # rule id -> its document
    tables: Sequence[StaticTable] = ()  # more tables after the totals (prefill and decode phases...)


@dataclass(frozen=True)
class StaticTable:
    """A table the page shows as it is: a title, a header, rows of text, and lines said below it."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    lines: Sequence[str] = ()


def _static_table(table: StaticTable) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in table.lines)
    return (
        f'<h2>{html.escape(table.title)}</h2><div class="scroll"><table class="static"><thead><tr>{head}'
        f"</tr></thead><tbody>{body}</tbody></table></div>"
        + (f'<ul class="notes">{lines}</ul>' if lines else "")
    )


def _shapes(metas: Iterable[Any]) -> str:
    return ", ".join("x".join(map(str, meta.shape)) or "scalar" for meta in metas)


def _subtree_sums(analysis: Analysis, per_op: Mapping[int, float]) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    for node in analysis.ops:
        seconds = per_op.get(node.id)
        if seconds is not None:
            for path in ancestors(node.module):
                sums[path] += seconds
    return sums


def model_data(page: ModelPage) -> dict[str, Any]:
    """The JSON the page's script reads for one model."""
    analysis = page.analysis
    timed = {} if page.timing is None else {op.id: op.time.median for op in page.timing.ops}
    predicted = {} if page.prediction is None else {op.id: op.predicted_s for op in page.prediction.ops}
    module_time, module_predicted = _subtree_sums(analysis, timed), _subtree_sums(analysis, predicted)
    metrics = list(_METRICS)
    if timed:
        metrics.append(("time_s", "measured time"))
    if predicted:
        metrics.append(("predicted_s", "predicted time"))
    return {
        "model": analysis.model,
        "timed": bool(timed),
        "predicted": bool(predicted),
        "metrics": metrics,
        "modules": [
            {
                **module_entry(summary),
                "time_s": module_time.get(summary.path),
                "predicted_s": module_predicted.get(summary.path),
            }
            for summary in analysis.modules
        ],
        "ops": [
            {
                "id": node.id,
                "op": node.op,
                "category": node.category,
                "module": node.module,
                "inputs": _shapes(node.input_metas),
                "outputs": _shapes(node.output_metas),
                "mult_adds": node.mult_adds,
                "flops": node.flops,
                "mem_access_bytes": node.mem_access_bytes,
                "time_s": timed.get(node.id),
                "predicted_s": predicted.get(node.id),
            }
            for node in analysis.ops
        ],
    }


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def _totals(analysis: Analysis, timing: Timing | None, prediction: Prediction | None) -> str:
    cells = [
        ("mult_adds", units.count(analysis.totals.mult_adds)),
        ("flops", units.count(analysis.totals.flops)),
        ("params", units.count(analysis.params)),
        ("memory access", units.nbytes(analysis.totals.mem_access_bytes)),
        ("ops", f"{analysis.totals.ops:,}"),
    ]
    if timing is not None:
        cells.append(("latency (median)", units.seconds(timing.plain.median)))
    if prediction is not None:
        cells.append(("predicted", units.seconds(prediction.latency_s)))
    if analysis.memory is not None:
        cells.append(("peak memory", units.nbytes(analysis.memory.peak_bytes)))
    return "".join(f"<div>{html.escape(label)}<b>{html.escape(value)}</b></div>" for label, value in cells)


def _finding(finding: Any, documented: set[str]) -> str:
    path = html.escape(finding.module)
    rule = html.escape(finding.rule)
    link = f' <a class="rule-link" href="#rule-{rule}">rule text</a>' if finding.rule in documented else ""
    evidence = ", ".join(f"{html.escape(str(k))} {html.escape(str(v))}" for k, v in finding.evidence.items())
    return (
        f'<div class="finding {html.escape(str(finding.severity))}">'
        f"<b>{rule}</b> {html.escape(str(finding.severity))} at "
        f'<a href="#" data-path="{path}"><code>{path or "(model)"}</code></a> '
        f"({html.escape(finding.module_type)}){link}<div>{html.escape(finding.message)}</div>"
        f'<div class="fix"><b>Fix:</b> {html.escape(finding.fix)}</div>'
        f'<div class="muted">{evidence}</div></div>'
    )


def _section(page: ModelPage) -> str:
    analysis = page.analysis
    timed, predicted = page.timing is not None, page.prediction is not None
    headers = [("id", "id"), ("op", "op"), ("category", "category"), ("module", "module")]
    headers += [("inputs", "inputs"), ("outputs", "outputs"), ("mult_adds", "mult_adds"), ("flops", "flops")]
    headers += [("mem_access_bytes", "bytes")]
    headers += [("time_s", "time")] if timed else []
    headers += [("predicted_s", "predicted")] if predicted else []
    text_columns = {"op", "category", "module", "inputs", "outputs"}
    head = "".join(
        f'<th data-key="{key}"{" class=text" if key in text_columns else ""}>{label}</th>'
        for key, label in headers
    )
    head += "<th>share</th>"
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in analysis.notes)
    parts = [
        '<section class="netprof-model">',
        f"<h1>{html.escape(analysis.model)}</h1>",
        f'<div class="muted">capture mode {html.escape(analysis.mode)}; netprof {html.escape(__version__)}</div>',
        f'<div class="totals">{_totals(analysis, page.timing, page.prediction)}</div>',
        f'<ul class="notes">{notes}</ul>' if notes else "",
        *(_static_table(table) for table in page.tables),
        '<h2 class="modules">Modules</h2>',
        '<div class="controls">size by <span class="metrics"></span></div>',
        '<div class="crumbs"></div><div class="icicle"></div>',
        "<h2>Ops</h2>",
        '<div class="controls"><input class="filter" placeholder="filter: op, category or module"> <span '
        + 'class="op-count muted"></span></div>',
        f'<div class="scroll"><table class="ops"><thead><tr>{head}</tr></thead><tbody></tbody></table></div>',
    ]
    if page.findings:
        documented = set(page.rule_docs)
        parts += [f"<h2>Findings ({len(page.findings)})</h2>"]
        parts += [_finding(finding, documented) for finding in page.findings]
    if page.charts:
        parts += ["<h2>Charts</h2>", *(f'<div class="chart">{svg}</div>' for svg in page.charts)]
    if page.rule_docs:
        parts += ["<h2>Rules</h2>"]
        parts += [
            f'<section id="rule-{html.escape(rule)}"><h3>{html.escape(rule)}</h3>'
            f'<div class="rule-doc">{html.escape(text)}</div></section>'
            for rule, text in sorted(page.rule_docs.items())
        ]
    parts += [
        f'<script type="application/json" class="netprof-data">{_script_json(model_data(page))}</script>'
    ]
    parts.append("</section>")
    return "\n".join(part for part in parts if part)


def render(pages: Sequence[ModelPage], title: str | None = None) -> str:
    """The whole document for one or more models."""
    assets = resources.files("netprof.report") / "assets"
    style = (assets / "report.css").read_text()
    script = (assets / "report.js").read_text()
    title = title or ", ".join(page.analysis.model for page in pages)
    body = "\n".join(_section(page) for page in pages)
    wrapper = '<div class="models">' if len(pages) > 1 else "<div>"
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>netprof: {html.escape(title)}</title><style>{style}</style></head>\n"
        f"<body>{wrapper}\n{body}\n</div><script>{script}</script></body></html>\n"
    )
