"""Reports as one self-contained HTML page (``--format html``): the page, its tables and its charts.

No network when viewed: the styles are inline and the charts are inline SVG drawn here (no script).
A page is a title, the report's header lines, then sections: tables (every column; the text
report's columns and units) and charts (stacked bars: step-time terms, memory per GPU against the
usable HBM, fabric utilisation per tier; lines: the frontier). Every figure comes from the JSON
document; nothing is computed that the text report does not already say. ``plan_html`` is the plan
page; the other commands' pages are in ``planner.report.html_pages`` and ``planner.studies.html``.
"""

from __future__ import annotations

from html import escape
from typing import Any

from planner.report.plan_report import PLAN_COLUMNS, explanation_lines, result_header
from planner.report.tables import Column
from planner.units import gb, ms

COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f")
STYLE = """body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;font-size:12px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f3f3f3}td.t{text-align:left}pre{background:#f8f8f8;padding:8px;white-space:pre-wrap}
svg text{font-size:11px;font-family:system-ui,sans-serif}h2{margin-top:28px}"""


LEGEND_PER_LINE = 6  # 6 x 110 px fit the 560 px plot and its 90 px margin


def bar_chart(title: str, chart_id: str, rows: list[tuple[str, list[float]]], parts: list[str], unit: str,
              marks: list[float | None] | None = None, mark_label: str = "", scale: float | None = None) -> str:
    """A horizontal stacked bar chart as inline SVG: one bar per row, ``parts`` stacked, optional marks;
    the full width is ``scale`` (default the largest bar or mark)."""
    top = scale or max([sum(v) for _, v in rows] + [m or 0 for m in (marks or [])] + [1e-12])
    width, left, bar, gap = 560, 150, 18, 8
    # Legend entries 110 px apart, LEGEND_PER_LINE to a line (the mark's label takes the next slot).
    slots = len(parts) + (1 if marks else 0)
    legend_lines = -(-slots // LEGEND_PER_LINE)
    height = 30 + len(rows) * (bar + gap) + 24 * legend_lines
    out = [f'<svg id="{chart_id}" class="chart" role="img" width="{left + width + 90}" height="{height}" '
           f'aria-label="{escape(title)}">']
    for i, (label, values) in enumerate(rows):
        y, x = 20 + i * (bar + gap), float(left)
        out.append(f'<text x="4" y="{y + 13}">{escape(label)}</text>')
        for j, v in enumerate(values):
            w = width * v / top
            out.append(f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{COLOURS[j]}">'
                       f'<title>{escape(parts[j])}: {v:,.2f} {unit}</title></rect>')
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + 13}">{sum(values):,.1f} {unit}</text>')
        mark = (marks or [None] * len(rows))[i]
        if mark is not None:
            mx = left + width * mark / top
            out.append(f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{y - 3}" y2="{y + bar + 3}" stroke="#000" '
                       f'stroke-width="2"><title>{escape(mark_label)}: {mark:,.2f} {unit}</title></line>')
    first = height - 12 - 24 * (legend_lines - 1)

    def slot(j: int) -> tuple[int, int]:
        return left + (j % LEGEND_PER_LINE) * 110, first + 24 * (j // LEGEND_PER_LINE)

    for j, name in enumerate(parts):
        lx, ly = slot(j)
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{COLOURS[j]}"/>'
                   f'<text x="{lx + 14}" y="{ly}">{escape(name)}</text>')
    if marks:
        lx, ly = slot(len(parts))
        out.append(f'<text x="{lx}" y="{ly}">| {escape(mark_label)}</text>')
    out.append("</svg>")
    return f"<h2>{escape(title)}</h2>\n" + "".join(out)


def line_chart(title: str, chart_id: str, series: dict[str, list[tuple[float, float]]], x_label: str,
               y_label: str) -> str:
    """Lines of (x, y) points as inline SVG, both axes from 0 to the largest value; one colour per line,
    every point a ``circle.point`` with its values as a tooltip."""
    width, height, left, bottom, top_pad = 620, 320, 70, 40, 12
    points = [p for line in series.values() for p in line] or [(1.0, 1.0)]
    xmax, ymax = max(x for x, _ in points) or 1.0, max(y for _, y in points) or 1.0

    def at(x: float, y: float) -> tuple[float, float]:
        return left + width * x / xmax, top_pad + height * (1 - y / ymax)

    out = [f'<svg id="{chart_id}" class="chart" role="img" width="{left + width + 180}" '
           f'height="{top_pad + height + bottom}" aria-label="{escape(title)}">',
           f'<line x1="{left}" y1="{top_pad + height}" x2="{left + width}" y2="{top_pad + height}" stroke="#000"/>',
           f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + height}" stroke="#000"/>']
    for k in range(5):  # ticks at 0, 25, 50, 75, 100 % of each axis
        tx, ty = at(xmax * k / 4, ymax * k / 4)
        out.append(f'<text x="{tx:.1f}" y="{top_pad + height + 14}" text-anchor="middle">{xmax * k / 4:,.0f}</text>'
                   f'<text x="{left - 4}" y="{ty + 4:.1f}" text-anchor="end">{ymax * k / 4:,.0f}</text>')
    out.append(f'<text x="{left + width / 2}" y="{top_pad + height + 32}" text-anchor="middle">'
               f'{escape(x_label)}</text><text x="{left + width + 8}" y="{top_pad + 10}">{escape(y_label)}</text>')
    for j, (name, line) in enumerate(series.items()):
        colour = COLOURS[j % len(COLOURS)]
        xy = [at(x, y) for x, y in line]
        out.append(f'<polyline class="line" fill="none" stroke="{colour}" stroke-width="2" '
                   f'points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in xy)}"/>')
        out += [f'<circle class="point" cx="{a:.1f}" cy="{b:.1f}" r="4" fill="{colour}"><title>{escape(name)}: '
                f'{x:,.1f} {escape(x_label)}, {y:,.1f} {escape(y_label)}</title></circle>'
                for (a, b), (x, y) in zip(xy, line)]
        out.append(f'<text x="{left + width + 8}" y="{top_pad + 30 + 16 * j}" fill="{colour}">{escape(name)}</text>')
    out.append("</svg>")
    return f"<h2>{escape(title)}</h2>\n" + "".join(out)


