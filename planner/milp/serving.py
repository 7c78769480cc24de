"""The mixed-integer program: choose one candidate layout and how many instances of it.

Numpy computes, PuLP selects: every coefficient comes from the candidate table (the
evaluator's numbers); no roofline term is built here.

Variables, per candidate ``c`` (a layout, batch, quantisation and offload level):

* ``y_c`` binary: the plan uses layout ``c``;
* ``n_c`` integer: instances of ``c``.

Constraints (names are the report's vocabulary; the verifier speaks of the same names):

* ``choose_one``: ``sum_c y_c = 1``.
* ``instances_min__c``: ``n_c >= y_c``; ``packing__c``: ``n_c <= U_c y_c`` where ``U_c`` is the
  packing bound of ``planner.budget.max_instances`` (the big-M, from data).
* ``gpu_budget``: ``sum_c G_c n_c <= GPUs``; ``power_budget``: ``sum_c P_c n_c <= max W``.
* ``fabric_inter_server``, ``fabric_inter_rack``: summed instance load on those tiers within
  their links' capacity (GB/s).
* ``hbm_capacity``, ``host_memory``, ``tpot_limit``, ``ttft_limit``: ``sum_c a_c y_c <= limit``
  with ``a_c`` the candidate's memory per GPU, offloaded KV per GPU, TPOT, TTFT.
* min-GPUs only: ``target_tps``: ``sum_c TPS_c n_c >= T`` and ``racks_used``:
  ``GPUs_per_rack * r >= sum_c G_c n_c``.

Objectives: ``max_tps`` maximises ``sum_c TPS_c n_c``; ``min_gpus`` minimises
``sum_c G_c n_c + eps * r`` with ``eps < 1 / (max racks + 1)``, i.e. fewest GPUs, then fewest racks.
The rows shared with training are written once, in ``planner.milp.choice``.
"""

from __future__ import annotations

import numpy as np

from planner import quant
from planner.milp.choice import GB, Budgets, Model, add_budgets, add_objective, add_per_choice, choose_one
from planner.serving.plan import PlanArrays
from specbase.record import record

OBJECTIVES = ("max_tps", "min_gpus")
# Row scaling: HiGHS rejects matrix entries of 1e15 or more, and well-scaled rows solve
# more reliably, so bytes enter as GB, bytes/s as GB/s and seconds as milliseconds.
MS = 1e-3


def candidate_name(plans: PlanArrays, i: int) -> str:
    """Deterministic ``[a-z0-9_]`` name of candidate ``i``, e.g. ``tp4_pp1_ep4_dp1_b64_fp8_kvfp8_off0``."""
    off = int(round(float(plans.kv_offload_fraction[i]) * 100))
    return (f"tp{plans.tp[i]}_pp{plans.pp[i]}_ep{plans.ep[i]}_dp{plans.dp[i]}_b{plans.batch[i]}_"
            f"{quant.MODE_NAMES[plans.quant[i]]}_kv{quant.MODE_NAMES[plans.kv_quant[i]]}_off{off}")


@record
class Coefficients:
    """Everything the MILP needs, one entry per candidate (numpy, from the evaluator)."""

    names: list[str]
    gpus: np.ndarray            # G_c, GPUs per instance
    tps: np.ndarray             # instance tokens/s
    power_w: np.ndarray         # board power per instance
    max_instances: np.ndarray   # U_c
    fabric_load: np.ndarray     # (3, rows) bytes/s per instance per tier
    memory_bytes: np.ndarray
    kv_offloaded_bytes: np.ndarray
    tpot_s: np.ndarray
    ttft_s: np.ndarray | None


@record(kw_only=True)
class Limits(Budgets):
    """Right-hand sides: the shared budgets plus host memory, latency limits and the min-GPUs target."""

    host_bytes: float
    max_tpot_s: float | None
    max_ttft_s: float | None
    target_tps: float | None = None


def build(coef: Coefficients, lim: Limits, objective: str) -> Model:
    """Build the MILP for ``objective`` (one of ``OBJECTIVES``)."""
    maximise = objective == "max_tps"
    model = choose_one(f"rackplan_{objective}", maximise, coef.names, objective, coef.max_instances)
    used = add_budgets(model, coef.gpus, coef.power_w, coef.fabric_load, lim)
    add_per_choice(model, coef.memory_bytes, lim.hbm_bytes, GB, "hbm_capacity")
    add_per_choice(model, coef.kv_offloaded_bytes, lim.host_bytes, GB, "host_memory")
    if lim.max_tpot_s is not None:
        add_per_choice(model, coef.tpot_s, lim.max_tpot_s, MS, "tpot_limit")
    if lim.max_ttft_s is not None and coef.ttft_s is not None:
        add_per_choice(model, coef.ttft_s, lim.max_ttft_s, MS, "ttft_limit")
    return add_objective(model, coef.tps, used, maximise, None if maximise else lim.target_tps, "target_tps", lim)
