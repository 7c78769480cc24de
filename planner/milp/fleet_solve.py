"""Solve the fleet MILP, then break ties with a second solve; never trust either answer.

The first solve finds the optimum of the asked objective on the MILP without the rows that cannot
bind (``planner.milp.fleet.build``: the same optimum, far less branching). Many plans usually share it
(spare prefill instances cost nothing when maximising throughput; two layouts may need the
same GPUs), so a second solve keeps the first optimum, to within ``TIE_RELATIVE_TOLERANCE``,
and minimises GPUs (power, when GPUs were the objective), within ``TIEBREAK_MAX_NODES``;
if it does not finish, the first solve's plan (equally optimal) is kept and the report says so. The
tie-break runs on the MILP with every row: which of the tied plans it returns depends on the
formulation HiGHS sees, and on that one it returns the plans the docs show. Both
solves go through ``planner.milp.solve.run`` (chatter silenced, every status other than a proven
optimum raised, in the fleet's words); integer values are rounded before use.
"""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pulp

from planner.errors import SolverError
from planner.milp.fleet import Milp, build
from planner.milp.fleet_problem import DECODE, PREFILL
from planner.milp.solve import Wording, run
from planner.record import record

# The second solve may give up this much of the first optimum (relative): the solver holds
# sums of float coefficients to about 1e-9, so a tighter floor could make it infeasible.
TIE_RELATIVE_TOLERANCE = 1e-9
# Flows the solver leaves at 1e-13 requests/s where no pool carries them are noise, not traffic.
FLOW_NOISE_REQUESTS_PER_S = 1e-9
# The tie-break only tidies an optimum already found (fewer spare instances), so it gets a short
# budget, counted in branch-and-bound nodes: a wall-clock budget made the printed plan depend on how
# busy the machine was (the example's max-TPS tie-break takes 0.55-0.66 s on an idle 2-core EPYC and
# ran past a 1 s limit under load, printing the first optimum instead). Every example fleet's
# tie-break is proven within 500 nodes; knapsack-hard cases (ties among thousands of GPU mixes) stop
# at the node limit, deterministically, and keep the first optimum. The time limit is only a safety
# net for a node that never ends.
TIEBREAK_MAX_NODES = 2000
TIEBREAK_TIME_LIMIT_S = 30.0
# Most of a minimising tie-break is HiGHS's sub-MIP heuristics (RENS, RINS: 0.07 of the example's 0.11 s
# least-cost tie-break; 21 % of the whole command's instructions), and they find the tied plan it returns.
# Without the feasibility jump and RINS that tie-break takes 56 ms instead of 115, but another tied plan
# comes back on some fleets (`--model llama-3.1-70b=50000 --model gpt-oss-120b=80000 --isl 2048 --osl 512
# --minimise power` on the example). Making the plan independent of the options by solving for the tie-break's
# value cheaply, then over the tied plans with fixed options, was slower on the example's least cost (that last
# solve: 86 ms for the fewest instances, 408 ms for any tied plan), so the defaults stay.
# HiGHS restarts its branch-and-bound after presolving away inactive columns; on these small
# knapsack-like models each restart repeats the root cut loop, and turning restarts off made the
# example fleet's least-power solve 5-9x faster and maximise-throughput 1.4x (bench/fleet.py).
HIGHS_OPTIONS = {"mip_allow_restart": False}
# In a maximise-throughput tie-break (fewest GPUs at the optimum's throughput, a dense floor row on
# tokens/s), HiGHS's root reduced-cost heuristic can stall the root node: on the docs' small fleet with
# `--maximise tps --max-kw 90` it took 9.4 s of a 9.5 s tie-break (33 nodes; 0.8 s without it), and on
# the example fleet's max-TPS tie-break it made no difference (same plan, same flows). Minimising
# tie-breaks keep it: there it changes which tied plan is returned and saves no time.
MAX_TPS_TIEBREAK_OPTIONS = {"mip_heuristic_run_root_reduced_cost": False}
# The first solve of a minimising objective only has to find the optimum's value: the tie-break picks the
# plan. Without presolve HiGHS settles the example fleet's least-cost MILP at its root node (117 nodes with
# it; best CPU of 5 on a busy 2-core EPYC: 0.12 -> 0.04 s), its fewest-GPU one in 0.03 -> 0.007 s and its
# least-power one in 0.034 -> 0.020 s. Maximising keeps presolve: there it was 1.5x slower. The value handed on is the
# exact sum over the rounded counts (``exact_objective``), so the tie-break sees the same floor whichever
# of the tied optimal plans this solve happens to return; for the same reason it does without the feasibility
# jump, a heuristic that only hunts an early incumbent (least cost 0.040 -> 0.032 s, least power 0.029 -> 0.024
# s, best of 3 on a busy 2-core EPYC; the tie-break, which picks the plan, keeps it).
MIN_FIRST_SOLVE_OPTIONS = {"presolve": "off", "mip_heuristic_run_feasibility_jump": False}
FLEET_WORDING = Wording(
    failed="solver {solver} failed on the fleet model: {exc}",
    infeasible="the fleet MILP is infeasible",
    bad_status=("solver {solver} did not prove an optimum (status '{status}'); raise --time-limit or give a "
                "smaller fleet"),
    unproven=("solver {solver} did not prove an optimum (stopped by the time limit of {limit:g} s); raise --time-limit "
              "or give a smaller fleet"),
)


