"""The planner's main job: the best plan of the search space, solved as a MILP and verified.

``optimise`` enumerates and scores candidates (numpy), bounds each row's instance count by
packing, power and (for min-GPUs) the target, and hands the rest to the search driver
(``planner.search.driver``): prune dominated rows, build the MILP (``planner.milp.serving``),
solve it (HiGHS by default), then rebuild, re-score and re-check the answer
(``planner.verify.serving``). For ``--top K`` the MILP is solved again with each chosen layout
excluded, giving the next best distinct layouts, each verified the same way; on a dense model
the ``dp`` variants of a layout count as one (``_family_keys``).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from planner.budget import Budget, fabric_capacity_bytes_per_s, max_instances
from planner.errors import InfeasibleError, InputError
from planner.milp import serving as formulation
from planner.milp.solve import Solution
from planner.search import driver, prune
from planner.search.driver import Answer, Choice
from planner.serving.candidates import (
    CandidateTable,
    Limits,
    candidate_table,
    enumerate_plans,
    layout_chunks,
    limited,
    scored_table,
)
from planner.serving.plan import Plan, concat_rows, take_rows
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace, validate
from planner.verify.serving import verify_all
from specbase.record import record

# Spaces up to this many rows are scored whole and kept for the explanation's re-solves (the default
# space enumerates ~110k rows, ~100 MB scored); larger ones are scored SCORE_CHUNK_ROWS at a time, so the
# evaluator's temporaries stay tens of MB however large the space.
FULL_TABLE_ROWS = 1 << 18
SCORE_CHUNK_ROWS = 1 << 16

__all__ = ["Choice", "Result", "Rows", "optimise"]


@record(kw_only=True)
class Result(Answer):
    """The planner's answer: the optimum and the next best distinct plans, for the question asked."""

    scenario: Scenario
    budget: Budget
    limits: Limits
    space: SearchSpace
    objective: str
    target_tps: float | None
    table: CandidateTable | None = None
    rows: Rows | None = None


@record
class Picked:
    """Rows ``index`` of a scored table, as the search reads them: the score columns it reads of every row (the
    rate, GPUs and fabric load) are taken once; the columns only a MILP's few candidates read (memory, latency,
    power) are taken for those (`column`), and a row's plan and MILP name are read from the table."""

    table: CandidateTable
    index: np.ndarray
    rate: np.ndarray
    gpus: np.ndarray
    fabric_load: np.ndarray

    @classmethod
    def of(cls, table: CandidateTable, index: np.ndarray) -> Picked:
        """Rows ``index`` (row numbers) of ``table``, each column gathered by ``np.take`` (the tier array's columns:
        ~6x faster than indexing ``[:, index]``)."""
        s = table.scores
        return cls(table=table, index=index, rate=np.take(s.instance_tps, index),
                   gpus=np.take(s.gpus_per_instance, index), fabric_load=np.take(s.fabric_bytes_per_s, index, axis=-1))

    def column(self, values, rows: np.ndarray | None = None):
        """A table column (an array over its rows, or a record of them) at the picked rows, or at those ``rows`` of
        them."""
        index = self.index if rows is None else np.take(self.index, rows)
        return np.take(values, index, axis=-1) if isinstance(values, np.ndarray) else take_rows(values, index)

    def __len__(self) -> int:
        return int(self.index.size)

    def plan(self, row: int) -> Plan:
        return self.table.plans.take(self.index[[row]]).plan(0)

    def name(self, row: int) -> str:
        return formulation.candidate_name(self.table.plans, int(self.index[row]))


@record
class Rows:
    """The rows of an answer's table that meet its limits, with their layout keys and group numbers
    (``prune.group_ids``): what a question asked again under the same limits (another budget or target)
    reuses rather than selects, keys and numbers again."""

    limits: Limits
    picked: Picked
    keys: np.ndarray
    family: np.ndarray
    groups: np.ndarray


def _layout_keys(rows: Picked) -> np.ndarray:
    """(rows, 7): tp, pp, ep, dp, quant, kv_quant and the offload in millionths, each column taken straight into
    its place (column-major: each column one contiguous array, as ``prune.group_ids`` reads them)."""
    p, i = rows.table.plans, rows.index
    keys = np.empty((i.size, 7), np.int64, order="F")
    for j, column in enumerate((p.tp, p.pp, p.ep, p.dp, p.quant, p.kv_quant)):
        np.take(column, i, out=keys[:, j])
    keys[:, 6] = np.round(np.take(p.kv_offload_fraction, i) * 1e6)
    return keys


