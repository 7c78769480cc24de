"""One search driver for every planning mode: enumerate -> score -> prune -> MILP -> verify -> alternatives.

A mode (serving, training, a fleet) enumerates and scores its candidates, then hands the
driver its pieces as a ``Mode``: how to prune a pool of candidate rows for the MILP, build
the MILP over the rows kept, solve it, and rebuild and verify the answer. The driver runs the
loop once for all of them. For ``--top K`` it solves again with each chosen layout excluded
(``Mode.keys`` names a row's layout), giving the next best distinct layouts, each verified
the same way. A solver that proves the MILP infeasible is answered with the mode's own
diagnosis (``Mode.explain``) when it has one.

Serving and training share more: candidates that are one choice each, sized by the MILP
(``Candidates``). ``shortlist`` keeps the usable rows, each distinct layout at its best
(``planner.search.prune``), and ``choose`` runs the driver on them with dominance pruning and
the choose-one solve of ``planner.milp.solve``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import field
from typing import Any

import numpy as np

from planner.errors import InfeasibleError
from planner.files import write_with
from planner.milp.solve import Solution, solve
from planner.search import prune
from planner.verify.kit import Verdict
from specbase.record import record


@record
class Choice:
    """One verified plan (serving or training) with its scores and the solver's numbers."""

    plan: Any
    scores: Any
    verdict: Verdict
    solution: Solution


@record
class Answer:
    """What a search returns: verified choices, best first, with its candidate counts and wall time."""

    choices: list[Choice]
    counts: dict = field(default_factory=dict)
    wall_time_s: float = 0.0

    @property
    def best(self) -> Choice:
        """The optimum."""
        return self.choices[0]


@record
class Mode:
    """The pieces a planning mode hands the driver.

    Attributes:
        prune: candidate rows of a pool -> the rows the MILP sees.
        build: rows -> a built MILP (anything with a PuLP ``problem``).
        solve: (MILP, solver name, time limit) -> the solver's answer.
        accept: (rows, solution) -> (the verified choice, the candidate row it came from).
        keys: (rows, k) layout key of every candidate row, for the alternatives; ``None``: one answer only.
        explain: why nothing is feasible, asked when the solver proves the MILP infeasible.
        family: (rows, k) key of the plan a row is a split of (``None``: ``keys``); choosing a row
            excludes its whole family, so the alternatives are never one plan cut into more instances.
    """

    prune: Callable[[np.ndarray], np.ndarray]
    build: Callable[[np.ndarray], Any]
    solve: Callable[[Any, str, float | None], Any]
    accept: Callable[[np.ndarray, Any], tuple[Any, int]]
    keys: np.ndarray | None = None
    explain: Callable[[], str] | None = None
    family: np.ndarray | None = None


@record
class Outcome:
    """The driver's answer: the verified choices, MILP columns of each solve, time spent verifying."""

    choices: list
    columns: list[int]
    verify_time_s: float


def run(mode: Mode, rows: np.ndarray, top: int = 1, solver: str = "highs", time_limit_s: float | None = None,
        export_mps: str | None = None, export_lp: str | None = None) -> Outcome:
    """Solve over candidate ``rows``, then again without each chosen layout, up to ``top`` answers."""
    choices, columns, verifying = [], [], 0.0
    rounds = max(1, top) if mode.keys is not None else 1
    family = mode.keys if mode.family is None else mode.family
    pool = np.asarray(rows, dtype=np.int64)
    for k in range(rounds):
        if pool.size == 0:
            break
        idx = mode.prune(pool)
        columns.append(int(idx.size))
        model = mode.build(idx)
        if k == 0 and export_mps:
            write_with(export_mps, model.problem.writeMPS, "MPS export")
        if k == 0 and export_lp:
            write_with(export_lp, model.problem.writeLP, "LP export")
        try:
            sol = mode.solve(model, solver, time_limit_s)
        except InfeasibleError:
            if mode.explain is None:
                raise
            raise InfeasibleError(mode.explain()) from None
        start = time.perf_counter()
        choice, row = mode.accept(idx, sol)
        verifying += time.perf_counter() - start
        choices.append(choice)
        if mode.keys is not None:  # the next round leaves out every row of the chosen layout's family
            pool = pool[np.any(family[pool] != family[row], axis=1)]
    return Outcome(choices, columns, verifying)


@record
class Candidates:
    """A scored candidate table as the driver sees it, one entry per feasible row.

    Attributes:
        keys: (rows, k) layout key (everything the alternatives must differ in).
        rate: throughput of one instance (serving) or of the job (training), tokens/s.
        gpus: GPUs per instance or job.
        usable: rows the budget and target leave worth solving for.
        fabric_may_bind: rows whose fabric load could make a fabric row of the MILP bind.
        family: the plan a row is a split of (``Mode.family``); ``None``: its layout key.
        groups: ``prune.group_ids(keys)``, when a caller keeps it to shortlist the same rows again
            (another budget or target); ``None``: numbered by `shortlist`.
    """

    keys: np.ndarray
    rate: np.ndarray
    gpus: np.ndarray
    usable: np.ndarray
    fabric_may_bind: np.ndarray
    family: np.ndarray | None = None
    groups: np.ndarray | None = None


def shortlist(c: Candidates, explain: Callable[[], str]) -> np.ndarray:
    """Usable rows, each distinct layout at its best; ``InfeasibleError(explain())`` when none is usable."""
    if not c.usable.any():
        raise InfeasibleError(explain())
    base = np.flatnonzero(c.usable)
    rate, may_bind = np.take(c.rate, base), np.take(c.fabric_may_bind, base)  # np.take: faster than [base]
    if c.groups is None:
        return base[prune.distinct_best(c.keys[base], rate, may_bind)]
    # numbered already: the key columns (a copy of rows x 7 integers) are not needed
    return base[prune.distinct_best(None, rate, may_bind, np.take(c.groups, base))]


def choose(c: Candidates, base: np.ndarray, build: Callable[[np.ndarray], Any],
           accept: Callable[[np.ndarray, Solution], tuple[Choice, int]], top: int, solver: str,
           time_limit_s: float | None, export_mps: str | None, export_lp: str | None) -> Outcome:
    """Run the driver over a shortlist ``base`` of choose-one candidates, dominance-pruned per solve."""
    mode = Mode(prune=lambda pool: pool[prune.dominance(c.gpus[pool], c.rate[pool], c.fabric_may_bind[pool])],
                build=build, solve=solve, accept=accept, keys=c.keys, family=c.family)
    return run(mode, base, top, solver, time_limit_s, export_mps, export_lp)


def counts(enumerated: int, layout_valid: int, feasible: int, distinct: int, outcome: Outcome) -> dict:
    """The search's candidate counts, as reports print them."""
    return {"enumerated": enumerated, "layout_valid": layout_valid, "feasible": feasible,
            "distinct_layouts": distinct, "milp_columns": outcome.columns[0] if outcome.columns else 0}
