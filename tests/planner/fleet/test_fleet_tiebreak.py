"""The fleet's tie-break solve stops at its node limit without an error, and keeps the first optimum.

HiGHS reports a node limit reached as ``kSolutionLimit``, a status PuLP's HiGHS interface has no entry
for (it raised ``KeyError``, and ``rackplan fleet`` ended in an internal error); ``planner.milp.solve.run``
turns it into a ``SolverError``, which ``planner.milp.fleet_solve.solve`` reads as "not proven in time".
"""

from pathlib import Path

import numpy as np
import pulp
import pytest

from hardware.catalogue import Catalogue
from planner.errors import SolverError
from planner.fleet.optimise import plan_fleet
from planner.fleet.spec import Overrides, load
from planner.milp.fleet_solve import FLEET_WORDING, TIEBREAK_MAX_NODES
from planner.milp.solve import run

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fleet.toml"


def _market_split(seed: int = 7, rows: int = 3, cols: int = 20) -> pulp.LpProblem:
    """A market-split instance (Cornuejols and Dawande): split ``cols`` items so that each of ``rows``
    weight sums lands on half its total; no branch-and-bound settles it at the root node."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, size=(rows, cols))
    prob = pulp.LpProblem("market_split", pulp.LpMinimize)
    x = [prob.add_variable(f"x{j}", cat=pulp.LpBinary) for j in range(cols)]
    over = [prob.add_variable(f"over{i}", lowBound=0) for i in range(rows)]
    under = [prob.add_variable(f"under{i}", lowBound=0) for i in range(rows)]
    for i in range(rows):
        prob += (pulp.lpSum(int(a[i, j]) * x[j] for j in range(cols)) - over[i] + under[i]
                 == int(a[i].sum() // 2)), f"split{i}"
    prob += pulp.lpSum(over) + pulp.lpSum(under)
    return prob


def test_a_node_limit_reached_is_a_solver_error_not_a_key_error():
    prob = _market_split()
    with pytest.raises(SolverError, match="solver highs failed on the fleet model"):
        run(prob, "highs", None, FLEET_WORDING, {"mip_max_nodes": 1})
    # Without the limit the same model solves to a proven optimum (a split within 0 or more units).
    run(_market_split(), "highs", None, FLEET_WORDING)


@pytest.mark.slow
def test_example_fleet_whose_tiebreak_hits_the_node_limit_keeps_the_first_optimum():
    # Maximising throughput within 300 kW: the first solve proves the optimum; the tie-break (fewest GPUs
    # among the tied plans) is a knapsack over thousands of GPU mixes and stops at TIEBREAK_MAX_NODES.
    fleet = load(EXAMPLE, Catalogue(), Overrides(objective="max_tps", max_kw=300))
    result = plan_fleet(fleet)
    assert TIEBREAK_MAX_NODES == 2000
    assert result.solution.tiebreak_proven is False
    assert result.verified.verdict.ok
    # The plan printed is the first optimum: its output is the objective the first solve proved
    # (every weight is 1, so the objective is the fleet's output tokens/s) and it keeps within 300 kW.
    assert float(result.verified.output_tps.sum()) == pytest.approx(result.solution.objective_value, rel=1e-9)
    gpus = result.problem.columns.gpus
    assert float(result.problem.power_w() @ result.solution.counts) <= 300e3
    assert int(gpus @ result.solution.counts) == 235  # 144 gb200 + 90 mi355x + 1 h200 GPUs (the printed plan)
