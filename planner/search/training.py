"""The training planner: the best job layout of the search space, solved as a MILP and verified.

``optimise_training`` enumerates and scores candidate layouts (numpy), prunes dominated ones,
builds the MILP (``planner.milp.training``), solves it with ``planner.milp.solve`` (HiGHS by
default), then rebuilds, re-scores and re-checks the answer (``planner.verify.training``). For
``--top K`` the MILP is solved again with each chosen layout excluded, giving the next best
distinct layouts (distinct in tp, pp, cp, ep, dp or precision; micro-batch, interleaving,
recomputation and ZeRO stage are tuned within a layout), each verified the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from planner.search import prune
from planner.milp import training as tf
from planner.budget import Budget, fabric_capacity_bytes_per_s
from planner.errors import InfeasibleError, InputError
from planner.milp.solve import Solution, solve
from planner.training.evaluate import TrainingScenario, TrainingScores
from planner.training.space import TrainingCandidates, TrainingSearchSpace, training_candidates, validate
from planner.verify.training import verify_training
from planner.training.workload import TrainingPlan
from planner.verify.serving import Verdict

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class TrainingChoice:
    """One verified job layout with its scores and the solver's numbers."""

    plan: TrainingPlan
    scores: TrainingScores
    verdict: Verdict
    solution: Solution


@dataclass(frozen=True)
class TrainingResult:
    """The training planner's answer: the optimum and the next best distinct layouts."""

    scenario: TrainingScenario
    budget: Budget
    space: TrainingSearchSpace
    objective: str
    target_tokens_per_s: float | None
    choices: list[TrainingChoice]
    counts: dict = field(default_factory=dict)
    wall_time_s: float = 0.0

    @property
    def best(self) -> TrainingChoice:
        """The optimum."""
        return self.choices[0]


def target_from_deadline(tokens_to_train: float | None, deadline_days: float | None) -> float | None:
    """Tokens/s needed to train ``tokens_to_train`` tokens within ``deadline_days`` days."""
    if deadline_days is None:
        return None
    if tokens_to_train is None:
        raise InputError("--deadline-days needs --train-tokens (the tokens the run must consume)")
    if deadline_days <= 0:
        raise InputError(f"--deadline-days must be > 0 (got {deadline_days})")
    return tokens_to_train / (deadline_days * SECONDS_PER_DAY)


def _layout_keys(table: TrainingCandidates) -> np.ndarray:
    p = table.plans
    return np.column_stack([p.tp, p.pp, p.cp, p.ep, p.dp, p.precision])


def explain_infeasible(scenario: TrainingScenario, budget: Budget, table: TrainingCandidates,
                       target_tokens_per_s: float | None) -> str:
    """The most useful reason no layout exists (layout, precision, memory, power, target), with numbers."""
    hw, w = scenario.hardware, scenario.workload
    s = table.scores
    if len(table.plans) == 0:
        return (f"no layout of the search space fits: the global batch of {w.global_batch_sequences} sequences must "
                f"divide by dp x micro_batch, tp must stay within the {hw.scale_up_domain_gpus}-GPU scale-up domain, "
                f"and tp x cp x pp x dp must fit the budget of {budget.label()}; widen the pins or the budget")
    if not s.precision_ok.any():
        return f"precision: {hw.gpu.name} has no tensor cores for the requested precision; use --precision bf16"
    ok = s.layout_ok & s.precision_ok
    if not (ok & (s.hbm_excess_bytes <= 0)).any():
        j = int(np.flatnonzero(ok)[np.argmin(s.memory.total[ok])])
        p = table.plans.plan(j)
        return (f"memory: the smallest footprint in the search space is {s.memory.total[j] / 1e9:,.1f} GB per GPU "
                f"({p.layout()} TPxCPxPPxEPxDP, ZeRO-{p.zero}, {p.recompute} recomputation, micro-batch "
                f"{p.micro_batch}) but {s.hbm_capacity_bytes / 1e9:,.1f} GB of HBM is usable; give more GPUs "
                "(deeper pp, ZeRO-3 over more dp) or allow full recomputation")
    ok &= s.hbm_excess_bytes <= 0
    if budget.max_power_w is not None:
        least = float(s.power_w[ok].min())
        if least > budget.max_power_w:
            return (f"power: the smallest feasible job draws {least / 1e3:,.1f} kW but --max-kw is "
                    f"{budget.max_power_w / 1e3:,.1f}")
        ok &= s.power_w <= budget.max_power_w
    best = float(s.tokens_per_s[ok].max())
    days = "" if w.tokens_to_train is None else f" ({w.tokens_to_train / best / SECONDS_PER_DAY:,.1f} days to train)"
    return (f"target: the most this budget ({budget.label()}) reaches is {best:,.0f} tokens/s{days}, below the "
            f"target {target_tokens_per_s:,.0f} tokens/s; give more --racks/--gpus or a later deadline")


