"""Never trust the solver, training edition: rebuild the job, re-score it, re-check every limit.

Runs on every plan the training planner returns. Each check carries the name of the MILP
constraint it mirrors (``planner.milp.training``) and a slack in the limit's own unit
(GPUs, watts, bytes/s, bytes, tokens/s; 0 or -1 for yes/no rules). A negative slack, or an
objective that differs from the evaluator's by more than
``planner.verify.kit.OBJECTIVE_RELATIVE_TOLERANCE``, raises ``VerificationError``.
"""

from __future__ import annotations

from planner.budget import Budget, fabric_capacity_bytes_per_s
from planner.training.evaluate import TrainingScenario, TrainingScores, evaluate_training_plan
from planner.training.parallel import layout_reasons
from planner.training.space import TrainingSearchSpace
from planner.training.workload import TrainingPlan
from planner.verify import kit
from planner.verify.kit import Check, Verdict


def verify_training(scenario: TrainingScenario, plan: TrainingPlan, budget: Budget, space: TrainingSearchSpace,
                    objective: str, solver_objective: float,
                    target_tokens_per_s: float | None = None) -> tuple[Verdict, TrainingScores]:
    """Re-score ``plan`` from scratch and re-check every limit; raise on any failure."""
    scores = evaluate_training_plan(scenario, plan)
    hw = scenario.hardware
    rules = layout_reasons(scenario.model, scenario.workload, plan, hw.scale_up_domain_gpus, scenario.allow_span)
    checks = [
        kit.rule("layout_rules", not rules),
        kit.rule("precision_supported", bool(hw.gpu.peak_flop_per_s.get(plan.precision))),
        kit.in_space("search_space", plan, space),
        Check("gpu_budget", float(budget.gpus - plan.gpus)),
        Check("hbm_capacity", float(-scores.hbm_excess_bytes[0])),
    ]
    checks += kit.budget_checks(budget.max_power_w, scores.power_w[0], fabric_capacity_bytes_per_s(hw, budget.gpus),
                                scores.fabric_bytes_per_s[:, 0])
    total = float(scores.tokens_per_s[0])
    if target_tokens_per_s is not None:
        checks.append(kit.target_check("target_tokens_per_s", total, target_tokens_per_s))
    if objective == "max_tokens_per_s":
        checks.append(kit.objective_match(total, solver_objective))
    else:
        checks.append(kit.objective_match(float(plan.gpus), kit.gpus_of(solver_objective)))
    return kit.conclude(checks, f"training plan {plan.layout()}"), scores
