"""The candidate table: every valid per-instance plan of the search space, scored in numpy.

Enumerates the Cartesian product of the declared ``SearchSpace``, drops rows that break
the layout rules (``planner.serving.parallel``) before scoring, scores the rest with the evaluator,
and applies the per-instance limits (HBM, host memory, placement, latency) as filters.
What is left is handed to the MILP (``planner.milp.serving``), which chooses among rows.
"""

from __future__ import annotations

import math

import numpy as np

from planner import quant
from planner.errors import InputError
from planner.serving import parallel
from planner.serving.evaluate import Scores, evaluate, shape_of
from planner.serving.margin import Margin
from planner.serving.plan import PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace
from planner.units import from_ms
from specbase.record import record


@record
class Limits:
    """Latency limits per user (``None``: no limit)."""

    max_tpot_s: float | None = None
    max_ttft_s: float | None = None

    @classmethod
    def from_cli(cls, min_tok_per_user: float | None, max_tpot_ms: float | None,
                 max_ttft_ms: float | None) -> Limits:
        """Combine ``--min-tok-per-user`` and ``--max-tpot-ms`` into one TPOT limit (the tighter).

        Raises:
            InputError: a limit that is not a finite number >= 0 (``None`` or 0: no limit), so a
                library caller passing ``nan``, ``inf`` or a negative floor is told so, as the CLI is.
        """
        for option, value in (("min_tok_per_user", min_tok_per_user), ("max_tpot_ms", max_tpot_ms),
                              ("max_ttft_ms", max_ttft_ms)):
            finite = value is None or (math.isfinite(value) and value >= 0 and (value == 0 or math.isfinite(1 / value)))
            if not finite:
                raise InputError(f"{option}: {value!r} is not a finite number >= 0 (leave it out for no limit)")
        tpot = []
        if min_tok_per_user:
            tpot.append(1.0 / min_tok_per_user)
        if max_tpot_ms:
            tpot.append(from_ms(max_tpot_ms))
        return cls(max_tpot_s=min(tpot) if tpot else None,
                   max_ttft_s=from_ms(max_ttft_ms) if max_ttft_ms else None)

    def with_margin(self, margin: Margin | None) -> Limits:
        """The limits a plan's predictions must meet for the asked ones to hold with ``margin`` to spare:
        each divided by ``1 + margin / 100`` (itself without a margin)."""
        if margin is None:
            return self
        return Limits(max_tpot_s=None if self.max_tpot_s is None else self.max_tpot_s / (1 + margin.tpot_pct / 100),
                      max_ttft_s=None if self.max_ttft_s is None else self.max_ttft_s / (1 + margin.ttft_pct / 100))


def _product(*axes: np.ndarray) -> list[np.ndarray]:
    """The Cartesian product of ``axes`` as flat columns, the last axis varying fastest."""
    return [g.ravel() for g in np.meshgrid(*axes, indexing="ij")]


def enumerate_plans(scenario: Scenario, space: SearchSpace) -> PlanArrays:
    """All layout-valid rows of ``space`` (one instance each), in the order of the full product.

    Two stages, so memory grows with the valid rows only: the layout rules are checked over the
    (tp, pp, ep, dp, batch) product of the layouts that fit the scale-up domain, then the
    quantisation and offload choices, which no layout rule reads, are broadcast over the valid rows.
    """
    tp, pp, ep, dp = _product(np.array(space.tp), np.array(space.pp), np.array(space.ep), np.array(space.dp))
    fits = np.ones(tp.size, bool) if scenario.allow_span else tp * pp * dp <= scenario.hardware.scale_up_domain_gpus
    layout, batch = _product(np.flatnonzero(fits), np.array(space.batch))
    tp, pp, ep, dp = tp[layout], pp[layout], ep[layout], dp[layout]
    keep = np.flatnonzero(parallel.layout_mask(scenario.model, tp, pp, ep, dp, batch))
    wq, kvq, off = _product(np.array([quant.mode_index(q) for q in space.quant], dtype=np.int64),
                            np.array([quant.mode_index(q) for q in space.kv_quant], dtype=np.int64),
                            np.arange(len(space.kv_offload_fraction)))
    offload = np.array(space.kv_offload_fraction, dtype=float)[off]
    # each valid row once per choice, the choices innermost: the rows repeated, the choices tiled
    choices, valid = wq.size, keep.size
    return PlanArrays(tp=tp[keep].repeat(choices), pp=pp[keep].repeat(choices), ep=ep[keep].repeat(choices),
                      dp=dp[keep].repeat(choices), batch=batch[keep].repeat(choices), quant=np.tile(wq, valid),
                      kv_quant=np.tile(kvq, valid), kv_offload_fraction=np.tile(offload, valid),
                      instances=np.ones(valid * choices, dtype=np.int64))


@record
class CandidateTable:
    """Scored candidates and which of them meet every per-instance limit (``scores`` without the figures only
    a plan's report reads: ``planner.serving.evaluate.REPORTED`` are ``None``)."""

    plans: PlanArrays
    scores: Scores
    ok: np.ndarray
    num_enumerated: int

    def take(self, index) -> CandidateTable:
        """Rows ``index`` (a mask, integer array or slice)."""
        return CandidateTable(self.plans.take(index), self.scores.take(index), self.ok[index], self.num_enumerated)

    def feasible(self) -> CandidateTable:
        """Only the rows that meet every per-instance limit."""
        return self.take(np.flatnonzero(self.ok))


def scored_table(scenario: Scenario, plans: PlanArrays, limits: Limits, num_enumerated: int) -> CandidateTable:
    """Score ``plans`` and mark the rows that meet every per-instance limit (the scores without the figures only a
    plan's report reads, ``planner.serving.evaluate.REPORTED``)."""
    return limited(CandidateTable(plans, evaluate(scenario, plans, shape_of(scenario), full=False), None,
                                  num_enumerated), limits)


def limited(table: CandidateTable, limits: Limits) -> CandidateTable:
    """``table``'s rows marked by whether they meet every per-instance limit under ``limits`` (the
    scores are reused, so a question asked again with other latency limits is not scored again)."""
    scores = table.scores
    ok = scores.feasible.copy()
    if limits.max_tpot_s is not None:
        ok &= scores.step_time_s <= limits.max_tpot_s
    if limits.max_ttft_s is not None and scores.ttft_s is not None:
        ok &= scores.ttft_s <= limits.max_ttft_s
    return CandidateTable(table.plans, scores, ok, table.num_enumerated)


def candidate_table(scenario: Scenario, space: SearchSpace, limits: Limits = Limits()) -> CandidateTable:
    """Enumerate, score and filter the candidates of ``space``."""
    return scored_table(scenario, enumerate_plans(scenario, space), limits, space.size())


def layout_chunks(plans: PlanArrays, rows: int) -> list[slice]:
    """Consecutive slices of ``plans`` of at least ``rows`` rows (the last: what is left), cut only
    where (tp, pp, ep, dp) changes, so every row of one layout falls in one slice."""
    n = len(plans)
    changes = np.flatnonzero((np.diff(plans.tp) != 0) | (np.diff(plans.pp) != 0) | (np.diff(plans.ep) != 0)
                             | (np.diff(plans.dp) != 0)) + 1
    starts = [0]
    for cut in changes.tolist():
        if cut - starts[-1] >= rows:
            starts.append(cut)
    return [slice(a, b) for a, b in zip(starts, starts[1:] + [n])]
