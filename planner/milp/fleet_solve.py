"""Solve the fleet MILP, then break ties with a second solve; never trust either answer.

The first solve finds the optimum of the asked objective on the MILP without the rows that cannot
bind (``planner.milp.fleet.build``: the same optimum, far less branching). Many plans usually share it
(spare prefill instances cost nothing when maximising throughput; two layouts may need the
same GPUs), so a tie-break keeps the first optimum, to within ``TIE_RELATIVE_TOLERANCE``,
and minimises GPUs (power, when GPUs were the objective), within ``TIEBREAK_MAX_NODES`` a solve;
if it does not finish, the first solve's plan (equally optimal) is kept and the report says so.

Minimising, the tie-break's plan does not depend on how the solver searches: the first solve's
value is handed on exactly (``exact_objective``), a second finds the least GPUs (or power) among
the optimal plans, again only its value, and a third solve, whose model and options are fixed
(``TIED_PLAN_OPTIONS``), takes the plan of fewest instances among the plans at both values. The
first two may use whatever options are fastest; only the third decides the plan. Maximising
throughput, a second solve on the MILP with every row takes the fewest GPUs within the optimum's
throughput and returns its plan. Every solve goes through ``planner.milp.solve.run`` (chatter
silenced, every status other than a proven optimum raised, in the fleet's words); integer values
are rounded before use.
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
from specbase.record import record

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
# HiGHS restarts its branch-and-bound after presolving away inactive columns; on these small
# knapsack-like models each restart repeats the root cut loop, and turning restarts off made the
# example fleet's least-power solve 5-9x faster and maximise-throughput 1.4x (bench/fleet.py).
HIGHS_OPTIONS = {"mip_allow_restart": False}
# In a maximise-throughput tie-break (fewest GPUs at the optimum's throughput, a dense floor row on
# tokens/s), HiGHS's root reduced-cost heuristic can stall the root node: on the docs' small fleet with
# `--maximise tps --max-kw 90` it took 9.4 s of a 9.5 s tie-break (33 nodes; 0.8 s without it), and on
# the example fleet's max-TPS tie-break it made no difference (same plan, same flows). Minimising
# tie-breaks keep it (it saved them no time). The max-TPS tie-break also runs without HiGHS's sub-MIP heuristics
# (RINS, RENS): it starts from a floor the first solve proved, where they hunt incumbents the search finds anyway;
# on the example fleet the search settles in 85 nodes instead of 465 (HiGHS 1.16, 0.96 -> 0.73 s wall on a 2-core
# EPYC, the same 336 GPUs).
MAX_TPS_TIEBREAK_OPTIONS = {"mip_heuristic_run_root_reduced_cost": False, "mip_heuristic_run_rins": False,
                            "mip_heuristic_run_rens": False}
# The first maximise-throughput solve runs without the feasibility jump, a heuristic that only hunts an early
# incumbent: on the example fleet it proves the optimum in 31 nodes instead of 389 (HiGHS 1.16, 0.80 -> 0.46 s wall
# on a 2-core EPYC, the same 7,097,013 tokens/s); turning RINS and RENS off as well took it back to 766 nodes.
# It also holds the MIP to a feasibility tolerance of 1e-7 instead of HiGHS's 1e-6: its throughput rows carry
# 1e3-1e5 tokens/s an instance, and on a fleet with output shares (tests/planner/cli/test_fleet_cli.py,
# test_fixed_shares_solve_where_highs_doubted_its_own_optimum) HiGHS 1.16 found the optimum, then rejected it in
# its own final check ("MIP solver claims optimality, but with num/max/sum primal(1/1e-06/1e-06) infeasibilities":
# status Solve error), an infeasibility of 1e-11 of the row; at 1e-7 the branch and bound meets the check (the
# same 97,976 tokens/s a share).
MAX_FIRST_SOLVE_OPTIONS = {"mip_heuristic_run_feasibility_jump": False, "mip_feasibility_tolerance": 1e-7}
# The first solve of a minimising objective only has to find the optimum's value: the tie-break picks the
# plan. Without presolve HiGHS settles the example fleet's least-cost MILP at its root node (117 nodes with
# it; best CPU of 5 on a busy 2-core EPYC: 0.12 -> 0.04 s), its fewest-GPU one in 0.03 -> 0.007 s and its
# least-power one in 0.034 -> 0.020 s. Maximising keeps presolve: there it was 1.5x slower. The value handed on is the
# exact sum over the rounded counts (``exact_objective``), so the tie-break sees the same floor whichever
# of the tied optimal plans this solve happens to return; for the same reason it does without the feasibility
# jump, a heuristic that only hunts an early incumbent (least cost 0.040 -> 0.032 s, least power 0.029 -> 0.024
# s, best of 3 on a busy 2-core EPYC; the solve that picks the plan has its own fixed options, below).
MIN_FIRST_SOLVE_OPTIONS = {"presolve": "off", "mip_heuristic_run_feasibility_jump": False}
# A minimising tie-break solves twice (module docstring). The first solve only finds the second objective's
# least value among the optimal plans (the value, not the plan, is handed on: ``exact_objective``), so it runs
# without presolve and without the heuristics that only hunt incumbents (feasibility jump, RINS, RENS: HiGHS's
# sub-MIPs, most of the earlier tie-break's time; the example's least cost: 115 ms -> 27 ms, HiGHS CPU on a busy
# 2-core EPYC); any options give the same value. The second solve picks the plan: fewest instances among the
# plans at both values, its model (the rows that can bind, both values as ceilings) and options fixed, so the
# plan is a function of the fleet alone, whatever options the other solves use (tests change them and compare
# the plans); without the sub-MIPs it takes 24 ms there (86 ms with them).
TIE_VALUE_OPTIONS = {"presolve": "off", "mip_heuristic_run_feasibility_jump": False, "mip_heuristic_run_rins": False,
                     "mip_heuristic_run_rens": False, "mip_max_nodes": TIEBREAK_MAX_NODES}
TIED_PLAN_OPTIONS = {"mip_heuristic_run_feasibility_jump": False, "mip_heuristic_run_rins": False,
                     "mip_heuristic_run_rens": False, "mip_max_nodes": TIEBREAK_MAX_NODES}
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


def exact_objective(milp: Milp, counts: np.ndarray, name: str | None = None) -> float:
    """A minimising objective (GPUs, cost or power: a sum over instance counts; ``name``, default the MILP's
    own) at integer ``counts``, summed exactly and rounded once: a function of the count vector, not of the
    solver's floating-point values."""
    expression = milp.expressions[name or milp.objective]
    total = sum((Fraction(expression.get(v, 0.0)) * int(k) for v, k in zip(milp.n, counts)), Fraction(0))
    return float(total + Fraction(expression.constant))


