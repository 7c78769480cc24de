"""The fleet MILP: how many instances of every candidate, and where each model's KV flows.

Numpy computes, PuLP selects: every coefficient comes from ``planner.milp.fleet_problem``
(the evaluator's numbers, via ``planner.fleet.table``). Any number of columns may be used
at once: several instance types per model, per role and per hardware kind.

Variables:

* ``n__<column>`` integer in ``[0, U_c]``: instances of column ``c`` (``U_c`` from packing,
  budgets and, when minimising, demand: ``Columns.max_instances``).
* ``kv__<model>__<kvq>__<a>__to__<b>`` >= 0: requests/s of a model whose prompt is prefilled
  on kind ``a`` and whose output is decoded on kind ``b``, KV cache in format ``kvq``.
* maximise with shares only: ``served__<model>`` >= 0, output tokens/s the model gets, and
  ``total`` (output tokens/s of the whole fleet). Without shares every model is served its whole
  output (the weights are positive), so the objective takes the outputs themselves.

Constraints (the names are the verifier's and the report's vocabulary):

* ``packing__<kind>__g<s>``: instances of ``s`` or more GPUs on the kind take at most
  ``s x slots(s)`` GPUs (exact for power-of-two sizes: ``planner.milp.fleet_problem``).
* ``prefill_capacity__<model>__<kvq>__<kind>``: ``isl x sum_b kv`` <= the kind's prefill
  columns' prompt tokens/s; ``decode_capacity__...``: ``osl x sum_a kv`` <= decode tokens/s.
* ``target__<model>``: aggregated output tokens/s plus ``osl x`` its KV flows >= target
  (minimising: the target; maximising: the optional floor); with shares, ``served__<model>``
  is at most that sum, and ``share__<model>`` fixes ``served = share x total``.
* ``fabric_inter_server__<kind>``: the instances' own inter-server load plus the KV bytes
  of hand-offs between two instances of that kind (paired inside one rack: NVLink on an
  NVL72, the NICs between HGX servers) within ``per-GPU rate x GPUs``;
  ``fabric_inter_rack_out__<kind>`` / ``_in__<kind>``: hand-offs to / from other kinds,
  each direction of the inter-rack links. In GB/s, to keep the coefficients near 1.
* ``power_budget`` (W), ``cost_budget`` (per hour): over the GPUs in use.

Rows that cannot bind are left out, which changes no feasible count vector and so no optimum,
but spares the branch and bound (the example fleet's maximise-throughput solve, ``bench/fleet.py``,
went from 2.4 s to 0.34 s): a packing row a smaller size's row implies
(``FleetProblem.binding_packing_sizes``); a budget the whole fleet cannot exceed; a fabric row its
kind's links carry even with every GPU at the highest per-GPU load and KV hand-off of any column.

Objectives: ``min_gpus``, ``min_cost``, ``min_power`` (sums over instances), ``max_tps``
(weighted output tokens/s, or ``total`` with shares). ``planner.milp.fleet_solve`` then breaks
ties (fewest GPUs; least power when minimising GPUs; then, minimising, fewest instances).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pulp

from planner.milp.fleet_problem import AGG, DECODE, PREFILL, Columns, FleetProblem
from planner.quant import MODE_NAMES
from planner.units import GIGA

# Fabric rows are written in GB/s: bytes/s coefficients (1e9-1e12) next to counts of 1-100
# would leave the constraint matrix badly scaled.
FABRIC_UNIT_BYTES_PER_S = GIGA
# The evaluator's rates and fabric loads reach the MILP rounded to this many significant digits. Its
# transcendental functions (exp, log, power) differ in the last bit between numpy's SIMD paths (AVX2 and
# AVX-512 hosts), and one ulp on every rate was enough to make HiGHS return another of several tied plans
# (the example fleet's gpt-oss-120b: agg+disagg on an AVX-512 Xeon with numpy 2.5, disagg on an AVX2 EPYC
# with numpy 2.4; both 7 GPUs, $21/h and 3 instances). Rounded, every host writes the same MILP (a value
# within an ulp of a rounding midpoint, ~2e-7 odds each, aside): both hosts print disagg, and every docs
# region the same. The change (<= 5e-10 relative) is far inside the verifier's flow tolerance (1e-6).
COEFFICIENT_DIGITS = 9


def stable(values: np.ndarray) -> list[float]:
    """``values`` rounded to ``COEFFICIENT_DIGITS`` significant digits, as Python floats: decimal rounding by
    the correctly rounded ``format``, the same on every host."""
    return [float(f"{x:.{COEFFICIENT_DIGITS}g}") for x in values.tolist()]


@dataclass
class Milp:
    """A built fleet MILP, its variables and its objective expressions."""

    problem: pulp.LpProblem
    n: list
    flows: dict[tuple[int, int, int, int], object]
    served: dict[int, object]
    expressions: dict[str, object]
    objective: str
    columns: Columns
    source: FleetProblem | None = None  # what it was built from, when rows were left out (``reduce``)


def flow_name(p: FleetProblem, m: int, q: int, a: int, b: int) -> str:
    """Deterministic name of a KV flow variable."""
    return f"kv__{p.models[m].label}__{MODE_NAMES[q]}__{p.kinds[a].label}__to__{p.kinds[b].label}"


def build(p: FleetProblem, reduce: bool = True) -> Milp:
    """Build the MILP of ``p`` for ``p.objective``.

    ``reduce`` leaves out the rows that cannot bind and, maximising without shares, the ``served``
    variables (module docstring); ``reduce=False`` keeps them all (tests use it to show that the
    reduced MILP has the same optimum). Sums are written term by term in column order (``_terms``).
    """
    c = p.columns
    maximise = p.objective == "max_tps"
    prob = pulp.LpProblem(f"rackplan_fleet_{p.objective}", pulp.LpMaximize if maximise else pulp.LpMinimize)
    cols = range(len(c))
    n = [prob.add_variable(f"n__{c.names[i]}", lowBound=0, upBound=int(c.max_instances[i]), cat=pulp.LpInteger)
         for i in cols]
    gpus_of, rate_of = c.gpus.tolist(), stable(c.rate)

    flows: dict[tuple[int, int, int, int], object] = {}
    for m, q in p.commodities():
        for a in p.flow_kinds(m, q, PREFILL):
            for b in p.flow_kinds(m, q, DECODE):
                flows[(m, q, a, b)] = prob.add_variable(flow_name(p, m, q, a, b), lowBound=0)

    for k, kind in enumerate(p.kinds):
        for s in p.binding_packing_sizes(k) if reduce else p.packing_sizes(k):
            sel = np.flatnonzero((c.kind == k) & (c.gpus >= s)).tolist()
            prob += (_terms(n, sel, gpus_of) <= s * kind.slots(s), f"packing__{kind.label}__g{s}")

    for m, q in p.commodities():
        md, label = p.models[m], f"{p.models[m].label}__{MODE_NAMES[q]}"
        for role, tokens, cap in ((PREFILL, md.isl, "prefill_capacity"), (DECODE, md.osl, "decode_capacity")):
            for k in p.flow_kinds(m, q, role):
                sel = np.flatnonzero((c.model == m) & (c.kv_quant == q) & (c.role == role) & (c.kind == k)).tolist()
                through = [f for key, f in flows.items()
                           if key[:2] == (m, q) and (key[2] if role == PREFILL else key[3]) == k]
                row = _expression([(f, tokens) for f in through] + [(n[i], -rate_of[i]) for i in sel])
                prob += (row <= 0, f"{cap}__{label}__{p.kinds[k].label}")

    served: dict[int, object] = {}
    shares = maximise and p.models[0].share is not None
    total = prob.add_variable("total", lowBound=0) if shares else None
    with_served = shares or (maximise and not reduce)
    outputs = []
    for m, md in enumerate(p.models):
        agg = np.flatnonzero((c.model == m) & (c.role == AGG)).tolist()
        osl = md.osl or 0
        output = _expression([(n[i], rate_of[i]) for i in agg] + [(f, osl) for key, f in flows.items() if key[0] == m])
        outputs.append(output)
        if with_served:
            served[m] = prob.add_variable(f"served__{md.label}", lowBound=0)
            prob += served[m] - output <= 0, f"served__{md.label}"
            if md.target_tps:
                prob += served[m] >= float(md.target_tps), f"target__{md.label}"
            if shares:
                prob += served[m] - float(md.share) * total == 0, f"share__{md.label}"
        elif md.target_tps:  # minimising: the target; maximising without shares: the floor on the output
            prob += output >= float(md.target_tps), f"target__{md.label}"

    _fabric(prob, p, n, flows, reduce)
    gpus = _terms(n, cols, gpus_of)
    power = _terms(n, cols, p.power_w().tolist())
    price = _terms(n, cols, p.cost_per_hour().tolist())
    # A budget the whole fleet cannot exceed (every GPU the columns can take, at its kind's watts or
    # price) cannot bind: its row is left out.
    most_gpus = [p.most_gpus(k) for k in range(len(p.kinds))]
    fleet_power = float(np.dot(most_gpus, [k.power_w_per_gpu for k in p.kinds]))
    fleet_price = float(np.dot(most_gpus, [k.price_per_gpu_hour or 0.0 for k in p.kinds]))
    if p.max_power_w is not None and (not reduce or fleet_power > p.max_power_w):
        prob += power <= float(p.max_power_w), "power_budget"
    if p.max_cost_per_hour is not None and (not reduce or fleet_price > p.max_cost_per_hour):
        prob += price <= float(p.max_cost_per_hour), "cost_budget"
    if shares:
        tps = 1.0 * total
    elif served:
        tps = pulp.lpSum(float(p.models[m].weight) * v for m, v in served.items())
    else:  # a model is served its whole output (weights are positive): the objective takes it directly
        tps = pulp.lpSum(float(md.weight) * outputs[m] for m, md in enumerate(p.models))
    expressions = {"min_gpus": gpus, "min_cost": price, "min_power": power, "max_tps": tps}
    prob.setObjective(expressions[p.objective])
    return Milp(prob, n, flows, served, expressions, p.objective, c, p if reduce else None)


def _expression(terms: list) -> pulp.LpAffineExpression:
    """``sum coefficient x variable`` over ``terms`` (pairs, no variable twice), built at once, in that order and
    without the zero terms, as ``lpSum`` of the products builds it (one expression per term): the same rows reach
    the solver, built in a third of the time."""
    return pulp.LpAffineExpression([(v, x) for v, x in terms if x != 0])


def _terms(n: list, index, coefficients: list) -> pulp.LpAffineExpression:
    """``sum coefficients[i] x n[i]`` over ``index`` (``_expression``)."""
    return _expression([(n[i], coefficients[i]) for i in index])


def _fabric(prob: pulp.LpProblem, p: FleetProblem, n: list, flows: dict, reduce: bool) -> None:
    c = p.columns
    unit = FABRIC_UNIT_BYTES_PER_S
    sent, received = kv_bytes_per_instance(p)
    kv = {key: p.models[key[0]].kv_bytes_per_request[key[1]] / unit for key in flows}
    inst = [stable(c.fabric_load[t] / unit) for t in range(3)]  # every column's load per tier, in units
    for k, kind in enumerate(p.kinds):
        cap = kind.fabric_capacity_bytes_per_s / unit
        on = np.flatnonzero(c.kind == k).tolist()
        same = [(f, kv[key]) for key, f in flows.items() if key[2] == k and key[3] == k]
        out = [(f, kv[key]) for key, f in flows.items() if key[2] == k and key[3] != k]
        into = [(f, kv[key]) for key, f in flows.items() if key[3] == k and key[2] != k]
        has_load = [bool(np.any(c.fabric_load[t, on] > 0)) if on else False for t in range(3)]
        if (same or has_load[1]) and (not reduce or _can_fill(p, k, 1, sent)):
            prob += (_expression([(n[i], inst[1][i]) for i in on] + same) <= float(cap[1]),
                     f"fabric_inter_server__{kind.label}")
        if (out or has_load[2]) and (not reduce or _can_fill(p, k, 2, sent)):
            prob += (_expression([(n[i], inst[2][i]) for i in on] + out) <= float(cap[2]),
                     f"fabric_inter_rack_out__{kind.label}")
        if (into or has_load[2]) and (not reduce or _can_fill(p, k, 2, received)):
            prob += (_expression([(n[i], inst[2][i]) for i in on] + into) <= float(cap[2]),
                     f"fabric_inter_rack_in__{kind.label}")


def _can_fill(p: FleetProblem, k: int, tier: int, kv_per_instance: np.ndarray) -> bool:
    """Whether a fabric row of kind ``k`` on ``tier`` can bind. Its left side is at most every GPU the
    columns can take (``FleetProblem.most_gpus``) at the highest per-GPU load plus KV bytes of any column
    (a pool hands over no more KV than its capacity serves: ``kv_bytes_per_instance``); when even that
    fits the links the row holds for every count vector and is left out."""
    c = p.columns
    on = np.flatnonzero(c.kind == k)
    if on.size == 0:
        return False
    per_gpu = (c.fabric_load[tier, on] + kv_per_instance[on]) / c.gpus[on]
    return float(per_gpu.max()) * p.most_gpus(k) > p.kinds[k].fabric_capacity_bytes_per_s[tier]


def kv_bytes_per_instance(p: FleetProblem) -> tuple[np.ndarray, np.ndarray]:
    """KV bytes/s one instance of each column can hand over at most: a prefill column its prompt tokens/s
    over ``isl`` requests/s, a decode column its output tokens/s over ``osl``, times the bytes of a request
    in its KV format (0 for other columns): (sent, received)."""
    c = p.columns
    sent, received = np.zeros(len(c)), np.zeros(len(c))
    for i in range(len(c)):
        md = p.models[int(c.model[i])]
        per_request = md.kv_bytes_per_request.get(int(c.kv_quant[i]), 0.0)
        if c.role[i] == PREFILL:
            sent[i] = c.rate[i] / md.isl * per_request
        elif c.role[i] == DECODE:
            received[i] = c.rate[i] / md.osl * per_request
    return sent, received
