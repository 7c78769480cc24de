"""The fleet's coefficient table: candidates per (model, hardware kind, role), scored and pruned.

Numpy computes, PuLP selects. For every served model and every hardware kind this module
enumerates the declared search space (``planner.serving.space.default_space``; instances stay
inside one scale-up domain), scores it with the evaluator in each role the model may use
(``agg``: ``planner.serving.candidates``; ``decode`` and ``prefill``: ``planner.serving.disagg``), drops
rows that break a per-instance limit (HBM, host memory, layout, TPOT, TTFT), and prunes
dominated rows before the MILP sees them.

Pruning is exact. Two rows of the same (model, kind, role, GPUs per instance, KV format)
take the same packing slots, power and price and meet the same per-instance limits, so a
row is only worth keeping if no other row serves at least as many tokens/s with no more
load on any fabric tier (a Pareto front). When a kind's inter-server and inter-rack links
cannot fill up whatever runs on it (every GPU at the highest per-GPU load of any row, plus
the most KV hand-off traffic any prefill or decode GPU could cause), fabric load is
irrelevant there and the front shrinks to the single fastest row. Across sizes, a row is
dropped when copies of a smaller row beat it GPU for GPU (``smaller_dominates``); and a
model's disaggregated pools in one KV format are dropped when another format moves fewer bytes
and beats every one of them (``kv_format_dominated``).

Prefill rows use a batch ladder up to ``PREFILL_MAX_BATCH`` prompts and no KV offload (a
prefill instance hands its KV away; ``planner.serving.disagg``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hardware.specs import TIERS
from planner.errors import InputError
from planner.fleet.question import Fleet, FleetKind, FleetModel
from planner.milp.fleet_problem import (
    AGG,
    DECODE,
    PREFILL,
    ROLES,
    Columns,
    FleetProblem,
    KindData,
    ModelData,
    is_power_of_two,
)
from planner.milp.serving import candidate_name
from planner.quant import MODE_NAMES
from planner.search.prune import best_per_group
from planner.serving.candidates import candidate_table, enumerate_plans
from planner.serving.disagg import decode_scores, kv_bytes_per_request, prefill_scores
from planner.serving.plan import PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace, batch_ladder, default_space, validate

# Prompts per prefill batch. Prefill is compute-bound beyond a few thousand tokens per pass,
# so prompt throughput is flat long before 64 prompts of typical length; engines cap tokens
# per pass (TensorRT-LLM's max_num_tokens, 8192 by default) for the same reason.
PREFILL_MAX_BATCH = 64


def scenario(fleet: Fleet, m: FleetModel, k: FleetKind) -> Scenario:
    """The evaluator's scenario of model ``m`` on kind ``k``."""
    return Scenario(hardware=k.hardware, model=m.spec, workload=m.workload, profile=fleet.profile)


def prefill_space(space: SearchSpace) -> SearchSpace:
    """The prefill pool's search space derived from the decode one (module docstring)."""
    return replace(space, batch=batch_ladder(PREFILL_MAX_BATCH), kv_offload_fraction=(0.0,))


@dataclass(frozen=True)
class RoleRows:
    """Scored, filtered rows of one (model, kind, role) before pruning."""

    plans: PlanArrays
    rate: np.ndarray          # tokens/s per instance (output, or prompt for prefill)
    fabric_load: np.ndarray   # (3, rows) bytes/s per instance
    num_enumerated: int
    num_feasible: int
    best_tpot_s: float | None = None  # fastest TPOT / TTFT among rows that fit in memory
    best_ttft_s: float | None = None


def _fastest(times: np.ndarray | None, fits: np.ndarray) -> float | None:
    if times is None:
        return None
    return float(times[fits].min()) if np.any(fits) else float("inf")


def role_rows(sc: Scenario, space: SearchSpace, m: FleetModel, role: int) -> RoleRows:
    """Score ``space`` in ``role`` and keep the rows meeting every per-instance limit."""
    lim = m.limits
    tpot = ttft = None
    if role == AGG:
        table = candidate_table(sc, space, lim)
        ok, plans, s = table.ok, table.plans, table.scores
        rate, load = s.instance_tps, s.fabric_bytes_per_s
        enumerated, fits = table.num_enumerated, s.feasible
        tpot, ttft = s.step_time_s, s.ttft_s
    elif role == DECODE:
        plans = enumerate_plans(sc, space)
        s = decode_scores(sc, plans)
        fits, tpot = s.feasible, s.step_time_s
        ok = fits & ((tpot <= lim.max_tpot_s) if lim.max_tpot_s is not None else True)
        rate, load, enumerated = s.instance_tps, s.fabric_bytes_per_s, space.size()
    else:
        pspace = prefill_space(space)
        plans = enumerate_plans(sc, pspace)
        p = prefill_scores(sc, plans)
        fits, ttft = p.feasible & (p.prompt_tps > 0), p.batch_time_s
        ok = fits & ((ttft <= lim.max_ttft_s) if lim.max_ttft_s is not None else True)
        rate, load, enumerated = p.prompt_tps, p.fabric_bytes_per_s, pspace.size()
    ok = np.asarray(ok, bool) & is_power_of_two(plans.tp * plans.pp * plans.dp)
    idx = np.flatnonzero(ok)
    return RoleRows(plans.take(idx), rate[idx], load[:, idx], enumerated, int(idx.size),
                    _fastest(tpot, fits), _fastest(ttft, fits))


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


