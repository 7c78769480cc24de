"""The one solve path: solver choice, silence on stdout, and solver status mapped to the library's errors."""

import numpy as np
import pytest

from planner.errors import InfeasibleError, InputError
from planner.milp import choice
from planner.milp.fleet_solve import FLEET_WORDING
from planner.milp.solve import run, solve


def _tiny(limit_gpus: int, objective: str = "max_tps") -> choice.Model:
    """Two columns: 2 GPUs at 10 tok/s (up to 4 instances), 8 GPUs at 50 tok/s (up to 1)."""
    maximise = objective == "max_tps"
    model = choice.choose_one(f"tiny_{objective}", maximise, ["a", "b"], objective, np.array([4, 1]))
    lim = choice.Budgets(gpus=limit_gpus, power_w=None, fabric_capacity=np.zeros(3), hbm_bytes=1.0, gpus_per_rack=8)
    used = choice.add_budgets(model, np.array([2, 8]), np.zeros(2), np.zeros((3, 2)), lim)
    target = None if maximise else 40.0
    return choice.add_objective(model, np.array([10.0, 50.0]), used, maximise, target, "target_tps", lim)


def test_choose_one_picks_the_best_column_and_its_count(capfd):
    sol = solve(_tiny(8))
    # a: 4 instances x 10 = 40 tok/s on 8 GPUs; b: 1 x 50 = 50 tok/s on 8 GPUs.
    assert (sol.index, sol.instances, sol.objective_value) == (1, 1, 50.0)
    assert capfd.readouterr().out == ""  # the solver's banner never reaches stdout
    # Fewest GPUs for 40 tok/s: a x 4 = 8 GPUs or b x 1 = 8 GPUs, one rack; objective 8 + 1/(1 + 1).
    sol = solve(_tiny(8, "min_gpus"))
    assert sol.racks_used == 1 and sol.objective_value == pytest.approx(8.5)


def test_infeasible_and_unknown_solvers_raise_in_the_callers_words():
    with pytest.raises(InfeasibleError, match="^the MILP is infeasible: no candidate meets every limit together$"):
        solve(_tiny(1))
    with pytest.raises(InfeasibleError, match="^the fleet MILP is infeasible$"):
        run(_tiny(1).problem, "highs", None, FLEET_WORDING)
    with pytest.raises(InputError, match="unknown solver 'glpk'; choose one of: highs, cbc"):
        run(_tiny(8).problem, "glpk", None)


def test_both_solvers_agree_when_cbc_is_installed():
    try:
        sol = solve(_tiny(8), "cbc")
    except InputError:
        pytest.skip("cbc is not installed")
    assert (sol.index, sol.objective_value) == (1, 50.0)
