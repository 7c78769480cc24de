"""Why this plan: the limits that bind it, the subsystem that sets its pace, the runner-up, and what would move it.

``explain(result)`` reads a serving answer (``planner.search.serving.Result``) and returns plain
data, each item with its numbers and a ``text`` sentence the reports print as is:

* ``binding``: every limit the plan is measured against (GPU budget, power cap, HBM per GPU, TPOT,
  TTFT, the throughput target), used against allowed, and whether it binds. What stops the batch is
  computed, not guessed: the chosen layout is scored at the next batch of the search space, and the
  limits that batch breaks are the binding ones (the batch is the one decision a layout can still grow).
* ``limiting_subsystem``: the largest term of the step (compute, HBM, communication, offload) and its
  share of the step (term x pipeline stages / step time).
* ``runner_up``: the best distinct alternative (``--top`` >= 2) and what it gives up.
* ``what_would_move_it``: the same question solved again with one more rack, or with the tightest
  latency limit relaxed by 10 %, on the already scored candidate table (``Result.table``); and, when
  the answer lies outside its engine profile's measured range, solved again on the table's rows inside
  it (``planner.serving.coverage.inside_measured_range``): the best plan that measured runs back.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.budget import Budget
from planner.errors import InfeasibleError
from planner.quant import mode_index
from planner.serving.candidates import Limits
from planner.serving.coverage import inside_measured_range, outside_measured_range
from planner.serving.evaluate import LIMITS, evaluate_plan
from planner.units import gb, kw, ms
from planner.verify.serving import check, rescore

RELAX = 0.10
"""How far a latency limit is relaxed in ``what_would_move_it`` (10 %)."""

SUBSYSTEMS = {"compute": "compute", "hbm": "HBM traffic", "comm": "communication", "offload": "KV offload",
              "gemm": "dense GEMMs", "moe": "MoE experts", "attn": "attention"}


def _item(name: str, used: float, limit: float, unit: str, binding: bool, text: str) -> dict:
    return {"name": name, "used": used, "limit": limit, "unit": unit, "binding": bool(binding), "text": text}


def _next_batch(result, plan) -> tuple[int | None, list[str]]:
    """The next batch of the search space for the chosen layout, and the limits it breaks."""
    larger = [b for b in result.space.batch if b > plan.batch]
    if not larger:
        return None, ["batch"]
    s = _scored(result, replace(plan, batch=larger[0], instances=1))
    broken = []
    if float(s.hbm_excess_bytes[0]) > 0:
        broken.append("hbm")
    if float(s.host_excess_bytes[0]) > 0:
        broken.append("host")
    lim = result.limits
    if lim.max_tpot_s is not None and float(s.step_time_s[0]) > lim.max_tpot_s:
        broken.append("tpot")
    if lim.max_ttft_s is not None and s.ttft_s is not None and float(s.ttft_s[0]) > lim.max_ttft_s:
        broken.append("ttft")
    return larger[0], broken


def _scored(result, plan):
    """``plan``'s one-row scores: its row of the answer's scored table when the table has it (every row scores on
    its own, so the figures are those scoring it alone gives, without another evaluator call: ~5 ms for an isl/osl
    plan on a 2-core EPYC; the table's, without ``planner.serving.evaluate.REPORTED``), else scored now."""
    table = result.table
    if table is not None:
        p = table.plans
        row = np.flatnonzero((p.batch == plan.batch) & (p.tp == plan.tp) & (p.pp == plan.pp) & (p.ep == plan.ep)
                             & (p.dp == plan.dp) & (p.quant == mode_index(plan.quant))
                             & (p.kv_quant == mode_index(plan.kv_quant))
                             & (p.kv_offload_fraction == plan.kv_offload_fraction) & (p.instances == plan.instances))
        if row.size:
            return table.scores.take(row[:1])
    return evaluate_plan(result.scenario, plan)


def _binding(result) -> list[dict]:
    best = result.best
    p, s, b = best.plan, best.scores, result.budget
    nxt, broken = _next_batch(result, p)
    at = f" (batch {nxt} would break it)" if nxt else ""
    out = []
    if result.objective == "min_gpus":
        tps = float(s.total_tps[0])
        out.append(_item("target", tps, result.target_tps, "tok/s", True,
                         f"target: {tps:,.0f} tok/s reached of {result.target_tps:,.0f} asked, with {p.gpus} GPUs"))
    spare = b.gpus - p.gpus
    out.append(_item("gpu_budget", p.gpus, b.gpus, "GPUs", spare < p.gpus_per_instance,
                     f"GPU budget: {p.gpus} of {b.gpus} GPUs in use"
                     + (f" ({spare} left, fewer than the {p.gpus_per_instance} of one more instance)"
                        if 0 < spare < p.gpus_per_instance else "")))
    if b.max_power_w is not None:
        watts = float(s.power_w[0])
        per = watts / p.instances
        out.append(_item("power", kw(watts), kw(b.max_power_w), "kW", b.max_power_w - watts < per,
                         f"power cap: {kw(watts):,.1f} of {kw(b.max_power_w):,.1f} kW"))
    mem, cap = float(s.memory.total[0]), float(s.hbm_capacity_bytes)
    out.append(_item("hbm", gb(mem), gb(cap), "GB", "hbm" in broken,
                     f"HBM: {gb(mem):,.1f} of {gb(cap):,.1f} GB usable per GPU" + (at if "hbm" in broken else "")))
    lim = result.limits
    if lim.max_tpot_s is not None:
        t = float(s.step_time_s[0])
        out.append(_item("tpot", ms(t), ms(lim.max_tpot_s), "ms", "tpot" in broken,
                         f"TPOT: {ms(t):,.1f} of {ms(lim.max_tpot_s):,.1f} ms ({1 / t:,.1f} tok/s per user, "
                         f"floor {1 / lim.max_tpot_s:,.1f})" + (at if "tpot" in broken else "")))
    if lim.max_ttft_s is not None and s.ttft_s is not None:
        t = float(s.ttft_s[0])
        out.append(_item("ttft", ms(t), ms(lim.max_ttft_s), "ms", "ttft" in broken,
                         f"TTFT: {ms(t):,.0f} of {ms(lim.max_ttft_s):,.0f} ms" + (at if "ttft" in broken else "")))
    if nxt is None:
        out.append(_item("batch", p.batch, p.batch, "sequences", True,
                         f"batch: {p.batch} is the largest of the search space (raise it with --max-batch)"))
    return out


def _subsystem(result) -> dict:
    s, p = result.best.scores, result.best.plan
    name = LIMITS[int(s.limit[0])]
    term = float({"compute": s.compute_s, "hbm": s.hbm_s, "comm": s.comm_s, "offload": s.offload_s,
                  "gemm": s.gemm_s, "moe": s.moe_s, "attn": s.attention_s}[name][0])
    step = float(s.step_time_s[0])
    share = term * p.pp / step
    return {"name": name, "time_s": term * p.pp, "step_time_s": step, "share": share,
            "text": f"{SUBSYSTEMS[name]} sets the pace: {ms(term * p.pp):,.1f} ms of the {ms(step):,.1f} ms step "
                    f"({share:.0%})"}


def _plan_text(p) -> str:
    return f"{p.layout()} batch {p.batch} {p.quant}/{p.kv_quant} x{p.instances}"


def _runner_up(result) -> dict | None:
    if len(result.choices) < 2:
        return None
    best, alt = result.best, result.choices[1]
    tps, alt_tps = float(best.scores.total_tps[0]), float(alt.scores.total_tps[0])
    user, alt_user = 1 / float(best.scores.step_time_s[0]), 1 / float(alt.scores.step_time_s[0])
    text = f"runner-up {_plan_text(alt.plan)}: "
    if result.objective == "min_gpus":
        text += f"{alt.plan.gpus} GPUs ({alt.plan.gpus - best.plan.gpus:+d}), {alt_tps:,.0f} tok/s"
    else:
        text += f"{alt_tps:,.0f} tok/s, {(tps - alt_tps) / tps:.1%} less"
    text += f"; {alt_user:,.1f} tok/s per user ({alt_user - user:+,.1f})"
    if best.scores.ttft_s is not None:
        t, alt_t = ms(float(best.scores.ttft_s[0])), ms(float(alt.scores.ttft_s[0]))
        text += f", TTFT {alt_t:,.0f} ms ({alt_t - t:+,.0f})"
    return {"plan": alt.plan.as_dict(), "layout": alt.plan.layout(), "total_tps": alt_tps, "gpus": alt.plan.gpus,
            "tps_given_up": tps - alt_tps, "tok_per_user": alt_user, "text": text}


def _again(result, budget=None, limits=None, target_tps=None, table=None) -> tuple:
    """The question solved again with another budget, limits or target (one answer), on the answer's scored table
    (or on ``table``, some of its rows), and under its own limits on the rows it already found meeting them: the
    answer (None if infeasible), not yet verified (`_verified` verifies the explanation's answers together), with the
    budget, limits and target."""
    from planner.search.serving import optimise
    budget, limits, target_tps = budget or result.budget, limits or result.limits, target_tps or result.target_tps
    try:
        choice = optimise(result.scenario, budget, result.space, limits, result.objective, target_tps, top=1,
                          scored=result.table if table is None else table,
                          rows=result.rows if table is None else None, verified=False).best
    except InfeasibleError:
        choice = None
    return choice, budget, limits, target_tps


def _verified(result, asked: list[tuple]) -> list:
    """The answers of `_again`, each verified under its own budget, limits and target, re-scored in one evaluator
    call (an isl/osl plan: ~5 ms a call on a 2-core EPYC); None stays None."""
    found = [a for a in asked if a[0] is not None]
    scored = iter(zip(found, rescore(result.scenario, [a[0].plan for a in found]) if found else []))
    out = []
    for choice, *_ in asked:
        if choice is None:
            out.append(None)
            continue
        (_, budget, limits, target_tps), scores = next(scored)
        verdict = check(result.scenario, choice.plan, scores, budget, limits, result.space, result.objective,
                        choice.solution.objective_value, target_tps)
        out.append(replace(choice, verdict=verdict, scores=scores))
    return out


def _move(result, what: str, choice) -> dict:
    best = result.best
    if choice is None:
        return {"change": what, "total_tps": None, "gpus": None, "text": f"{what}: still nothing feasible"}
    tps, new = float(best.scores.total_tps[0]), float(choice.scores.total_tps[0])
    if choice.plan == best.plan:  # solved again, the answer stands: say so rather than "+0.0 %" with itself
        text = f"{what}: the same plan, no better one"
    elif result.objective == "min_gpus":
        extra = choice.plan.gpus - best.plan.gpus
        text = f"{what}: {choice.plan.gpus} GPUs ({extra:+d}) with {_plan_text(choice.plan)}"
    else:
        text = f"{what}: {new:,.0f} tok/s ({(new - tps) / tps:+.1%}) with {_plan_text(choice.plan)}"
    return {"change": what, "total_tps": new, "gpus": choice.plan.gpus, "plan": choice.plan.as_dict(), "text": text}


def _moves(result, binding: list[dict]) -> list[dict]:
    if result.table is None:
        return []
    asked = []  # (what, the answer's _again)
    b, hw = result.budget, result.scenario.hardware
    if result.objective == "max_tps":
        more = Budget(gpus=b.gpus + hw.gpus_per_rack, racks=None if b.racks is None else b.racks + 1,
                      max_power_w=b.max_power_w)
        asked.append((f"one more rack ({more.gpus} GPUs)", _again(result, budget=more)))
    else:
        lower = result.target_tps * (1 - RELAX)
        asked.append((f"target {RELAX:.0%} lower ({lower:,.0f} tok/s)", _again(result, target_tps=lower)))
    lim = result.limits
    latency = [x["name"] for x in binding if x["name"] in ("tpot", "ttft")]
    tight = sorted(latency, key=lambda n: not next(x["binding"] for x in binding if x["name"] == n))
    if tight:
        name = tight[0]
        if name == "tpot":
            relaxed = Limits(max_tpot_s=lim.max_tpot_s * (1 + RELAX), max_ttft_s=lim.max_ttft_s)
            what = f"TPOT limit relaxed by {RELAX:.0%} to {ms(relaxed.max_tpot_s):,.1f} ms"
        else:
            relaxed = Limits(max_tpot_s=lim.max_tpot_s, max_ttft_s=lim.max_ttft_s * (1 + RELAX))
            what = f"TTFT limit relaxed by {RELAX:.0%} to {ms(relaxed.max_ttft_s):,.0f} ms"
        asked.append((what, _again(result, limits=relaxed)))
    measured, unmeasured = _measured_rows(result), []
    if measured is not None:
        what = f"only plans inside the range {result.scenario.profile.name} was measured at"
        if len(measured.plans):
            asked.append((what, _again(result, table=measured)))
        else:  # the question itself lies outside (its context, its GPU): no layout or batch brings a plan inside
            unmeasured.append({"change": what, "total_tps": None, "gpus": None,
                               "text": f"{what}: no plan of the search space lies inside it"})
    answers = _verified(result, [again for _, again in asked])
    return [_move(result, what, choice) for (what, _), choice in zip(asked, answers)] + unmeasured


def _measured_rows(result):
    """The scored table's rows inside the engine profile's measured range, when the answer is not (else None)."""
    sc, best, table = result.scenario, result.best, result.table
    scores = best.scores
    ttft = None if scores.ttft_s is None else float(scores.ttft_s[0])
    gpu = sc.hardware.gpu.name
    if not outside_measured_range(sc.engine_profile, sc.workload, best.plan, ttft, float(scores.step_time_s[0]), gpu):
        return None
    s = table.scores
    inside = inside_measured_range(sc.engine_profile, sc.workload, table.plans.batch, s.ttft_s, s.step_time_s, gpu)
    return table.take(np.flatnonzero(inside))


def explain(result) -> dict:
    """Why ``result.best`` is the answer (see the module docstring)."""
    binding = _binding(result)
    return {"binding": binding, "limiting_subsystem": _subsystem(result), "runner_up": _runner_up(result),
            "what_would_move_it": _moves(result, binding)}

