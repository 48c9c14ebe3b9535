"""A sweep's results: rows written as they come (JSON Lines and CSV), resumable, then a summary and charts.

``rows.jsonl`` gets each row the moment its model finishes, so an interrupted
sweep loses nothing done; ``--resume`` reads it back and skips those names.
``rows.csv`` is rewritten at the end in the order of the sources, the table that
timm's ``benchmark.py`` users already read.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from netprof import units
from netprof.datafiles import write_text
from netprof.errors import NetprofError
from netprof.sweep.row import COLUMNS
from netprof.timing.ranking import spearman

ROWS_JSONL, ROWS_CSV, SUMMARY = "rows.jsonl", "rows.csv", "summary.md"


class ResultsError(NetprofError):
    """The output folder or an --accuracy file cannot be used."""


class Results:
    """The rows so far, kept in memory and appended to ``rows.jsonl`` as they come."""

    def __init__(self, directory: Path, resume: bool) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / ROWS_JSONL
        self.rows: dict[str, dict[str, Any]] = {}
        if resume and self.path.exists():
            for number, line in enumerate(self.path.read_text().splitlines(), start=1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        if number == len(self.path.read_text().splitlines()):
                            break  # a line cut short by the interruption: that model runs again
                        raise ResultsError(f"{self.path}:{number}: not a JSON row") from None
                    self.rows[row["name"]] = row
        self.path.write_text("".join(json.dumps(row) + "\n" for row in self.rows.values()))

    def add(self, row: Mapping[str, Any]) -> None:
        self.rows[row["name"]] = dict(row)
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()

    def write_csv(self, order: Iterable[str]) -> Path:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for name in order:
            if name in self.rows:
                writer.writerow({column: _cell(self.rows[name].get(column)) for column in COLUMNS})
        path = self.directory / ROWS_CSV
        write_text(path, buffer.getvalue())
        return path


def _cell(value: Any) -> Any:
    return "" if value is None else value


def read_accuracy(path: Path) -> dict[str, float]:
    """``name,accuracy`` rows (a header naming those two columns)."""
    if not path.is_file():
        raise ResultsError(f"--accuracy {path}: file not found")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"name", "accuracy"} <= set(reader.fieldnames):
            raise ResultsError(f"--accuracy {path}: expected a CSV with columns name and accuracy")
        try:
            return {row["name"]: float(row["accuracy"]) for row in reader}
        except ValueError as error:
            raise ResultsError(f"--accuracy {path}: {error}") from None


def latency_of(row: Mapping[str, Any]) -> float | None:
    """Measured latency when the sweep timed, else predicted."""
    return row.get("measured_s") or row.get("predicted_s")


def pareto_front(points: Iterable[tuple[str, float, float]]) -> list[str]:
    """Names of ``(name, latency, accuracy)`` points no other point beats on both (faster and more accurate)."""
    front, best = [], -math.inf
    for name, _, accuracy in sorted(points, key=lambda p: (p[1], -p[2])):
        if accuracy > best:
            front.append(name)
            best = accuracy
    return front


def summary(rows: list[dict[str, Any]], accuracy: Mapping[str, float], seconds: float, engine: str) -> str:
    """The markdown summary: what ran, what failed by cause, how latency ranks with the counts."""
    ok = [row for row in rows if not row.get("error")]
    failed = [row for row in rows if row.get("error")]
    ran = (
        f"{len(rows)} models, {len(ok)} analyzed, {len(failed)} failed; {seconds:.1f} s on the {engine} engine "
        f"({seconds / max(len(rows), 1):.2f} s a model)."
    )
    lines = ["# netprof sweep", "", ran, ""]
    if failed:
        causes = Counter(row["error"].split(":")[0] for row in failed)
        lines += ["## Failures by cause", "", "| cause | models | e.g. |", "|---|---:|---|"]
        for cause, count in causes.most_common():
            example = next(row for row in failed if row["error"].split(":")[0] == cause)
            lines.append(f"| {cause} | {count} | {example['name']}: {example['error'][:120]} |")
        lines.append("")
    timed = [row for row in ok if latency_of(row)]
    if len(timed) >= 3:
        kind = "measured" if timed[0].get("measured_s") else "predicted"
        latency = [latency_of(row) for row in timed]
        by_mult_adds = spearman(latency, [row["mult_adds"] for row in timed])
        by_memory = spearman(latency, [row["mem_access_bytes"] for row in timed])
        ranks = f"Spearman rank correlation of {kind} latency with mult_adds {by_mult_adds:+.3f}, "
        ranks += f"with memory access {by_memory:+.3f} ({len(timed)} models)."
        lines += [ranks, ""]
    elif ok:
        lines += ["No latency column: add --predict (a device profile) or --time.", ""]
    known = [
        (row["name"], latency_of(row), accuracy[row["name"]]) for row in timed if row["name"] in accuracy
    ]
    if known:
        front = set(pareto_front(known))
        lines += [
            "## Pareto front (latency against accuracy)",
            "",
            "| model | latency | accuracy |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {n} | {units.seconds(t)} | {a:g} |"
            for n, t, a in sorted(known, key=lambda p: p[1])
            if n in front
        ]
        lines.append("")
    lines += [
        "## Fewest mult_adds",
        "",
        "| model | mult_adds | memory access | params | latency |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in sorted(ok, key=lambda r: r["mult_adds"])[:15]:
        lines.append(
            f"| {row['name']} | {units.count(row['mult_adds'])} | {units.nbytes(row['mem_access_bytes'])} | "
            f"{units.count(row['params'])} | {units.seconds(latency_of(row))} |"
        )
    return "\n".join(lines) + "\n"


def load_rows(directory: Path) -> list[dict[str, Any]]:
    """The rows of a finished sweep's ``rows.jsonl``."""
    return [json.loads(line) for line in (directory / ROWS_JSONL).read_text().splitlines() if line.strip()]
