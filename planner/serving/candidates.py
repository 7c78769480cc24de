"""The candidate table: every valid per-instance plan of the search space, scored in numpy.

Enumerates the Cartesian product of the declared ``SearchSpace``, drops rows that break
the layout rules (``planner.serving.parallel``) before scoring, scores the rest with the evaluator,
and applies the per-instance limits (HBM, host memory, placement, latency) as filters.
What is left is handed to the MILP (``planner.milp.serving``), which chooses among rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner import quant
from planner.errors import InputError
from planner.serving import parallel
from planner.serving.evaluate import Scores, evaluate, shape_of
from planner.serving.plan import PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace
from planner.units import from_ms


@dataclass(frozen=True)
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


def enumerate_plans(scenario: Scenario, space: SearchSpace) -> PlanArrays:
    """All layout-valid rows of ``space`` (one instance each)."""
    grids = np.meshgrid(
        np.array(space.tp), np.array(space.pp), np.array(space.ep), np.array(space.dp), np.array(space.batch),
        np.array([quant.mode_index(q) for q in space.quant]),
        np.array([quant.mode_index(q) for q in space.kv_quant]),
        np.arange(len(space.kv_offload_fraction)),
        indexing="ij",
    )
    tp, pp, ep, dp, batch, wq, kvq, off = (g.ravel() for g in grids)
    ok = parallel.layout_mask(scenario.model, tp, pp, ep, dp, batch)
    gpus = tp * pp * dp
    if not scenario.allow_span:
        ok &= gpus <= scenario.hardware.scale_up_domain_gpus
    idx = np.flatnonzero(ok)
    offload = np.array(space.kv_offload_fraction, dtype=float)[off[idx]]
    return PlanArrays(tp=tp[idx], pp=pp[idx], ep=ep[idx], dp=dp[idx], batch=batch[idx], quant=wq[idx],
                      kv_quant=kvq[idx], kv_offload_fraction=offload, instances=np.ones(idx.size, dtype=np.int64))


@dataclass(frozen=True)
class CandidateTable:
    """Scored candidates and which of them meet every per-instance limit."""

    plans: PlanArrays
    scores: Scores
    ok: np.ndarray
    num_enumerated: int

    def feasible(self) -> CandidateTable:
        """Only the rows that meet every per-instance limit."""
        idx = np.flatnonzero(self.ok)
        return CandidateTable(self.plans.take(idx), self.scores.take(idx), np.ones(idx.size, bool),
                              self.num_enumerated)


def candidate_table(scenario: Scenario, space: SearchSpace, limits: Limits = Limits()) -> CandidateTable:
    """Enumerate, score and filter the candidates of ``space``."""
    plans = enumerate_plans(scenario, space)
    return limited(CandidateTable(plans, evaluate(scenario, plans, shape_of(scenario)), None, space.size()), limits)


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
