"""The fleet MILP's sums are built at once (``planner.milp.fleet._expression``), as ``lpSum`` of the products
would build them term by term: the same terms, coefficients and order, so HiGHS is handed the same rows."""

import numpy as np
import pulp

from planner.milp.fleet import _expression


def test_expression_matches_lpsum_of_products_term_for_term():
    rng = np.random.default_rng(3)
    prob = pulp.LpProblem("p", pulp.LpMinimize)
    x = [prob.add_variable(f"x{i}", lowBound=0) for i in range(40)]
    # Coefficients as the fleet's rows have them: GPU counts (int), rates and loads (float), zeros among them
    # (a column that puts no load on a tier), negative capacities (-rate).
    coefficients = [int(v) for v in rng.integers(1, 64, 10)] + rng.normal(0.0, 1e4, 20).tolist() + [0.0, 0] * 5
    order = rng.permutation(40).tolist()
    terms = [(x[i], coefficients[i]) for i in order]
    built = _expression(terms)
    reference = pulp.lpSum(c * v for v, c in terms)
    assert [(v.name, c, type(c)) for v, c in built.items()] == [(v.name, c, type(c)) for v, c in reference.items()]
    # 40 terms of which the 10 zeros (0.0 and 0) are dropped, as multiplying a variable by 0 drops it in PuLP.
    assert len(built) == 30
    assert built.constant == reference.constant == 0
