"""The verification kit: what every verifier (serving, training, fleet) re-checks the same way.

A verifier rebuilds the solver's plan, re-scores it with the evaluator and lists ``Check``s,
each named after the MILP constraint it mirrors, with a slack in the limit's own unit (>= 0
when the limit holds; 0 or -1 for yes/no rules). ``conclude`` turns the list into a ``Verdict``
and raises ``VerificationError`` naming every failed check, so a wrong plan never leaves the
library. The rules that are the same everywhere live here once: a yes/no rule, membership
of the declared search space, the budget rows (power and fabric), the throughput target
and the objective re-check.
"""

from __future__ import annotations

import numpy as np

from hardware.specs import TIERS
from planner.errors import VerificationError
from specbase.record import record

# The solver sums float coefficients times integer values it holds to ~1e-9; 1e-6 relative
# leaves room for that and nothing else.
OBJECTIVE_RELATIVE_TOLERANCE = 1e-6
# The re-scored throughput may differ from the candidate table's in the last bits; a target is
# met up to that relative rounding.
TARGET_RELATIVE_TOLERANCE = 1e-9


@record
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


@record
class Verdict:
    """The verifier's answer for one plan."""

    ok: bool
    checks: tuple[Check, ...]

    def as_dict(self) -> dict:
        """JSON form ``{ok, checks: [{name, slack}]}``."""
        return {"ok": self.ok, "checks": [c.as_dict() for c in self.checks]}


def rule(name: str, holds: bool) -> Check:
    """A yes/no rule: slack 0 when it holds, -1 when it does not."""
    return Check(name, 0.0 if holds else -1.0)


def in_space(name: str, plan, space) -> Check:
    """The plan's every decision is among the declared values of ``space`` (a ``DeclaredSpace``)."""
    return rule(name, space.contains(plan))


def budget_checks(max_power_w: float | None, power_w: float, fabric_capacity: np.ndarray,
                  fabric_load: np.ndarray) -> list[Check]:
    """``power_budget`` (when capped) and the inter-server and inter-rack fabric rows.

    ``fabric_load`` is the plan's total load per tier (3,), ``fabric_capacity`` the links' (3,).
    """
    checks = []
    if max_power_w is not None:
        checks.append(Check("power_budget", float(max_power_w - power_w)))
    for t in (1, 2):
        checks.append(Check(f"fabric_{TIERS[t]}", float(fabric_capacity[t] - fabric_load[t])))
    return checks


def target_check(name: str, total: float, target: float) -> Check:
    """Throughput ``total`` reaches ``target`` up to ``TARGET_RELATIVE_TOLERANCE``."""
    return Check(name, total - float(target) * (1.0 - TARGET_RELATIVE_TOLERANCE))


def gpus_of(solver_objective: float) -> float:
    """The GPUs of a min-GPUs optimum: its integer part (the objective adds ``eps x racks < 1``)."""
    return float(np.floor(solver_objective + 1e-9))


def objective_match(expected: float, solver_value: float, scale: float | None = None) -> Check:
    """The solver's objective equals the re-scored one, relative to ``max(1, |scale|)`` (default ``expected``)."""
    mismatch = abs(solver_value - expected) / max(1.0, abs(expected if scale is None else scale))
    return Check("objective_match", OBJECTIVE_RELATIVE_TOLERANCE - mismatch)


def conclude(checks: list[Check], what: str) -> Verdict:
    """The verdict of ``checks``; raise ``VerificationError`` naming the failures of ``what`` (a plan)."""
    verdict = Verdict(ok=all(c.ok for c in checks), checks=tuple(checks))
    if not verdict.ok:
        failed = ", ".join(f"{c.name} (slack {c.slack:.6g})" for c in checks if not c.ok)
        raise VerificationError(f"the solver's {what} fails re-evaluation: {failed}; "
                                "this is a bug, please report it with the command line")
    return verdict
