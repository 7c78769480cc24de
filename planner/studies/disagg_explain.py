"""Why this disaggregated plan (``rackplan plan --disagg``): the ``explanation`` of an aggregated plan's
report (``planner.search.explain``), for a prefill pool and a decode pool sized together.

Computed, not guessed: the question is solved again with one more rack (``plan``) and with each
latency limit relaxed by 10 %; a limit binds when relaxing it gives more output tokens/s (the GPU
budget: when one more rack does), and those solves are the "what would move it" lines. HBM binds
a pool whose GPUs are at least 99 % full. A disaggregated plan has one answer (no ``--top`` list), so
there is no runner-up; the pools' own step terms are not in the fleet document, so there is no
limiting subsystem either.
"""

from __future__ import annotations

from collections.abc import Callable

from planner.budget import Budget
from planner.serving.candidates import Limits
from planner.units import gb, ms

RELAX = 0.10  # how far a latency limit is relaxed (as planner.search.explain)
HBM_FULL = 0.99  # a pool's HBM binds at this share of the usable capacity
NO_RUNNER_UP = "runner-up: none (a disaggregated plan is one answer; --top lists aggregated plans)"

Again = Callable[..., "dict | None"]  # again(budget=..., limits=...) -> the fleet document, or None if infeasible


def _item(name: str, used, limit, unit: str, binding: bool, text: str) -> dict:
    return {"name": name, "used": used, "limit": limit, "unit": unit, "binding": bool(binding), "text": text}


def _move(doc: dict, what: str, new: dict | None) -> dict:
    if new is None:
        return {"change": what, "total_tps": None, "gpus": None, "text": f"{what}: still nothing feasible"}
    tps, now = doc["totals"]["output_tps"], new["totals"]["output_tps"]
    pools = " + ".join(f"{p['role']} {p['layout']} b{p['plan']['batch']} x{p['instances']}" for p in new["pools"])
    if _pools(new) == _pools(doc):  # solved again, the answer stands (as planner.search.explain says it)
        text = f"{what}: the same plan, no better one"
    elif doc["objective"] == "min_gpus":
        gpus = new["totals"]["gpus"]
        text = f"{what}: {gpus} GPUs ({gpus - doc['totals']['gpus']:+d}) with {pools}"
    else:
        text = f"{what}: {now:,.0f} output tok/s ({(now - tps) / tps:+.1%}) with {pools}"
    return {"change": what, "total_tps": now, "gpus": new["totals"]["gpus"], "text": text}


def _pools(doc: dict) -> list:
    """What a fleet document's answer is: each pool's role, plan and instances."""
    return [(p["role"], p["plan"], p["instances"]) for p in doc["pools"]]


def _better(doc: dict, new: dict | None) -> bool:
    if new is None:
        return False
    if doc["objective"] == "min_gpus":
        return new["totals"]["gpus"] < doc["totals"]["gpus"]
    return new["totals"]["output_tps"] > doc["totals"]["output_tps"] * (1 + 1e-9)


def explain_disagg(doc: dict, budget: Budget, limits: Limits, gpus_per_rack: int, again: Again) -> dict:
    """The ``explanation`` of a ``--disagg`` fleet document (module docstring)."""
    t, m = doc["totals"], doc["models"][0]
    moves, binds = [], {}
    if doc["objective"] == "max_tps":
        more = Budget(gpus=budget.gpus + gpus_per_rack, racks=None if budget.racks is None else budget.racks + 1,
                      max_power_w=budget.max_power_w)
        new = again(budget=more)
        binds["gpu_budget"] = _better(doc, new)
        moves.append(_move(doc, f"one more rack ({more.gpus} GPUs)", new))
    for name, relaxed in (("tpot", Limits(limits.max_tpot_s and limits.max_tpot_s * (1 + RELAX), limits.max_ttft_s)),
                          ("ttft", Limits(limits.max_tpot_s, limits.max_ttft_s and limits.max_ttft_s * (1 + RELAX)))):
        if getattr(limits, f"max_{name}_s") is None:
            continue
        new = again(limits=relaxed)
        binds[name] = _better(doc, new)
        limit = ms(getattr(relaxed, f"max_{name}_s"))
        moves.append(_move(doc, f"{name.upper()} limit relaxed by {RELAX:.0%} to {limit:,.1f} ms", new))
    out = []
    if doc["objective"] == "min_gpus":
        out.append(_item("target", t["output_tps"], m["target_tps"], "tok/s", True,
                         f"target: {t['output_tps']:,.0f} output tok/s reached of {m['target_tps']:,.0f} asked, "
                         f"with {t['gpus']} GPUs"))
    out.append(_item("gpu_budget", t["gpus"], budget.gpus, "GPUs", binds.get("gpu_budget", False),
                     f"GPU budget: {t['gpus']} of {budget.gpus} GPUs in use (prefill and decode pools)"))
    for p in doc["pools"]:
        used, cap = gb(p["memory_per_gpu_bytes"]), gb(p["hbm_capacity_bytes"])
        pool = f"{p['role']} pool {p['layout']} b{p['plan']['batch']}"
        out.append(_item(f"hbm {pool}", used, cap, "GB", used >= HBM_FULL * cap,
                         f"HBM of the {pool}: {used:,.1f} of {cap:,.1f} GB usable per GPU"))
    for name, worst, pool in (("tpot", m["worst_tpot_s"], "decode"), ("ttft", m["worst_ttft_s"], "prefill")):
        limit = getattr(limits, f"max_{name}_s")
        if limit is not None and worst is not None:
            out.append(_item(name, ms(worst), ms(limit), "ms", binds[name],
                             f"{name.upper()} of the {pool} pool: {ms(worst):,.1f} of {ms(limit):,.1f} ms"))
    return {"binding": out, "limiting_subsystem": None, "runner_up": None, "no_runner_up": NO_RUNNER_UP,
            "what_would_move_it": moves}
