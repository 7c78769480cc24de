"""The robust least squares reports each iteration: the cost it reached, never rising."""

import numpy as np

from planner.calibration.fit import robust_least_squares


def test_progress_reports_every_iteration_with_a_falling_cost():
    # residuals theta - 3 on two rows, tiny prior: the fit moves theta from 0 to about 3
    seen = []
    theta = robust_least_squares(lambda t: np.array([t[0] - 3.0, t[0] - 3.0]), np.array([0.0]), iterations=25,
                                 prior_weight=1e-6, progress=lambda i, of, cost: seen.append((i, of, cost)))
    assert abs(theta[0] - 3.0) < 1e-2
    assert [i for i, _, _ in seen] == list(range(1, len(seen) + 1)) and len(seen) >= 2
    assert all(of == 25 for _, of, _ in seen)
    costs = [c for _, _, c in seen]
    assert all(b <= a for a, b in zip(costs, costs[1:]))
    # at theta ~ 3 both residuals, and so the cost, are ~0
    assert costs[-1] < 1e-3


def test_no_progress_callback_is_silent_and_the_same_fit():
    f = lambda t: np.array([t[0] - 1.5, 2.0 * (t[0] - 1.5)])  # noqa: E731
    quiet = robust_least_squares(f, np.array([0.0]))
    loud = robust_least_squares(f, np.array([0.0]), progress=lambda *a: None)
    assert np.array_equal(quiet, loud)
