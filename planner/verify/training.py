"""Never trust the solver, training edition: rebuild the job, re-score it, re-check every limit.

Runs on every plan the training planner returns. Each check carries the name of the MILP
constraint it mirrors (``planner.milp.training``) and a slack in the limit's own unit
(GPUs, watts, bytes/s, bytes, tokens/s; 0 or -1 for yes/no rules). A negative slack, or an
objective that differs from the evaluator's by more than
``planner.verify.serving.OBJECTIVE_RELATIVE_TOLERANCE``, raises ``VerificationError``.
"""

from __future__ import annotations

import numpy as np

from hardware.specs import TIERS
from planner.budget import Budget, fabric_capacity_bytes_per_s
from planner.errors import VerificationError
from planner.training.evaluate import TrainingScenario, TrainingScores, evaluate_training_plan
from planner.training.parallel import layout_reasons
from planner.training.space import TrainingSearchSpace
from planner.training.workload import TrainingPlan
from planner.verify.serving import OBJECTIVE_RELATIVE_TOLERANCE, Check, Verdict

# The re-scored throughput may differ from the candidate table's in the last bits; a target is
# met up to that relative rounding.
TARGET_RELATIVE_TOLERANCE = 1e-9


def verify_training(scenario: TrainingScenario, plan: TrainingPlan, budget: Budget, space: TrainingSearchSpace,
                    objective: str, solver_objective: float,
                    target_tokens_per_s: float | None = None) -> tuple[Verdict, TrainingScores]:
    """Re-score ``plan`` from scratch and re-check every limit; raise on any failure."""
    scores = evaluate_training_plan(scenario, plan)
    hw = scenario.hardware
    rules = layout_reasons(scenario.model, scenario.workload, plan, hw.scale_up_domain_gpus, scenario.allow_span)
    checks = [
        Check("layout_rules", -1.0 if rules else 0.0),
        Check("precision_supported", 0.0 if hw.gpu.peak_flop_per_s.get(plan.precision) else -1.0),
        Check("search_space", 0.0 if space.contains(plan) else -1.0),
        Check("gpu_budget", float(budget.gpus - plan.gpus)),
        Check("hbm_capacity", float(-scores.hbm_excess_bytes[0])),
    ]
    if budget.max_power_w is not None:
        checks.append(Check("power_budget", float(budget.max_power_w - scores.power_w[0])))
    capacity = fabric_capacity_bytes_per_s(hw, budget.gpus)
    for t in (1, 2):
        checks.append(Check(f"fabric_{TIERS[t]}", float(capacity[t] - scores.fabric_bytes_per_s[t, 0])))
    total = float(scores.tokens_per_s[0])
    if target_tokens_per_s is not None:
        checks.append(Check("target_tokens_per_s",
                            total - float(target_tokens_per_s) * (1.0 - TARGET_RELATIVE_TOLERANCE)))
    if objective == "max_tokens_per_s":
        expected, solver_value = total, solver_objective
    else:
        expected, solver_value = float(plan.gpus), float(np.floor(solver_objective + 1e-9))
    mismatch = abs(solver_value - expected) / max(1.0, abs(expected))
    checks.append(Check("objective_match", OBJECTIVE_RELATIVE_TOLERANCE - mismatch))
    verdict = Verdict(ok=all(c.ok for c in checks), checks=tuple(checks))
    if not verdict.ok:
        failed = ", ".join(f"{c.name} (slack {c.slack:.6g})" for c in checks if not c.ok)
        raise VerificationError(f"the solver's training plan {plan.layout()} fails re-evaluation: {failed}; "
                                "this is a bug, please report it with the command line")
    return verdict, scores