@record
class FleetSolution:
    """Instance counts per column, KV flows (requests/s), the optimum, and timing."""

    counts: np.ndarray
    flows: dict[tuple[int, int, int, int], float]
    objective_value: float
    tiebreak: str
    tiebreak_proven: bool
    solver: str
    solve_time_s: float


def tiebreak_of(objective: str) -> str:
    """The second objective: fewest GPUs, or least power when GPUs were the first."""
    return "min_power" if objective == "min_gpus" else "min_gpus"


def _values(milp: Milp) -> tuple[np.ndarray, dict]:
    """Integer counts and the flows they can carry.

    HiGHS may leave a column at ~1e-7 instances (inside its integrality tolerance) carrying a
    matching sliver of KV flow; the count rounds to 0, so the flow from or to a pool that
    rounds away is dropped with it (otherwise verification finds prefill capacity short by the
    sliver).
    """
    counts = np.array([int(round(v.value() or 0.0)) for v in milp.n], dtype=np.int64)
    c = milp.columns
    held = c.role[counts > 0], c.model[counts > 0], c.kv_quant[counts > 0], c.kind[counts > 0]

    def pool_kept(role: int, m: int, q: int, kind: int) -> bool:
        return bool(np.any((held[0] == role) & (held[1] == m) & (held[2] == q) & (held[3] == kind)))

    flows = {}
    for (m, q, a, b), v in milp.flows.items():
        value = float(v.value() or 0.0)
        carried = pool_kept(PREFILL, m, q, a) and pool_kept(DECODE, m, q, b)
        flows[(m, q, a, b)] = value if value > FLOW_NOISE_REQUESTS_PER_S and carried else 0.0
    return counts, flows


def exact_objective(milp: Milp, counts: np.ndarray) -> float:
    """A minimising objective (GPUs, cost or power: a sum over instance counts) at integer ``counts``, summed
    exactly and rounded once: a function of the count vector, not of the solver's floating-point values."""
    expression = milp.expressions[milp.objective]
    total = sum((Fraction(expression.get(v, 0.0)) * int(k) for v, k in zip(milp.n, counts)), Fraction(0))
    return float(total + Fraction(expression.constant))


def solve(milp: Milp, solver: str = "highs", time_limit_s: float | None = None) -> FleetSolution:
    """Solve ``milp`` lexicographically (module docstring)."""
    start = time.perf_counter()
    minimise = milp.objective != "max_tps"
    first = {**HIGHS_OPTIONS, **MIN_FIRST_SOLVE_OPTIONS} if minimise else HIGHS_OPTIONS
    run(milp.problem, solver, time_limit_s, FLEET_WORDING, first)
    counts, flows = _values(milp)
    best = exact_objective(milp, counts) if minimise else float(pulp.value(milp.expressions[milp.objective]) or 0.0)
    if milp.source is not None:  # the tie-break runs on every row (module docstring)
        milp = build(milp.source, reduce=False)
    primary = milp.expressions[milp.objective]
    slack = TIE_RELATIVE_TOLERANCE * max(1.0, abs(best))
    if milp.objective == "max_tps":
        milp.problem += primary >= best - slack, "objective_floor"
    else:
        milp.problem += primary <= best + slack, "objective_ceiling"
    second = tiebreak_of(milp.objective)
    milp.problem.sense = pulp.LpMinimize
    milp.problem.setObjective(milp.expressions[second])
    limit = TIEBREAK_TIME_LIMIT_S if time_limit_s is None else min(time_limit_s, TIEBREAK_TIME_LIMIT_S)
    try:
        extra = MAX_TPS_TIEBREAK_OPTIONS if milp.objective == "max_tps" else {}
        run(milp.problem, solver, limit, FLEET_WORDING,
            {**HIGHS_OPTIONS, "mip_max_nodes": TIEBREAK_MAX_NODES, **extra})
        counts, flows = _values(milp)
        proven = True
    except SolverError:  # not proven in time: the first optimum stands, spare instances and all
        proven = False
    return FleetSolution(counts=counts, flows=flows, objective_value=best, tiebreak=second, tiebreak_proven=proven,
                         solver=solver, solve_time_s=time.perf_counter() - start)
