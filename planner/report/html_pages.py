"""The HTML pages of ``evaluate``, ``train plan|min-gpus|evaluate`` and ``fleet`` (``--format html``).

Built from the pieces of ``planner.report.html``: the text report's header and tables, and the charts
each document has figures for (step-time terms, memory per GPU, fabric utilisation per tier).
"""

from __future__ import annotations

from html import escape

from planner.report.html import bar_chart, fabric_chart, memory_chart, page, pairs_table, step_chart, table
from planner.report.plan_report import explanation_lines, limits_text
from planner.report.tables import evaluation_pairs, fleet_header, fleet_tables
from planner.report.training import training_columns, training_header, training_pairs
from planner.units import gb

TRAINING_STEP = {"compute": "compute", "hbm": "HBM", "comm": "communication", "bubble": "pipeline bubble",
                 "jitter": "jitter"}
TRAINING_MEMORY = {"weights": "weights", "grads": "gradients", "optimiser": "optimiser", "activations": "activations",
                   "buffers": "buffers"}
TRAINING_STEP_TITLE = "Optimiser step time per layout (the terms add up to the step)"


def evaluation_html(doc: dict, title: str) -> str:
    """``evaluate``: every field with its unit, the step-time terms, memory per GPU and fabric utilisation."""
    name = ["plan"]
    return page(title, [title], [pairs_table(evaluation_pairs(doc), "fields", "Evaluation"),
                                 step_chart(name, [doc]), memory_chart(name, [doc]), fabric_chart("plan", doc)])


def training_html(doc: dict) -> str:
    """``train plan`` / ``train min-gpus``: the header, every layout as a row, and per layout the step-time
    terms and memory per GPU; the fabric utilisation of the optimum."""
    rows = [doc, *doc["alternatives"]]
    names = [f"#{r['rank']} {r['layout']}" for r in rows]
    sc = doc["scenario"]
    return page(f"training {sc['model']} on {sc['system']}", training_header(doc),
                [table(rows, training_columns(doc), "plans", "Layouts"),
                 step_chart(names, rows, TRAINING_STEP, scale_by_pp=False, title=TRAINING_STEP_TITLE),
                 memory_chart(names, rows, TRAINING_MEMORY), fabric_chart(names[0], doc)])


def training_evaluation_html(doc: dict, title: str) -> str:
    """``train evaluate``: every field with its unit, the step-time terms, memory per GPU, fabric utilisation."""
    name = ["layout"]
    return page(title, [title], [pairs_table(training_pairs(doc), "fields", "Evaluation"),
                                 step_chart(name, [doc], TRAINING_STEP, scale_by_pp=False, title=TRAINING_STEP_TITLE),
                                 memory_chart(name, [doc], TRAINING_MEMORY), fabric_chart("layout", doc)])


def fleet_html(doc: dict) -> str:
    """``fleet`` (and ``plan --disagg``, with its limits and why this plan): the header, the pools, models,
    KV hand-off and fabric tables, memory per GPU of each pool against its usable HBM, and the utilisation
    of every fabric tier carrying load."""
    pools = doc["pools"]
    names = [f"{p['model']} {p['role']} {p['layout']}" for p in pools]
    sections = [table(rows, cols, title.split(" ")[0].lower(), title) for title, rows, cols in fleet_tables(doc)]
    if doc.get("explanation"):
        why = "".join(f"<li>{escape(ln.strip())}</li>" for ln in explanation_lines(doc["explanation"])[1:])
        sections.append(f'<h2>Why this plan</h2>\n<ul id="why">{why}</ul>')
    sections.append(bar_chart("Memory per GPU of each pool", "memory",
                              [(n, [gb(p["memory_per_gpu_bytes"])]) for n, p in zip(names, pools)], ["in use"], "GB",
                              [gb(p["hbm_capacity_bytes"]) for p in pools], "usable HBM"))
    if doc["fabric"]:
        sections.append(bar_chart("Fabric utilisation per tier (the full width is 100 % of the link)", "fabric",
                                  [(f"{f['kind']} {f['tier']}", [f["utilisation"] * 100]) for f in doc["fabric"]],
                                  ["utilisation"], "%", scale=100.0))
    header = fleet_header(doc)
    if "scenario" in doc:  # plan --disagg: the limits line, as in the text report
        header[2:2] = [limits_text(doc["scenario"])]
    return page("fleet plan", header, sections)