@dataclass(frozen=True)
class Scored:
    """Every (model, kind, role) table of ``fleet`` scored and filtered: the part of the build that no
    objective or budget changes, so the questions of one fleet under other objectives reuse it."""

    fleet: Fleet
    kinds: tuple[KindData, ...]
    models: tuple[ModelData, ...]
    raw: tuple[tuple[int, int, int, RoleRows], ...]
    counts: tuple[dict, ...]

    def serves(self, fleet: Fleet) -> bool:
        """Whether ``fleet`` differs from the scored one in its objective and budgets at most."""
        return replace(self.fleet, objective=fleet.objective, max_power_w=fleet.max_power_w,
                       max_cost_per_hour=fleet.max_cost_per_hour) == fleet


@dataclass(frozen=True)
class FleetTable:
    """The MILP's input plus what the report says about the candidate tables."""

    problem: FleetProblem
    counts: list[dict]
    scored: Scored | None = None


def _demand_cap(m: FleetModel, role: int, rate: np.ndarray) -> np.ndarray:
    """Most instances a minimising plan needs of one row: enough alone to meet the target."""
    w = m.workload
    need = m.target_tps if role != PREFILL else m.target_tps * w.isl / w.osl
    return np.ceil(need / rate - 1e-12).astype(np.int64)


def roles_of(m: FleetModel) -> list[int]:
    """The roles ``m`` is tabled in: aggregated, and prefill and decode when it may be disaggregated."""
    roles = [AGG] if m.serving in ("agg", "any") else []
    if m.serving in ("disagg", "any") and m.workload.has_prefill:
        roles += [PREFILL, DECODE]
    return roles


def score(fleet: Fleet, progress=None) -> Scored:
    """Score and filter every (model, kind, role) table of ``fleet``; ``progress`` as in `build`."""
    total = sum(len(roles_of(m)) for m in fleet.models for k in fleet.kinds if k.gpus)
    if progress is not None:
        progress(0, total)
    kinds = [KindData(label=k.label, gpus=k.gpus, domain_gpus=k.hardware.scale_up_domain_gpus,
                      power_w_per_gpu=k.power_w_per_gpu, price_per_gpu_hour=k.price_per_gpu_hour,
                      fabric_bytes_per_s=np.array([k.hardware.fabrics[t].bytes_per_s for t in TIERS]))
             for k in fleet.kinds]
    models, raw, counts = [], [], []
    for mi, m in enumerate(fleet.models):
        kv_bytes: dict[int, float] = {}
        for ki, k in enumerate(fleet.kinds):
            if k.gpus == 0:
                continue
            sc = scenario(fleet, m, k)
            space = validate(fleet.space or default_space(sc))
            for role in roles_of(m):
                rows = role_rows(sc, space, m, role)
                raw.append((mi, ki, role, rows))
                if progress is not None:
                    progress(len(raw), total)
                counts.append({"model": m.label, "kind": k.label, "role": ROLES[role],
                               "enumerated": rows.num_enumerated, "feasible": rows.num_feasible,
                               "best_tpot_s": rows.best_tpot_s, "best_ttft_s": rows.best_ttft_s})
                if role != AGG:
                    for q in np.unique(rows.plans.kv_quant).tolist():
                        kv_bytes[int(q)] = kv_bytes_per_request(sc, MODE_NAMES[q])
        w = m.workload
        models.append(ModelData(label=m.label, isl=w.isl, osl=w.osl, target_tps=m.target_tps, weight=m.weight,
                                share=m.share, kv_bytes_per_request=kv_bytes))
    return Scored(fleet, tuple(kinds), tuple(models), tuple(raw), tuple(counts))