def solve(milp: Milp, solver: str = "highs", time_limit_s: float | None = None) -> FleetSolution:
    """Solve ``milp`` lexicographically (module docstring)."""
    start = time.perf_counter()
    minimise = milp.objective != "max_tps"
    first = {**HIGHS_OPTIONS, **(MIN_FIRST_SOLVE_OPTIONS if minimise else MAX_FIRST_SOLVE_OPTIONS)}
    run(milp.problem, solver, time_limit_s, FLEET_WORDING, first)
    counts, flows = _values(milp)
    best = exact_objective(milp, counts) if minimise else float(pulp.value(milp.expressions[milp.objective]) or 0.0)
    second = tiebreak_of(milp.objective)
    limit = TIEBREAK_TIME_LIMIT_S if time_limit_s is None else min(time_limit_s, TIEBREAK_TIME_LIMIT_S)
    try:
        if minimise:
            counts, flows = _tied_plan(milp, best, second, solver, limit)
        else:
            counts, flows = _max_tps_tiebreak(milp, best, solver, limit)
        proven = True
    except SolverError:  # not proven in time: the first optimum stands, spare instances and all
        proven = False
    return FleetSolution(counts=counts, flows=flows, objective_value=best, tiebreak=second, tiebreak_proven=proven,
                         solver=solver, solve_time_s=time.perf_counter() - start)


def _ceiling(milp: Milp, name: str, value: float) -> None:
    """``milp``'s expression ``name`` at most ``value`` (plus the solver's tolerance): a row ``<name>_ceiling``."""
    milp.problem += milp.expressions[name] <= value + TIE_RELATIVE_TOLERANCE * max(1.0, abs(value)), f"{name}_ceiling"


def _tied_plan(milp: Milp, best: float, second: str, solver: str, limit: float) -> tuple[np.ndarray, dict]:
    """The minimising tie-break (module docstring): the second objective's least value among the optimal plans,
    found with any options, then the plan of fewest instances among the plans at both values, found by a solve
    whose model and options are fixed (``TIED_PLAN_OPTIONS``)."""
    _ceiling(milp, milp.objective, best)
    milp.problem.sense = pulp.LpMinimize
    milp.problem.setObjective(milp.expressions[second])
    run(milp.problem, solver, limit, FLEET_WORDING, {**HIGHS_OPTIONS, **TIE_VALUE_OPTIONS})
    value = exact_objective(milp, _values(milp)[0], second)
    tied = milp if milp.source is None else build(milp.source)  # (a MILP built with every row: that one)
    if tied is not milp:
        _ceiling(tied, tied.objective, best)
    _ceiling(tied, second, value)
    tied.problem.sense = pulp.LpMinimize
    tied.problem.setObjective(pulp.lpSum(tied.n))
    run(tied.problem, solver, limit, FLEET_WORDING, {**HIGHS_OPTIONS, **TIED_PLAN_OPTIONS})
    return _values(tied)


def _max_tps_tiebreak(milp: Milp, best: float, solver: str, limit: float) -> tuple[np.ndarray, dict]:
    """Fewest GPUs among the plans within ``TIE_RELATIVE_TOLERANCE`` of the most throughput, on every row."""
    if milp.source is not None:  # the tie-break runs on every row (module docstring)
        milp = build(milp.source, reduce=False)
    slack = TIE_RELATIVE_TOLERANCE * max(1.0, abs(best))
    milp.problem += milp.expressions[milp.objective] >= best - slack, "objective_floor"
    milp.problem.sense = pulp.LpMinimize
    milp.problem.setObjective(milp.expressions["min_gpus"])
    run(milp.problem, solver, limit, FLEET_WORDING,
        {**HIGHS_OPTIONS, "mip_max_nodes": TIEBREAK_MAX_NODES, **MAX_TPS_TIEBREAK_OPTIONS})
    return _values(milp)
