"""The HTML pages of ``compare`` and ``frontier`` (``--format html``), from ``planner.report.html``'s pieces.

compare: the table (every column), then the step-time terms and memory per GPU of each row with a
plan. frontier: the table and the frontier chart (tokens/s per GPU against tokens/s per user, one
line per scenario) as inline SVG.
"""

from __future__ import annotations

from planner.report.html import line_chart, memory_chart, page, step_chart, table
from planner.studies.compare import compare_columns
from planner.studies.frontier import FRONTIER_COLUMNS, frontier_title, plot_title
from planner.studies.serving import Document


def compare_html(doc: Document) -> str:
    """``compare`` as one self-contained page."""
    rows = doc["rows"]
    planned = [r for r in rows if r["status"] == "ok"]
    names = [f"#{r['index']} {r['layout']}" for r in planned]
    sections = [table(rows, compare_columns(rows, "html"), "rows", "Scenarios")]
    if planned:
        sections += [step_chart(names, planned), memory_chart(names, planned)]
    return page("compare", [doc.title], sections)


def frontier_html(rows: list[dict]) -> str:
    """``frontier`` as one self-contained page: the chart, then every point as a table row."""
    series: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        if r["status"] == "ok":
            series.setdefault(r["series"], []).append((r["tok_per_user"], r["tok_per_gpu"]))
    title = plot_title(rows) if rows else ""
    return page(f"frontier: {title}" if title else "frontier", [frontier_title(rows)],
                [line_chart("Tokens/s per GPU against tokens/s per user", "frontier", series, "tok/s/user",
                            "tok/s/GPU"),
                 table(rows, FRONTIER_COLUMNS, "points", "Points")])
