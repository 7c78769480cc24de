"""The Pareto frontier of tokens/s per GPU against tokens/s per user, traced through the planner.

For each scenario (one line of the chart) the latency floor is swept: the unconstrained
optimum gives the slowest point; the fastest reachable tokens/s per user of the search space
(the smallest step time of any plan that fits the budget) gives the other end; between them a
geometric ladder of ``points`` floors is planned, each by the MILP and verified. A point
survives if no other point of its line is at least as good on both axes and better on one.

Both axes are the evaluator's: ``tok_per_gpu`` is the plan's total tokens/s over the GPUs it
uses; ``tok_per_user`` is one over the decode step time (InferenceMAX's "interactivity").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from planner.errors import InputError, PlannerError
from planner.report.tables import LAYOUT_COLUMNS, Column, format_rows, range_columns, to_json
from planner.studies.compare import (
    WHY_NOT_COLUMN,
    ScenarioSpec,
    Settings,
    common_label,
    fastest_tok_per_user,
    plan_row,
    spec_of,
    varying_axes,
)
from planner.studies.shared import sharing_tables

DEFAULT_POINTS = 10
# The top floor sits this fraction under the fastest plan's own tokens/s per user, so that
# the plan that defines the end of the ladder is not cut off by rounding of 1 / (1 / x).
TOP_FLOOR_MARGIN_FRACTION = 1e-9


def floors(slowest: float, fastest: float, points: int) -> list[float | None]:
    """``None`` (no limit) then ``points - 1`` geometric floors from ``slowest`` up to ``fastest``."""
    if points < 2:
        raise InputError(f"--points must be at least 2 (got {points})")
    top = fastest * (1 - TOP_FLOOR_MARGIN_FRACTION)
    if top <= slowest:
        return [None]
    ratio = top / slowest
    return [None] + [slowest * ratio ** (k / (points - 1)) for k in range(1, points)]


def pareto(points: list[dict]) -> list[dict]:
    """The non-dominated points (max tok/GPU, max tok/user), sorted by tokens/s per user."""
    best: dict[tuple, dict] = {}
    for p in points:  # one point per distinct plan
        key = (p["layout"], tuple(sorted(p["plan"].items())))
        best.setdefault(key, p)
    ordered = sorted(best.values(), key=lambda p: (-p["tok_per_user"], -p["tok_per_gpu"]))
    out, top = [], float("-inf")
    for p in ordered:
        if p["tok_per_gpu"] > top:
            out.append(p)
            top = p["tok_per_gpu"]
    return out[::-1]


def series_label(spec: ScenarioSpec, axes: list[str]) -> str:
    """The line's name: the scenario's values on the axes that vary (model and system by default)."""
    parts = {"model": spec.model, "hardware": spec.hardware_label(), "budget": spec.budget_label(),
             "context": spec.context_label(), "quant": f"quant {spec.quant_label()}", "fabric": f"fabric {spec.fabric}",
             "serving": spec.serving, "latency": spec.latency_label()}
    shown = [a for a in axes if a != "latency"] or ["model", "hardware"]
    return ", ".join(parts[a] for a in shown)


def trace(spec: ScenarioSpec, settings: Settings, points: int = DEFAULT_POINTS, label: str = "",
          step: Callable[[], None] = lambda: None) -> list[dict]:
    """The frontier points of one scenario (a failed scenario gives one row saying why); ``step()`` is
    called after each of its solves (`solves_per_line` when none fails)."""
    spec = replace(spec, min_tok_per_user=None)
    first = plan_row(spec, settings)
    step()
    if first["status"] != "ok":
        return [{**first, "series": label, "floor_tok_per_user": None}]
    try:
        fastest = fastest_tok_per_user(spec, settings)
    except PlannerError as exc:
        return [{**first, "series": label, "status": "error", "reason": str(exc), "floor_tok_per_user": None}]
    step()
    rows = [{**first, "floor_tok_per_user": None}]
    for floor in floors(first["tok_per_user"], fastest, points)[1:]:
        row = plan_row(replace(spec, min_tok_per_user=floor), settings)
        step()
        if row["status"] == "ok":
            rows.append({**row, "floor_tok_per_user": floor})
    return [{**p, "series": label} for p in pareto(rows)]


def solves_per_line(points: int) -> int:
    """Solves tracing one line: the unconstrained optimum, the fastest plan, then ``points - 1`` floors."""
    return points + 1


def frontier(specs: list[ScenarioSpec], settings: Settings, points: int = DEFAULT_POINTS,
             progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """One traced line per scenario; rows numbered within their line. ``progress(done, total)`` counts
    solves: before the first, after each, and a line that stops early counts as traced."""
    if not specs:
        raise InputError("nothing to trace: the grid is empty")
    if any(s.min_tok_per_user is not None for s in specs):
        raise InputError("frontier sweeps the latency floor itself: drop --min-tok-per-user")
    axes = varying_axes(specs)
    rows = []
    per_line, total = solves_per_line(points), solves_per_line(points) * len(specs)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    for i, spec in enumerate(specs):
        with sharing_tables():  # a line's points differ only in the latency floor: one scored table
            line = trace(spec, settings, points, series_label(spec, axes), step)
        if done < (i + 1) * per_line:  # the line stopped early: its remaining solves will not run
            done = (i + 1) * per_line - 1
            step()
        for k, p in enumerate(line, 1):
            rows.append({**p, "index": i + 1, "point": k})
    return rows


FRONTIER_COLUMNS = [
    Column("line", "series"), Column("#", "point"),
    Column("tok/s/user", "tok_per_user", ",.1f"), Column("tok/s/GPU", "tok_per_gpu", ",.1f"),
    Column("floor tok/s/user", "floor_tok_per_user", ",.1f"),
    *LAYOUT_COLUMNS,
    Column("tok/s", "total_tps", ",.0f"), Column("Limit", "limit"), WHY_NOT_COLUMN,
]


def frontier_title(rows: list[dict]) -> str:
    """The table's title: what every line shares, how many lines and points."""
    specs = [replace(spec_of(r), min_tok_per_user=None) for r in rows]
    shared = common_label(specs, skip=("latency",))
    return ("frontier: tokens/s per GPU vs tokens/s per user" + (f"; shared: {shared}" if shared else "")
            + f"; {len({r['series'] for r in rows})} line(s), {len(rows)} point(s)")


def format_frontier(rows: list[dict], fmt: str) -> str:
    """Frontier points, slowest first within each line; JSON is the list of point rows."""
    if fmt == "json":
        return to_json(rows)
    columns = FRONTIER_COLUMNS[:-1] + range_columns(rows, fmt) + FRONTIER_COLUMNS[-1:]  # the reason stays last
    return format_rows(rows, columns, fmt, title=None if fmt == "csv" else frontier_title(rows))


def plot_title(rows: list[dict]) -> str:
    """The chart's title: what every line shares."""
    specs = [replace(spec_of(r), min_tok_per_user=None) for r in rows]
    shared = common_label(specs, skip=("latency", "serving", "fabric", "quant"))
    common = [a for a in ("model", "hardware", "budget") if a not in varying_axes(specs)]
    first = specs[0]
    names = {"model": first.model, "hardware": first.hardware_label(), "budget": first.budget_label()}
    return ", ".join([names[a] for a in common] + ([shared] if shared else []))
