"""Never trust the solver: rebuild every pool, re-score it, re-check every fleet limit from scratch.

Runs on every fleet plan. Each pool (a model's instances of one layout on one kind, in one
role) is rebuilt as a frozen ``Plan`` and scored again by the evaluator in its role
(``planner.serving.evaluate`` for aggregated pools, ``planner.serving.disagg`` for prefill and decode pools)
under a scenario rebuilt from the fleet. The checks are named like the MILP's constraints
and computed without its coefficient table: packing places the instances into the kinds'
real domains (first-fit decreasing), fabric capacities come from the catalogue's links,
KV bytes per request from the model's counts, prices and power from the fleet.

Slacks are in the limit's own unit (GPUs, bytes, bytes/s, seconds, tokens/s, watts, per
hour). The KV flows are continuous solver values held to a relative feasibility tolerance of
about 1e-9; a shortfall within ``FLOW_RELATIVE_TOLERANCE`` of the limit counts as zero slack.
"""

from __future__ import annotations

import numpy as np

from hardware.specs import TIERS
from planner.fleet.question import Fleet
from planner.fleet.table import prefill_space, scenario
from planner.milp.fleet_problem import AGG, DECODE, PREFILL, ROLES, FleetProblem, KindData, first_fit_decreasing
from planner.milp.fleet_solve import FleetSolution
from planner.quant import MODE_NAMES
from planner.serving import parallel
from planner.serving.coverage import outside_measured_range, outside_measured_roles
from planner.serving.disagg import decode_scores, kv_bytes_per_request, prefill_scores
from planner.serving.evaluate import evaluate
from planner.serving.plan import Plan, PlanArrays
from planner.serving.space import default_space, validate
from planner.serving.workload import Workload
from planner.verify import kit
from planner.verify.kit import Check, Verdict
from specbase.record import record

FLOW_RELATIVE_TOLERANCE = 1e-6


@record
class Pool:
    """One verified pool: a model's instances of one layout on one kind in one role, re-scored."""

    model: int
    kind: int
    role: int
    plan: Plan
    rate: float            # tokens/s per instance (prompt tokens for prefill)
    tpot_s: float | None
    ttft_s: float | None
    memory_per_gpu_bytes: float
    hbm_capacity_bytes: float
    fabric_bytes_per_s: np.ndarray  # (3,) one instance
    power_w: float
    cost_per_hour: float
    outside_measured_range: tuple[str, ...] | None = None  # planner.serving.coverage; None: no range recorded


@record
class Flow:
    """KV hand-off of one model from prefill kind to decode kind, re-costed."""

    model: int
    kv_quant: int
    source: int
    target: int
    requests_per_s: float
    bytes_per_request: float

    @property
    def bytes_per_s(self) -> float:
        """KV bytes/s on the links."""
        return self.requests_per_s * self.bytes_per_request


@record
class Verified:
    """The re-scored plan: pools, flows, per-model output, per-kind fabric load, verdict."""

    pools: tuple[Pool, ...]
    flows: tuple[Flow, ...]
    output_tps: np.ndarray       # per model, output tokens/s the plan serves (at the shares, if any)
    capacity_tps: np.ndarray     # per model, output tokens/s its pools and KV flows could serve
    fabric: list[dict]           # per kind, tier, direction: load and capacity (bytes/s)
    objective_value: float
    verdict: Verdict


def _limit(rhs: float, lhs: float) -> float:
    """Slack ``rhs - lhs``, reported as 0 when inside the flow tolerance either way: a row the solver holds at its
    limit comes out a rounding error over or under it, which would otherwise decide which of several limits
    the report calls the tightest."""
    slack = float(rhs - lhs)
    if abs(slack) <= FLOW_RELATIVE_TOLERANCE * max(1.0, abs(rhs), abs(lhs)):
        return 0.0
    return slack


