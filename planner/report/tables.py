"""Formatting: every table the CLI prints, as pure ``format_*() -> str`` functions.

The only module that imports ``tabulate``. Tables come in four formats: ``table`` (plain
text for terminals), ``markdown``, ``csv`` and ``json`` (machine-readable; nothing else is
printed with it).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from typing import Any

from tabulate import tabulate

from planner.budget import footprint_text
from planner.report.fields import human_field
from planner.serving.coverage import range_flag
from planner.units import gb, mb, ms
from specbase.record import record

FORMATS = ("table", "markdown", "csv", "json")


@record
class Column:
    """One column: header, how to read the value from a row dict, how to print it."""

    header: str
    key: str | Callable[[dict], Any]
    fmt: str = ""

    def value(self, row: dict) -> Any:
        """The raw value of this column in ``row`` (dotted keys walk nested dicts)."""
        if callable(self.key):
            return self.key(row)
        value: Any = row
        for part in self.key.split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    def text(self, row: dict) -> str:
        """The printed value."""
        value = self.value(row)
        if value is None:
            return "-"
        if isinstance(value, float) and math.isinf(value):
            return "inf"
        if self.fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
            return format(value, self.fmt)
        return str(value)


def to_json(obj: Any) -> str:
    """JSON text with infinities as null and stable key order."""
    return json.dumps(_clean(obj), indent=2, sort_keys=False)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def format_rows(rows: list[dict], columns: list[Column], fmt: str, title: str | None = None) -> str:
    """Rows as a table in ``fmt`` (``json`` dumps the row dicts themselves)."""
    if fmt == "json":
        return to_json(rows)
    headers = [c.header for c in columns]
    body = [[c.text(r) for c in columns] for r in rows]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([[_csv_value(c.value(r)) for c in columns] for r in rows])
        return buf.getvalue().rstrip("\n")
    text = tabulate(body, headers=headers, tablefmt="github" if fmt == "markdown" else "simple",
                    disable_numparse=True)
    if title:
        text = (f"**{title}**\n\n" if fmt == "markdown" else f"{title}\n") + text
    return text


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else repr(round(value, 6))
    return value


def format_pairs(pairs: list[tuple[str, Any]], fmt: str, title: str | None = None) -> str:
    """A two-column key/value table (``show`` commands); json gives an object."""
    if fmt == "json":
        return to_json(dict(pairs))
    rows = [{"field": k, "value": v} for k, v in pairs]
    return format_rows(rows, [Column("field", "field"), Column("value", "value")], fmt, title)


def flatten(obj: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dict as dotted key/value pairs, lists joined."""
    out: list[tuple[str, Any]] = []
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            out.append((name, "; ".join(str(v) for v in value) if value else "-"))
        else:
            out.append((name, value))
    return out


def evaluation_pairs(result: dict) -> list[tuple[str, Any]]:
    """One evaluated plan as (label, value) pairs with readable units."""
    return [human_field(k, v) for k, v in flatten(result)]


def format_evaluation(result: dict, fmt: str, title: str | None = None) -> str:
    """One evaluated plan: JSON object, or a field/value table with readable units."""
    if fmt == "json":
        return to_json(result)
    return format_pairs(evaluation_pairs(result) if fmt != "csv" else flatten(result), fmt, title)


def _ms(key: str) -> Callable[[dict], Any]:
    """Reader of a duration in seconds as milliseconds (None stays None)."""
    return lambda r: None if r.get(key) is None else ms(r[key])


def plan_value(key: str) -> Callable[[dict], Any]:
    """Reader of ``row["plan"][key]`` that gives None for rows without a plan (failed scenarios)."""
    return lambda r: r["plan"][key] if r.get("plan") else None


