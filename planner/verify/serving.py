"""Never trust the solver: rebuild the plan, re-score it, re-check every limit from scratch.

Runs on every plan the planner returns. Each check has the name of the MILP constraint it
mirrors and a slack (>= 0 when the limit holds, in the limit's own unit: GPUs, watts,
bytes/s, bytes, seconds, tokens/s). A negative slack, or an objective that differs from
the evaluator's by more than ``planner.verify.kit.OBJECTIVE_RELATIVE_TOLERANCE``, raises
``VerificationError``. The record, the verdict and the checks every mode shares come from
``planner.verify.kit``.
"""

from __future__ import annotations

import numpy as np

from planner.budget import Budget, fabric_capacity_bytes_per_s, max_instances
from planner.serving import parallel
from planner.serving.candidates import Limits
from planner.serving.evaluate import Scores, evaluate
from planner.serving.plan import Plan, PlanArrays, take_rows
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace
from planner.verify import kit
from planner.verify.kit import Check, Verdict


def verify(scenario: Scenario, plan: Plan, budget: Budget, limits: Limits, space: SearchSpace, objective: str,
           solver_objective: float, target_tps: float | None = None) -> tuple[Verdict, Scores]:
    """Re-score ``plan`` and re-check every limit; raise ``VerificationError`` on any failure."""
    return verify_all(scenario, [plan], budget, limits, space, objective, [solver_objective], target_tps)[0]


def verify_all(scenario: Scenario, plans: list[Plan], budget: Budget, limits: Limits, space: SearchSpace,
               objective: str, solver_objectives: list[float],
               target_tps: float | None = None) -> list[tuple[Verdict, Scores]]:
    """`verify` each of ``plans`` (the solver's objective of each in ``solver_objectives``), in order, re-scored in
    one evaluator call (`rescore`). Raises on the first plan that fails."""
    return [(check(scenario, plan, scores, budget, limits, space, objective, solver_objective, target_tps), scores)
            for plan, scores, solver_objective in zip(plans, rescore(scenario, plans), solver_objectives,
                                                       strict=True)]


def rescore(scenario: Scenario, plans: list[Plan]) -> list[Scores]:
    """Each of ``plans`` scored from scratch, one-row ``Scores`` each, in one evaluator call.

    Every row scores on its own (``planner.serving.evaluate``), so each plan's figures are bit for bit those it
    gets alone, and a top-5 list re-scores once, not five times (a call on a few rows costs about what one row
    does: ~5 ms for an isl/osl plan on a 2-core EPYC).
    """
    every = evaluate(scenario, PlanArrays.from_plans(plans))
    return [every] if len(plans) == 1 else [take_rows(every, np.array([i])) for i in range(len(plans))]


def check(scenario: Scenario, plan: Plan, scores: Scores, budget: Budget, limits: Limits, space: SearchSpace,
          objective: str, solver_objective: float, target_tps: float | None = None) -> Verdict:
    """Every limit of ``plan`` re-checked on its one-row ``scores`` (`rescore`); raises ``VerificationError``."""
    hw = scenario.hardware
    g = plan.gpus_per_instance
    checks = [
        kit.rule("layout_rules", not parallel.layout_reasons(scenario.model, plan.tp, plan.pp, plan.ep, plan.dp,
                                                             plan.batch)),
        kit.in_space("search_space", plan, space),
        Check("instances_min", float(plan.instances - 1)),
        Check("packing", float(max_instances(budget.gpus, hw.scale_up_domain_gpus, np.array([g]))[0] - plan.instances)),
        Check("gpu_budget", float(budget.gpus - plan.gpus)),
        Check("hbm_capacity", float(-scores.hbm_excess_bytes[0])),
        Check("host_memory", float(-scores.host_excess_bytes[0])),
    ]
    if not scenario.allow_span:
        checks.append(Check("placement", float(hw.scale_up_domain_gpus - g)))
    checks += kit.budget_checks(budget.max_power_w, scores.power_w[0], fabric_capacity_bytes_per_s(hw, budget.gpus),
                                scores.fabric_bytes_per_s[:, 0] * plan.instances)
    if limits.max_tpot_s is not None:
        checks.append(Check("tpot_limit", float(limits.max_tpot_s - scores.step_time_s[0])))
    if limits.max_ttft_s is not None and scores.ttft_s is not None:
        checks.append(Check("ttft_limit", float(limits.max_ttft_s - scores.ttft_s[0])))
    total = float(scores.total_tps[0])
    if objective == "max_tps":
        checks.append(kit.objective_match(total, solver_objective))
    else:
        checks.append(kit.target_check("target_tps", total, target_tps))
        checks.append(kit.objective_match(float(plan.gpus), kit.gpus_of(solver_objective)))
    return kit.conclude(checks, f"plan {plan.layout()} x{plan.instances}")