def _family_keys(scenario: Scenario, keys: np.ndarray) -> np.ndarray:
    """The plan each row is a split of: on a dense model the ``dp`` attention groups of an instance share
    no weights (each holds a full copy, there are no experts to spread), so ``dp`` = k at batch k*B is k
    instances of ``dp`` = 1 at batch B, the same plan cut differently; ``dp`` leaves the key there."""
    if scenario.model.moe is not None:
        return keys
    family = keys.copy()
    family[:, 3] = 0  # column 3 of _layout_keys is dp
    return family


def _coefficients(rows: Picked, idx: np.ndarray, bounds: np.ndarray) -> formulation.Coefficients:
    s = rows.table.scores
    memory = rows.column(s.memory, idx)
    return formulation.Coefficients(
        names=[rows.name(int(i)) for i in idx], gpus=rows.gpus[idx], tps=rows.rate[idx],
        power_w=rows.column(s.power_w, idx), max_instances=bounds[idx], fabric_load=rows.fabric_load[:, idx],
        memory_bytes=memory.total, kv_offloaded_bytes=memory.kv_offloaded, tpot_s=rows.column(s.step_time_s, idx),
        ttft_s=None if s.ttft_s is None else rows.column(s.ttft_s, idx),
    )


def _instance_bounds(scenario: Scenario, budget: Budget, rows: Picked, objective: str,
                     target_tps: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-row instance bound (packing, power, and for min-GPUs the target) and the rows worth solving for."""
    bounds = max_instances(budget.gpus, scenario.hardware.scale_up_domain_gpus, rows.gpus)
    if budget.max_power_w is not None:
        per_instance_w = rows.column(rows.table.scores.power_w)  # one instance per row in the table
        bounds = np.minimum(bounds, np.floor(budget.max_power_w / per_instance_w).astype(np.int64))
    if objective == "min_gpus":
        bounds = np.minimum(bounds, np.ceil(target_tps / rows.rate - 1e-12).astype(np.int64))
        reach = bounds * rows.rate >= target_tps * (1 - 1e-12)
        return bounds, (bounds >= 1) & reach
    return bounds, bounds >= 1


def explain_infeasible(*args, **kwargs) -> str:
    """`planner.search.diagnose.explain_infeasible`, imported when nothing is feasible (a plan found never loads it)."""
    from planner.search.diagnose import explain_infeasible as diagnose
    return diagnose(*args, **kwargs)


def optimise(scenario: Scenario, budget: Budget, space: SearchSpace, limits: Limits = Limits(),
             objective: str = "max_tps", target_tps: float | None = None, top: int = 1, solver: str = "highs",
             time_limit_s: float | None = None, export_mps: str | None = None,
             export_lp: str | None = None, scored: CandidateTable | None = None,
             rows: Rows | None = None, verified: bool = True) -> Result:
    """Plan ``scenario`` within ``budget`` over ``space``; see the module docstring. ``scored``: the
    candidate table of an earlier answer (``Result.table``) for this scenario and space, reused; ``rows``:
    that answer's ``Result.rows``, reused too when its limits are these; ``verified=False``: the choices come
    without scores and verdict, for a caller that verifies them with others (``planner.search.explain``)."""
    start = time.perf_counter()
    if objective not in formulation.OBJECTIVES:
        raise InputError(f"unknown objective '{objective}'")
    if objective == "min_gpus" and (target_tps is None or target_tps <= 0):
        raise InputError("min-gpus needs --target-tps > 0")
    space = validate(space)
    hw = scenario.hardware
    capacity = fabric_capacity_bytes_per_s(hw, budget.gpus)

    def candidates(rows: Picked, keys: np.ndarray | None = None, family: np.ndarray | None = None,
                   groups: np.ndarray | None = None) -> tuple[driver.Candidates, np.ndarray]:
        bounds, usable = _instance_bounds(scenario, budget, rows, objective, target_tps)
        if keys is None:
            keys = _layout_keys(rows)
            family = _family_keys(scenario, keys)
        return driver.Candidates(keys=keys, rate=rows.rate, gpus=rows.gpus, usable=usable,
                                 fabric_may_bind=prune.fabric_may_bind(rows.fabric_load, bounds, capacity),
                                 family=family, groups=groups), bounds

    plans = None if scored is not None else enumerate_plans(scenario, space)
    if plans is None or len(plans) <= FULL_TABLE_ROWS:
        # The whole scored table is kept (Result.table): "what would move it" re-solves on it.
        table = limited(scored, limits) if plans is None else scored_table(scenario, plans, limits, space.size())
        if plans is None and rows is not None and rows.limits == limits:
            feasible = rows.picked
            cands, bounds = candidates(feasible, rows.keys, rows.family, rows.groups)
        else:
            feasible = Picked.of(table, np.flatnonzero(table.ok))
            keys = _layout_keys(feasible)
            # the layouts numbered once: the explanation's re-solves (another budget, target) shortlist these rows again
            cands, bounds = candidates(feasible, keys, _family_keys(scenario, keys), prune.group_ids(keys))
        kept_rows = Rows(limits=limits, picked=feasible, keys=cands.keys, family=cands.family, groups=cands.groups)
        base = driver.shortlist(cands, lambda: explain_infeasible(scenario, budget, table, limits, objective,
                                                                     target_tps, space=space))
        enumerated, meeting = len(table.plans), int(table.ok.sum())
    else:
        # A space too large to hold scored: a slice of layouts at a time is scored and shortlisted at
        # once (each layout's rows lie in one slice), so memory follows the shortlist, not the space;
        # the rows kept are those, in the same order, that shortlisting the whole table keeps.
        table, kept, meeting, kept_rows = None, [], 0, None
        for part in layout_chunks(plans, SCORE_CHUNK_ROWS):
            scored_part = scored_table(scenario, plans.take(part), limits, space.size())
            chunk = Picked.of(scored_part, np.flatnonzero(scored_part.ok))
            meeting += len(chunk)
            chunk_cands, _ = candidates(chunk)
            if chunk_cands.usable.any():  # usable rows: no explanation asked
                kept.append(scored_part.take(chunk.index[driver.shortlist(chunk_cands, str)]))
        if not kept:
            raise InfeasibleError(explain_infeasible(scenario, budget, candidate_table(scenario, space, limits),
                                                     limits, objective, target_tps, space=space))
        whole = concat_rows(kept)
        feasible = Picked.of(whole, np.arange(len(whole.plans)))
        cands, bounds = candidates(feasible)
        base = np.arange(len(feasible))
        enumerated = len(plans)
    s = feasible.table.scores
    rhs = formulation.Limits(gpus=budget.gpus, power_w=budget.max_power_w, fabric_capacity=capacity,
                             hbm_bytes=s.hbm_capacity_bytes, host_bytes=s.host_capacity_bytes,
                             max_tpot_s=limits.max_tpot_s, max_ttft_s=limits.max_ttft_s, target_tps=target_tps,
                             gpus_per_rack=hw.gpus_per_rack)

    def accept(idx: np.ndarray, sol: Solution) -> tuple[Choice, int]:
        row = int(idx[sol.index])
        plan = Plan(**{**feasible.plan(row).__dict__, "instances": sol.instances})
        return Choice(plan=plan, scores=None, verdict=None, solution=sol), row  # verified below, all at once

    outcome = driver.choose(cands, base, lambda idx: formulation.build(_coefficients(feasible, idx, bounds), rhs,
                                                                       objective),
                            accept, top, solver, time_limit_s, export_mps, export_lp)
    counts = driver.counts(space.size(), enumerated, meeting, int(base.size), outcome)
    choices = outcome.choices
    if verified:
        checked = verify_all(scenario, [c.plan for c in choices], budget, limits, space, objective,
                             [c.solution.objective_value for c in choices], target_tps)
        choices = [replace(c, verdict=verdict, scores=scores) for c, (verdict, scores) in zip(choices, checked)]
    return Result(choices=choices, counts=counts, wall_time_s=time.perf_counter() - start,
                  scenario=scenario, budget=budget, limits=limits, space=space, objective=objective,
                  target_tps=target_tps, table=table, rows=kept_rows)
