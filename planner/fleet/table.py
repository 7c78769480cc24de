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
and beats every one of them (``kv_format_dominated``; all three in ``planner.fleet.dominance``).
Aggregated rows are scored in full only where they can be the fastest of their size
(``planner.fleet.bound``): the isl/osl fixed point is most of the scoring, and the pruning keeps
one row per size of them when the fabric cannot bind.

Prefill rows use a batch ladder up to ``PREFILL_MAX_BATCH`` prompts and no KV offload (a
prefill instance hands its KV away; ``planner.serving.disagg``). Their prompt rates are compared at
``RATE_BITS`` bits (:func:`settled_rates`): batches whose prompts fill the same iterations serve the
same tokens a second (2 prompts of 4,096 tokens in one 8,192-token iteration, 6 in three), and such a
tie then goes to the first row of the ladder, the smaller batch and the shorter TTFT, not to the last
bit of a division.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np

from hardware.specs import TIERS
from planner.errors import InputError
from planner.fleet import bound
from planner.fleet.dominance import distinct, kv_format_dominated, pareto_rows, smaller_dominates
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
from planner.serving.candidates import enumerate_plans
from planner.serving.disagg import kv_bytes_per_request, prefill_scores
from planner.serving.plan import PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace, batch_ladder, default_space, validate
from specbase.record import record

# Prompts per prefill batch. Prefill is compute-bound beyond a few thousand tokens per pass,
# so prompt throughput is flat long before 64 prompts of typical length; engines cap tokens
# per pass (TensorRT-LLM's max_num_tokens, 8192 by default) for the same reason.
PREFILL_MAX_BATCH = 64


def scenario(fleet: Fleet, m: FleetModel, k: FleetKind) -> Scenario:
    """The evaluator's scenario of model ``m`` on kind ``k``."""
    return Scenario(hardware=k.hardware, model=m.spec, workload=m.workload, profile=fleet.profile)


RATE_BITS = 40  # mantissa bits a prefill row's prompt rate keeps (it moves by at most 2^-40, ~1e-12, relative)


def settled_rates(rate: np.ndarray) -> np.ndarray:
    """``rate`` rounded to ``RATE_BITS`` mantissa bits, so that rates equal but for their last bits are equal
    (module docstring): a change of at most 2^-40 relative (half a step of a mantissa of at least 1/2). E.g.
    8,192 / x and 24,576 / (3 x) can differ in their last bit; rounded, they are one number."""
    mantissa, exponent = np.frexp(rate)
    return np.ldexp(np.round(mantissa * 2.0 ** RATE_BITS) / 2.0 ** RATE_BITS, exponent)


def prefill_space(space: SearchSpace) -> SearchSpace:
    """The prefill pool's search space derived from the decode one (module docstring)."""
    return replace(space, batch=batch_ladder(PREFILL_MAX_BATCH), kv_offload_fraction=(0.0,))


@record
class RoleRows:
    """Scored, filtered rows of one (model, kind, role) before pruning."""

    plans: PlanArrays
    rate: np.ndarray          # tokens/s per instance (output, or prompt for prefill)
    fabric_load: np.ndarray   # (3, rows) bytes/s per instance
    num_enumerated: int
    num_feasible: int         # rows scored that meet every per-instance limit
    best_tpot_s: float | None = None  # fastest TPOT / TTFT among rows that fit in memory (None: not
    best_ttft_s: float | None = None  # timed, or aggregated rows not all scored)
    num_scored: int = 0  # rows scored (aggregated: only those that can matter, planner.fleet.bound)


def _fastest(times: np.ndarray | None, fits: np.ndarray) -> float | None:
    if times is None:
        return None
    return float(times[fits].min()) if np.any(fits) else float("inf")


