"""Aggregated fleet rows scored only where they can matter: a bound on the decode-only rate.

Scoring an aggregated isl/osl row runs the serving fixed point (``planner.serving.aggregated``),
about ten times the cost of the same row's steady-state decode. Yet the fleet keeps, of each
(model, kind) table and instance size, only the fastest row meeting the per-instance limits
when the kind's fabric cannot bind (``planner.fleet.table``), so most rows are scored for
nothing. Here the decode-only scores of the same rows (``planner.serving.disagg.decode_scores``:
the same layout, batch, quantisation, memory and shape, no prompt work) decide which rows are
scored in full:

* **Memory** is exact: a decode-only row and its aggregated twin have the same memory model at
  the same contexts (the shape's prefill fields enter no memory term), so a row that does not
  fit decode-only does not fit aggregated either; nor does an instance size that is not a
  power of two (the fleet's packing rule).
* **TPOT** is a bound: the same step carries the decode-only step's work and the prompt work on top,
  so an aggregated row's TPOT is at least its decode-only step time; a row whose decode-only step
  already breaks the TPOT limit cannot meet it aggregated and is not scored (on ``examples/fleet.toml``
  the rows scored fall from 15,579 with the rate bound alone to 11,303).
* **Rate** is a bound: an aggregated instance's output tokens/s is at most its decode-only
  tokens/s, ``batch / step``, because each of its decode steps also carries prompt work and a
  request lives ``TTFT + (osl - 1) x TPOT``, at least ``osl`` such steps. So per instance
  size, rows are scored in falling order of that bound until the fastest row found meeting the
  limits is at least the bound of every row left (a branch and bound): the rows left could not
  beat it, nor tie it (a tie needs a bound at least the best, and those rows are scored).

The bounds are the evaluator's physics (a step with more tokens is no faster), not an algebraic
identity of the code, so they are checked where it is cheap: every scored row must meet both, and a
table where one does not is scored in full (``tests/planner/fleet/test_fleet_bound.py`` checks it
on every row of the example fleet's tables too). Rows are independent in the evaluator, so a row
scored here has the numbers it has in the full table, bit for bit.
"""

from __future__ import annotations

import numpy as np

from planner.fleet.dominance import distinct
from planner.milp.fleet_problem import is_power_of_two
from planner.serving.candidates import Limits, scored_table
from planner.serving.disagg import decode_scores
from planner.serving.evaluate import row_blocks
from planner.serving.plan import PlanArrays
from planner.serving.scenario import Scenario
from specbase.record import record

# Rows per instance size scored in the first round; a size with no row meeting the limits yet
# scores this many times more in the next round.
FIRST_ROUND_ROWS = 64
GROWTH = 4
# Relative slack on the bound check: the two rates come from different sums of the same terms.
BOUND_RELATIVE_TOLERANCE = 1e-9


@record
class Bounded:
    """Aggregated rows scored in full: their indices into the plans and the scores wanted of them."""

    index: np.ndarray       # rows of ``plans`` scored, ascending
    ok: np.ndarray          # meets every per-instance limit
    fits: np.ndarray        # fits in memory (the evaluator's ``feasible``)
    rate: np.ndarray        # output tokens/s per instance
    load: np.ndarray        # (3, rows) fabric bytes/s per instance
    tpot_s: np.ndarray
    ttft_s: np.ndarray


@record
class DecodeRates:
    """The part of the decode-only scores the fleet reads (``decode_rates``), one entry per row."""

    feasible: np.ndarray            # fits in memory (the evaluator's ``feasible``)
    step_time_s: np.ndarray         # TPOT
    instance_tps: np.ndarray        # output tokens/s per instance: the aggregated rows' bound
    fabric_bytes_per_s: np.ndarray  # (3, rows)


def decode_rates(sc: Scenario, plans: PlanArrays) -> DecodeRates:
    """Decode-only scores of ``plans`` (``planner.serving.disagg.decode_scores``), kept to what the fleet reads.

    Scored in the evaluator's own row blocks, each block's full scores dropped as soon as its four
    arrays are copied out: the example fleet's largest tables have 109,008 rows, and their full scores
    (some 60 arrays a row) were most of a fleet command's memory and page faults. Rows score
    independently, so the numbers are those of one ``decode_scores`` call, bit for bit.
    """
    blocks = row_blocks(len(plans)) or [slice(0, len(plans))]
    parts = []
    for block in blocks:
        s = decode_scores(sc, plans.take(block), full=False)  # the report-only figures are not read
        parts.append((s.feasible, s.step_time_s, s.instance_tps, s.fabric_bytes_per_s))
    return DecodeRates(*(np.concatenate(arrays, axis=-1) for arrays in zip(*parts)))


