"""The robust least squares reports each iteration: the cost it reached, never rising."""

import numpy as np
import pytest

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


def test_a_later_start_keeps_the_prior_where_it_was():
    # one residual t - 3 and a prior of weight 1 centred on theta0 = 0: the cost (soft-L1 of t - 3) + t^2 has
    # one minimum, wherever the iterations begin
    f = lambda t: np.array([t[0] - 3.0])  # noqa: E731
    from_centre = robust_least_squares(f, np.array([0.0]), iterations=50, prior_weight=1.0)
    from_beyond = robust_least_squares(f, np.array([0.0]), iterations=50, prior_weight=1.0, start=np.array([5.0]))
    assert abs(from_beyond[0] - from_centre[0]) < 1e-3
    # so far from 3 the soft-L1 cost (scale 0.15) is ~0.3 |t - 3|, slope 0.3, met by the prior's 2 t at t ~ 0.15:
    # the prior, centred on 0, holds it there; a start at 5 does not recentre it
    assert from_centre[0] == pytest.approx(0.15, abs=0.01)
    # no iteration: the start itself
    assert robust_least_squares(f, np.array([0.0]), iterations=0, start=np.array([5.0]))[0] == 5.0


def test_a_prior_weight_per_parameter_holds_each_by_its_own():
    # two independent residuals t0 - 3 and t1 - 3, priors centred on 0 of weight 1e-6 and 1: the first goes to
    # ~3 (the prior's slope 2e-6 t is nothing), the second stays where the one-weight fit above holds it, ~0.15
    f = lambda t: t - 3.0  # noqa: E731
    theta = robust_least_squares(f, np.zeros(2), iterations=50, prior_weight=np.array([1e-6, 1.0]))
    assert theta[0] == pytest.approx(3.0, abs=1e-2)
    assert theta[1] == pytest.approx(0.15, abs=0.01)
