"""The planner's main job: the best plan of the search space, solved as a MILP and verified.

``optimise`` enumerates and scores candidates (numpy), prunes dominated ones, builds the
MILP (PuLP), solves it (HiGHS by default), then rebuilds, re-scores and re-checks the
answer (``planner.verify.serving``). For ``--top K`` the MILP is solved again with each chosen
layout excluded, giving the next best distinct layouts, each verified the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from planner.milp import serving as formulation

from planner.search import prune
from planner.budget import Budget, fabric_capacity_bytes_per_s, max_instances
from planner.serving.candidates import CandidateTable, Limits, candidate_table
from planner.search.diagnose import explain_infeasible
from planner.errors import InfeasibleError, InputError
from planner.serving.evaluate import Scores
from planner.serving.plan import Plan
from planner.serving.scenario import Scenario
from planner.milp.solve import Solution, solve
from planner.serving.space import SearchSpace, validate
from planner.verify.serving import Verdict, verify


@dataclass(frozen=True)
class Choice:
    """One verified plan with its scores and the solver's numbers."""

    plan: Plan
    scores: Scores
    verdict: Verdict
    solution: Solution


@dataclass(frozen=True)
class Result:
    """The planner's answer: the optimum and the next best distinct plans."""

    scenario: Scenario
    budget: Budget
    limits: Limits
    space: SearchSpace
    objective: str
    target_tps: float | None
    choices: list[Choice]
    counts: dict = field(default_factory=dict)
    wall_time_s: float = 0.0

    @property
    def best(self) -> Choice:
        """The optimum."""
        return self.choices[0]


def _layout_keys(table: CandidateTable) -> np.ndarray:
    p = table.plans
    off = np.round(p.kv_offload_fraction * 1e6).astype(np.int64)
    return np.column_stack([p.tp, p.pp, p.ep, p.dp, p.quant, p.kv_quant, off])


def _coefficients(table: CandidateTable, idx: np.ndarray, bounds: np.ndarray) -> formulation.Coefficients:
    s = table.scores
    return formulation.Coefficients(
        names=[formulation.candidate_name(table.plans, int(i)) for i in idx],
        gpus=s.gpus_per_instance[idx], tps=s.instance_tps[idx], power_w=s.power_w[idx],
        max_instances=bounds[idx], fabric_load=s.fabric_bytes_per_s[:, idx], memory_bytes=s.memory.total[idx],
        kv_offloaded_bytes=s.memory.kv_offloaded[idx], tpot_s=s.step_time_s[idx],
        ttft_s=None if s.ttft_s is None else s.ttft_s[idx],
    )


def optimise(scenario: Scenario, budget: Budget, space: SearchSpace, limits: Limits = Limits(),
             objective: str = "max_tps", target_tps: float | None = None, top: int = 1, solver: str = "highs",
             time_limit_s: float | None = None, export_mps: str | None = None,
             export_lp: str | None = None) -> Result:
    """Plan ``scenario`` within ``budget`` over ``space``; see the module docstring."""
    start = time.perf_counter()
    if objective not in formulation.OBJECTIVES:
        raise InputError(f"unknown objective '{objective}'")
    if objective == "min_gpus" and (target_tps is None or target_tps <= 0):
        raise InputError("min-gpus needs --target-tps > 0")
    space = validate(space)
    table = candidate_table(scenario, space, limits)
    feasible = table.feasible()
    hw = scenario.hardware
    s = feasible.scores
    # Per-row instance bound from packing; power and (for min-gpus) the target cap it further.
    bounds = max_instances(budget.gpus, hw.scale_up_domain_gpus, s.gpus_per_instance)
    if budget.max_power_w is not None:
        per_instance_w = s.power_w  # one instance per row in the table
        bounds = np.minimum(bounds, np.floor(budget.max_power_w / per_instance_w).astype(np.int64))
    if objective == "min_gpus":
        bounds = np.minimum(bounds, np.ceil(target_tps / s.instance_tps - 1e-12).astype(np.int64))
        reach = bounds * s.instance_tps >= target_tps * (1 - 1e-12)
        usable = (bounds >= 1) & reach
    else:
        usable = bounds >= 1
    if not usable.any():
        raise InfeasibleError(explain_infeasible(scenario, budget, table, limits, objective, target_tps))
    capacity = fabric_capacity_bytes_per_s(hw, budget.gpus)
    may_bind = np.zeros(len(feasible.plans), bool)
    for t in (1, 2):
        may_bind |= s.fabric_bytes_per_s[t] * bounds > capacity[t]
    keys = _layout_keys(feasible)
    base = np.flatnonzero(usable)
    base = base[prune.distinct_best(keys[base], s.instance_tps[base], may_bind[base])]

    choices: list[Choice] = []
    excluded: set[tuple] = set()
    from planner.milp.serving import Limits as RowLimits
    rhs = RowLimits(gpus=budget.gpus, power_w=budget.max_power_w, fabric_capacity=capacity,
                    hbm_bytes=s.hbm_capacity_bytes, host_bytes=s.host_capacity_bytes,
                    max_tpot_s=limits.max_tpot_s, max_ttft_s=limits.max_ttft_s, target_tps=target_tps,
                    gpus_per_rack=hw.gpus_per_rack)
    pruned_sizes = []
    for k in range(max(1, top)):
        pool = np.array([i for i in base if tuple(keys[i]) not in excluded], dtype=np.int64)
        if pool.size == 0:
            break
        idx = pool[prune.dominance(s.gpus_per_instance[pool], s.instance_tps[pool], may_bind[pool])]
        pruned_sizes.append(int(idx.size))
        model = formulation.build(_coefficients(feasible, idx, bounds), rhs, objective)
        if k == 0 and export_mps:
            model.problem.writeMPS(export_mps)
        if k == 0 and export_lp:
            model.problem.writeLP(export_lp)
        sol = solve(model, solver, time_limit_s)
        row = int(idx[sol.index])
        plan = feasible.plans.take(np.array([row])).plan(0)
        plan = Plan(**{**plan.__dict__, "instances": sol.instances})
        verdict, scores = verify(scenario, plan, budget, limits, space, objective, sol.objective_value, target_tps)
        choices.append(Choice(plan=plan, scores=scores, verdict=verdict, solution=sol))
        excluded.add(tuple(keys[row]))
    counts = {"enumerated": table.num_enumerated, "layout_valid": len(table.plans),
              "feasible": int(table.ok.sum()), "distinct_layouts": int(base.size),
              "milp_columns": pruned_sizes[0] if pruned_sizes else 0}
    return Result(scenario, budget, limits, space, objective, target_tps, choices, counts,
                  time.perf_counter() - start)