def role_rows(sc: Scenario, space: SearchSpace, m: FleetModel, role: int, shared: dict | None = None,
              exhaustive: bool = False, cut: bool = False) -> RoleRows:
    """Score ``space`` in ``role`` and keep the rows meeting every per-instance limit.

    ``shared``: a dict kept across the roles of one (model, kind), so the aggregated and decode
    tables enumerate and decode-score the space once. Aggregated rows are scored in full only where
    they can be the fastest of their size (``planner.fleet.bound``; ``exhaustive``: every row, so
    ``num_feasible`` and the fastest TPOT and TTFT count them all). ``cut``: only the rows meeting the
    limits that `_readable` picks are kept (the counts still count them all).
    """
    lim = m.limits
    tpot = ttft = None
    shared = {} if shared is None else shared
    # Only isl/osl rows run the serving fixed point; steady-state decode is as cheap as its bound.
    bounded = role == AGG and not exhaustive and sc.workload.has_prefill
    if role in (AGG, DECODE) and "plans" not in shared:
        shared["plans"] = enumerate_plans(sc, space)
    if (role == DECODE or bounded) and "decode" not in shared:
        shared["decode"] = bound.decode_rates(sc, shared["plans"])
    if role == AGG:
        plans, enumerated = shared["plans"], space.size()
        b = (partial(bound.bounded, decode=shared["decode"]) if bounded else bound.full)(
            sc, plans, limits=lim, enumerated=enumerated)
        plans, ok, rate, load, fits, tpot, ttft = plans.take(b.index), b.ok, b.rate, b.load, b.fits, b.tpot_s, b.ttft_s
    elif role == DECODE:
        plans, s = shared["plans"], shared["decode"]
        fits, tpot = s.feasible, s.step_time_s
        ok = fits & ((tpot <= lim.max_tpot_s) if lim.max_tpot_s is not None else True)
        rate, load, enumerated = s.instance_tps, s.fabric_bytes_per_s, space.size()
    else:
        pspace = prefill_space(space)
        plans = enumerate_plans(sc, pspace)
        p = prefill_scores(sc, plans)
        fits, ttft = p.feasible & (p.prompt_tps > 0), p.batch_time_s
        ok = fits & ((ttft <= lim.max_ttft_s) if lim.max_ttft_s is not None else True)
        rate, load, enumerated = settled_rates(p.prompt_tps), p.fabric_bytes_per_s, pspace.size()
    ok = np.asarray(ok, bool) & is_power_of_two(plans.tp * plans.pp * plans.dp)
    idx = np.flatnonzero(ok)
    meeting = int(idx.size)
    if cut and meeting:  # picked before the plans are taken: a decode table's 95,380 rows are not copied
        gpus = (plans.tp[idx] * plans.pp[idx] * plans.dp[idx]).astype(np.int64)
        kv = plans.kv_quant[idx] if role != AGG else np.zeros_like(gpus)
        idx = idx[_readable(gpus, kv, rate[idx], load[:, idx])]
    if bounded:  # the fastest of the rows scored is not the table's
        tpot = ttft = None
    return RoleRows(plans.take(idx), rate[idx], load[:, idx], enumerated, meeting,
                    _fastest(tpot, fits), _fastest(ttft, fits), len(plans))


@record
class Scored:
    """Every (model, kind, role) table of ``fleet`` scored and filtered: the part of the build that no
    objective or budget changes, so the questions of one fleet under other objectives reuse it."""

    fleet: Fleet
    kinds: tuple[KindData, ...]
    models: tuple[ModelData, ...]
    raw: tuple[tuple[int, int, int, RoleRows], ...]
    counts: tuple[dict, ...]
    fabric_free: tuple[bool, ...] = ()  # per kind: its fabric cannot bind (``_fabric_cannot_bind`` of ``raw``)

    def serves(self, fleet: Fleet) -> bool:
        """Whether ``fleet`` differs from the scored one in its objective and budgets at most."""
        return replace(self.fleet, objective=fleet.objective, max_power_w=fleet.max_power_w,
                       max_cost_per_hour=fleet.max_cost_per_hour) == fleet


@record
class FleetTable:
    """The MILP's input plus what the report says about the candidate tables."""

    problem: FleetProblem
    counts: list[dict]
    scored: Scored | None = None