def optimise_training(scenario: TrainingScenario, budget: Budget, space: TrainingSearchSpace,
                      objective: str = "max_tokens_per_s", target_tokens_per_s: float | None = None, top: int = 1,
                      solver: str = "highs", time_limit_s: float | None = None, export_mps: str | None = None,
                      export_lp: str | None = None) -> TrainingResult:
    """Plan the training job of ``scenario`` within ``budget`` over ``space`` (see module docstring)."""
    start = time.perf_counter()
    if objective not in tf.OBJECTIVES:
        raise InputError(f"unknown training objective '{objective}'; choose one of {', '.join(tf.OBJECTIVES)}")
    if objective == "min_gpus" and (target_tokens_per_s is None or target_tokens_per_s <= 0):
        raise InputError("min-gpus --mode training needs --target-tokens-per-s > 0, or --train-tokens with "
                         "--deadline-days")
    space = validate(space)
    table = training_candidates(scenario, space, budget.gpus)
    feasible = table.feasible()
    s = feasible.scores
    usable = np.ones(len(feasible.plans), bool)
    if budget.max_power_w is not None:
        usable &= s.power_w <= budget.max_power_w
    if target_tokens_per_s is not None:
        usable &= s.tokens_per_s >= target_tokens_per_s
    if not usable.any():
        raise InfeasibleError(explain_infeasible(scenario, budget, table, target_tokens_per_s))
    hw = scenario.hardware
    capacity = fabric_capacity_bytes_per_s(hw, budget.gpus)
    may_bind = (s.fabric_bytes_per_s[1] > capacity[1]) | (s.fabric_bytes_per_s[2] > capacity[2])
    keys = _layout_keys(feasible)
    base = np.flatnonzero(usable)
    base = base[prune.distinct_best(keys[base], s.tokens_per_s[base], may_bind[base])]
    rhs = tf.TrainingLimits(gpus=budget.gpus, power_w=budget.max_power_w, fabric_capacity=capacity,
                            hbm_bytes=s.hbm_capacity_bytes, target_tokens_per_s=target_tokens_per_s,
                            gpus_per_rack=hw.gpus_per_rack)
    choices: list[TrainingChoice] = []
    excluded: set[tuple] = set()
    columns = []
    for k in range(max(1, top)):
        pool = np.array([i for i in base if tuple(keys[i]) not in excluded], dtype=np.int64)
        if pool.size == 0:
            break
        idx = pool[prune.dominance(s.gpus[pool], s.tokens_per_s[pool], may_bind[pool])]
        columns.append(int(idx.size))
        coef = tf.TrainingCoefficients(
            names=[tf.candidate_name(feasible.plans, int(i)) for i in idx], gpus=s.gpus[idx],
            tokens_per_s=s.tokens_per_s[idx], power_w=s.power_w[idx], fabric_load=s.fabric_bytes_per_s[:, idx],
            memory_bytes=s.memory.total[idx])
        model = tf.build(coef, rhs, objective)
        if k == 0 and export_mps:
            model.problem.writeMPS(export_mps)
        if k == 0 and export_lp:
            model.problem.writeLP(export_lp)
        sol = solve(model, solver, time_limit_s)
        row = int(idx[sol.index])
        plan = feasible.plans.plan(row)
        verdict, scores = verify_training(scenario, plan, budget, space, objective, sol.objective_value,
                                          target_tokens_per_s)
        choices.append(TrainingChoice(plan=plan, scores=scores, verdict=verdict, solution=sol))
        excluded.add(tuple(keys[row]))
    counts = {"enumerated": table.num_enumerated, "layout_valid": table.num_valid,
              "feasible": int(table.ok.sum()), "distinct_layouts": int(base.size),
              "milp_columns": columns[0] if columns else 0}
    return TrainingResult(scenario, budget, space, objective, target_tokens_per_s, choices, counts,
                          time.perf_counter() - start)