def _score(sc: Scenario, plans: PlanArrays, rows: np.ndarray, limits: Limits, enumerated: int) -> Bounded:
    table = scored_table(sc, plans.take(rows), limits, enumerated)
    s = table.scores
    return Bounded(rows, table.ok, s.feasible, s.instance_tps, s.fabric_bytes_per_s, s.step_time_s, s.ttft_s)


def _joined(parts: list[Bounded]) -> Bounded:
    index = np.concatenate([p.index for p in parts])
    order = np.argsort(index, kind="stable")
    return Bounded(index[order], *(np.concatenate([getattr(p, k) for p in parts], axis=-1)[..., order]
                                   for k in ("ok", "fits", "rate", "load", "tpot_s", "ttft_s")))


def full(sc: Scenario, plans: PlanArrays, limits: Limits, enumerated: int) -> Bounded:
    """Every row scored (no bound)."""
    return _score(sc, plans, np.arange(len(plans)), limits, enumerated)


def _falling(bound: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` positions of ``bound`` in falling order, ties in ascending position: the prefix
    of a stable sort of ``-bound``, found by a partition (a table's rows are scored a few dozen per size)."""
    if count >= bound.size or not np.all(np.isfinite(bound)):
        return np.argsort(-bound, kind="stable")[:count]
    threshold = -np.partition(-bound, count - 1)[count - 1]  # the count-th largest
    above = np.flatnonzero(bound > threshold)
    chosen = np.sort(np.concatenate([above, np.flatnonzero(bound == threshold)[:count - above.size]]))
    return chosen[np.argsort(-bound[chosen], kind="stable")]


def bounded(sc: Scenario, plans: PlanArrays, decode: DecodeRates, limits: Limits, enumerated: int) -> Bounded:
    """The rows of ``plans`` that can be the fastest of their instance size, scored (module docstring).

    ``decode``: the decode-only scores of the same ``plans`` (``decode_rates``, or the full ``decode_scores``).
    Per size, rows go in falling order of their bound (ties by row); only the prefix scored is sorted.
    """
    gpus = plans.tp * plans.pp * plans.dp
    usable = decode.feasible & is_power_of_two(gpus)
    if limits.max_tpot_s is not None:  # TPOT is bounded too: the aggregated step is no faster
        usable &= decode.step_time_s * (1 - BOUND_RELATIVE_TOLERANCE) <= limits.max_tpot_s
    cand = np.flatnonzero(usable)
    size = gpus[cand]
    groups = [cand[size == s] for s in distinct(size)]  # per size, rows ascending
    bounds = [decode.instance_tps[g] for g in groups]
    ranked = [np.zeros(0, np.int64) for _ in groups]  # per size: a prefix of its rows in falling bound
    ends = np.array([g.size for g in groups], dtype=np.int64)
    done = np.zeros(len(groups), np.int64)  # per size: rows [0, done) of its ranking are scored
    want = np.minimum(FIRST_ROUND_ROWS, ends)
    best = np.full(len(groups), -np.inf)
    parts: list[Bounded] = []
    while np.any(want > done):
        for j, w in enumerate(want):
            if w > ranked[j].size:
                ranked[j] = _falling(bounds[j], int(min(max(w, GROWTH * ranked[j].size), ends[j])))
        rows = np.concatenate([groups[j][ranked[j][a:b]] for j, (a, b) in enumerate(zip(done, want))])
        part = _score(sc, plans, rows, limits, enumerated)
        parts.append(part)
        np.maximum.at(best, np.repeat(np.arange(len(groups)), want - done)[part.ok], part.rate[part.ok])
        done = want
        # rows whose bound reaches the best so far must be scored; a size without a best grows
        reach = np.array([np.count_nonzero(b >= best_g) for b, best_g in zip(bounds, best)], dtype=np.int64)
        grown = np.minimum(done * GROWTH, ends)
        want = np.where(np.isfinite(best), np.maximum(reach, done), grown)
    if not parts:
        return _score(sc, plans, np.zeros(0, np.int64), limits, enumerated)
    out = _joined(parts)
    limit = decode.instance_tps[out.index] * (1 + BOUND_RELATIVE_TOLERANCE)
    floor = decode.step_time_s[out.index] * (1 - BOUND_RELATIVE_TOLERANCE)
    if np.any(out.fits & ((out.rate > limit) | (out.tpot_s < floor))):  # a bound failed on a scored row:
        return full(sc, plans, limits, enumerated)  # trust none of it
    return out
