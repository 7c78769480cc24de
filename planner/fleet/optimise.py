"""Fleet planning: several models on several hardware kinds, aggregated or disaggregated, in one MILP.

``plan_fleet`` builds the coefficient table (``planner.fleet.table``: numpy, the
evaluator's numbers, already pruned to the Pareto rows) and hands the search driver
(``planner.search.driver``) its pieces: the MILP (``planner.milp.fleet``: PuLP), the solve
(``planner.milp.fleet_solve``: HiGHS by default, then a tie-break solve), the diagnosis when
it is infeasible, and the from-scratch re-scoring and re-checking (``planner.fleet.verify``).
``planner.fleet.disagg`` asks the same question of one model on one system: size a prefill
pool and a decode pool together.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from planner.errors import InfeasibleError
from planner.fleet.question import Fleet
from planner.fleet.table import FleetTable, Scored, score
from planner.fleet.table import build as build_table
from planner.fleet.verify import Verified, verify
from planner.milp.fleet import build as build_milp
from planner.milp.fleet_problem import FleetProblem
from planner.milp.fleet_solve import FleetSolution, solve
from planner.search import driver
from planner.units import ms
from specbase.record import record


@record
class FleetResult:
    """A verified fleet plan and how it was found."""

    fleet: Fleet
    problem: FleetProblem
    counts: list[dict]
    solution: FleetSolution
    verified: Verified
    table_time_s: float
    verify_time_s: float
    wall_time_s: float
    scored: Scored | None = None  # the scored tables, for the same fleet under another objective


def plan_fleet(fleet: Fleet, solver: str = "highs", time_limit_s: float | None = None,
               progress=None, scored: Scored | None = None) -> FleetResult:
    """Plan ``fleet`` for its objective; see the module docstring. ``progress(done, total)`` counts
    the coefficient tables, then the solve as one more step (None: silent). ``scored``: an earlier
    result's ``scored`` for this fleet under another objective or budget, so it is not scored again."""
    start = time.perf_counter()
    steps = [0]  # tables, known once the table build starts

    def tables(done: int, total: int) -> None:
        steps[0] = total
        progress(done, total + 1)

    table = build_table(fleet, progress=None if progress is None else tables, scored=scored)
    built = time.perf_counter()
    problem = table.problem
    _check_columns(fleet, table)

    def accept(rows: np.ndarray, solution: FleetSolution) -> tuple[tuple[FleetSolution, Verified], int]:
        """A fleet's answer is the whole solution, re-scored and re-checked (one answer, no alternatives)."""
        return (solution, verify(fleet, problem, solution)), 0

    # The table holds only Pareto rows already, and every column enters the one MILP.
    mode = driver.Mode(prune=lambda rows: rows, build=lambda rows: build_milp(problem), solve=solve, accept=accept,
                       explain=lambda: explain(fleet, problem, solver, time_limit_s))
    outcome = driver.run(mode, np.arange(len(problem.columns)), 1, solver, time_limit_s)
    solution, verified = outcome.choices[0]
    if progress is not None:
        progress(steps[0] + 1, steps[0] + 1)
    done = time.perf_counter()
    return FleetResult(fleet, problem, table.counts, solution, verified, built - start, outcome.verify_time_s,
                       done - start, table.scored)


def _check_columns(fleet: Fleet, table: FleetTable) -> None:
    """One line for the first model no candidate of any kind can serve, with the best latency reachable
    (its tables scored again in full: the aggregated ones were scored only where they could matter)."""
    c = table.problem.columns
    for mi, m in enumerate(fleet.models):
        if np.any(c.model == mi):
            continue
        rows = list(score(replace(fleet, models=(m,)), exhaustive=True).counts)
        lim = m.limits
        need, best = [], []
        if lim.max_tpot_s is not None:
            need.append(f"TPOT <= {ms(lim.max_tpot_s):,.2f} ms")
            fastest = min((r["best_tpot_s"] for r in rows if r["best_tpot_s"] is not None), default=None)
            if fastest is not None and np.isfinite(fastest):
                best.append(f"the fastest TPOT that fits in memory is {ms(fastest):,.2f} ms")
        if lim.max_ttft_s is not None:
            need.append(f"TTFT <= {ms(lim.max_ttft_s):,.0f} ms")
            fastest = min((r["best_ttft_s"] for r in rows if r["best_ttft_s"] is not None), default=None)
            if fastest is not None and np.isfinite(fastest):
                best.append(f"the fastest TTFT that fits in memory is {ms(fastest):,.0f} ms")
        fits = sum(r["feasible"] for r in rows)
        raise InfeasibleError(
            f"model {m.shown}: no instance on any hardware kind fits in memory"
            + (f" and meets {' and '.join(need)}" if need else "") + " within the budgets"
            + (f" ({'; '.join(best)})" if best else f" ({fits:,} candidates meet the per-instance limits)"))


def explain(fleet: Fleet, problem: FleetProblem, solver: str, time_limit_s: float | None) -> str:
    """Why the fleet cannot meet its targets, with numbers: each model's best alone."""
    if fleet.objective == "max_tps":
        floors = [m for m in fleet.models if m.target_tps]
        what = ", ".join(f"{m.shown} >= {m.target_tps:,.0f} tok/s" for m in floors)
        return f"the fleet cannot serve the floors together ({what}) within its GPUs and budgets"
    for mi, m in enumerate(fleet.models):
        alone = _alone(fleet, problem, mi)
        try:
            best = solve(build_milp(alone), solver, time_limit_s).objective_value
        except InfeasibleError:
            best = 0.0
        if best < m.target_tps * (1 - 1e-9):
            return (f"model {m.shown}: target {m.target_tps:,.0f} output tok/s, but the whole fleet serving only "
                    f"this model reaches {best:,.0f} tok/s within its GPUs and budgets")
    targets = ", ".join(f"{m.shown} {m.target_tps:,.0f}" for m in fleet.models)
    return (f"each model's target fits the fleet alone, but not all together (targets, output tok/s: {targets}); "
            "add hardware or raise the budgets")


def _alone(fleet: Fleet, problem: FleetProblem, mi: int) -> FleetProblem:
    """Model ``mi`` by itself, maximising its throughput (budgets kept, demand caps lifted)."""
    c = problem.columns
    cols = c.take(np.flatnonzero(c.model == mi))
    cols = replace(cols, model=np.zeros(len(cols), np.int64),
                   max_instances=np.array([problem.kinds[int(k)].slots(int(g)) for k, g in zip(cols.kind, cols.gpus)],
                                          dtype=np.int64))
    model = replace(problem.models[mi], target_tps=None, share=None, weight=1.0)
    return replace(problem, models=(model,), columns=cols, objective="max_tps")
