"""The training planner: the best job layout of the search space, solved as a MILP and verified.

``optimise_training`` enumerates and scores candidate layouts (numpy), keeps those the power
budget and the target leave usable, and hands them to the search driver
(``planner.search.driver``): prune dominated ones, build the MILP (``planner.milp.training``),
solve it with ``planner.milp.solve`` (HiGHS by default), then rebuild, re-score and re-check
the answer (``planner.verify.training``). For ``--top K`` the MILP is solved again with each
chosen layout excluded, giving the next best distinct layouts (distinct in tp, pp, cp, ep, dp
or precision; micro-batch, interleaving, recomputation and ZeRO stage are tuned within a
layout), each verified the same way.
"""

from __future__ import annotations

import time

import numpy as np

from planner.budget import Budget, fabric_capacity_bytes_per_s
from planner.errors import InputError
from planner.milp import training as tf
from planner.milp.solve import Solution
from planner.search import driver, prune
from planner.search.diagnose import SECONDS_PER_DAY, explain_training_infeasible
from planner.search.driver import Answer, Choice
from planner.training.evaluate import TrainingScenario
from planner.training.space import TrainingCandidates, TrainingSearchSpace, training_candidates, validate
from planner.verify.training import verify_training
from specbase.record import record

__all__ = ["SECONDS_PER_DAY", "TrainingChoice", "TrainingResult", "optimise_training", "target_from_deadline"]

# A training choice is the driver's record: the job layout, its scores, the verdict, the solution.
TrainingChoice = Choice


@record(kw_only=True)
class TrainingResult(Answer):
    """The training planner's answer: the optimum and the next best distinct layouts, for the question asked."""

    scenario: TrainingScenario
    budget: Budget
    space: TrainingSearchSpace
    objective: str
    target_tokens_per_s: float | None


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


def _coefficients(table: TrainingCandidates, idx: np.ndarray) -> tf.TrainingCoefficients:
    s = table.scores
    return tf.TrainingCoefficients(
        names=[tf.candidate_name(table.plans, int(i)) for i in idx], gpus=s.gpus[idx],
        tokens_per_s=s.tokens_per_s[idx], power_w=s.power_w[idx], fabric_load=s.fabric_bytes_per_s[:, idx],
        memory_bytes=s.memory.total[idx])


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
    hw = scenario.hardware
    capacity = fabric_capacity_bytes_per_s(hw, budget.gpus)
    cands = driver.Candidates(keys=_layout_keys(feasible), rate=s.tokens_per_s, gpus=s.gpus, usable=usable,
                              fabric_may_bind=prune.fabric_may_bind(s.fabric_bytes_per_s, 1, capacity))
    base = driver.shortlist(cands, lambda: explain_training_infeasible(scenario, budget, table, target_tokens_per_s))
    rhs = tf.TrainingLimits(gpus=budget.gpus, power_w=budget.max_power_w, fabric_capacity=capacity,
                            hbm_bytes=s.hbm_capacity_bytes, target_tokens_per_s=target_tokens_per_s,
                            gpus_per_rack=hw.gpus_per_rack)

    def accept(idx: np.ndarray, sol: Solution) -> tuple[Choice, int]:
        row = int(idx[sol.index])
        plan = feasible.plans.plan(row)
        verdict, scores = verify_training(scenario, plan, budget, space, objective, sol.objective_value,
                                          target_tokens_per_s)
        return Choice(plan=plan, scores=scores, verdict=verdict, solution=sol), row

    outcome = driver.choose(cands, base, lambda idx: tf.build(_coefficients(feasible, idx), rhs, objective), accept,
                            top, solver, time_limit_s, export_mps, export_lp)
    counts = driver.counts(table.num_enumerated, table.num_valid, int(table.ok.sum()), int(base.size), outcome)
    return TrainingResult(choices=outcome.choices, counts=counts, wall_time_s=time.perf_counter() - start,
                          scenario=scenario, budget=budget, space=space, objective=objective,
                          target_tokens_per_s=target_tokens_per_s)
