"""Choose-one solves run HiGHS without its feasibility-jump heuristic (``CHOOSE_ONE_HIGHS``): still the optimum.

One column of a choose-one MILP under a GPU and a power budget is best at ``n = min(U, GPUs // G, W // P)``
instances, so its optimum is the best column at that count; the solver must find it, for maximum throughput and
for fewest GPUs reaching a target, on random problems of the size a plan solves (a few to a few dozen columns).
"""

import numpy as np
import pytest

from planner.milp import choice
from planner.milp.solve import CHOOSE_ONE_HIGHS, solve


def _problem(rng: np.random.Generator, columns: int):
    gpus_per = rng.choice([1, 2, 4, 8, 16], size=columns)
    bound = rng.integers(1, 40, size=columns)
    rate = rng.uniform(100.0, 5000.0, size=columns) * gpus_per
    power = rng.uniform(500.0, 1500.0, size=columns) * gpus_per
    budget_gpus, budget_w = int(rng.integers(8, 145)), float(rng.uniform(20e3, 150e3))
    return gpus_per, bound, rate, power, budget_gpus, budget_w


def _model(p, objective: str, target: float | None):
    gpus_per, bound, rate, power, budget_gpus, budget_w = p
    names = [f"c{i}" for i in range(len(rate))]
    maximise = objective == "max_tps"
    model = choice.choose_one("random", maximise, names, objective, bound)
    lim = choice.Budgets(gpus=budget_gpus, power_w=budget_w, fabric_capacity=np.zeros(3), hbm_bytes=1.0,
                         gpus_per_rack=8)
    used = choice.add_budgets(model, gpus_per, power, np.zeros((3, len(rate))), lim)
    return choice.add_objective(model, rate, used, maximise, target, "target_tps", lim)


def test_the_option_is_the_feasibility_jump_only():
    assert CHOOSE_ONE_HIGHS == {"mip_heuristic_run_feasibility_jump": False}


@pytest.mark.parametrize("seed", range(12))
def test_max_tps_is_the_best_column_at_its_largest_count(seed):
    rng = np.random.default_rng(seed)
    p = _problem(rng, int(rng.integers(3, 40)))
    gpus_per, bound, rate, power, budget_gpus, budget_w = p
    most = np.minimum(bound, np.minimum(budget_gpus // gpus_per, np.floor(budget_w / power).astype(int)))
    best = rate * most
    sol = solve(_model(p, "max_tps", None))
    assert sol.objective_value == pytest.approx(best.max(), rel=1e-9)
    assert sol.instances == most[sol.index] and best[sol.index] == pytest.approx(best.max(), rel=1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_min_gpus_is_the_fewest_gpus_reaching_the_target(seed):
    rng = np.random.default_rng(100 + seed)
    p = _problem(rng, int(rng.integers(3, 40)))
    gpus_per, bound, rate, power, budget_gpus, budget_w = p
    most = np.minimum(bound, np.minimum(budget_gpus // gpus_per, np.floor(budget_w / power).astype(int)))
    target = 0.5 * float((rate * most).max())  # half the most any column reaches: some column reaches it
    need = np.ceil(target / rate - 1e-12).astype(int)  # instances each column needs for the target
    gpus = np.where(need <= most, need * gpus_per, np.iinfo(np.int64).max)
    sol = solve(_model(p, "min_gpus", target))
    assert sol.instances * gpus_per[sol.index] == gpus.min()
    # objective: GPUs plus racks / (max racks + 1), max racks = ceil(GPUs / 8)
    racks = -(-int(gpus.min()) // 8)
    assert sol.objective_value == pytest.approx(gpus.min() + racks / (-(-budget_gpus // 8) + 1), rel=1e-9)