def _sizes(plans: PlanArrays, role: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GPUs per instance, KV format (0 for aggregated rows) and the two as the pruning's group keys."""
    gpus = (plans.tp * plans.pp * plans.dp).astype(np.int64)
    kv = plans.kv_quant if role != AGG else np.zeros_like(gpus)
    return gpus, kv, np.column_stack([gpus, kv])


def _readable(gpus: np.ndarray, kv: np.ndarray, rate: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Positions, ascending, of the rows (GPUs per instance, KV format, rate, (3, rows) fabric load; at least
    one) that `build` and `_fabric_cannot_bind` read when the kind's fabric cannot bind: the fastest row of each
    (GPUs per instance, KV format), the one `best_per_group` picks (ties: the first; it picks it again among
    these, which keep the row order), and the rows of the highest per-GPU load on each tier and of the highest
    per-GPU rate. The other numbers of the table (rows enumerated, scored, feasible, fastest TPOT and TTFT)
    are counted already. A decode table of 95,380 rows keeps 14-18 of them."""
    keep = np.concatenate([best_per_group(None, rate, groups=_groups(gpus, kv)), np.argmax(load / gpus, axis=1),
                           [int(np.argmax(rate / gpus))]])
    return distinct(keep)


def _groups(gpus: np.ndarray, kv: np.ndarray) -> np.ndarray:
    """A group number per row, equal exactly where (GPUs per instance, KV format) are: ``gpus x (largest KV
    format + 1) + KV format``, both small non-negative integers (`best_per_group`'s ``groups``, no sort)."""
    return gpus * (int(kv.max()) + 1) + kv if kv.size else np.zeros(0, np.int64)


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


def score(fleet: Fleet, progress=None, exhaustive: bool = False) -> Scored:
    """Score and filter every (model, kind, role) table of ``fleet``; ``progress`` as in `build`.

    Aggregated rows are scored where they can be the fastest of their size (``planner.fleet.bound``),
    which is all the pruning keeps of them when the kind's fabric cannot bind; on a kind where it
    can (``_fabric_cannot_bind`` over the rows scored, which bounds it over the rows the pruning
    keeps) the fabric load matters too, and its aggregated tables are scored in full. A table is kept as
    `_readable` cuts it (what the pruning reads when the fabric cannot bind); a kind whose fabric can bind has
    every table scored again, whole. ``exhaustive``: every table in full, every row kept (``build(prune=False)``).
    """
    total = sum(len(roles_of(m)) for m in fleet.models for k in fleet.kinds if k.gpus)
    if progress is not None:
        progress(0, total)
    kinds = [KindData(label=k.label, gpus=k.gpus, domain_gpus=k.hardware.scale_up_domain_gpus,
                      power_w_per_gpu=k.power_w_per_gpu, price_per_gpu_hour=k.price_per_gpu_hour,
                      fabric_bytes_per_s=np.array([k.hardware.fabrics[t].bytes_per_s for t in TIERS]))
             for k in fleet.kinds]
    models, raw, asked = [], [], []
    # Tables depend on (scenario, space, limits, role) only: two kinds of one system (owned and rented,
    # priced apart) or two entries of one model and workload (tenants, targets apart) share theirs.
    seen: list[tuple[tuple, dict]] = []
    for mi, m in enumerate(fleet.models):
        kv_bytes: dict[int, float] = {}
        for ki, k in enumerate(fleet.kinds):
            if k.gpus == 0:
                continue
            sc = scenario(fleet, m, k)
            space = validate(fleet.space or default_space(sc))
            key = (sc, space, m.limits)
            shared = next((memo for known, memo in seen if known == key), None)
            if shared is None:
                shared = {}
                seen.append((key, shared))
            for role in roles_of(m):
                rows = shared.get(("rows", role))
                if rows is None:
                    rows = role_rows(sc, space, m, role, shared, exhaustive, not exhaustive)
                shared["rows", role] = rows
                raw.append((mi, ki, role, rows))
                asked.append((sc, space, m, shared))
                if progress is not None:
                    progress(len(raw), total)
                if role != AGG:
                    for q in distinct(rows.plans.kv_quant).tolist():
                        kv_bytes[int(q)] = kv_bytes_per_request(sc, MODE_NAMES[q])
            # Its tables are done: the enumerated rows and their decode-only scores (13 MB for a 109,008-row
            # table) go now, not with the last table; a full re-scoring below enumerates again.
            shared.pop("plans", None)
            shared.pop("decode", None)
        w = m.workload
        models.append(ModelData(label=m.label, isl=w.isl, osl=w.osl, target_tps=m.target_tps, weight=m.weight,
                                share=m.share, kv_bytes_per_request=kv_bytes))
    free = _fabric_cannot_bind(kinds, models, raw)
    for j, (mi, ki, role, _rows) in enumerate(raw):  # (the rows added load only their own, bound, kind)
        if not free[ki] and not exhaustive:  # every row again: the Pareto front may need any of them
            raw[j] = (mi, ki, role, role_rows(*asked[j][:3], role, {}, exhaustive=role == AGG))
    counts = [{"model": models[mi].label, "kind": kinds[ki].label, "role": ROLES[role],
               "enumerated": rows.num_enumerated, "scored": rows.num_scored, "feasible": rows.num_feasible,
               "best_tpot_s": rows.best_tpot_s, "best_ttft_s": rows.best_ttft_s} for mi, ki, role, rows in raw]
    return Scored(fleet, tuple(kinds), tuple(models), tuple(raw), tuple(counts), tuple(free))


def build(fleet: Fleet, prune: bool = True, progress=None, scored: Scored | None = None) -> FleetTable:
    """Score, filter and prune every (model, kind, role) table; assemble the ``FleetProblem``.

    ``prune=False`` keeps every row that meets the per-instance limits (tests use it to show that
    pruning never changes the optimum). ``progress(done, total)`` counts the tables: before the
    first and after each (None: silent). ``scored``: the tables of an earlier build of this fleet
    under another objective or budget (`Scored.serves`), reused instead of scoring again.
    """
    if scored is None:
        scored = score(fleet, progress, exhaustive=not prune)
    elif not scored.serves(fleet):
        raise InputError("scored: the tables of another fleet (only the objective and budgets may differ); "
                         "score this fleet's own")
    kinds, models, raw = list(scored.kinds), list(scored.models), scored.raw
    counts = [dict(c) for c in scored.counts]
    fabric_free = scored.fabric_free
    cols: dict[str, list] = {key: [] for key in ("names", "model", "kind", "role", "kv_quant", "gpus", "rate",
                                                 "load", "max_instances", "plans")}
    for mi, ki, role, rows in raw:
        plans = rows.plans
        gpus, kv, keys = _sizes(plans, role)
        if not prune:
            keep = np.arange(rows.rate.size)
        elif fabric_free[ki]:
            keep = best_per_group(None, rows.rate, groups=_groups(gpus, kv))
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