# Column groups shared by the compare, frontier and training tables (the plan table: planner.report.plan_report).
LAYOUT_COLUMNS = [
    Column("TPxPPxEPxDP", "layout"),
    Column("batch", plan_value("batch")),
    Column("quant/kv", lambda r: f"{r['plan']['quant']}/{r['plan']['kv_quant']}" if r.get("plan") else None),
    Column("offload", plan_value("kv_offload_fraction"), ".2f"),
    Column("inst", plan_value("instances")),
    Column("GPUs", "gpus"),
]
THROUGHPUT_COLUMNS = [
    Column("tok/s/GPU", "tok_per_gpu", ",.1f"),
    Column("inst tok/s", "instance_tps", ",.0f"),
    Column("tok/s", "total_tps", ",.0f"),
    Column("tok/s/user", "tok_per_user", ",.1f"),
]
BOUND_COLUMNS = [
    Column("Limit", "limit"),
    Column("Bound comp", "bounds_tok_per_gpu.compute", ",.0f"),
    Column("Bound HBM", "bounds_tok_per_gpu.hbm", ",.0f"),
    Column("Bound comm", "bounds_tok_per_gpu.comm", ",.0f"),
]
FABRIC_COLUMNS = [
    Column("intra GB/s", "fabric_load_gb_per_s.intra_server", ",.1f"),
    Column("inter-srv GB/s", "fabric_load_gb_per_s.inter_server", ",.1f"),
    Column("inter-rack GB/s", "fabric_load_gb_per_s.inter_rack", ",.1f"),
]
# in / out of the engine profile's measured range (``planner.serving.coverage``); "-" where it records none
RANGE_COLUMN = Column("range", lambda r: range_flag(r.get("outside_measured_range")))


def range_columns(rows: list[dict], fmt: str) -> list[Column]:
    """``[RANGE_COLUMN]`` where a row's engine profile records a measured range, or in CSV (whose columns stay
    the same whatever the rows); none where every cell would read "-"."""
    return [RANGE_COLUMN] if fmt == "csv" or any(r.get("outside_measured_range") is not None for r in rows) else []


MEMORY_AND_VERDICT_COLUMNS = [
    Column("mem/GPU GB", lambda r: gb(r["memory_per_gpu_bytes"]["total"]), ",.1f"),
    Column("verified", lambda r: "ok" if r["verification"]["ok"] else "FAIL"),
]

# Pass/fail checks (slack 0 or -1 by construction); the "tightest" limit is chosen among the others.
LOGICAL_CHECKS = ("layout_rules", "search_space", "objective_match", "instance_size", "precision_supported")


def verification_text(verification: dict) -> str:
    """``verification: ok (N checks, tightest NAME slack S)`` for a report header."""
    checks = verification["checks"]
    numeric = [c for c in checks if not c["name"].startswith(LOGICAL_CHECKS)]
    tight = min(numeric, key=lambda c: c["slack"] / (1 + abs(c["slack"])))
    return (f"verification: {'ok' if verification['ok'] else 'FAILED'} "
            f"({len(checks)} checks, tightest {tight['name']} slack {tight['slack']:.4g})")


def space_text(space: dict) -> str:
    """``tp {1, 2}; ...; batch 1..256 (16 values)``: a search space for a report header."""
    parts = []
    for key in ("tp", "pp", "ep", "dp", "quant", "kv_quant", "kv_offload_fraction"):
        parts.append(f"{key} {{{', '.join(str(v) for v in space[key])}}}")
    b = space["batch"]
    parts.append(f"batch {b[0]}..{b[-1]} ({len(b)} values)")
    return "; ".join(parts)


def budget_text(budget: dict) -> str:
    """``budget 1 rack(s), 72 GPUs; max 90.0 kW`` for a report header."""
    size = f"{budget['racks']} rack(s), {budget['gpus']} GPUs" if budget["racks"] else f"{budget['gpus']} GPUs"
    return f"budget {size}" + (f"; max {budget['max_power_kw']:,.1f} kW" if budget["max_power_kw"] else "")


def solver_text(doc: dict) -> str:
    """``solver: highs in 5.0 ms (wall 0.28 s); verification: ...`` for a report header."""
    return (f"solver: {doc['solver']} in {ms(doc['solve_time_s']):,.1f} ms (wall {doc['wall_time_s']:,.2f} s); "
            + verification_text(doc["verification"]))


def format_ranked(doc: dict, columns: list[Column], fmt: str, header: Callable[[dict], list[str]],
                  gap: str = "") -> str:
    """A planner document: ``header(doc)`` lines, then the optimum and its ``alternatives`` as rows
    (``gap`` between them); CSV is the rows alone, JSON the document."""
    if fmt == "json":
        return to_json(doc)
    table = format_rows([doc] + list(doc["alternatives"]), columns, fmt)
    if fmt == "csv":
        return table
    lines = header(doc) + [""]
    if fmt == "markdown":
        lines = [ln + ("  " if ln else "") for ln in lines]
    return "\n".join(lines) + gap + table


def clock_text(seconds: float | None) -> str:
    """``m:ss`` (``-:--`` when unknown)."""
    if seconds is None:
        return "-:--"
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def progress_line(what: str, done: int, total: int, elapsed_s: float) -> str:
    """``compare: scenario 3/24, 0:05 elapsed, ETA 0:35``: the time left is the remaining steps at the
    mean pace so far (unknown before the first step)."""
    eta = elapsed_s / done * (total - done) if done else None
    return f"{what} {done}/{total}, {clock_text(elapsed_s)} elapsed, ETA {clock_text(eta)}"


