"""Brute-force enumeration of a search space: the oracle the MILP is tested against.

Independent of the planner's enumeration, pruning and MILP: every combination of the
space is listed with ``itertools.product``, scored in one vectorised evaluator call, and
each feasible row's best instance count is worked out directly (as many as packing, power
and fabric allow for max-TPS; the fewest that reach the target for min-GPUs).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from planner import quant
from planner.budget import Budget, fabric_capacity_bytes_per_s, max_instances
from planner.serving.candidates import Limits
from planner.serving.evaluate import evaluate
from planner.serving.plan import Plan, PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace, validate
from specbase.record import record


@record
class Oracle:
    """The best value (total TPS, or GPUs) and one plan reaching it; ``None`` when nothing is feasible."""

    value: float | None
    plan: Plan | None
    rows: int


def brute_force(scenario: Scenario, budget: Budget, space: SearchSpace, limits: Limits = Limits(),
                objective: str = "max_tps", target_tps: float | None = None) -> Oracle:
    """Enumerate ``space`` exhaustively and return the optimum of ``objective``."""
    space = validate(space)
    combos = list(itertools.product(space.tp, space.pp, space.ep, space.dp, space.batch, space.quant,
                                    space.kv_quant, space.kv_offload_fraction))
    if not combos:
        return Oracle(None, None, 0)
    arrays = _arrays(combos)
    s = evaluate(scenario, arrays)
    ok = s.feasible.copy()
    if limits.max_tpot_s is not None:
        ok &= s.step_time_s <= limits.max_tpot_s
    if limits.max_ttft_s is not None and s.ttft_s is not None:
        ok &= s.ttft_s <= limits.max_ttft_s
    hw = scenario.hardware
    n = max_instances(budget.gpus, hw.scale_up_domain_gpus, s.gpus_per_instance).astype(float)
    if budget.max_power_w is not None:
        n = np.minimum(n, np.floor(budget.max_power_w / s.power_w))
    capacity = fabric_capacity_bytes_per_s(hw, budget.gpus)
    for t in (1, 2):
        load = s.fabric_bytes_per_s[t]
        with np.errstate(divide="ignore", invalid="ignore"):
            n = np.where(load > 0, np.minimum(n, np.floor(capacity[t] / np.where(load > 0, load, 1.0))), n)
    ok &= n >= 1
    if objective == "max_tps":
        value = np.where(ok, n * s.instance_tps, -np.inf)
        best = int(np.argmax(value))
        if not np.isfinite(value[best]):
            return Oracle(None, None, len(combos))
        count, result = int(n[best]), float(value[best])
    else:
        need = np.ceil(target_tps / s.instance_tps - 1e-12)
        ok &= need <= n
        gpus = np.where(ok, need * s.gpus_per_instance, np.inf)
        best = int(np.argmin(gpus))
        if not np.isfinite(gpus[best]):
            return Oracle(None, None, len(combos))
        count, result = int(need[best]), float(gpus[best])
    return Oracle(result, replace(arrays.plan(best), instances=count), len(combos))


def _arrays(combos: list[tuple]) -> PlanArrays:
    """The combinations as plan arrays, column by column (no ``Plan`` per combination: the realistic oracle
    lists ~600,000, which took ~4 s as objects), quantisations as their ``quant.MODE_NAMES`` indices."""
    tp, pp, ep, dp, batch, modes, kv_modes, offload = zip(*combos)
    index = {name: quant.mode_index(name) for name in set(modes) | set(kv_modes)}

    def ints(values) -> np.ndarray:
        return np.array(values, dtype=np.int64)
    return PlanArrays(tp=ints(tp), pp=ints(pp), ep=ints(ep), dp=ints(dp), batch=ints(batch),
                      quant=ints([index[m] for m in modes]), kv_quant=ints([index[m] for m in kv_modes]),
                      kv_offload_fraction=np.array(offload, dtype=float), instances=np.ones(len(combos), np.int64))
