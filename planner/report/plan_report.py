"""The ``plan`` / ``min-gpus`` report: header, a table that fits 120 columns, and "why this plan".

Every column of the plan table has a name for ``--columns`` (``PLAN_COLUMNS``); the default
(``DEFAULT_COLUMNS``) fits a 120-column terminal, ``--wide`` shows them all. Units live in the
headers, one unit per column. The explanation (``explanation`` in the JSON document, computed
by ``planner.search.explain``) prints under the table in text and markdown.

A plan outside its engine profile's measured range (``planner.serving.coverage``) carries a ``*`` after
its rank, explained under the table; CSV keeps ``#`` numeric and says it in a ``range`` column instead
(``in``, ``out``, or empty where the profile records no range).
"""

from __future__ import annotations

from planner.budget import footprint_text
from planner.errors import InputError
from planner.report.tables import (
    RANGE_COLUMN,
    Column,
    _ms,
    budget_text,
    format_fleet,
    format_ranked,
    missed_text,
    plan_value,
    solver_text,
    space_text,
)
from planner.units import gb, ms

OUTSIDE_MARK = "*"
PLAN_COLUMNS: dict[str, Column] = {
    "rank": Column("#", lambda r: f"{r['rank']}{OUTSIDE_MARK}" if r.get("outside_measured_range") else r["rank"]),
    "layout": Column("TPxPPxEPxDP", "layout"),
    "batch": Column("batch", plan_value("batch"), "d"),
    "quant": Column("quant/kv", lambda r: f"{r['plan']['quant']}/{r['plan']['kv_quant']}" if r.get("plan") else None),
    "offload": Column("offload", plan_value("kv_offload_fraction"), ".2f"),
    "instances": Column("inst", plan_value("instances"), "d"),
    "gpus": Column("GPUs", "gpus", "d"),
    "tok_per_gpu": Column("tok/s/GPU", "tok_per_gpu", ",.0f"),
    "instance_tps": Column("inst tok/s", "instance_tps", ",.0f"),
    "total_tps": Column("tok/s", "total_tps", ",.0f"),
    "tok_per_user": Column("tok/s/user", "tok_per_user", ",.1f"),
    "tpot": Column("TPOT ms", _ms("tpot_s"), ",.1f"),
    "ttft": Column("TTFT ms", _ms("ttft_s"), ",.0f"),
    "limit": Column("limit", "limit"),
    "bound_compute": Column("comp tok/s/GPU", "bounds_tok_per_gpu.compute", ",.0f"),
    "bound_hbm": Column("HBM tok/s/GPU", "bounds_tok_per_gpu.hbm", ",.0f"),
    "bound_comm": Column("comm tok/s/GPU", "bounds_tok_per_gpu.comm", ",.0f"),
    "intra_server": Column("intra GB/s", "fabric_load_gb_per_s.intra_server", ",.1f"),
    "inter_server": Column("inter-srv GB/s", "fabric_load_gb_per_s.inter_server", ",.1f"),
    "inter_rack": Column("inter-rack GB/s", "fabric_load_gb_per_s.inter_rack", ",.1f"),
    "memory": Column("GB/GPU", lambda r: gb(r["memory_per_gpu_bytes"]["total"]), ",.1f"),
    "power": Column("kW", "power_kw", ",.1f"),
    "range": RANGE_COLUMN,
    "verified": Column("verified", lambda r: "ok" if r["verification"]["ok"] else "FAIL"),
}
NUMERIC_RANK = Column("#", "rank", "d")
DEFAULT_COLUMNS = ("rank", "layout", "batch", "quant", "offload", "instances", "gpus", "tok_per_gpu", "total_tps",
                   "tok_per_user", "ttft", "limit", "memory", "verified")


def plan_columns(names: tuple[str, ...] | list[str] | None = None, wide: bool = False) -> list[Column]:
    """The columns asked by name (``--columns``), all of them (``--wide``), or the default set."""
    if wide:
        return list(PLAN_COLUMNS.values())
    names = DEFAULT_COLUMNS if not names else names
    unknown = [n for n in names if n not in PLAN_COLUMNS]
    if unknown:
        raise InputError(f"--columns: unknown column '{unknown[0]}'; choose from {', '.join(PLAN_COLUMNS)}")
    return [PLAN_COLUMNS[n] for n in names]


