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
The built model is a ``planner.milp.choice.Model`` whose instance variables are the ``y_c``
themselves (one job), so ``planner.milp.solve.solve`` runs it as it runs serving's; the rows
shared with serving are written once, in ``planner.milp.choice``.
"""

from __future__ import annotations

import numpy as np

from planner.milp.choice import GB, Budgets, Model, add_budgets, add_objective, add_per_choice, choose_one
from planner.training.workload import PRECISIONS, RECOMPUTE_MODES, TrainingPlanArrays
from specbase.record import record

OBJECTIVES = ("max_tokens_per_s", "min_gpus")


def candidate_name(plans: TrainingPlanArrays, i: int) -> str:
    """Deterministic ``[a-z0-9_]`` name of row ``i``, e.g. ``tp8_pp16_v4_cp1_ep1_dp128_mb1_full_z1_bf16``."""
    return (f"tp{plans.tp[i]}_pp{plans.pp[i]}_v{plans.vpp[i]}_cp{plans.cp[i]}_ep{plans.ep[i]}_dp{plans.dp[i]}_"
            f"mb{plans.micro_batch[i]}_{RECOMPUTE_MODES[plans.recompute[i]]}_z{plans.zero[i]}_"
            f"{PRECISIONS[plans.precision[i]]}")


@record
class TrainingCoefficients:
    """Everything the MILP needs, one entry per column (numpy, from the evaluator)."""

    names: list[str]
    gpus: np.ndarray            # G_c
    tokens_per_s: np.ndarray    # T_c
    power_w: np.ndarray         # P_c
    fabric_load: np.ndarray     # (3, columns) bytes/s the job puts on each tier
    memory_bytes: np.ndarray    # M_c, per GPU


@record(kw_only=True)
class TrainingLimits(Budgets):
    """Right-hand sides: the shared budgets plus the throughput target (min-GPUs, or a deadline)."""

    target_tokens_per_s: float | None = None


def build(coef: TrainingCoefficients, lim: TrainingLimits, objective: str) -> Model:
    """Build the training MILP for ``objective`` (one of ``OBJECTIVES``)."""
    maximise = objective == "max_tokens_per_s"
    model = choose_one(f"rackplan_training_{objective}", maximise, coef.names, objective)
    used = add_budgets(model, coef.gpus, coef.power_w, coef.fabric_load, lim)
    add_per_choice(model, coef.memory_bytes, lim.hbm_bytes, GB, "hbm_capacity")
    return add_objective(model, coef.tokens_per_s, used, maximise, lim.target_tokens_per_s, "target_tokens_per_s", lim)
