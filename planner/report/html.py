"""The plan report as one self-contained HTML page (``rackplan plan --format html``).

No network when viewed: the styles are inline and the charts are inline SVG drawn here. The page
holds the report header, every plan as a table row (all columns), three charts (the step-time
terms of each plan, memory per GPU against the usable HBM, fabric utilisation per tier) and "why
this plan". Every figure comes from the JSON document; nothing is computed that the text report
does not already say.
"""

from __future__ import annotations

from html import escape

from planner.report.plan_report import PLAN_COLUMNS, explanation_lines, result_header
from planner.units import gb, ms

COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1")
STYLE = """body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;font-size:12px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f3f3f3}td.t{text-align:left}pre{background:#f8f8f8;padding:8px;white-space:pre-wrap}
svg text{font-size:11px;font-family:system-ui,sans-serif}h2{margin-top:28px}"""


def _bars(title: str, chart_id: str, rows: list[tuple[str, list[float]]], parts: list[str], unit: str,
          marks: list[float | None] | None = None, mark_label: str = "", scale: float | None = None) -> str:
    """A horizontal stacked bar chart as inline SVG: one bar per row, ``parts`` stacked, optional marks;
    the full width is ``scale`` (default the largest bar or mark)."""
    top = scale or max([sum(v) for _, v in rows] + [m or 0 for m in (marks or [])] + [1e-12])
    width, left, bar, gap = 560, 110, 18, 8
    height = 30 + len(rows) * (bar + gap) + 24
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
    ly = height - 12
    for j, name in enumerate(parts):
        out.append(f'<rect x="{left + j * 110}" y="{ly - 9}" width="10" height="10" fill="{COLOURS[j]}"/>'
                   f'<text x="{left + j * 110 + 14}" y="{ly}">{escape(name)}</text>')
    if marks:
        out.append(f'<text x="{left + len(parts) * 110}" y="{ly}">| {escape(mark_label)}</text>')
    out.append("</svg>")
    return f"<h2>{escape(title)}</h2>\n" + "".join(out)


def _table(rows: list[dict]) -> str:
    cols = list(PLAN_COLUMNS.values())
    head = "".join(f"<th>{escape(c.header)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f'<td{"" if c.fmt else " class=t"}>{escape(c.text(r))}</td>' for c in cols)
                   + "</tr>" for r in rows)
    return f'<table id="plans"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def plan_html(doc: dict) -> str:
    """A ``plan`` / ``min-gpus`` document as one self-contained HTML page."""
    rows = [doc, *doc["alternatives"]]
    names = [f"#{r['rank']} {r['layout']}" for r in rows]
    step_parts = ["compute", "hbm", "comm", "offload", "attention"]
    steps = _bars("Step time per plan (terms overlap; the mark is the step)", "step-time",
                  [(n, [ms(r["time_split_s"][k]) * r["plan"]["pp"] for k in step_parts]) for n, r in zip(names, rows)],
                  ["compute", "HBM", "communication", "KV offload", "attention kernels"], "ms",
                  [ms(r["step_time_s"]) for r in rows], "step")
    mem_parts = ["weights", "kv_hbm", "activations"]
    memory = _bars("Memory per GPU", "memory", [(n, [gb(r["memory_per_gpu_bytes"][k]) for k in mem_parts])
                                               for n, r in zip(names, rows)],
                   ["weights", "KV cache", "activations"], "GB",
                   [gb(r["memory_per_gpu_bytes"]["capacity"]) for r in rows], "usable HBM")
    tiers = ["intra_server", "inter_server", "inter_rack"]
    fabric = _bars(f"Fabric utilisation per tier of plan {names[0]} (the full width is 100 % of the link)",
                   "fabric", [(t.replace("_", "-"), [doc["fabric_utilisation"][t] * 100]) for t in tiers],
                   ["utilisation"], "%", scale=100.0)
    why = "".join(f"<li>{escape(ln.strip())}</li>" for ln in explanation_lines(doc["explanation"])[1:]) \
        if doc.get("explanation") else ""
    header = escape("\n".join(result_header(doc)))
    title = f"{doc['scenario']['model']} on {doc['scenario']['system']}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n<h1>{escape(title)}</h1>\n<pre id=\"header\">{header}</pre>\n"
            f"<h2>Plans</h2>\n<div style=\"overflow-x:auto\">{_table(rows)}</div>\n"
            f"<h2>Why this plan</h2>\n<ul id=\"why\">{why}</ul>\n"
            f"{steps}\n{memory}\n{fabric}\n</body></html>\n")