def limits_text(sc: dict) -> str:
    """``limits: TPOT <= 80.0 ms (>= 12.5 tok/s per user), TTFT <= 2,000 ms ...`` for the header."""
    lim = sc["limits"]
    parts = []
    if lim["max_tpot_s"]:
        parts.append(f"TPOT <= {ms(lim['max_tpot_s']):,.1f} ms (>= {1 / lim['max_tpot_s']:,.1f} tok/s per user)")
    if lim["max_ttft_s"]:
        parts.append(f"TTFT <= {ms(lim['max_ttft_s']):,.0f} ms")
    text = "limits: " + (", ".join(parts) if parts else "none")
    defaults = lim.get("defaults")
    if defaults:
        text += (f" ({' and '.join(d.upper() for d in defaults['applied'])}: isl/osl default, "
                 f"{defaults['source']}; change with --min-tok-per-user, --max-tpot-ms, --max-ttft-ms; 0 lifts one)")
    elif not parts:
        text += " (add --min-tok-per-user or --max-tpot-ms for a per-user speed floor)"
    margin = lim.get("margin")
    if margin and not parts:
        text += "; --latency-margin has no latency limit to hold"
    elif margin:
        held = [f"TPOT <= {ms(margin['predicted_max_tpot_s']):,.1f} ms ({margin['tpot_pct']:g} % margin)"
                if margin["predicted_max_tpot_s"] else None,
                f"TTFT <= {ms(margin['predicted_max_ttft_s']):,.0f} ms ({margin['ttft_pct']:g} % margin)"
                if margin["predicted_max_ttft_s"] else None]
        basis = "" if margin["basis"] == "asked" else f", {margin['basis']}"
        text += f"; predictions held to {', '.join(h for h in held if h)} for the cost model's error{basis}"
    return text


def accuracy_text(sc: dict) -> str:
    """``accuracy: on model families its fit never saw, engine trtllm's TPOT missed by 12 % on average, 9 runs
    in 10 by under 25 %; TTFT by 33 %, 9 in 10 by under 68 % (bench/accuracy.py --lofo)``: the profile's measured
    out-of-family errors as the scenario carries them (``EngineProfile.out_of_family_error``: TPOT alone for a
    workload without prompts), or that it records none."""
    err = sc.get("out_of_family_error_pct") or {}
    parts = []
    for key in ("tpot", "ttft"):
        mape, p90 = err.get(f"{key}_mape"), err.get(f"{key}_p90")
        if mape is None:
            continue
        if not parts:  # the first figure says what the numbers are; the next ones follow its wording
            parts.append(f"{key.upper()} {missed_text(mape, p90)}")
        else:
            parts.append(f"{key.upper()} by {mape:.0f} %" + ("" if p90 is None else f", 9 in 10 by under {p90:.0f} %"))
    if not parts:
        return (f"accuracy: engine {sc['engine']} records no error measured on model families its fit never saw "
                "(the shipped profiles do: rackplan show engine trtllm)")
    return (f"accuracy: on model families its fit never saw, engine {sc['engine']}'s " + "; ".join(parts)
            + " (bench/accuracy.py --lofo)")


def answer_text(doc: dict) -> str:
    """``answer: 389,298 tok/s on 72 GPUs (5,407 per GPU), 29.2 tok/s per user, TTFT 1,334 ms; 36 servers
    in 1 rack, 86.4 kW board power``."""
    ttft = "" if doc.get("ttft_s") is None else f", TTFT {ms(doc['ttft_s']):,.0f} ms"
    where = f"; {footprint_text(doc['footprint'])}" if doc.get("footprint") else ""
    return (f"answer: {doc['total_tps']:,.0f} tok/s on {doc['gpus']:,} GPUs ({doc['tok_per_gpu']:,.0f} per GPU), "
            f"{doc['tok_per_user']:,.1f} tok/s per user{ttft}{where}")


def result_header(doc: dict) -> list[str]:
    """The header lines of a serving plan report."""
    sc = doc["scenario"]
    w = sc["workload"]
    wl = (f"tokens cached {w['tokens_cached']}" if w.get("tokens_cached") is not None
          else f"isl {w['isl']} / osl {w['osl']}" + (", one burst" if w.get("arrivals") == "burst" else ""))
    counts = doc["search_space"]["counts"]
    objective = "maximise total TPS" if doc["objective"] == "max_tps" else \
        f"fewest GPUs reaching {sc['target_tps']:,.0f} tok/s"
    return [
        f"{sc['model']} on {sc['system']} ({sc['gpu']}), {wl}, engine {sc['engine']}",
        f"objective: {objective}; {budget_text(sc['budget'])}",
        limits_text(sc),
        answer_text(doc),
        accuracy_text(sc),
        *([f"measured range: {'; '.join(doc['outside_measured_range'])} (extrapolated: nothing measured backs it)"]
          if doc.get("outside_measured_range") else []),
        f"search space: {space_text(doc['search_space'])}",
        f"candidates: {counts['enumerated']:,} enumerated, {counts['layout_valid']:,} valid layouts, "
        f"{counts['feasible']:,} meet the per-instance limits, {counts['milp_columns']} MILP columns after pruning",
        solver_text(doc),
    ]


