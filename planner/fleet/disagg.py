"""Disaggregated serving on one system: size a prefill pool and a decode pool together.

The question ``rackplan plan --disagg`` asks (and the ``disagg`` serving mode of
``rackplan compare``): for one model with an isl/osl workload on one system within a GPU
budget, how many prefill instances of which layout, batch and quantisation, and how many
decode instances of which, give the most output tokens/s, with prefill capacity covering
the prompt tokens (``isl`` per request) and decode capacity the output tokens (``osl`` per
request), each pool within its latency limit (TTFT for prefill, TPOT for decode), and the
KV hand-off within the fabric. It is a one-kind, one-model fleet
(``planner.fleet.optimise``): the same table, MILP, tie-break and verification.
"""

from __future__ import annotations

from planner.budget import Budget
from planner.errors import InputError
from planner.fleet.optimise import FleetResult, plan_fleet
from planner.fleet.question import single
from planner.serving.candidates import Limits
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace


def plan_disagg(scenario: Scenario, budget: Budget, space: SearchSpace, limits: Limits = Limits(),
                solver: str = "highs", time_limit_s: float | None = None,
                target_tps: float | None = None) -> FleetResult:
    """Plan prefill and decode pools of ``scenario`` within ``budget`` (module docstring).

    With ``target_tps`` the question becomes the fewest GPUs serving that many output tokens/s.
    """
    if not scenario.workload.has_prefill:
        raise InputError("--disagg needs an isl/osl workload (--isl N --osl N): prefill and decode pools "
                         "split each request's prompt from its output")
    if scenario.allow_span:
        raise InputError("--disagg keeps every instance inside one scale-up domain; drop --allow-span")
    if scenario.workload.burst:
        raise InputError("--arrivals burst is modelled for aggregated serving; drop --disagg, or --arrivals")
    objective = "max_tps" if target_tps is None else "min_gpus"
    fleet = single(scenario.hardware, budget.gpus, scenario.model, scenario.workload, limits, "disagg", objective,
                   scenario.profile, target_tps=target_tps, max_power_w=budget.max_power_w, space=space)
    return plan_fleet(fleet, solver, time_limit_s)