def table(rows: list[dict], columns: list[Column], table_id: str, title: str = "") -> str:
    """Rows as an HTML table with the text report's headers and figures (text columns left-aligned)."""
    head = "".join(f"<th>{escape(c.header)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f'<td{"" if c.fmt else " class=t"}>{escape(c.text(r))}</td>' for c in columns)
                   + "</tr>" for r in rows)
    return ((f"<h2>{escape(title)}</h2>\n" if title else "")
            + f'<div style="overflow-x:auto"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
              f"<tbody>{body}</tbody></table></div>")


def pairs_table(pairs: list[tuple[str, Any]], table_id: str, title: str = "") -> str:
    """Field/value pairs (an evaluation) as a two-column table."""
    rows = [{"field": k, "value": v} for k, v in pairs]
    return table(rows, [Column("field", "field"), Column("value", "value")], table_id, title)


def page(title: str, header: list[str], sections: list[str]) -> str:
    """One self-contained page: ``title``, the header lines as preformatted text, then ``sections``."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n<h1>{escape(title)}</h1>\n"
            f'<pre id="header">{escape(chr(10).join(header))}</pre>\n' + "\n".join(sections) + "\n</body></html>\n")


SERVING_STEP = {"compute": "compute", "hbm": "HBM", "comm": "communication", "offload": "KV offload",
                "gemm": "dense GEMMs", "moe": "MoE experts", "attention": "attention"}
SERVING_MEMORY = {"weights": "weights", "kv_hbm": "KV cache", "activations": "activations"}
TIERS = ("intra_server", "inter_server", "inter_rack")


def step_chart(names: list[str], rows: list[dict], terms: dict[str, str] = SERVING_STEP, scale_by_pp: bool = True,
               title: str = "Step time per plan (terms overlap; the mark is the step)") -> str:
    """The step-time terms of each row stacked (per pipeline pass: each stage's terms times ``pp``),
    the modelled step as the mark."""
    return bar_chart(title, "step-time",
                     [(n, [ms(r["time_split_s"][k]) * (r["plan"]["pp"] if scale_by_pp else 1) for k in terms])
                      for n, r in zip(names, rows)], list(terms.values()), "ms",
                     [ms(r["step_time_s"]) for r in rows], "step")


def memory_chart(names: list[str], rows: list[dict], parts: dict[str, str] = SERVING_MEMORY) -> str:
    """Memory per GPU of each row by part, the usable HBM as the mark."""
    return bar_chart("Memory per GPU", "memory", [(n, [gb(r["memory_per_gpu_bytes"][k]) for k in parts])
                                                 for n, r in zip(names, rows)],
                     list(parts.values()), "GB", [gb(r["memory_per_gpu_bytes"]["capacity"]) for r in rows],
                     "usable HBM")


def fabric_chart(name: str, row: dict) -> str:
    """Utilisation of each fabric tier by one plan (the full width is the link)."""
    return bar_chart(f"Fabric utilisation per tier of plan {name} (the full width is 100 % of the link)", "fabric",
                     [(t.replace("_", "-"), [row["fabric_utilisation"][t] * 100]) for t in TIERS],
                     ["utilisation"], "%", scale=100.0)


def plan_html(doc: dict) -> str:
    """A ``plan`` / ``min-gpus`` document as one self-contained HTML page."""
    rows = [doc, *doc["alternatives"]]
    names = [f"#{r['rank']} {r['layout']}" for r in rows]
    why = "".join(f"<li>{escape(ln.strip())}</li>" for ln in explanation_lines(doc["explanation"])[1:]) \
        if doc.get("explanation") else ""
    return page(f"{doc['scenario']['model']} on {doc['scenario']['system']}", result_header(doc),
                [table(rows, list(PLAN_COLUMNS.values()), "plans", "Plans"),
                 f'<h2>Why this plan</h2>\n<ul id="why">{why}</ul>',
                 step_chart(names, rows), memory_chart(names, rows), fabric_chart(names[0], doc)])
