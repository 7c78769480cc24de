"""Brute-force enumeration of a fleet problem: the oracle the fleet MILP is tested against.

Independent of the formulation: every vector of instance counts within the columns'
bounds is listed, and each is judged directly. Packing places the instances into the
kinds' domains (``fleet_problem.first_fit_decreasing``, not the MILP's inequalities);
budgets, targets and fabric are summed from the counts. The KV hand-off of a model is a
maximum flow, computed as a minimum cut by listing every cut of its small network:

    source -> prefill(a)   prompt tokens/s of kind a / isl
    prefill(a) -> decode(a)   kind a's spare inter-server bandwidth / KV bytes per request
    prefill(a) -> out(a) -> in(b) -> decode(b)   spare inter-rack bandwidth of a (out) and b (in)
    decode(b) -> sink   output tokens/s of kind b / osl

in requests/s. Only one model and KV format may put bytes on the fabric (the cut is then
exact); the others' KV bytes must be zero, and their flow is the smaller of total prefill
and total decode capacity. Meant for small instances (a few columns, small bounds).
"""

from __future__ import annotations

import itertools

import numpy as np

from planner.milp.fleet_problem import AGG, DECODE, PREFILL, FleetProblem, first_fit_decreasing
from specbase.record import record

MAX_COMBINATIONS = 300_000


@record
class FleetOracle:
    """Best objective value and one count vector reaching it (``None`` when nothing is feasible)."""

    value: float | None
    counts: np.ndarray | None
    combinations: int


def _packs(problem: FleetProblem, counts: np.ndarray) -> np.ndarray:
    c = problem.columns
    ok = np.ones(counts.shape[0], bool)
    for k, kind in enumerate(problem.kinds):
        on = np.flatnonzero(c.kind == k)
        if on.size == 0:
            continue
        sub = counts[:, on]
        cache: dict[tuple, bool] = {}
        for row in range(sub.shape[0]):
            key = tuple(sub[row])
            if key not in cache:
                sizes = [int(c.gpus[on[j]]) for j in range(on.size) for _ in range(key[j])]
                cache[key] = first_fit_decreasing(kind, sizes) is not None
            ok[row] &= cache[key]
    return ok


def _max_flow(problem: FleetProblem, counts: np.ndarray, m: int, q: int, kv: float,
              slack_server: np.ndarray, slack_rack: np.ndarray) -> np.ndarray:
    """Requests/s of commodity (m, q) through its network, per count vector (minimum cut)."""
    c = problem.columns
    md = problem.models[m]
    rows = counts.shape[0]

    def capacity(role: int, k: int) -> np.ndarray:
        sel = (c.model == m) & (c.kv_quant == q) & (c.role == role) & (c.kind == k)
        return counts @ np.where(sel, c.rate, 0.0)

    pre = problem.flow_kinds(m, q, PREFILL)
    dec = problem.flow_kinds(m, q, DECODE)
    if not pre or not dec:
        return np.zeros(rows)
    if kv <= 0:
        total_p = sum(capacity(PREFILL, a) for a in pre) / md.isl
        total_d = sum(capacity(DECODE, b) for b in dec) / md.osl
        return np.minimum(total_p, total_d)
    inf = np.full(rows, np.inf)
    nodes = [("P", a) for a in pre] + [("X", a) for a in pre] + [("Y", b) for b in dec] + [("D", b) for b in dec]
    edges = [("s", ("P", a), capacity(PREFILL, a) / md.isl) for a in pre]
    edges += [(("P", a), ("D", a), slack_server[:, a] / kv) for a in pre if a in dec]
    edges += [(("P", a), ("X", a), slack_rack[:, a] / kv) for a in pre]
    edges += [(("X", a), ("Y", b), inf) for a in pre for b in dec if a != b]
    edges += [(("Y", b), ("D", b), slack_rack[:, b] / kv) for b in dec]
    edges += [(("D", b), "t", capacity(DECODE, b) / md.osl) for b in dec]
    best = np.full(rows, np.inf)
    for mask in range(1 << len(nodes)):
        side = {"s"} | {nodes[i] for i in range(len(nodes)) if mask >> i & 1}
        cut = np.zeros(rows)
        for u, v, cap in edges:
            if u in side and v not in side:
                cut = cut + cap
        best = np.minimum(best, cut)
    return best


def brute_force(problem: FleetProblem) -> FleetOracle:
    """The optimum of ``problem.objective`` by enumerating every count vector."""
    c = problem.columns
    ranges = [range(int(u) + 1) for u in c.max_instances]
    total = int(np.prod([len(r) for r in ranges], dtype=float)) if ranges else 1
    if total > MAX_COMBINATIONS:
        raise ValueError(f"{total:,} combinations: too many to enumerate")
    counts = np.array(list(itertools.product(*ranges)), dtype=np.int64).reshape(total, len(c))
    ok = _packs(problem, counts)
    power = counts @ problem.power_w()
    cost = counts @ problem.cost_per_hour()
    gpus = counts @ c.gpus
    if problem.max_power_w is not None:
        ok &= power <= problem.max_power_w
    if problem.max_cost_per_hour is not None:
        ok &= cost <= problem.max_cost_per_hour
    slack_server = np.zeros((total, len(problem.kinds)))
    slack_rack = np.zeros((total, len(problem.kinds)))
    for k, kind in enumerate(problem.kinds):
        cap = kind.fabric_capacity_bytes_per_s
        on = c.kind == k
        slack_server[:, k] = cap[1] - counts @ np.where(on, c.fabric_load[1], 0.0)
        slack_rack[:, k] = cap[2] - counts @ np.where(on, c.fabric_load[2], 0.0)
    ok &= np.all(slack_server >= 0, axis=1) & np.all(slack_rack >= 0, axis=1)
    commodities = problem.commodities()
    loaded = [(m, q) for m, q in commodities if problem.models[m].kv_bytes_per_request.get(q, 0.0) > 0]
    if len(loaded) > 1:
        raise ValueError("the oracle's cut is exact for one KV-carrying model and format only")
    output = np.zeros((total, len(problem.models)))
    for m in range(len(problem.models)):
        output[:, m] = counts @ np.where((c.model == m) & (c.role == AGG), c.rate, 0.0)
    for m, q in commodities:
        kv = problem.models[m].kv_bytes_per_request.get(q, 0.0)
        flow = _max_flow(problem, counts, m, q, kv, np.maximum(slack_server, 0), np.maximum(slack_rack, 0))
        output[:, m] += problem.models[m].osl * flow
    tolerance = 1e-9
    shared = problem.objective == "max_tps" and problem.models[0].share is not None
    shares = np.array([md.share or 1.0 for md in problem.models])
    served = (output / shares).min(axis=1)[:, None] * shares if shared else output
    for m, md in enumerate(problem.models):
        if md.target_tps:
            ok &= served[:, m] >= md.target_tps * (1 - tolerance)
    if problem.objective == "max_tps":
        if shared:
            value = served[:, 0] / shares[0]
        else:
            value = output @ np.array([md.weight for md in problem.models])
        value = np.where(ok, value, -np.inf)
        best = int(np.argmax(value))
    else:
        cost_of = {"min_gpus": gpus.astype(float), "min_cost": cost, "min_power": power}[problem.objective]
        value = np.where(ok, cost_of, np.inf)
        best = int(np.argmin(value))
    if not np.isfinite(value[best]):
        return FleetOracle(None, None, total)
    return FleetOracle(float(value[best]), counts[best], total)
