"""One serving question answered end to end: names in, the JSON document of the answer out.

``plan_document`` is ``rackplan plan`` / ``min-gpus`` (and ``planner.plan`` / ``planner.min_gpus``):
resolve the names, build the budget, search space and latency limits, solve, verify, and return
the document ``--format json`` prints. ``evaluation`` is ``rackplan evaluate``: one given plan
scored by the roofline evaluator. The serving defaults live here, once; ``None`` anywhere below
means "the default".
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, fields

from planner.budget import Budget
from planner.errors import InfeasibleError, InputError
from planner.quant import mode
from planner.report.summary import result_document
from planner.search.serving import optimise
from planner.serving import resolve
from planner.serving.candidates import Limits
from planner.serving.evaluate import evaluate_plan, row
from planner.serving.margin import Margin
from planner.serving.plan import Plan
from planner.serving.space import default_space

DEFAULT_MODEL = "qwen3-235b-a22b"
DEFAULT_SYSTEM = "gb200-nvl72"
DEFAULT_TOKENS_CACHED = 8192
DEFAULT_TOP = 5
DEFAULT_SOLVER = "highs"
# min-gpus searches up to this many racks when no budget is given.
DEFAULT_MIN_GPUS_RACKS = 64
# A deployable service by default for isl/osl workloads (plan and min-gpus): the latency limits of the
# MLPerf Inference v5.1 datacenter server scenario for its MoE model DeepSeek-R1, p99 TTFT <= 2 s and
# TPOT <= 80 ms (>= 12.5 tok/s per user); source in docs/sources.md ("Default latency limits").
# Without them the throughput optimum serves a few tok/s per user after many seconds of prefill.
DEFAULT_MAX_TPOT_MS = 80.0
DEFAULT_MAX_TTFT_MS = 2000.0
DEFAULT_LIMITS_SOURCE = "MLPerf Inference v5.1 server scenario"
PLAN_DEFAULTS = {f.name: f.default for f in fields(Plan)}
"""What ``evaluate`` assumes for a decision it is not given (``Plan``'s own defaults)."""


class Document(dict):
    """A JSON document (what ``--format json`` prints) that also carries the title its table prints under."""

    def __init__(self, data: dict, title: str = ""):
        super().__init__(data)
        self.title = title


def _or(value, default):
    return default if value is None else value


def scenario(*, model=None, system=None, gpu=None, fabric=None, preset=None, tokens_cached=None, isl=None,
             osl=None, engine_name=None, profile_path=None, allow_span=False, seed_moe=False, catalogue_dirs=(),
             default_tokens_cached=DEFAULT_TOKENS_CACHED, allow_long_context=False, arrivals=None):
    """The serving scenario of these names, with the serving defaults filled in."""
    return resolve.scenario(model=model or DEFAULT_MODEL, system=system or (None if gpu else DEFAULT_SYSTEM),
                            gpu=gpu, fabric=fabric, preset=preset, tokens_cached=tokens_cached, isl=isl, osl=osl,
                            engine_name=engine_name, profile_path=profile_path, allow_span=bool(allow_span),
                            seed_moe=bool(seed_moe), catalogue_dirs=tuple(catalogue_dirs or ()),
                            default_tokens_cached=default_tokens_cached,
                            allow_long_context=bool(allow_long_context), arrivals=arrivals)


def default_limits(sc, min_tok_per_user, max_tpot_ms, max_ttft_ms) -> tuple[Limits, list[str]]:
    """The latency limits asked, with the isl/osl defaults filled in where none was given (0 lifts one),
    and the names of the limits that are defaults (``tpot``, ``ttft``)."""
    defaulted = []
    if sc.workload.isl is not None:
        if min_tok_per_user is None and max_tpot_ms is None:
            max_tpot_ms = DEFAULT_MAX_TPOT_MS
            defaulted.append("tpot")
        if max_ttft_ms is None:
            max_ttft_ms = DEFAULT_MAX_TTFT_MS
            defaulted.append("ttft")
    return Limits.from_cli(min_tok_per_user, max_tpot_ms, max_ttft_ms), defaulted


@contextmanager
def _margin_noted(margin: Margin | None):
    """An InfeasibleError inside says which limits it met: those asked, held under by ``--latency-margin``."""
    try:
        yield
    except InfeasibleError as e:
        if margin is None:
            raise
        raise InfeasibleError(f"{e} (the limits asked, held {margin.tpot_pct:g} % (TPOT) and {margin.ttft_pct:g} % "
                              "(TTFT) under by --latency-margin)") from None


def plan_document(objective: str = "max_tps", target_tps: float | None = None, *, racks=None, gpus=None, tp=None,
                  pp=None, ep=None, dp=None, batch=None, quant=None, kv_quant=None, kv_offload_fraction=None,
                  max_batch=None, min_tok_per_user=None, max_tpot_ms=None, max_ttft_ms=None, max_kw=None, top=None,
                  solver=None, time_limit_s=None, export_mps=None, export_lp=None, disagg=False, latency_margin=None,
                  **names) -> dict:
    """The optimal plan (``max_tps``) or the fewest GPUs reaching ``target_tps`` (``min_gpus``), as the
    JSON document of ``rackplan plan`` / ``min-gpus``; ``names`` are `scenario`'s keywords."""
    sc = scenario(**names)
    if objective == "min_gpus" and racks is None and gpus is None:
        racks = DEFAULT_MIN_GPUS_RACKS
    budget = Budget.of(sc.hardware, racks, gpus, max_kw)
    space = default_space(sc, max_batch).pinned(
        tp=tp, pp=pp, ep=ep, dp=dp, batch=batch, quant=quant, kv_quant=kv_quant,
        kv_offload_fraction=kv_offload_fraction)
    asked, defaulted = default_limits(sc, min_tok_per_user, max_tpot_ms, max_ttft_ms)
    margin = Margin.of(latency_margin, sc.profile, disagg)
    limits = asked.with_margin(margin)  # what the predictions are held to
    solver = _or(solver, DEFAULT_SOLVER)
    applied = {"applied": defaulted, "source": DEFAULT_LIMITS_SOURCE} if defaulted else None
    # the limits as asked, the defaults applied and the margin: scenario.limits of either document
    shown = {"max_tpot_s": asked.max_tpot_s, "max_ttft_s": asked.max_ttft_s, "defaults": applied,
             "margin": None if margin is None else {
                 **asdict(margin), "predicted_max_tpot_s": limits.max_tpot_s,
                 "predicted_max_ttft_s": limits.max_ttft_s}}
    if disagg:  # prefill and decode pools sized together (planner.fleet.disagg), under the same limits
        if export_mps or export_lp:
            raise InputError("--export-mps/--export-lp are not available with --disagg")
        from planner.fleet.disagg import plan_disagg  # the fleet stack only for --disagg
        from planner.report.fleet_summary import fleet_document
        from planner.studies.disagg_explain import explain_disagg

        def again(budget=budget, limits=limits):
            try:
                return fleet_document(plan_disagg(sc, budget, space, limits, solver, time_limit_s, target_tps))
            except InfeasibleError:
                return None

        with _margin_noted(margin):
            doc = fleet_document(plan_disagg(sc, budget, space, limits, solver, time_limit_s, target_tps))
        # The limits where a plan document has them (scenario.limits), for the header and JSON alike.
        doc["scenario"] = {"limits": shown}
        doc["explanation"] = explain_disagg(doc, budget, limits, sc.hardware.gpus_per_rack, again)
        return doc
    with _margin_noted(margin):
        result = optimise(sc, budget, space, limits, objective, target_tps, _or(top, DEFAULT_TOP), solver,
                          time_limit_s, export_mps, export_lp)
    doc = result_document(result)
    doc["scenario"]["limits"] = shown
    return doc


def evaluation(*, tp=None, pp=None, ep=None, dp=None, batch=None, quant=None, kv_quant=None,
               kv_offload_fraction=None, instances=None, **names) -> Document:
    """One plan scored by the roofline evaluator: ``plan``, the evaluator's keys with ``prefill_time_s``,
    ``outside_measured_range`` (``planner.serving.coverage``) and the profile's ``out_of_family_error_pct``
    (``EngineProfile.out_of_family_error``) (``rackplan evaluate``).

    ``names`` are `scenario`'s keywords; ``model`` and ``system`` or ``gpu`` are required.
    """
    if names.get("model") is None:
        raise InputError("evaluate needs --model (a catalogue name, a Hugging Face id or a config.json path)")
    if names.get("system") is None and names.get("gpu") is None:
        raise InputError("evaluate needs --system or --gpu (see `rackplan systems` / `rackplan gpus`)")
    sc = scenario(default_tokens_cached=None, **names)
    given = {"tp": tp, "pp": pp, "ep": ep, "dp": dp, "batch": batch, "kv_offload_fraction": kv_offload_fraction,
             "instances": instances, "quant": quant, "kv_quant": kv_quant}
    decisions = {k: _or(v, PLAN_DEFAULTS[k]) for k, v in given.items()}
    for key in ("quant", "kv_quant"):
        decisions[key] = mode(decisions[key]).name
    plan = Plan(**decisions)
    title = f"{sc.model.name} on {sc.hardware.system.name}, {sc.workload.label()}, plan {plan.layout()} (TPxPPxEPxDP)"
    return Document({"plan": plan.as_dict(), **row(sc, evaluate_plan(sc, plan), prefill=True),
                     "out_of_family_error_pct": sc.profile.out_of_family_error(sc.workload.has_prefill)}, title)