def format_progress(done: int, total: int, elapsed_s: float, ran: int | None = None, width: int = 24) -> str:
    """A one-line progress bar: ``[#####-----] 40/100 40% 12.5/s 0:04 left``.

    The rate counts the ``ran`` items finished in ``elapsed_s`` (items skipped by a resume
    excluded); time left is the remaining items at that rate.
    """
    ran = done if ran is None else ran
    fraction = done / total if total else 1.0
    filled = int(round(width * fraction))
    rate = ran / elapsed_s if elapsed_s > 0 and ran else 0.0
    left = (total - done) / rate if rate else None
    return (f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total} {fraction:4.0%} "
            f"{rate:,.1f}/s {clock_text(left)} left")


# Fleet tables; related columns share a line.
POWER_AND_COST_COLUMNS = [Column("kW", "power_kw", ",.1f"), Column("$/h", "cost_per_hour", ",.2f")]

FLEET_POOL_COLUMNS = [
    Column("model", "model"), Column("kind", "kind"), Column("role", "role"), Column("TPxPPxEPxDP", "layout"),
    Column("batch", "plan.batch"), Column("quant/kv", lambda r: f"{r['plan']['quant']}/{r['plan']['kv_quant']}"),
    Column("offload", "plan.kv_offload_fraction", ".2f"), Column("inst", "instances"), Column("GPUs", "gpus"),
    Column("Inst tok/s", "instance_tok_per_s", ",.0f"), Column("Pool tok/s", "pool_tok_per_s", ",.0f"),
    Column("of", "rate_kind"),
    Column("TPOT ms", _ms("tpot_s"), ",.1f"), Column("TTFT ms", _ms("ttft_s"), ",.0f"),
    Column("mem/GPU GB", lambda r: gb(r["memory_per_gpu_bytes"]), ",.1f"),
    *POWER_AND_COST_COLUMNS,
]

FLEET_MODEL_COLUMNS = [
    Column("model", "model"), Column("isl/osl", "workload_label"), Column("serving", "serving"),
    Column("target TPS", "target_tps", ",.0f"), Column("output TPS", "output_tps", ",.0f"), Column("GPUs", "gpus"),
    *POWER_AND_COST_COLUMNS,
    Column("tok/J", "tokens_per_joule", ",.2f"), Column("$/Mtok", "cost_per_million_tokens", ",.3f"),
    Column("tok/s/MW", "tok_per_s_per_mw", ",.0f"),
    Column("worst TPOT ms", _ms("worst_tpot_s"), ",.1f"), Column("worst TTFT ms", _ms("worst_ttft_s"), ",.0f"),
]

FLEET_KV_COLUMNS = [
    Column("model", "model"), Column("kv", "kv_quant"), Column("prefill on", "from"), Column("decode on", "to"),
    Column("tier charged", "tier"), Column("req/s", "requests_per_s", ",.1f"),
    Column("MB/req", lambda r: mb(r["bytes_per_request"]), ",.1f"), Column("GB/s", "gb_per_s", ",.1f"),
]

FLEET_FABRIC_COLUMNS = [
    Column("kind", "kind"), Column("tier", "tier"), Column("fabric", "fabric"),
    Column("load GB/s", "load_gb_per_s", ",.1f"), Column("of which KV", "kv_gb_per_s", ",.1f"),
    Column("capacity GB/s", "capacity_gb_per_s", ",.0f"),
    Column("util", lambda r: f"{r['utilisation'] * 100:.2f} %"),
]

FLEET_OBJECTIVES = {"min_gpus": "fewest GPUs", "min_cost": "least cost per hour", "min_power": "least power",
                    "max_tps": "most (weighted) output tokens/s"}


def _opt(value, fmt: str, unit: str = "") -> str:
    return "-" if value is None else f"{format(value, fmt)}{unit}"


