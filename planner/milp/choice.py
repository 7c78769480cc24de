"""The choose-one MILP shared by serving and training: pick one column, size it, within the budgets.

Each column ``c`` is a candidate the evaluator scored; ``y_c`` (binary) says the plan uses it.
Serving also sizes the choice with ``n_c`` integer instances (``n_c >= y_c``, ``n_c <= U_c y_c``,
``U_c`` the packing bound); a training job is one job, so there ``n_c`` is ``y_c`` itself. The
rows both share are written here once, in the order both formulations list them:

* ``choose_one``: ``sum_c y_c = 1``;
* ``gpu_budget``: ``sum_c G_c n_c <= GPUs``; ``power_budget``: ``sum_c P_c n_c <= max W``;
* ``fabric_inter_server``, ``fabric_inter_rack``: summed load within the links, in GB/s;
* per-choice limits ``sum_c a_c y_c <= limit`` (memory, latency), in a unit that keeps them near 1;
* the throughput floor and, when minimising GPUs, ``racks_used``: ``GPUs_per_rack * r >= sum_c G_c n_c``
  with the objective ``sum_c G_c n_c + eps * r``, ``eps < 1 / (max racks + 1)``: fewest GPUs,
  then fewest racks.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pulp

from hardware.specs import TIERS
from planner.units import GIGA
from specbase.record import record

# HiGHS rejects matrix coefficients of 1e15 or more (its large_matrix_value option), and a large
# job's fabric load passes 1e15 bytes/s: fabric rows are written in GB/s, memory rows in GB.
GB = GIGA


@record
class Budgets:
    """The right-hand sides every choose-one MILP has (the formulations add their own)."""

    gpus: int
    power_w: float | None
    fabric_capacity: np.ndarray  # (3,) bytes/s per tier
    hbm_bytes: float
    gpus_per_rack: int = 1


@record
class Model:
    """A built choose-one PuLP problem and its variables (``n`` is ``y`` when nothing is sized); a record, not a
    generated dataclass (~0.5-0.9 ms of every command that plans, to compile its methods)."""

    problem: pulp.LpProblem
    y: list
    n: list
    racks: object | None
    objective: str


def choose_one(name: str, maximise: bool, names: list[str], objective: str,
               max_instances: np.ndarray | None = None) -> Model:
    """A problem with one ``y`` per column, ``choose_one``, and instance counts when ``max_instances`` is given."""
    prob = pulp.LpProblem(name, pulp.LpMaximize if maximise else pulp.LpMinimize)
    cols = range(len(names))
    y = [prob.add_variable(f"y__{names[i]}", cat=pulp.LpBinary) for i in cols]
    n = y
    if max_instances is not None:
        n = [prob.add_variable(f"n__{names[i]}", lowBound=0, upBound=int(max_instances[i]), cat=pulp.LpInteger)
             for i in cols]
    prob += pulp.lpSum(y) == 1, "choose_one"
    if max_instances is not None:
        for i in cols:
            prob += n[i] - y[i] >= 0, f"instances_min__{names[i]}"
            prob += n[i] - int(max_instances[i]) * y[i] <= 0, f"packing__{names[i]}"
    return Model(prob, y, n, None, objective)


def add_budgets(model: Model, gpus: np.ndarray, power_w: np.ndarray, fabric_load: np.ndarray, lim: Budgets):
    """The GPU, power and fabric rows over the instances; returns the GPUs-used expression."""
    prob, n = model.problem, model.n
    cols = range(len(n))
    used = pulp.lpSum(int(gpus[i]) * n[i] for i in cols)
    prob += used <= lim.gpus, "gpu_budget"
    if lim.power_w is not None:
        prob += pulp.lpSum(float(power_w[i]) * n[i] for i in cols) <= lim.power_w, "power_budget"
    for t in (1, 2):
        loads = fabric_load[t]
        if np.any(loads > 0):
            prob += (pulp.lpSum(float(loads[i] / GB) * n[i] for i in cols) <= float(lim.fabric_capacity[t] / GB),
                     f"fabric_{TIERS[t]}")
    return used


def add_per_choice(model: Model, values: np.ndarray, limit: float, unit: float, name: str) -> None:
    """The row ``sum_c values_c y_c <= limit``, both sides divided by ``unit``."""
    y = model.y
    prob = model.problem  # the problem object grows in place (the record holds it, frozen)
    prob += pulp.lpSum(float(values[i] / unit) * y[i] for i in range(len(y))) <= limit / unit, name


def add_objective(model: Model, rate: np.ndarray, used, maximise: bool, target: float | None, target_name: str,
                  lim: Budgets) -> Model:
    """The throughput floor (when ``target`` is given) and the objective: throughput, or fewest GPUs then racks."""
    prob = model.problem
    throughput = pulp.lpSum(float(rate[i]) * model.n[i] for i in range(len(model.n)))
    if target is not None:
        prob += throughput >= float(target), target_name
    if maximise:
        prob += throughput
        return model
    max_racks = -(-lim.gpus // lim.gpus_per_rack)
    racks = prob.add_variable("racks_used", lowBound=0, upBound=max_racks, cat=pulp.LpInteger)
    prob += lim.gpus_per_rack * racks - used >= 0, "racks_used"
    prob += used + racks * (1.0 / (max_racks + 1))
    return replace(model, racks=racks)
