"""Exact dominance among a fleet's candidate rows (``planner.fleet.table`` prunes with these).

Two rows of the same (model, kind, role, GPUs per instance, KV format) take the same packing
slots, power and price and meet the same per-instance limits, so a row is only worth keeping if
no other row serves at least as many tokens/s with no more load on any fabric tier
(``pareto_rows``). Across sizes, a row is dropped when copies of a smaller row beat it GPU for
GPU (``smaller_dominates``); and a model's disaggregated pools in one KV format when another
format moves fewer bytes and beats every one of them (``kv_format_dominated``).
"""

from __future__ import annotations

import numpy as np

from planner.milp.fleet_problem import AGG, Columns, FleetProblem


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-D array: ``np.unique`` without its first call's import of
    ``numpy.ma`` (numpy 2.x asks ``np.ma.is_masked``), about 15 ms of a fleet command's CPU."""
    s = np.sort(np.asarray(values))
    return s[np.concatenate([[True], s[1:] != s[:-1]])] if s.size else s


def pareto_rows(keys: np.ndarray, rate: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Rows not dominated within their key group: no other row has rate >= and every load <=."""
    kept = []
    for key in np.unique(keys, axis=0):
        grp = np.flatnonzero(np.all(keys == key, axis=1))
        l1, l2 = load[1, grp], load[2, grp]
        order = np.lexsort((l2, l1, -rate[grp]))
        if not np.any(l2 > 0):
            # Two criteria: sweep by falling rate; keep a row whose load beats every faster row's.
            s1 = l1[order]
            prior = np.concatenate([[np.inf], np.minimum.accumulate(s1)[:-1]])
            kept.extend(grp[order[s1 < prior]].tolist())
            continue
        front1: list[float] = []
        front2: list[float] = []
        for j in order:
            a, b = l1[j], l2[j]
            if any(x <= a and y <= b for x, y in zip(front1, front2)):
                continue
            front1.append(a)
            front2.append(b)
            kept.append(int(grp[j]))
    return np.array(sorted(kept), dtype=np.int64)


def smaller_dominates(gpus: np.ndarray, kv: np.ndarray, rate: np.ndarray, load: np.ndarray,
                      ignore_load: bool = False) -> np.ndarray:
    """Mask of rows no smaller row of the same KV format beats GPU for GPU.

    ``k = G / g`` instances of a ``g``-GPU row fill exactly the GPUs of one ``G``-GPU row (sizes
    are powers of two, so they pack wherever it does), draw the same power and price, and fit
    every bound it fits; when together they serve at least as many tokens/s with no more load
    on any tier, the larger row is never needed.
    """
    out = np.ones(gpus.size, bool)
    for i in range(gpus.size):
        smaller = np.flatnonzero((gpus < gpus[i]) & (kv == kv[i]))
        if smaller.size == 0:
            continue
        k = gpus[i] / gpus[smaller]
        beats = k * rate[smaller] >= rate[i]
        if not ignore_load:
            beats &= np.all(k * load[1:, smaller] <= load[1:, [i]], axis=0)
        out[i] = not np.any(beats)
    return out


def kv_format_dominated(problem: FleetProblem) -> np.ndarray:
    """Mask of disaggregated columns whose whole KV format another format of the model beats.

    A model's requests served with KV format ``q1`` can all move to ``q2`` when ``q2`` moves no
    more bytes per request and every ``q1`` prefill or decode column has a ``q2`` column of the
    same role and kind that beats it GPU for GPU (as in ``smaller_dominates``, equal sizes
    included): the ``q1`` pools are then never needed.
    """
    c = problem.columns
    out = np.zeros(len(c), bool)
    for m, md in enumerate(problem.models):
        formats = sorted(set(c.kv_quant[(c.model == m) & (c.role != AGG)].tolist()))
        for q1 in formats:
            mine = np.flatnonzero((c.model == m) & (c.role != AGG) & (c.kv_quant == q1))
            for q2 in formats:
                if q2 == q1 or md.kv_bytes_per_request.get(q2, np.inf) > md.kv_bytes_per_request.get(q1, 0.0):
                    continue
                theirs = np.flatnonzero((c.model == m) & (c.role != AGG) & (c.kv_quant == q2))
                if all(_beaten(c, i, theirs) for i in mine):
                    out[mine] = True
                    break
    return out


def _beaten(c: Columns, i: int, rivals: np.ndarray) -> bool:
    same = rivals[(c.role[rivals] == c.role[i]) & (c.kind[rivals] == c.kind[i]) & (c.gpus[rivals] <= c.gpus[i])]
    if same.size == 0:
        return False
    k = c.gpus[i] / c.gpus[same]
    return bool(np.any((k * c.rate[same] >= c.rate[i])
                       & np.all(k * c.fabric_load[1:, same] <= c.fabric_load[1:, [i]], axis=0)))
