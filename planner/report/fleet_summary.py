"""Fleet results as plain dicts: the JSON document and the rows the fleet tables print.

Efficiency figures count output (generated) tokens, over the GPUs in use:

* ``tokens_per_joule`` = output tokens/s / watts;
* ``tok_per_s_per_mw`` = output tokens/s per megawatt of GPU power;
* ``cost_per_million_tokens`` = price per hour / (output tokens/s x 3600 s) x 1e6
  (``None`` where a kind in use has no price).
"""

from __future__ import annotations

import dataclasses

from hardware.specs import TIERS
from planner.budget import footprint
from planner.fleet.optimise import FleetResult
from planner.fleet.question import label_of
from planner.milp.fleet_problem import AGG, PREFILL, ROLES
from planner.quant import MODE_NAMES
from planner.units import MEGA, gb, kw

SECONDS_PER_HOUR = 3600.0


def efficiency(output_tps: float, power_w: float, cost_per_hour: float | None) -> dict:
    """Tokens per joule, tokens/s per MW and cost per million tokens (module docstring)."""
    return {
        "tokens_per_joule": output_tps / power_w if power_w > 0 else None,
        "tok_per_s_per_mw": output_tps / (power_w / MEGA) if power_w > 0 else None,
        "cost_per_million_tokens": (cost_per_hour / (output_tps * SECONDS_PER_HOUR) * MEGA
                                    if cost_per_hour is not None and output_tps > 0 else None),
    }


def _priced(result: FleetResult, kinds: set[int]) -> bool:
    return all(result.fleet.kinds[k].price_per_gpu_hour is not None for k in kinds)


def shown(entry) -> str:
    """The name a report prints for a fleet model or hardware kind, never the constraint label
    (``qwen3_235b_a22b``): a model's label or name as the file or the command line wrote it
    (``Qwen/Qwen3-235B-A22B`` stays so); a kind's label the file gave it, else its system's name."""
    if hasattr(entry, "spec"):  # a model: as the file or the command line wrote it
        return entry.shown
    own = entry.hardware.system.name
    return own if label_of(own) == entry.label else entry.label


def pool_rows(result: FleetResult) -> list[dict]:
    """One row per pool: layout, instances, GPUs, per-instance rate, latency, memory, power, price."""
    fleet, v = result.fleet, result.verified
    rows = []
    for p in v.pools:
        plan = p.plan
        k = fleet.kinds[p.kind]
        rows.append({
            "model": shown(fleet.models[p.model]), "kind": shown(k), "system": k.hardware.system.name,
            "role": ROLES[p.role], "layout": plan.layout(), "plan": plan.as_dict(),
            "instances": plan.instances, "gpus": plan.gpus,
            "rate_kind": "prompt" if p.role == PREFILL else "output",
            "instance_tok_per_s": p.rate, "pool_tok_per_s": p.rate * plan.instances,
            "tpot_s": p.tpot_s, "ttft_s": p.ttft_s,
            "memory_per_gpu_bytes": p.memory_per_gpu_bytes, "hbm_capacity_bytes": p.hbm_capacity_bytes,
            "fabric_load_gb_per_s": {TIERS[t]: gb(float(p.fabric_bytes_per_s[t]) * plan.instances)
                                     for t in range(3)},
            "power_kw": kw(p.power_w * plan.instances),
            "cost_per_hour": p.cost_per_hour * plan.instances if k.price_per_gpu_hour is not None else None,
            "outside_measured_range": None if p.outside_measured_range is None else list(p.outside_measured_range),
        })
    return rows


def model_rows(result: FleetResult) -> list[dict]:
    """One row per model: demand, what the plan serves, its pools' GPUs, power, price and efficiency."""
    fleet, v = result.fleet, result.verified
    rows = []
    for mi, m in enumerate(fleet.models):
        pools = [p for p in v.pools if p.model == mi]
        roles = {p.role for p in pools}
        serving = ("agg+disagg" if AGG in roles and roles - {AGG} else "disagg" if roles - {AGG}
                   else "agg" if roles else "-")
        power = sum(p.power_w * p.plan.instances for p in pools)
        priced = _priced(result, {p.kind for p in pools})
        cost = sum(p.cost_per_hour * p.plan.instances for p in pools) if priced else None
        tpots = [p.tpot_s for p in pools if p.tpot_s is not None]
        ttfts = [p.ttft_s for p in pools if p.ttft_s is not None]
        out = float(v.output_tps[mi])
        w = m.workload
        rows.append({
            "model": shown(m), "name": m.spec.name, "workload": dataclasses.asdict(w), "workload_label": w.label(),
            "serving_allowed": m.serving, "serving": serving, "target_tps": m.target_tps, "share": m.share,
            "weight": m.weight, "output_tps": out, "capacity_tps": float(v.capacity_tps[mi]),
            "gpus": sum(p.plan.gpus for p in pools),
            "power_kw": kw(power), "cost_per_hour": cost,
            "max_tpot_s": m.limits.max_tpot_s, "max_ttft_s": m.limits.max_ttft_s,
            "worst_tpot_s": max(tpots) if tpots else None, "worst_ttft_s": max(ttfts) if ttfts else None,
            **efficiency(out, power, cost),
        })
    return rows


def kind_rows(result: FleetResult) -> list[dict]:
    """One row per hardware kind: GPUs held and used, power and price per GPU."""
    fleet, v = result.fleet, result.verified
    rows = []
    for ki, k in enumerate(fleet.kinds):
        used = sum(p.plan.gpus for p in v.pools if p.kind == ki)
        rows.append({"kind": shown(k), "system": k.hardware.system.name, "gpu": k.hardware.gpu.name,
                     "gpus": k.gpus, "gpus_used": used, "domain_gpus": k.hardware.scale_up_domain_gpus,
                     "power_w_per_gpu": k.power_w_per_gpu, "price_per_gpu_hour": k.price_per_gpu_hour,
                     "fabrics": {t: k.hardware.fabrics[t].name for t in TIERS},
                     "footprint": footprint(k.hardware, used, k.power_w_per_gpu)})
    return rows