def fleet_header(doc: dict) -> list[str]:
    """The header lines of a fleet plan: kinds, objective, candidates, solver, totals, footprint."""
    t, lim = doc["totals"], doc["limits"]
    kinds = ", ".join(f"{k['kind']} {k['gpus_used']}/{k['gpus']} GPUs" for k in doc["kinds"])
    used = "; ".join(f"{k['kind']} {footprint_text(k['footprint'])}" for k in doc["kinds"]
                     if k.get("footprint") and k["gpus_used"])
    limits = "".join([f"; max {lim['max_power_kw']:,.1f} kW" if lim["max_power_kw"] else "",
                      f"; max {lim['max_cost_per_hour']:,.2f}/h" if lim["max_cost_per_hour"] else ""])
    return [
        f"fleet: {kinds}; engine {doc['engine']}",
        f"objective: {FLEET_OBJECTIVES[doc['objective']]} (then {FLEET_OBJECTIVES[doc['tiebreak']]}"
        + ("" if doc["tiebreak_proven"] else ": not proven in time, the first optimum kept") + f"){limits}",
        f"candidates: {len(doc['candidates']['tables'])} tables (model x kind x role), "
        f"{doc['candidates']['milp_columns']} MILP columns after pruning",
        f"solver: {doc['solver']} in {ms(doc['solve_time_s']):,.0f} ms (tables {doc['table_time_s']:,.2f} s, "
        f"wall {doc['wall_time_s']:,.2f} s); " + verification_text(doc["verification"]),
        f"totals: {t['gpus']} of {t['gpus_held']} GPUs, {t['power_kw']:,.1f} kW, "
        f"{_opt(t['cost_per_hour'], ',.2f', '/h')}, {t['output_tps']:,.0f} output tok/s, "
        f"{_opt(t['tokens_per_joule'], ',.2f')} tok/J, {_opt(t['cost_per_million_tokens'], ',.3f')} per M tokens, "
        f"{_opt(t['tok_per_s_per_mw'], ',.0f')} tok/s per MW",
    ] + ([f"footprint: {used}"] if used else []) \
        + ([decode_accuracy_text(doc)] if any(p["role"] == "decode" for p in doc["pools"]) else [])


def decode_accuracy_text(doc: dict) -> str:
    """``accuracy: on the decode pools of measured disaggregated runs, which no fit saw, engine sglang's TPOT
    missed by 13 % on average, 9 runs in 10 by under 29 %; prefill pools and TTFT not scored (bench/accuracy.py)``:
    the profile's measured decode-pool errors as the document carries them (``EngineProfile.disagg_decode_error``),
    or that it records none."""
    err = doc.get("disagg_decode_error_pct") or {}
    if err.get("tpot_mape") is None:
        return (f"accuracy: engine {doc['engine']} records no error measured on the decode pools of disaggregated "
                "runs (the shipped trtllm and sglang profiles do: rackplan show engine sglang)")
    return (f"accuracy: on the decode pools of measured disaggregated runs, which no fit saw, engine {doc['engine']}'s "
            f"TPOT {missed_text(err['tpot_mape'], err.get('tpot_p90'))}; prefill pools and TTFT not scored "
            "(bench/accuracy.py)")


def missed_text(mape: float, p90: float | None) -> str:
    """``missed by 12 % on average, 9 runs in 10 by under 25 %`` (the P90 clause where one is recorded): how the
    accuracy lines word a recorded error."""
    return f"missed by {mape:.0f} % on average" + ("" if p90 is None else f", 9 runs in 10 by under {p90:.0f} %")


def fleet_tables(doc: dict, fmt: str = "table") -> list[tuple[str, list[dict], list[Column]]]:
    """The tables of a fleet plan as (title, rows, columns): pools (with ``range`` where an engine profile
    records one, ``range_columns``), models, then KV hand-off and fabric load where there are any."""
    pools = FLEET_POOL_COLUMNS + range_columns(doc["pools"], fmt)
    return [(title, rows, cols) for title, rows, cols in (
        ("pools", doc["pools"], pools), ("models", doc["models"], FLEET_MODEL_COLUMNS),
        ("KV hand-off (prefill -> decode)", doc["kv_transfer"], FLEET_KV_COLUMNS),
        ("fabric load", doc["fabric"], FLEET_FABRIC_COLUMNS)) if rows or title in ("pools", "models")]


def format_fleet(doc: dict, fmt: str, more_header: list[str] | tuple[str, ...] = ()) -> str:
    """A fleet plan: header lines (``more_header`` after the objective), the pools, the models' totals and
    efficiency, KV and fabric loads."""
    if fmt == "json":
        return to_json(doc)
    if fmt == "csv":
        return format_rows(doc["pools"], fleet_tables(doc, fmt)[0][2], fmt)
    lines = fleet_header(doc)
    lines[2:2] = more_header
    if fmt == "markdown":
        lines = [ln + "  " for ln in lines]
    parts = ["\n".join(lines)] + [format_rows(rows, cols, fmt, title=title)
                                  for title, rows, cols in fleet_tables(doc, fmt)]
    return "\n\n".join(parts)
