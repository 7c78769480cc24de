"""Side-by-side optimal plans: a grid of scenarios, each planned by the MILP and verified.

A *scenario* is everything a question fixes except the plan: model, hardware, budget,
context, weight-quantisation set, fabric, serving mode and latency floor. A grid gives a
list of values per axis (``AXES``); ``expand`` takes their Cartesian product, in axis order,
so the rows come out in a deterministic order. ``plan_row`` plans one scenario and returns
a row dict; a scenario that cannot be planned (infeasible, unknown name) still gives a row,
with ``status`` and ``reason`` saying why.

Serving modes are a registry (``SERVING``): a mode is a function from a scenario to the
row keys of its best plan, so a new mode is one ``register_serving`` call.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, replace
from functools import lru_cache

from hardware.errors import CatalogueError
from models.errors import ModelError
from planner.budget import Budget, max_instances
from planner.errors import InfeasibleError, InputError, PlannerError
from planner.report.narrow import PRIORITY, narrow_table
from planner.report.summary import choice_row
from planner.report.tables import (
    BOUND_COLUMNS,
    FABRIC_COLUMNS,
    LAYOUT_COLUMNS,
    THROUGHPUT_COLUMNS,
    Column,
    range_columns,
    to_json,
)
from planner.search.serving import optimise
from planner.serving import resolve
from planner.serving.candidates import Limits
from planner.serving.margin import DECODE_POOL_BASIS, Margin
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace, default_space
from planner.serving.workload import ARRIVALS
from planner.studies.serving import Document
from planner.studies.shared import limited_table, same_table_order, shared_table, sharing_tables
from specbase.record import record

# Axis order is row order: the first axis varies slowest.
AXES = ("model", "hardware", "budget", "context", "quant", "fabric", "serving", "latency")
ROW_ERRORS = (PlannerError, CatalogueError, ModelError)


@record
class ScenarioSpec:
    """One scenario by name (picklable: it travels to worker processes and Ray tasks).

    Attributes:
        model: catalogue name, Hugging Face id or config.json path.
        system, gpu: the hardware (``gpu`` picks that GPU's default system).
        fabric: a fabric replacing every scale-out tier, or ``default``.
        racks, gpus: the budget (one of them; neither means one rack).
        tokens_cached, isl, osl: the context (steady-state decode, or prompt/output lengths).
        arrivals: how isl/osl requests arrive, ``steady`` or ``burst`` (``planner.serving.workload``).
        quant: weight-quantisation set to search (``None``: the search space's default).
        serving: serving mode, a key of ``SERVING``.
        min_tok_per_user: per-user decode floor in tokens/s (``None``: no latency limit).
    """

    model: str
    system: str | None = None
    gpu: str | None = None
    fabric: str = "default"
    racks: int | None = None
    gpus: int | None = None
    tokens_cached: int | None = None
    isl: int | None = None
    osl: int | None = None
    arrivals: str = "steady"
    quant: tuple[str, ...] | None = None
    serving: str = "agg"
    min_tok_per_user: float | None = None

    def as_dict(self) -> dict:
        """JSON form (``quant`` as a list)."""
        out = asdict(self)
        out["quant"] = None if self.quant is None else list(self.quant)
        return out

    def hardware_label(self) -> str:
        """System name, or ``gpu:NAME`` when only a GPU was given."""
        return self.system or (f"gpu:{self.gpu}" if self.gpu else "default")

    def budget_label(self) -> str:
        """``2 racks`` or ``16 GPUs``."""
        if self.gpus is not None:
            return f"{self.gpus} GPUs"
        racks = 1 if self.racks is None else self.racks
        return f"{racks} rack{'s' if racks != 1 else ''}"

    def context_label(self) -> str:
        """``ctx 8192`` or ``isl/osl 1024/1024``."""
        if self.isl is not None or self.osl is not None:
            return f"isl/osl {self.isl}/{self.osl}" + (", one burst" if self.arrivals == "burst" else "")
        return f"ctx {self.tokens_cached}"

    def quant_label(self) -> str:
        """The quantisation set, ``fp8,fp4``, or ``default``."""
        return ",".join(self.quant) if self.quant else "default"

    def latency_label(self) -> str:
        """``>=40 tok/s/user`` or ``none``."""
        return "none" if self.min_tok_per_user is None else f">={self.min_tok_per_user:g} tok/s/user"

    def label(self) -> str:
        """Every axis in one line: the scenario's identity in sweep files."""
        return " | ".join([self.model, self.hardware_label(), self.budget_label(), self.context_label(),
                           f"quant {self.quant_label()}", f"fabric {self.fabric}", self.serving,
                           f"latency {self.latency_label()}"])


@record
class Settings:
    """What every scenario of a grid shares: engine, search-space pins, fixed limits, solver.

    ``pins`` pairs a ``SearchSpace`` field (``tp``, ``kv_quant``, ...) with the values allowed; a
    tuple of pairs rather than a dict so that settings hash (resolved scenarios are cached by them).
    """

    engine_name: str | None = None
    profile_path: str | None = None
    allow_span: bool = False
    seed_moe: bool = False
    allow_long_context: bool = False
    preset: str | None = None
    catalogue_dirs: tuple[str, ...] = ()
    max_batch: int | None = None  # None: the engine's default maximum (serving.space.default_space)
    pins: tuple[tuple[str, tuple], ...] = ()
    max_tpot_ms: float | None = None
    max_ttft_ms: float | None = None
    latency_margin: float | str | None = None  # planner.serving.margin.Margin.of: a percentage or "p90"
    max_kw: float | None = None
    solver: str = "highs"
    time_limit_s: float | None = None


@record
class Problem:
    """A scenario resolved into the optimiser's inputs."""

    scenario: Scenario
    budget: Budget
    space: SearchSpace
    limits: Limits


def disagg_row(scenario: Scenario, budget: Budget, space: SearchSpace, limits: Limits, solver: str = "highs",
               time_limit_s: float | None = None) -> dict:
    """The disaggregated optimum as a ``rackplan compare`` row (``fleet_summary.disagg_choice_row``)."""
    from planner.fleet.disagg import plan_disagg  # the fleet stack only for disaggregated rows
    from planner.report.fleet_summary import disagg_choice_row
    result = plan_disagg(scenario, budget, space, limits, solver, time_limit_s)
    out = disagg_choice_row(result)
    out["system_name"] = scenario.hardware.system.name
    out["gpu_name"] = scenario.hardware.gpu.name
    return out


def problem(spec: ScenarioSpec, settings: Settings, disagg: bool = False) -> Problem:
    """Resolve names into specs, budget, search space and limits (``disagg``: held by a disaggregated plan's margin,
    ``planner.serving.margin.Margin.of``)."""
    sc = _resolved(spec.model, spec.system, spec.gpu, spec.fabric, spec.tokens_cached, spec.isl, spec.osl,
                   spec.arrivals, settings)
    budget = Budget.of(sc.hardware, spec.racks, spec.gpus, settings.max_kw)
    pins = dict(settings.pins)
    if spec.quant is not None:
        pins["quant"] = spec.quant
    space = default_space(sc, settings.max_batch).pinned(**pins)
    limits = Limits.from_cli(spec.min_tok_per_user, settings.max_tpot_ms, settings.max_ttft_ms)
    return Problem(sc, budget, space, limits.with_margin(Margin.of(settings.latency_margin, sc.profile, disagg)))


# Catalogue files are read once per process for each distinct (model, hardware, context), not once
# per scenario: a sweep's budgets, quantisation sets and latency floors share a resolved scenario.
@lru_cache(maxsize=256)
def _resolved(model, system, gpu, fabric, tokens_cached, isl, osl, arrivals, s: Settings) -> Scenario:
    return resolve.scenario(model=model, system=system, gpu=gpu, fabric=fabric,
                            preset=s.preset, tokens_cached=tokens_cached, isl=isl, osl=osl, arrivals=arrivals,
                            engine_name=s.engine_name, profile_path=s.profile_path, allow_span=s.allow_span,
                            seed_moe=s.seed_moe, catalogue_dirs=s.catalogue_dirs,
                            allow_long_context=s.allow_long_context)


def plan_aggregated(spec: ScenarioSpec, settings: Settings) -> dict:
    """Aggregated serving: prefill and decode share every instance; the MILP's optimum."""
    p = problem(spec, settings)
    result = optimise(p.scenario, p.budget, p.space, p.limits, "max_tps", None, 1, settings.solver,
                      settings.time_limit_s, scored=shared_table(p.scenario, p.space))
    out = choice_row(result, result.best, 1)
    out["system_name"] = p.scenario.hardware.system.name
    out["gpu_name"] = p.scenario.hardware.gpu.name
    for key in ("rank", "solve_time_s"):  # rank is always 1; timings would make rows irreproducible
        out.pop(key, None)
    return out


def plan_disaggregated(spec: ScenarioSpec, settings: Settings) -> dict:
    """Disaggregated serving: prefill and decode pools sized together (``planner.fleet.disagg``)."""
    p = problem(spec, settings, disagg=True)
    return disagg_row(p.scenario, p.budget, p.space, p.limits, settings.solver, settings.time_limit_s)


SERVING: dict[str, Callable[[ScenarioSpec, Settings], dict]] = {"agg": plan_aggregated, "disagg": plan_disaggregated}


def register_serving(name: str, planner_fn: Callable[[ScenarioSpec, Settings], dict]) -> None:
    """Add a serving mode: ``planner_fn`` returns the row keys of ``summary.choice_row``."""
    SERVING[name] = planner_fn


def plan_row(spec: ScenarioSpec, settings: Settings, index: int = 0) -> dict:
    """Plan one scenario; a scenario that cannot be planned gives a row saying why."""
    row = {"index": index, "label": spec.label(), "scenario": spec.as_dict(), "status": "ok", "reason": None}
    try:
        if spec.serving not in SERVING:
            raise InputError(f"unknown serving mode '{spec.serving}'; known: {', '.join(SERVING)}")
        planned = SERVING[spec.serving](spec, settings)
    except InfeasibleError as exc:
        row.update(status="infeasible", reason=str(exc))
        return row
    except ROW_ERRORS as exc:
        row.update(status="error", reason=str(exc))
        return row
    row.update(planned)
    return row


def fastest_tok_per_user(spec: ScenarioSpec, settings: Settings) -> float:
    """The highest tokens/s per user any plan of the search space reaches within the budget."""
    p = problem(replace(spec, min_tok_per_user=None), settings)
    s = limited_table(p.scenario, p.space, p.limits).feasible().scores
    fits = max_instances(p.budget.gpus, p.scenario.hardware.scale_up_domain_gpus, s.gpus_per_instance) >= 1
    if not fits.any():
        raise InfeasibleError(f"no plan of the search space fits the budget ({p.budget.label()})")
    return float(1.0 / s.step_time_s[fits].min())


def axis_values(*, models=(), systems=(), gpus=(), racks=(), gpu_budgets=(), tokens_cached=(), isl=(), osl=(),
                arrivals=(), workloads=(), quants=(), fabrics=(), serving=(),
                min_tok_per_user=()) -> dict[str, list[dict]]:
    """A grid from value lists: each axis becomes a list of ``ScenarioSpec`` field dicts.

    ``isl``, ``osl`` and ``arrivals`` (``steady``, ``burst``; default steady) combine as a product; ``workloads`` adds
    explicit context dicts.
    A latency floor of 0 or ``None`` means no limit. Empty axes take the spec's default.
    """
    if systems and gpus:
        raise InputError("give --system or --gpu values, not both")
    if racks and gpu_budgets:
        raise InputError("give --racks or --gpus values, not both")
    if bool(isl) != bool(osl):
        raise InputError("isl and osl go together: give both")
    if arrivals and not isl:
        raise InputError("arrivals apply to isl/osl workloads: give --isl and --osl with --arrivals")
    unknown = [a for a in arrivals if a not in ARRIVALS]
    if unknown:
        raise InputError(f"arrivals: unknown {unknown[0]!r}; give {' or '.join(ARRIVALS)} (or both, comma-separated)")
    context = [{"tokens_cached": int(t)} for t in tokens_cached]
    context += [{"isl": int(i), "osl": int(o), "arrivals": a}
                for i, o, a in itertools.product(isl, osl, arrivals or ("steady",))]
    context += [dict(w) for w in workloads]
    grid = {
        "model": [{"model": m} for m in models],
        "hardware": [{"system": s} for s in systems] + [{"gpu": g} for g in gpus],
        "budget": [{"racks": int(r)} for r in racks] + [{"gpus": int(g)} for g in gpu_budgets],
        "context": context,
        "quant": [{"quant": tuple(q)} for q in quants],
        "fabric": [{"fabric": f} for f in fabrics],
        "serving": [{"serving": s} for s in serving],
        "latency": [{"min_tok_per_user": float(v) if v else None} for v in min_tok_per_user],
    }
    return {k: v for k, v in grid.items() if v}


# Bounded work: one grid, one run (a scenario plans in ~0.1-1 s; 100,000 is already a day on one core).
MAX_SCENARIOS = 100_000


def expand(grid: dict[str, list[dict]]) -> list[ScenarioSpec]:
    """Every combination of the grid's axes, in ``AXES`` order (the first axis varies slowest)."""
    unknown = set(grid) - set(AXES)
    if unknown:
        raise InputError(f"unknown scenario axis {sorted(unknown)}; known: {', '.join(AXES)}")
    if not grid.get("model"):
        raise InputError("a scenario grid needs at least one model")
    lists = [grid.get(axis) or [{}] for axis in AXES]
    size = math.prod(len(values) for values in lists)
    if size > MAX_SCENARIOS:
        raise InputError(f"grid: {size:,} scenarios (the product of the axis lengths); at most {MAX_SCENARIOS:,} "
                         "per run: split the grid into several runs")
    specs = []
    for combo in itertools.product(*lists):
        fields_ = {}
        for part in combo:
            fields_.update(part)
        specs.append(ScenarioSpec(**fields_))
    return specs


def varying_axes(specs: list[ScenarioSpec]) -> list[str]:
    """Axes whose label differs between scenarios."""
    labels = {"model": lambda s: s.model, "hardware": ScenarioSpec.hardware_label,
              "budget": ScenarioSpec.budget_label, "context": ScenarioSpec.context_label,
              "quant": ScenarioSpec.quant_label, "fabric": lambda s: s.fabric, "serving": lambda s: s.serving,
              "latency": ScenarioSpec.latency_label}
    return [a for a in AXES if len({labels[a](s) for s in specs}) > 1]


def compare(specs: list[ScenarioSpec], settings: Settings, baseline: int = 1,
            progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Plan every scenario; add each row's ratios to the ``baseline`` row (1-based).
    ``progress(done, total)`` is called before the first scenario and after each one."""
    if not specs:
        raise InputError("nothing to compare: the grid is empty")
    if not 1 <= baseline <= len(specs):
        raise InputError(f"--baseline must be a row number from 1 to {len(specs)} (got {baseline})")
    rows = [None] * len(specs)
    with sharing_tables():  # scenarios differing only in budget or latency floor share one scored table
        for done, i in enumerate(same_table_order(specs)):
            if progress is not None:
                progress(done, len(specs))
            rows[i] = plan_row(specs[i], settings, i + 1)
    if progress is not None:
        progress(len(specs), len(specs))
    return add_ratios(rows, baseline)


def add_ratios(rows: list[dict], baseline: int) -> list[dict]:
    """``total_tps_ratio`` and ``tok_per_gpu_ratio`` against row ``baseline`` (``None`` if either failed)."""
    base = rows[baseline - 1]
    for r in rows:
        r["baseline"] = baseline
        for key in ("total_tps", "tok_per_gpu"):
            ok = r["status"] == "ok" and base["status"] == "ok" and base[key] > 0
            r[f"{key}_ratio"] = r[key] / base[key] if ok else None
    return rows


_AXIS_COLUMNS = {
    "model": Column("model", "scenario.model"),
    "hardware": Column("system", lambda r: r.get("system_name") or spec_of(r).hardware_label()),
    "budget": Column("budget", lambda r: spec_of(r).budget_label()),
    "context": Column("context", lambda r: spec_of(r).context_label()),
    "quant": Column("quant set", lambda r: spec_of(r).quant_label()),
    "fabric": Column("fabric", "scenario.fabric"),
    "serving": Column("serving", "scenario.serving"),
    "latency": Column("min tok/s/user", lambda r: spec_of(r).latency_label()),
}


def spec_of(row: dict) -> ScenarioSpec:
    """The scenario of a row (its ``scenario`` dict back as a ``ScenarioSpec``)."""
    kw = dict(row["scenario"])
    kw["quant"] = None if kw.get("quant") is None else tuple(kw["quant"])
    return ScenarioSpec(**kw)


WHY_NOT_COLUMN = Column("why not", lambda r: None if r["status"] == "ok" else f"{r['status']}: {r['reason']}")
PLAN_COLUMNS = [*LAYOUT_COLUMNS, *THROUGHPUT_COLUMNS, *BOUND_COLUMNS, *FABRIC_COLUMNS]


def compare_columns(rows: list[dict], fmt: str = "table") -> list[Column]:
    """``#``, the scenario axes (model, system and budget always; others when they vary), the plan,
    the ratios to the baseline and the reason a row is empty. The baseline's ``#`` carries a ``*``;
    CSV keeps ``#`` numeric and says it in a ``baseline`` column instead."""
    specs = [spec_of(r) for r in rows]
    fixed = ["model", "hardware", "budget"]
    shown = fixed + [a for a in varying_axes(specs) if a not in fixed]
    axis_cols = [_AXIS_COLUMNS[a] for a in AXES if a in shown]
    if fmt == "csv":
        first = [Column("#", "index"), Column("baseline", lambda r: r["index"] == r["baseline"])]
    else:
        first = [Column("#", lambda r: f"{r['index']}*" if r["index"] == r["baseline"] else r["index"])]
    return (first + axis_cols + PLAN_COLUMNS + range_columns(rows, fmt)
            + [Column("x base tok/s", "total_tps_ratio", ".2f"), Column("x base tok/s/GPU", "tok_per_gpu_ratio", ".2f"),
               WHY_NOT_COLUMN])


def common_label(specs: list[ScenarioSpec], skip: tuple[str, ...] = ()) -> str:
    """The axes every scenario shares (except ``skip``), as one line (the table's title)."""
    vary = set(varying_axes(specs)) | set(skip)
    s = specs[0]
    parts = {"context": s.context_label(), "quant": f"quant {s.quant_label()}", "fabric": f"fabric {s.fabric}",
             "serving": f"serving {s.serving}", "latency": f"latency floor {s.latency_label()}"}
    return "; ".join(v for k, v in parts.items() if k not in vary)


def _held_text(margin: Margin, tpot: bool, ttft: bool) -> str:
    """``; predictions held 25 % under the TPOT limits and 68 % under the TTFT limit, the 90th percentile of ...``:
    the title's word on ``--latency-margin`` (the limits some scenario has), or that no limit holds it."""
    held = [f"{margin.tpot_pct:g} % under the TPOT limits"] * bool(tpot) \
        + [f"{margin.ttft_pct:g} % under the TTFT limit"] * bool(ttft)
    if not held:
        return "; --latency-margin has no latency limit to hold"
    return f"; predictions held {' and '.join(held)}" + ("" if margin.basis == "asked" else f", {margin.basis}")


def compare_document(specs: list[ScenarioSpec], settings: Settings, baseline: int = 1,
                     progress: Callable[[int, int], None] | None = None) -> Document:
    """Plan every scenario (`compare`): the JSON document of ``rackplan compare``, ``{baseline, rows,
    latency_margin}``, titled with what every row shares, the engine profile and the margin (``progress`` as in
    `compare`)."""
    profile = resolve.profile(settings.engine_name, settings.profile_path)
    margin = Margin.of(settings.latency_margin, profile)  # (refused here, before any scenario is planned)
    rows = compare(specs, settings, baseline, progress)
    shared = common_label(specs)
    tpot_limit = settings.max_tpot_ms or any(s.min_tok_per_user for s in specs)
    held = "" if margin is None else _held_text(margin, tpot_limit, settings.max_ttft_ms)
    decode = None if margin is None or not any(s.serving == "disagg" for s in specs) \
        else Margin.of(settings.latency_margin, profile, disagg=True)
    if decode is not None and decode != margin and tpot_limit:  # the disaggregated rows' TPOT held by their own
        held += f"; disaggregated rows' TPOT {decode.tpot_pct:g} % under, {DECODE_POOL_BASIS.format(profile.name)}"
    title = (f"compare: {len(rows)} scenario{'s' if len(rows) != 1 else ''}"
             + (f"; shared: {shared}" if shared else "") + (f"; engine {profile.name}" if profile.name else "")
             + held + f"; ratios to row {baseline} (*)")
    return Document({"baseline": baseline, "rows": rows,
                     "latency_margin": None if margin is None else asdict(margin),
                     "disagg_latency_margin": None if decode is None else asdict(decode)}, title)


def format_compare(doc: Document, fmt: str, wide: bool = False) -> str:
    """The comparison as a table (``*`` marks the baseline); 120 characters wide unless ``wide`` (report.narrow)."""
    if fmt == "json":
        return to_json(doc)
    return narrow_table(doc["rows"], compare_columns(doc["rows"], fmt), fmt, doc.title, PRIORITY, WHY_NOT_COLUMN,
                        wide=wide)
