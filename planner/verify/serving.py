"""Never trust the solver: rebuild the plan, re-score it, re-check every limit from scratch.

Runs on every plan the planner returns. Each check has the name of the MILP constraint it
mirrors and a slack (>= 0 when the limit holds, in the limit's own unit: GPUs, watts,
bytes/s, bytes, seconds, tokens/s). A negative slack, or an objective that differs from
the evaluator's by more than ``OBJECTIVE_RELATIVE_TOLERANCE``, raises ``VerificationError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hardware.specs import TIERS
from planner.serving import parallel
from planner.budget import Budget, fabric_capacity_bytes_per_s, max_instances
from planner.serving.candidates import Limits
from planner.errors import VerificationError
from planner.serving.evaluate import Scores, evaluate_plan
from planner.serving.plan import Plan
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace

# The solver sums float coefficients times integer values it holds to ~1e-9; 1e-6 relative
# leaves room for that and nothing else.
OBJECTIVE_RELATIVE_TOLERANCE = 1e-6
TARGET_RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Check:
    """One re-checked limit."""

    name: str
    slack: float

    @property
    def ok(self) -> bool:
        """True when the limit holds."""
        return self.slack >= 0

    def as_dict(self) -> dict:
        """JSON form."""
        return {"name": self.name, "slack": self.slack}


@dataclass(frozen=True)
class Verdict:
    """The verifier's answer for one plan."""

    ok: bool
    checks: tuple[Check, ...]

    def as_dict(self) -> dict:
        """JSON form ``{ok, checks: [{name, slack}]}``."""
        return {"ok": self.ok, "checks": [c.as_dict() for c in self.checks]}


def _in_space(plan: Plan, space: SearchSpace) -> bool:
    return (plan.tp in space.tp and plan.pp in space.pp and plan.ep in space.ep and plan.dp in space.dp
            and plan.batch in space.batch and plan.quant in space.quant and plan.kv_quant in space.kv_quant
            and any(abs(plan.kv_offload_fraction - f) < 1e-12 for f in space.kv_offload_fraction))


def verify(scenario: Scenario, plan: Plan, budget: Budget, limits: Limits, space: SearchSpace, objective: str,
           solver_objective: float, target_tps: float | None = None) -> tuple[Verdict, Scores]:
    """Re-score ``plan`` and re-check every limit; raise ``VerificationError`` on any failure."""
    scores = evaluate_plan(scenario, plan)
    hw = scenario.hardware
    g = plan.gpus_per_instance
    checks = [
        Check("layout_rules", -1.0 if parallel.layout_reasons(scenario.model, plan.tp, plan.pp, plan.ep, plan.dp,
                                                              plan.batch) else 0.0),
        Check("search_space", 0.0 if _in_space(plan, space) else -1.0),
        Check("instances_min", float(plan.instances - 1)),
        Check("packing", float(max_instances(budget.gpus, hw.scale_up_domain_gpus, np.array([g]))[0] - plan.instances)),
        Check("gpu_budget", float(budget.gpus - plan.gpus)),
        Check("hbm_capacity", float(-scores.hbm_excess_bytes[0])),
        Check("host_memory", float(-scores.host_excess_bytes[0])),
    ]
    if not scenario.allow_span:
        checks.append(Check("placement", float(hw.scale_up_domain_gpus - g)))
    if budget.max_power_w is not None:
        checks.append(Check("power_budget", float(budget.max_power_w - scores.power_w[0])))
    capacity = fabric_capacity_bytes_per_s(hw, budget.gpus)
    for t in (1, 2):
        checks.append(Check(f"fabric_{TIERS[t]}",
                            float(capacity[t] - scores.fabric_bytes_per_s[t, 0] * plan.instances)))
    if limits.max_tpot_s is not None:
        checks.append(Check("tpot_limit", float(limits.max_tpot_s - scores.step_time_s[0])))
    if limits.max_ttft_s is not None and scores.ttft_s is not None:
        checks.append(Check("ttft_limit", float(limits.max_ttft_s - scores.ttft_s[0])))
    total = float(scores.total_tps[0])
    if objective == "max_tps":
        expected = total
        solver_value = solver_objective
    else:
        # The target is met up to float rounding of the throughput sum (relative 1e-9).
        checks.append(Check("target_tps", total - float(target_tps) * (1 - TARGET_RELATIVE_TOLERANCE)))
        expected = float(plan.gpus)
        solver_value = float(np.floor(solver_objective + 1e-9))
    mismatch = abs(solver_value - expected) / max(1.0, abs(expected))
    checks.append(Check("objective_match", OBJECTIVE_RELATIVE_TOLERANCE - mismatch))
    verdict = Verdict(ok=all(c.ok for c in checks), checks=tuple(checks))
    if not verdict.ok:
        failed = ", ".join(f"{c.name} (slack {c.slack:.6g})" for c in checks if not c.ok)
        raise VerificationError(f"the solver's plan {plan.layout()} x{plan.instances} fails re-evaluation: {failed}; "
                                "this is a bug, please report it with the command line")
    return verdict, scores
