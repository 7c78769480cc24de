"""Solve the fleet MILP, then break ties with a second solve; never trust either answer.

The first solve finds the optimum of the asked objective. Many plans usually share it
(spare prefill instances cost nothing when maximising throughput; two layouts may need the
same GPUs), so a second solve keeps the first optimum, to within ``TIE_RELATIVE_TOLERANCE``,
and minimises GPUs (power, when GPUs were the objective), within ``TIEBREAK_TIME_LIMIT_S``;
if it does not finish, the first solve's plan (equally optimal) is kept and the report says so. Solver chatter is silenced on
file descriptor 1 (``planner.milp.solve.quiet_stdout``); every status other than optimal
raises; integer values are rounded before use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pulp

from planner.errors import InfeasibleError, SolverError
from planner.milp.fleet import Milp
from planner.milp.solve import MIP_GAP, quiet_stdout, solver_command

# The second solve may give up this much of the first optimum (relative): the solver holds
# sums of float coefficients to about 1e-9, so a tighter floor could make it infeasible.
TIE_RELATIVE_TOLERANCE = 1e-9
# Flows the solver leaves at 1e-13 requests/s where no pool carries them are noise, not traffic.
FLOW_NOISE_REQUESTS_PER_S = 1e-9
# The tie-break only tidies an optimum already found (fewer spare instances), so it gets a short
# budget; on this 2-core machine it finishes in well under 1 s on the example fleets but for knapsack-
# hard cases (ties among thousands of GPU mixes) it could run for minutes.
TIEBREAK_TIME_LIMIT_S = 1.0
# HiGHS restarts its branch-and-bound after presolving away inactive columns; on these small
# knapsack-like models each restart repeats the root cut loop, and turning restarts off made the
# example fleet's least-power solve 5-9x faster and maximise-throughput 1.4x (bench/fleet.py).
HIGHS_OPTIONS = {"mip_allow_restart": False}


def command(solver: str, time_limit_s: float | None) -> pulp.LpSolver:
    """``planner.milp.solve.solver_command`` with the fleet's HiGHS options (gap zero, one thread)."""
    if solver.lower() == "highs":
        return pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=MIP_GAP, gapAbs=0.0, threads=1, **HIGHS_OPTIONS)
    return solver_command(solver, time_limit_s)


@dataclass(frozen=True)
class FleetSolution:
    """Instance counts per column, KV flows (requests/s), the optimum, and timing."""

    counts: np.ndarray
    flows: dict[tuple[int, int, int, int], float]
    objective_value: float
    tiebreak: str
    tiebreak_proven: bool
    solver: str
    solve_time_s: float


def _run(milp: Milp, command: pulp.LpSolver, solver: str, time_limit_s: float | None) -> None:
    with quiet_stdout():
        try:
            status = milp.problem.solve(command)
        except (pulp.PulpError, IndexError, ValueError, OSError) as exc:
            # PuLP raises when a solver rejects the model (HiGHS refuses entries >= 1e15).
            raise SolverError(f"solver {solver} failed on the fleet model: {exc}") from None
    name = pulp.LpStatus.get(status, str(status))
    if name == "Infeasible":
        raise InfeasibleError("the fleet MILP is infeasible")
    # PuLP reports a HiGHS run stopped by its time limit with an incumbent as 'Optimal'; only the
    # solution status says whether optimality was proven.
    if name != "Optimal" or milp.problem.sol_status != pulp.LpSolutionOptimal:
        why = f"status '{name}'" if name != "Optimal" else f"stopped by the time limit of {time_limit_s:g} s"
        raise SolverError(f"solver {solver} did not prove an optimum ({why}); raise --time-limit or give a "
                          "smaller fleet")


def tiebreak_of(objective: str) -> str:
    """The second objective: fewest GPUs, or least power when GPUs were the first."""
    return "min_power" if objective == "min_gpus" else "min_gpus"


def _values(milp: Milp) -> tuple[np.ndarray, dict]:
    counts = np.array([int(round(v.value() or 0.0)) for v in milp.n], dtype=np.int64)
    flows = {key: float(v.value() or 0.0) for key, v in milp.flows.items()}
    return counts, {key: value if value > FLOW_NOISE_REQUESTS_PER_S else 0.0 for key, value in flows.items()}


def solve(milp: Milp, solver: str = "highs", time_limit_s: float | None = None) -> FleetSolution:
    """Solve ``milp`` lexicographically (module docstring)."""
    start = time.perf_counter()
    _run(milp, command(solver, time_limit_s), solver, time_limit_s)
    counts, flows = _values(milp)
    primary = milp.expressions[milp.objective]
    best = float(pulp.value(primary) or 0.0)
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
        _run(milp, command(solver, limit), solver, limit)
        counts, flows = _values(milp)
        proven = True
    except SolverError:  # not proven in time: the first optimum stands, spare instances and all
        proven = False
    return FleetSolution(counts=counts, flows=flows, objective_value=best, tiebreak=second, tiebreak_proven=proven,
                         solver=solver, solve_time_s=time.perf_counter() - start)