def _score(fleet: Fleet, mi: int, ki: int, role: int, plan: Plan, kind: KindData) -> tuple[Pool, list[Check]]:
    m, k = fleet.models[mi], fleet.kinds[ki]
    sc = scenario(fleet, m, k)
    arrays = PlanArrays.from_plans([plan])
    if role == PREFILL:
        p = prefill_scores(sc, arrays)
        s, rate, tpot = p.fit, float(p.prompt_tps[0]), None
        ttft, load = float(p.batch_time_s[0]), p.fabric_bytes_per_s
    elif role == DECODE:
        s = decode_scores(sc, arrays)
        rate, tpot, ttft, load = float(s.instance_tps[0]), float(s.step_time_s[0]), None, s.fabric_bytes_per_s
    else:
        s = evaluate(sc, arrays)
        rate, tpot, load = float(s.instance_tps[0]), float(s.step_time_s[0]), s.fabric_bytes_per_s
        ttft = None if s.ttft_s is None else float(s.ttft_s[0])
    g = plan.gpus_per_instance
    tag = f"{ROLES[role]}__{m.label}__{k.label}__{plan.layout().replace('x', '_')}_b{plan.batch}"
    bad_layout = parallel.layout_reasons(m.spec, plan.tp, plan.pp, plan.ep, plan.dp, plan.batch)
    space = validate(fleet.space or default_space(sc))
    space = prefill_space(space) if role == PREFILL else space
    checks = [
        kit.rule(f"layout_rules__{tag}", not bad_layout),
        kit.in_space(f"search_space__{tag}", plan, space),
        Check(f"hbm_capacity__{tag}", float(-s.hbm_excess_bytes[0])),
        Check(f"host_memory__{tag}", float(-s.host_excess_bytes[0])),
        Check(f"placement__{tag}", float(kind.domain_gpus - g)),
        kit.rule(f"instance_size__{tag}", g & (g - 1) == 0),
    ]
    lim = m.limits
    if tpot is not None and lim.max_tpot_s is not None:
        checks.append(Check(f"tpot_limit__{tag}", lim.max_tpot_s - tpot))
    if ttft is not None and lim.max_ttft_s is not None:
        checks.append(Check(f"ttft_limit__{tag}", lim.max_ttft_s - ttft))
    outside = _outside(sc, role, plan, tpot, ttft)
    pool = Pool(model=mi, kind=ki, role=role, plan=plan, rate=rate, tpot_s=tpot, ttft_s=ttft,
                memory_per_gpu_bytes=float(s.memory.total[0]), hbm_capacity_bytes=float(s.hbm_capacity_bytes),
                fabric_bytes_per_s=np.asarray(load)[:, 0].astype(float),
                power_w=g * k.power_w_per_gpu, cost_per_hour=g * (k.price_per_gpu_hour or 0.0),
                outside_measured_range=None if outside is None else tuple(outside))
    return pool, checks


def _outside(sc, role: int, plan: Plan, tpot: float | None, ttft: float | None) -> list[str] | None:
    """How a pool lies outside its engine profile's measured range: a prefill pool by its role, a decode pool by
    its decode figures at the full context ``isl + osl``, an aggregated one as any plan
    (``planner.serving.coverage``)."""
    prof, gpu = sc.engine_profile, sc.hardware.gpu.name
    if role == PREFILL:
        return outside_measured_roles(prof, ROLES[role])
    if role == DECODE:
        w = sc.workload
        return outside_measured_range(prof, Workload(tokens_cached=w.isl + w.osl), plan, None, tpot, gpu)
    return outside_measured_range(prof, sc.workload, plan, ttft, tpot, gpu)


