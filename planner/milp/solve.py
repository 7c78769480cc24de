"""Run a MILP: HiGHS through highspy by default, CBC on request; the one solve path of the planner.

``run`` is the only place a PuLP problem is solved, for serving, training and fleets alike:
it picks the solver (gap zero, one thread, an optional time limit), silences its chatter and
turns every status other than a proven optimum into the library's errors, worded per caller
(``Wording``). Solver chatter never reaches stdout: HiGHS writes its banner to file descriptor
1 even with ``msg=False``, so fd 1 is pointed at /dev/null for the duration of the solve.
``solve`` reads a choose-one model's answer (``planner.milp.choice``); integer values are
rounded before use.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings

import pulp

from planner.errors import InfeasibleError, InputError, SolverError
from planner.milp.choice import Model
from specbase.record import record

SOLVERS = ("highs", "cbc")
# HiGHS/CBC default relative MIP gaps (1e-4) would allow a plan 0.01 % below the optimum;
# the planner promises the optimum of its search space, so the gap is zero.
MIP_GAP = 0.0


@contextlib.contextmanager
def quiet_stdout():
    """Send file descriptor 1 (and ``sys.stdout``) to /dev/null for the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def solver_command(name: str, time_limit_s: float | None, highs_options: dict | None = None) -> pulp.LpSolver:
    """The PuLP solver object for ``name`` (``highs_options`` are extra HiGHS settings)."""
    key = name.lower()
    if key == "highs":
        return pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=MIP_GAP, gapAbs=0.0, threads=1,
                          **(highs_options or {}))
    if key == "cbc":
        solver = pulp.COIN_CMD(msg=False, timeLimit=time_limit_s, gapRel=MIP_GAP, gapAbs=0.0)
        if not solver.available():
            with warnings.catch_warnings():
                # PuLP 3 marks its bundled CBC deprecated (PuLP 4 drops it); it is still the CBC we have.
                warnings.simplefilter("ignore", DeprecationWarning)
                solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, gapRel=MIP_GAP, gapAbs=0.0)
        if not solver.available():
            raise InputError("solver cbc is not available in this installation; use --solver highs")
        return solver
    raise InputError(f"unknown solver '{name}'; choose one of: {', '.join(SOLVERS)}")


@record
class Wording:
    """How a caller's solve failures read (``str.format`` templates over solver, exc, status, limit)."""

    failed: str
    infeasible: str
    bad_status: str
    unproven: str


SERVING_WORDING = Wording(
    failed="solver {solver} failed on the model: {exc}",
    infeasible="the MILP is infeasible: no candidate meets every limit together",
    bad_status="solver {solver} returned status '{status}'; raise --time-limit or narrow the search space",
    unproven=("solver {solver} returned no proven optimum within the time limit of {limit:g} s; raise --time-limit "
              "or narrow the search space"),
)


def run(problem: pulp.LpProblem, solver: str, time_limit_s: float | None, wording: Wording = SERVING_WORDING,
        highs_options: dict | None = None) -> float:
    """Solve ``problem`` in place to a proven optimum; return the seconds it took.

    Raises ``InfeasibleError`` when the solver proves infeasibility and ``SolverError`` on
    any other status, or when a time limit stopped it before optimality was proven.
    """
    command = solver_command(solver, time_limit_s, highs_options)
    start = time.perf_counter()
    with quiet_stdout():
        try:
            status = problem.solve(command)
        except (pulp.PulpError, IndexError, KeyError, ValueError, OSError) as exc:
            # PuLP raises when a solver rejects the model (e.g. HiGHS refuses entries >= 1e15), and a
            # KeyError on a HiGHS status its table lacks (kSolutionLimit: a node limit reached).
            raise SolverError(wording.failed.format(solver=solver, exc=exc)) from None
    elapsed = time.perf_counter() - start
    name = pulp.LpStatus.get(status, str(status))
    if name == "Infeasible":
        raise InfeasibleError(wording.infeasible)
    if name != "Optimal":
        raise SolverError(wording.bad_status.format(solver=solver, status=name))
    # PuLP reports a run stopped by the time limit with a feasible incumbent as "Optimal"; the
    # solution status says whether optimality was proven.
    if problem.sol_status != pulp.LpSolutionOptimal:
        raise SolverError(wording.unproven.format(solver=solver, limit=time_limit_s))
    return elapsed


# A choose-one MILP (serving, training) has a few dozen columns and presolve nearly empties it; HiGHS's
# feasibility-jump heuristic still spends a fixed ~3 ms on each, several times the rest of the solve
# (the default plan's 6 solves: 3.6 -> 0.8 ms each on a 2-core EPYC). The optimum is proven either way
# (gap zero); fleet MILPs, where an early incumbent pays, keep it.
CHOOSE_ONE_HIGHS = {"mip_heuristic_run_feasibility_jump": False}


@record
class Solution:
    """The chosen candidate, its instance count and the solver's objective value."""

    index: int
    instances: int
    objective_value: float
    solver: str
    solve_time_s: float
    racks_used: int | None


def solve(model: Model, solver: str = "highs", time_limit_s: float | None = None) -> Solution:
    """Solve a choose-one ``model``; raise on anything but an optimal status."""
    elapsed = run(model.problem, solver, time_limit_s, highs_options=CHOOSE_ONE_HIGHS)
    chosen = [i for i, var in enumerate(model.y) if round(var.value() or 0.0) == 1]
    if len(chosen) != 1:
        raise SolverError(f"solver {solver} chose {len(chosen)} layouts; expected exactly one")
    i = chosen[0]
    instances = int(round(model.n[i].value() or 0.0))
    racks = None if model.racks is None else int(round(model.racks.value() or 0.0))
    return Solution(index=i, instances=instances, objective_value=float(pulp.value(model.problem.objective)),
                    solver=solver, solve_time_s=elapsed, racks_used=racks)
