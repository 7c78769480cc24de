"""Run the MILP: HiGHS through highspy by default, CBC on request; never trust the result.

Solver chatter never reaches stdout: HiGHS writes its banner to file descriptor 1 even with
``msg=False``, so fd 1 is pointed at /dev/null for the duration of the solve. Every status
other than optimal becomes a ``SolverError``; integer values are rounded before use.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from dataclasses import dataclass

import pulp

from planner.errors import InfeasibleError, InputError, SolverError
from planner.milp.serving import Model

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


def solver_command(name: str, time_limit_s: float | None) -> pulp.LpSolver:
    """The PuLP solver object for ``name``."""
    key = name.lower()
    if key == "highs":
        return pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=MIP_GAP, gapAbs=0.0, threads=1)
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


@dataclass(frozen=True)
class Solution:
    """The chosen candidate, its instance count and the solver's objective value."""

    index: int
    instances: int
    objective_value: float
    solver: str
    solve_time_s: float
    racks_used: int | None


def solve(model: Model, solver: str = "highs", time_limit_s: float | None = None) -> Solution:
    """Solve ``model``; raise on anything but an optimal status."""
    command = solver_command(solver, time_limit_s)
    start = time.perf_counter()
    with quiet_stdout():
        try:
            status = model.problem.solve(command)
        except (pulp.PulpError, IndexError, ValueError, OSError) as exc:
            # PuLP raises when a solver rejects the model (e.g. HiGHS refuses entries >= 1e15).
            raise SolverError(f"solver {solver} failed on the model: {exc}") from None
    elapsed = time.perf_counter() - start
    name = pulp.LpStatus.get(status, str(status))
    if name == "Infeasible":
        raise InfeasibleError("the MILP is infeasible: no candidate meets every limit together")
    # PuLP reports a run stopped by the time limit with a feasible incumbent as "Optimal"; the
    # solution status says whether optimality was proven.
    if name != "Optimal" or model.problem.sol_status != pulp.LpSolutionOptimal:
        why = f"status '{name}'" if name != "Optimal" else f"no proven optimum within the time limit of {time_limit_s:g} s"
        raise SolverError(f"solver {solver} returned {why}; raise --time-limit or narrow the search space")
    chosen = [i for i, var in enumerate(model.y) if round(var.value() or 0.0) == 1]
    if len(chosen) != 1:
        raise SolverError(f"solver {solver} chose {len(chosen)} layouts; expected exactly one")
    i = chosen[0]
    instances = int(round(model.n[i].value() or 0.0))
    racks = None if model.racks is None else int(round(model.racks.value() or 0.0))
    return Solution(index=i, instances=instances, objective_value=float(pulp.value(model.problem.objective)),
                    solver=solver, solve_time_s=elapsed, racks_used=racks)