def verify(fleet: Fleet, problem: FleetProblem, sol: FleetSolution) -> Verified:
    """Re-score and re-check ``sol``; raise ``VerificationError`` on any failure."""
    c = problem.columns
    pools: list[Pool] = []
    checks: list[Check] = []
    for i in np.flatnonzero(sol.counts > 0):
        plan = Plan(**{**c.plans[i].__dict__, "instances": int(sol.counts[i])})
        pool, pool_checks = _score(fleet, int(c.model[i]), int(c.kind[i]), int(c.role[i]), plan,
                                   problem.kinds[int(c.kind[i])])
        pools.append(pool)
        checks.extend(pool_checks)

    for ki, k in enumerate(fleet.kinds):
        here = [p for p in pools if p.kind == ki]
        sizes = [p.plan.gpus_per_instance for p in here for _ in range(p.plan.instances)]
        free = first_fit_decreasing(problem.kinds[ki], sizes)
        checks.append(Check(f"packing__{k.label}", -1.0 if free is None else float(free)))
        checks.append(Check(f"gpu_count__{k.label}", float(k.gpus - sum(sizes))))

    flows = []
    for (m, q, a, b), rps in sorted(sol.flows.items()):
        if rps <= 0:
            continue
        sc = scenario(fleet, fleet.models[m], fleet.kinds[a])
        flows.append(Flow(m, q, a, b, rps, kv_bytes_per_request(sc, MODE_NAMES[q])))
    for mi, fm in enumerate(fleet.models):
        for q in sorted({f.kv_quant for f in flows if f.model == mi}):
            for role, tokens, name in ((PREFILL, fm.workload.isl, "prefill_capacity"),
                                       (DECODE, fm.workload.osl, "decode_capacity")):
                for ki, k in enumerate(fleet.kinds):
                    need = tokens * sum(f.requests_per_s for f in flows if f.model == mi and f.kv_quant == q
                                        and (f.source if role == PREFILL else f.target) == ki)
                    have = sum(p.rate * p.plan.instances for p in pools if p.model == mi and p.role == role
                               and p.kind == ki and p.plan.kv_quant == MODE_NAMES[q])
                    if need > 0 or have > 0:
                        checks.append(Check(f"{name}__{fm.label}__{MODE_NAMES[q]}__{k.label}", _limit(have, need)))

    capacity = np.zeros(len(fleet.models))
    for mi, fm in enumerate(fleet.models):
        capacity[mi] = sum(p.rate * p.plan.instances for p in pools if p.model == mi and p.role == AGG) \
            + (fm.workload.osl or 0) * sum(f.requests_per_s for f in flows if f.model == mi)
    shared = fleet.objective == "max_tps" and fleet.models[0].share is not None
    shares = np.array([fm.share or 1.0 for fm in fleet.models])
    # At fixed shares the fleet serves each model its share of the largest total all capacities allow.
    output = shares * float(np.min(capacity / shares)) if shared else capacity
    for mi, fm in enumerate(fleet.models):
        if fm.target_tps:
            checks.append(Check(f"target__{fm.label}", _limit(output[mi], fm.target_tps)))

    fabric = _fabric(fleet, pools, flows)
    checks.extend(Check(f"fabric_{row['tier']}{'_' + row['direction'] if row['direction'] else ''}__{row['kind']}",
                        _limit(row["capacity_bytes_per_s"], row["load_bytes_per_s"])) for row in fabric)

    power = sum(p.power_w * p.plan.instances for p in pools)
    cost = sum(p.cost_per_hour * p.plan.instances for p in pools)
    gpus = sum(p.plan.gpus for p in pools)
    if fleet.max_power_w is not None:
        checks.append(Check("power_budget", fleet.max_power_w - power))
    if fleet.max_cost_per_hour is not None:
        checks.append(Check("cost_budget", fleet.max_cost_per_hour - cost))
    value = {"min_gpus": float(gpus), "min_cost": cost, "min_power": power}.get(fleet.objective)
    if value is None:
        value = float(output[0] / shares[0]) if shared else float(sum(fm.weight * output[mi]
                                                                          for mi, fm in enumerate(fleet.models)))
    checks.append(kit.objective_match(value, sol.objective_value, scale=sol.objective_value))
    verdict = kit.conclude(checks, "fleet plan")
    return Verified(tuple(pools), tuple(flows), output, capacity, fabric, value, verdict)


def _fabric(fleet: Fleet, pools: list[Pool], flows: list[Flow]) -> list[dict]:
    """Load and capacity of every kind's inter-server and inter-rack links, from scratch."""
    rows = []
    for ki, k in enumerate(fleet.kinds):
        inst = sum((p.fabric_bytes_per_s * p.plan.instances for p in pools if p.kind == ki), np.zeros(3))
        same = sum(f.bytes_per_s for f in flows if f.source == ki and f.target == ki)
        out = sum(f.bytes_per_s for f in flows if f.source == ki and f.target != ki)
        into = sum(f.bytes_per_s for f in flows if f.target == ki and f.source != ki)
        cap = [k.hardware.fabrics[t].bytes_per_s * k.gpus for t in TIERS]
        for tier, direction, kv in ((1, "", same), (2, "out", out), (2, "in", into)):
            rows.append({"kind": k.label, "tier": TIERS[tier], "direction": direction,
                         "fabric": k.hardware.fabrics[TIERS[tier]].name,
                         "load_bytes_per_s": float(inst[tier] + kv), "kv_bytes_per_s": float(kv),
                         "capacity_bytes_per_s": float(cap[tier])})
    return rows
