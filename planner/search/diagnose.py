"""One line saying why nothing in the search space meets the limits, with numbers (serving and training).

Each diagnosis walks the limits in the order a user would relax them and names the first one
nothing passes, with the best number the search space reaches against it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from models import counts
from planner import quant
from planner.budget import Budget, max_instances
from planner.serving import parallel
from planner.serving.candidates import CandidateTable, Limits
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace
from planner.units import gb, kw, ms

if TYPE_CHECKING:  # types only: serving questions do not load the training stack
    from planner.training.evaluate import TrainingScenario
    from planner.training.space import TrainingCandidates

SECONDS_PER_DAY = 86400.0


def _power(power_w: np.ndarray, max_power_w: float, what: str) -> str | None:
    """The power reason when even the least-drawing ``what`` exceeds ``--max-kw`` (else ``None``)."""
    least = power_w.min()
    if least > max_power_w:
        return f"power: the smallest feasible {what} draws {kw(least):,.1f} kW but --max-kw is {kw(max_power_w):,.1f}"
    return None


def _heads_reason(scenario: Scenario, space: SearchSpace | None) -> str | None:
    """Why no tensor-parallel degree of ``space`` splits the model's heads (``None`` when one does)."""
    if space is None:
        return None
    bad = [parallel.rule_reasons(parallel.TP_RULES, scenario.model, {"tp": tp}) for tp in space.tp]
    if not bad or not all(bad):
        return None
    return f"layout: {'; '.join(r[0] for r in bad)} (give a --tp that divides the attention heads)"


def _racks_needed(hw, gpus: np.ndarray, instance_tps: np.ndarray, target_tps: float) -> str:
    """``(about N racks, M GPUs, ...)``: the fewest racks whose scale-up domains hold enough instances of
    one feasible layout to reach the target (packing only: fabric and power are checked when rerun)."""
    d = hw.scale_up_domain_gpus
    fit = gpus <= d
    if not fit.any():
        return ""
    instances = np.ceil(target_tps / instance_tps[fit])
    domains = np.ceil(instances / (d // gpus[fit]))
    racks = np.ceil(domains * d / hw.gpus_per_rack).astype(np.int64)
    i = int(np.argmin(racks))
    used = int(instances[i] * gpus[fit][i])
    return (f" (about {int(racks[i]):,} racks: {used:,} GPUs in {int(instances[i]):,} instances of "
            f"{int(gpus[fit][i])} GPUs; try --racks {int(racks[i])})")


def explain_infeasible(scenario: Scenario, budget: Budget, table: CandidateTable, limits: Limits,
                       objective: str, target_tps: float | None, space: SearchSpace | None = None) -> str:
    """The most useful reason no plan exists (checked in order: layout, memory, latency, budget, target)."""
    s = table.scores
    hw = scenario.hardware
    if len(table.plans) == 0:
        return _heads_reason(scenario, space) or ("no layout of the search space is valid for this model and system "
                f"(instances are limited to the scale-up domain of {hw.scale_up_domain_gpus} GPUs; "
                "try --allow-span or other degrees)")
    fits = s.feasible
    if not fits.any():
        per_elem = quant.BYTES_PER_ELEMENT[table.plans.quant]
        j = int(np.argmin(per_elem))
        smallest, name = float(per_elem[j]), quant.MODE_NAMES[int(table.plans.quant[j])]
        need = counts.weight_bytes(scenario.model, smallest)
        g = int(s.gpus_per_instance.max())
        holds = g * s.hbm_capacity_bytes
        return (f"memory: {scenario.model.name} needs {gb(need):,.0f} GB of weights at {name} and the largest "
                f"allowed instance ({g} GPUs x {gb(s.hbm_capacity_bytes):,.0f} GB usable) holds {gb(holds):,.0f} GB "
                "before any KV cache; allow larger instances (--allow-span), a smaller quantisation or KV offload")
    ok = fits.copy()
    if limits.max_tpot_s is not None:
        best_tpot = float(s.step_time_s[fits].min())
        if best_tpot > limits.max_tpot_s:
            return (f"latency: the best reachable tokens/s per user is {1 / best_tpot:,.1f} "
                    f"(TPOT {ms(best_tpot):,.2f} ms) "
                    f"but the limit asks {1 / limits.max_tpot_s:,.1f} (TPOT {ms(limits.max_tpot_s):,.2f} ms)")
        ok &= s.step_time_s <= limits.max_tpot_s
    if limits.max_ttft_s is not None and s.ttft_s is not None:
        best_ttft = float(s.ttft_s[ok].min())
        if best_ttft > limits.max_ttft_s:
            return (f"latency: the fastest reachable TTFT is {ms(best_ttft):,.1f} ms but --max-ttft-ms is "
                    f"{ms(limits.max_ttft_s):,.1f}")
        ok &= s.ttft_s <= limits.max_ttft_s
    g = s.gpus_per_instance[ok]
    bounds = max_instances(budget.gpus, hw.scale_up_domain_gpus, g)
    if not (bounds >= 1).any():
        return (f"budget: the smallest feasible instance needs {int(g.min())} GPUs but the budget is "
                f"{budget.label()}")
    if budget.max_power_w is not None:
        per = s.power_w[ok]
        reason = _power(per, budget.max_power_w, "instance")
        if reason:
            return reason
        bounds = np.minimum(bounds, np.floor(budget.max_power_w / per).astype(np.int64))
    if objective == "min_gpus":
        best = float((bounds * s.instance_tps[ok]).max())
        return (f"target: the most this budget ({budget.label()}) reaches is {best:,.0f} tokens/s, below the target "
                f"{target_tps:,.0f}; give more --racks/--gpus" + _racks_needed(hw, g, s.instance_tps[ok], target_tps))
    return "no candidate meets every limit together"


def explain_training_infeasible(scenario: TrainingScenario, budget: Budget, table: TrainingCandidates,
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
        return (f"memory: the smallest footprint in the search space is {gb(s.memory.total[j]):,.1f} GB per GPU "
                f"({p.layout()} TPxCPxPPxEPxDP, ZeRO-{p.zero}, {p.recompute} recomputation, micro-batch "
                f"{p.micro_batch}) but {gb(s.hbm_capacity_bytes):,.1f} GB of HBM is usable; give more GPUs "
                "(deeper pp, ZeRO-3 over more dp) or allow full recomputation")
    ok &= s.hbm_excess_bytes <= 0
    if budget.max_power_w is not None:
        reason = _power(s.power_w[ok], budget.max_power_w, "job")
        if reason:
            return reason
        ok &= s.power_w <= budget.max_power_w
    best = float(s.tokens_per_s[ok].max())
    days = "" if w.tokens_to_train is None else f" ({w.tokens_to_train / best / SECONDS_PER_DAY:,.1f} days to train)"
    return (f"target: the most this budget ({budget.label()}) reaches is {best:,.0f} tokens/s{days}, below the "
            f"target {target_tokens_per_s:,.0f} tokens/s; give more --racks/--gpus or a later deadline")