def kv_rows(result: FleetResult) -> list[dict]:
    """One row per KV hand-off route: requests/s, bytes per request, GB/s and the tier charged."""
    fleet = result.fleet
    rows = []
    for f in result.verified.flows:
        a, b = fleet.kinds[f.source], fleet.kinds[f.target]
        if f.source == f.target:
            tier = f"inter_server ({a.hardware.fabrics['inter_server'].name})"
        else:
            tier = (f"inter_rack ({a.hardware.fabrics['inter_rack'].name} -> "
                    f"{b.hardware.fabrics['inter_rack'].name})")
        rows.append({"model": shown(fleet.models[f.model]), "kv_quant": MODE_NAMES[f.kv_quant],
                     "from": shown(a), "to": shown(b), "tier": tier, "requests_per_s": f.requests_per_s,
                     "bytes_per_request": f.bytes_per_request, "gb_per_s": gb(f.bytes_per_s)})
    return rows


def fabric_rows(result: FleetResult) -> list[dict]:
    """Every kind's inter-server and inter-rack load (instances plus KV) against its capacity."""
    rows, names = [], {k.label: shown(k) for k in result.fleet.kinds}
    for r in result.verified.fabric:
        if r["load_bytes_per_s"] <= 0:
            continue
        rows.append({"kind": names[r["kind"]], "tier": r["tier"] + (f" {r['direction']}" if r["direction"] else ""),
                     "fabric": r["fabric"], "load_gb_per_s": gb(r["load_bytes_per_s"]),
                     "kv_gb_per_s": gb(r["kv_bytes_per_s"]), "capacity_gb_per_s": gb(r["capacity_bytes_per_s"]),
                     "utilisation": r["load_bytes_per_s"] / r["capacity_bytes_per_s"]})
    return rows


def fleet_document(result: FleetResult) -> dict:
    """The JSON document of ``rackplan fleet`` and ``rackplan plan --disagg``."""
    fleet, v, sol = result.fleet, result.verified, result.solution
    power = sum(p.power_w * p.plan.instances for p in v.pools)
    priced = _priced(result, {p.kind for p in v.pools})
    cost = sum(p.cost_per_hour * p.plan.instances for p in v.pools) if priced else None
    output = float(v.output_tps.sum())
    return {
        "objective": fleet.objective, "objective_value": v.objective_value, "tiebreak": sol.tiebreak,
        "tiebreak_proven": sol.tiebreak_proven,
        "solver": sol.solver, "solve_time_s": sol.solve_time_s, "table_time_s": result.table_time_s,
        "verify_time_s": result.verify_time_s, "wall_time_s": result.wall_time_s,
        "engine": fleet.profile.name,
        "disagg_decode_error_pct": fleet.profile.disagg_decode_error(),
        "limits": {"max_power_kw": None if fleet.max_power_w is None else kw(fleet.max_power_w),
                   "max_cost_per_hour": fleet.max_cost_per_hour},
        "totals": {"gpus": sum(p.plan.gpus for p in v.pools), "gpus_held": fleet.gpus, "power_kw": kw(power),
                   "cost_per_hour": cost, "output_tps": output, **efficiency(output, power, cost)},
        "kinds": kind_rows(result),
        "models": model_rows(result),
        "pools": pool_rows(result),
        "kv_transfer": kv_rows(result),
        "fabric": fabric_rows(result),
        "candidates": {"tables": result.counts, "milp_columns": len(result.problem.columns)},
        "verification": v.verdict.as_dict(),
    }


def disagg_choice_row(result: FleetResult) -> dict:
    """A disaggregated plan in the keys of ``summary.choice_row`` (the compare table's row).

    ``plan``, ``instance_tps``, ``tok_per_user`` and ``limit`` describe the decode pool (its
    layout prints in the plan columns); ``layout`` names both pools; ``gpus`` and
    ``total_tps`` cover both; ``ttft_s`` is the prefill pool's.
    """
    doc = fleet_document(result)
    pools = doc["pools"]
    decode = [p for p in pools if p["role"] == "decode"]
    prefill = [p for p in pools if p["role"] == "prefill"]
    main = max(decode, key=lambda p: p["pool_tok_per_s"]) if decode else pools[0]
    gpus = doc["totals"]["gpus"]
    total = doc["totals"]["output_tps"]
    layout = " + ".join(f"{p['role'][0].upper()} {p['layout']} b{p['plan']['batch']} x{p['instances']}"
                        for p in prefill + decode)
    return {
        "plan": main["plan"], "layout": layout, "gpus": gpus, "total_tps": total,
        "tok_per_gpu": total / gpus if gpus else 0.0, "instance_tps": main["instance_tok_per_s"],
        "tok_per_user": 1.0 / main["tpot_s"] if main.get("tpot_s") else None,
        "tpot_s": main.get("tpot_s"), "ttft_s": max((p["ttft_s"] for p in prefill), default=None),
        "limit": None, "bounds_tok_per_gpu": {}, "fabric_load_gb_per_s": {
            t: sum(p["fabric_load_gb_per_s"][t] for p in pools) for t in TIERS},
        "feasible": True, "power_kw": doc["totals"]["power_kw"], "pools": pools, "kv_transfer": doc["kv_transfer"],
        "verification": doc["verification"],
    }