def build(fleet: Fleet, prune: bool = True, progress=None, scored: Scored | None = None) -> FleetTable:
    """Score, filter and prune every (model, kind, role) table; assemble the ``FleetProblem``.

    ``prune=False`` keeps every row that meets the per-instance limits (tests use it to show that
    pruning never changes the optimum). ``progress(done, total)`` counts the tables: before the
    first and after each (None: silent). ``scored``: the tables of an earlier build of this fleet
    under another objective or budget (`Scored.serves`), reused instead of scoring again.
    """
    if scored is None:
        scored = score(fleet, progress)
    elif not scored.serves(fleet):
        raise InputError("scored: the tables of another fleet (only the objective and budgets may differ); "
                         "score this fleet's own")
    kinds, models, raw = list(scored.kinds), list(scored.models), scored.raw
    counts = [dict(c) for c in scored.counts]
    fabric_free = _fabric_cannot_bind(kinds, models, raw)
    cols: dict[str, list] = {key: [] for key in ("names", "model", "kind", "role", "kv_quant", "gpus", "rate",
                                                 "load", "max_instances", "plans")}
    for mi, ki, role, rows in raw:
        plans = rows.plans
        gpus = (plans.tp * plans.pp * plans.dp).astype(np.int64)
        kv = plans.kv_quant if role != AGG else np.zeros_like(gpus)
        keys = np.column_stack([gpus, kv])
        if not prune:
            keep = np.arange(rows.rate.size)
        elif fabric_free[ki]:
            keep = best_per_group(keys, rows.rate)
        else:
            keep = pareto_rows(keys, rows.rate, rows.fabric_load)
        if prune:
            keep = keep[smaller_dominates(gpus[keep], kv[keep], rows.rate[keep], rows.fabric_load[:, keep],
                                          ignore_load=fabric_free[ki])]
        bound = np.array([kinds[ki].slots(int(g)) for g in gpus[keep]], dtype=np.int64)
        power = gpus[keep] * kinds[ki].power_w_per_gpu
        if fleet.max_power_w is not None:
            bound = np.minimum(bound, np.floor(fleet.max_power_w / power).astype(np.int64))
        price = kinds[ki].price_per_gpu_hour
        if fleet.max_cost_per_hour is not None and price:
            bound = np.minimum(bound, np.floor(fleet.max_cost_per_hour / (gpus[keep] * price)).astype(np.int64))
        if fleet.objective != "max_tps":
            bound = np.minimum(bound, _demand_cap(fleet.models[mi], role, rows.rate[keep]))
        keep, bound = keep[bound >= 1], bound[bound >= 1]
        sub = plans.take(keep)
        for j in range(keep.size):
            plan = sub.plan(j)
            cols["names"].append(f"{ROLES[role]}__{models[mi].label}__{kinds[ki].label}__{candidate_name(sub, j)}")
            cols["plans"].append(plan)
        n = keep.size
        cols["model"].append(np.full(n, mi))
        cols["kind"].append(np.full(n, ki))
        cols["role"].append(np.full(n, role))
        cols["kv_quant"].append(kv[keep])
        cols["gpus"].append(gpus[keep])
        cols["rate"].append(rows.rate[keep])
        cols["load"].append(rows.fabric_load[:, keep])
        cols["max_instances"].append(bound)
    def cat(key: str, dt) -> np.ndarray:
        return np.concatenate(cols[key]).astype(dt) if cols[key] else np.zeros(0, dt)

    columns = Columns(names=cols["names"], model=cat("model", np.int64), kind=cat("kind", np.int64),
                      role=cat("role", np.int64), kv_quant=cat("kv_quant", np.int64), gpus=cat("gpus", np.int64),
                      rate=cat("rate", float),
                      fabric_load=np.concatenate(cols["load"], axis=1) if cols["load"] else np.zeros((3, 0)),
                      max_instances=cat("max_instances", np.int64), plans=cols["plans"])
    problem = FleetProblem(kinds=tuple(kinds), models=tuple(models), columns=columns, objective=fleet.objective,
                           max_power_w=fleet.max_power_w, max_cost_per_hour=fleet.max_cost_per_hour)
    if prune:
        problem = replace(problem, columns=columns.take(np.flatnonzero(~kv_format_dominated(problem))))
        columns = problem.columns
    # A prefill column without a decode column of the same model and KV format (or the reverse)
    # can serve nothing: drop it.
    paired = set(problem.commodities())
    useful = [i for i in range(len(columns))
              if columns.role[i] == AGG or (int(columns.model[i]), int(columns.kv_quant[i])) in paired]
    problem = replace(problem, columns=columns.take(np.array(useful, dtype=np.int64)))
    kept = problem.columns
    for c in counts:
        mi = next(i for i, m in enumerate(models) if m.label == c["model"])
        ki = next(i for i, k in enumerate(kinds) if k.label == c["kind"])
        c["columns"] = int(np.sum((kept.model == mi) & (kept.kind == ki) & (kept.role == ROLES.index(c["role"]))))
    return FleetTable(problem, counts, scored)


def _fabric_cannot_bind(kinds: list[KindData], models: list[ModelData], raw: list) -> list[bool]:
    """Per kind: True when no placement could fill its inter-server or inter-rack links."""
    load_per_gpu = np.zeros((len(kinds), 3))
    kv_per_gpu = np.zeros(len(kinds))
    for mi, ki, role, rows in raw:
        if not rows.rate.size:
            continue
        gpus = rows.plans.tp * rows.plans.pp * rows.plans.dp
        load_per_gpu[ki] = np.maximum(load_per_gpu[ki], (rows.fabric_load / gpus).max(axis=1))
        if role != AGG:
            md = models[mi]
            per_request = max(md.kv_bytes_per_request.values(), default=0.0)
            tokens = md.isl if role == PREFILL else md.osl
            kv_per_gpu[ki] = max(kv_per_gpu[ki], float((rows.rate / gpus).max()) / tokens * per_request)
    out = []
    for ki, k in enumerate(kinds):
        worst = k.gpus * (load_per_gpu[ki] + kv_per_gpu[ki])
        out.append(bool(np.all(worst[1:] <= k.fabric_capacity_bytes_per_s[1:])))
    return out
