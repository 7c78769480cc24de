"""The training MILP: choose one job layout (including its data-parallel degree).

Numpy computes, PuLP selects: every coefficient comes from the scored candidate table.

A training job is one job, so unlike serving there is no instance count to choose: each
column ``c`` is a complete layout (tp, pp, vpp, cp, ep, dp, micro-batch, recomputation, ZeRO
stage, precision) and the job's throughput is not linear in dp (the micro-batch count, hence
the pipeline bubble, and the data-parallel traffic change with it), so dp is enumerated in the
columns rather than multiplied by an integer variable. Variables:

* ``y_c`` binary: the job uses layout ``c``.

Constraints (names are the report's vocabulary; ``planner.verify.training`` re-checks the same):

* ``choose_one``: ``sum_c y_c = 1``.
* ``gpu_budget``: ``sum_c G_c y_c <= GPUs``; ``power_budget``: ``sum_c P_c y_c <= max W``.
* ``fabric_inter_server``, ``fabric_inter_rack``: the job's load on those tiers within the
  budget's links (rows in GB/s).
* ``hbm_capacity``: ``sum_c M_c y_c <= usable HBM`` (memory per GPU on the fuller stage, in GB).
* ``target_tokens_per_s``: ``sum_c T_c y_c >= target`` (min-GPUs, or a deadline).
* min-GPUs only: ``racks_used``: ``GPUs_per_rack * r >= sum_c G_c y_c``.

Objectives: ``max_tokens_per_s`` maximises ``sum_c T_c y_c``; ``min_gpus`` minimises
``sum_c G_c y_c + eps * r`` with ``eps < 1 / (max racks + 1)``: fewest GPUs, then fewest racks.
The built model is a ``planner.milp.serving.Model`` whose instance variables are the ``y_c``
themselves (one job), so ``planner.milp.solve.solve`` runs it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pulp

from hardware.specs import TIERS
from planner.milp.serving import Model
from planner.training.workload import PRECISIONS, RECOMPUTE_MODES, TrainingPlanArrays

OBJECTIVES = ("max_tokens_per_s", "min_gpus")
# HiGHS rejects matrix coefficients of 1e15 or more (its large_matrix_value option), and a large
# job's fabric load passes 1e15 bytes/s: fabric rows are written in GB/s and the HBM row in GB.
FABRIC_ROW_UNIT_BYTES_PER_S = 1e9
HBM_ROW_UNIT_BYTES = 1e9


def candidate_name(plans: TrainingPlanArrays, i: int) -> str:
    """Deterministic ``[a-z0-9_]`` name of row ``i``, e.g. ``tp8_pp16_v4_cp1_ep1_dp128_mb1_full_z1_bf16``."""
    return (f"tp{plans.tp[i]}_pp{plans.pp[i]}_v{plans.vpp[i]}_cp{plans.cp[i]}_ep{plans.ep[i]}_dp{plans.dp[i]}_"
            f"mb{plans.micro_batch[i]}_{RECOMPUTE_MODES[plans.recompute[i]]}_z{plans.zero[i]}_"
            f"{PRECISIONS[plans.precision[i]]}")


@dataclass(frozen=True)
class TrainingCoefficients:
    """Everything the MILP needs, one entry per column (numpy, from the evaluator)."""

    names: list[str]
    gpus: np.ndarray            # G_c
    tokens_per_s: np.ndarray    # T_c
    power_w: np.ndarray         # P_c
    fabric_load: np.ndarray     # (3, columns) bytes/s the job puts on each tier
    memory_bytes: np.ndarray    # M_c, per GPU


@dataclass(frozen=True)
class TrainingLimits:
    """Right-hand sides."""

    gpus: int
    power_w: float | None
    fabric_capacity: np.ndarray  # (3,)
    hbm_bytes: float
    target_tokens_per_s: float | None = None
    gpus_per_rack: int = 1


def build(coef: TrainingCoefficients, lim: TrainingLimits, objective: str) -> Model:
    """Build the training MILP for ``objective`` (one of ``OBJECTIVES``)."""
    sense = pulp.LpMaximize if objective == "max_tokens_per_s" else pulp.LpMinimize
    prob = pulp.LpProblem(f"rackplan_training_{objective}", sense)
    cols = range(len(coef.names))
    y = [prob.add_variable(f"y__{coef.names[i]}", cat=pulp.LpBinary) for i in cols]
    prob += pulp.lpSum(y) == 1, "choose_one"
    used = pulp.lpSum(int(coef.gpus[i]) * y[i] for i in cols)
    prob += used <= lim.gpus, "gpu_budget"
    if lim.power_w is not None:
        prob += pulp.lpSum(float(coef.power_w[i]) * y[i] for i in cols) <= lim.power_w, "power_budget"
    for t in (1, 2):
        loads = coef.fabric_load[t]
        if np.any(loads > 0):
            unit = FABRIC_ROW_UNIT_BYTES_PER_S
            prob += (pulp.lpSum(float(loads[i]) / unit * y[i] for i in cols) <= float(lim.fabric_capacity[t]) / unit,
                     f"fabric_{TIERS[t]}")
    prob += (pulp.lpSum(float(coef.memory_bytes[i]) / HBM_ROW_UNIT_BYTES * y[i] for i in cols)
             <= lim.hbm_bytes / HBM_ROW_UNIT_BYTES, "hbm_capacity")
    throughput = pulp.lpSum(float(coef.tokens_per_s[i]) * y[i] for i in cols)
    if lim.target_tokens_per_s is not None:
        prob += throughput >= float(lim.target_tokens_per_s), "target_tokens_per_s"
    racks = None
    if objective == "max_tokens_per_s":
        prob += throughput
    else:
        max_racks = -(-lim.gpus // lim.gpus_per_rack)
        racks = prob.add_variable("racks_used", lowBound=0, upBound=max_racks, cat=pulp.LpInteger)
        prob += lim.gpus_per_rack * racks - used >= 0, "racks_used"
        prob += used + racks * (1.0 / (max_racks + 1))
    return Model(prob, y, y, racks, objective)