def explanation_lines(e: dict) -> list[str]:
    """The "why this plan" lines of an ``explanation`` (first line the heading)."""
    binding = [x["text"] for x in e["binding"] if x["binding"]]
    slack = [x["text"] for x in e["binding"] if not x["binding"]]
    lines = ["why this plan:"]
    lines += [f"  binding: {t}" for t in binding] + [f"  within: {t}" for t in slack]
    if e["limiting_subsystem"]:
        lines.append(f"  {e['limiting_subsystem']['text']}")
    lines.append(f"  {e['runner_up']['text']}" if e["runner_up"]
                 else f"  {e.get('no_runner_up', 'runner-up: none asked (--top 1)')}")
    lines += [f"  what would move it: {m['text']}" for m in e["what_would_move_it"]]
    return lines


def _explanation(doc: dict, fmt: str) -> str:
    e = doc.get("explanation")
    if not e:
        return ""
    lines = explanation_lines(e)
    if fmt == "markdown":
        return "\n\n**Why this plan**\n\n" + "\n".join(f"- {ln.strip()}" for ln in lines[1:])
    return "\n\n" + "\n".join(lines)


def compact_table(rows: list[dict], columns: list[Column]) -> str:
    """A plain-text table with two spaces between columns and no other padding; figures (columns with
    a number format) right-aligned, text left-aligned."""
    cells = [[c.header for c in columns]] + [[c.text(r) for c in columns] for r in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(columns))]

    def line(row):
        return "  ".join(v.rjust(w) if c.fmt else v.ljust(w) for v, w, c in zip(row, widths, columns)).rstrip()

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]])


def format_result(doc: dict, fmt: str, columns: list[Column] | None = None) -> str:
    """A planner result: header lines, the optimum and the next best plans as rows, why this plan."""
    columns = columns or plan_columns()
    if fmt in ("json", "csv"):
        return format_ranked(doc, _csv_columns(columns) if fmt == "csv" else columns, fmt, result_header)
    rows = [doc] + list(doc["alternatives"])
    engine = doc["scenario"]["engine"]
    if fmt == "table":
        table = compact_table(rows, columns) + _outside_note(rows, columns, engine)
        return "\n".join(result_header(doc)) + "\n\n" + table + _explanation(doc, fmt)
    note = _outside_note(rows, columns, engine, "\\" + OUTSIDE_MARK) if fmt == "markdown" else ""
    return (format_ranked(doc, columns, fmt, result_header, gap="\n") + ("\n" + note if note else "")
            + _explanation(doc, fmt))


def _csv_columns(columns: list[Column]) -> list[Column]:
    """CSV's columns: ``#`` numeric, and the ``range`` column that the ``*`` stands for elsewhere."""
    out = [NUMERIC_RANK if c is PLAN_COLUMNS["rank"] else c for c in columns]
    if PLAN_COLUMNS["rank"] in columns and PLAN_COLUMNS["range"] not in columns:
        out.append(PLAN_COLUMNS["range"])
    return out


def _outside_note(rows: list[dict], columns: list[Column], engine: str, mark: str = OUTSIDE_MARK) -> str:
    """The line under a table whose ranks carry the ``*`` (none when no row is outside, or ``#`` is not shown);
    ``mark`` as the format writes it (markdown escapes it)."""
    if PLAN_COLUMNS["rank"] not in columns or not any(r.get("outside_measured_range") for r in rows):
        return ""
    return (f"\n{mark} outside the range {engine} was measured at: extrapolated (JSON's "
            "outside_measured_range says how; the header, for plan 1)")


def format_plan(doc: dict, fmt: str, columns: list[Column] | None = None) -> str:
    """A ``plan`` / ``min-gpus`` document: a planner result, or a fleet of pools (``--disagg``)."""
    if "pools" in doc:
        text = format_fleet(doc, fmt, [limits_text(doc["scenario"])] if "scenario" in doc else [])
        return text if fmt in ("json", "csv") else text + _explanation(doc, fmt)
    return format_result(doc, fmt, columns)
