"""Identifiability of fitted knobs: the resolution-matrix arithmetic on a linear problem."""

import numpy as np
import pytest

from planner.calibration.fit import Fitted, Knob
from planner.calibration.identify import at_bound, identifiability

N = 100
NOISE = 0.01 * np.sin(np.arange(N))  # fixed residual pattern, |r| <= 1 %: robust weights ~1
KNOBS = (Knob("a", "log", 0.01, 100.0), Knob("b", "log", 0.01, 100.0),
         Knob("c", "log", 0.01, 100.0), Knob("d", "log", 0.01, 100.0))


def residuals(theta):
    # The first half of the rows see knob a (slope 1), the second half c + d together (slope 1
    # each); no row sees knob b.
    half = np.arange(N) < N // 2
    return NOISE + np.where(half, theta[0], theta[2] + theta[3])


def test_identified_prior_held_and_collinear_knobs_are_told_apart():
    lam = 0.005
    result = {i.knob: i for i in identifiability(Fitted(None, KNOBS, np.zeros(4), residuals, lam))}
    # a: 50 rows of slope 1, so H_aa = 50 + lambda and the share is 1 - 0.005 / 50.005 = 0.9999.
    assert result["a"].data_share == pytest.approx(1 - lam / (50 + lam))
    assert result["a"].verdict == "identified"
    # b: no row moves it, so H_bb = lambda and the share is 1 - lambda / lambda = 0.
    assert result["b"].data_share == pytest.approx(0.0, abs=1e-9)
    assert result["b"].verdict == "held by prior"
    # c and d enter only as c + d: H's block is [[50 + l, 50], [50, 50 + l]], whose inverse has
    # diagonal (50 + l) / (l (100 + l)), so the share is 1 - (50 + l) / (100 + l) = 50 / 100.005:
    # just under half, and the two are perfectly anti-correlated. The rows fix their sum only.
    assert result["c"].partner == "d" and result["c"].correlation == pytest.approx(-1.0, abs=1e-3)
    assert result["c"].data_share == pytest.approx(50 / (100 + lam))
    assert result["c"].verdict == "held by prior"


def test_bounds_are_relative_for_log_knobs_and_to_the_range_for_fractions():
    # log knob [0.05, 1]: 0.996 is within 0.5 % of 1; 0.99 is not.
    assert at_bound(Knob("s", "log", 0.05, 1.0), 0.996)
    assert not at_bound(Knob("s", "log", 0.05, 1.0), 0.99)
    # logit knob [0, 1]: 0.004 is within 0.5 % of the range above 0; 0.017 (vLLM's overlap) is not.
    assert at_bound(Knob("f", "logit", 0.0, 1.0), 0.004)
    assert not at_bound(Knob("f", "logit", 0.0, 1.0), 0.017)


def test_a_knob_at_its_bound_says_so_whatever_its_data():
    (knob,) = identifiability(Fitted(None, (Knob("s", "log", 0.05, 1.0),), np.array([0.0]),
                                     lambda t: NOISE + t[0], 0.005))
    # theta 0 is value exp(0) = 1, the knob's upper bound.
    assert knob.value == 1.0 and knob.verdict == "at bound"


def test_a_prior_weight_per_knob_enters_each_knob_alone():
    # knob a sees 50 rows of slope 1 and a prior of weight 5: H_aa = 50 + 5, share 1 - 5 / 55 = 10 / 11; knob b
    # sees no row: share 0 whatever its weight (0.5)
    lam = np.array([5.0, 0.5, 0.005, 0.005])
    result = {i.knob: i for i in identifiability(Fitted(None, KNOBS, np.zeros(4), residuals, lam))}
    # (the robust weights of the 1 % residual pattern are 1 - 1e-3 at most: H_aa is 50 x that, hence the tolerance)
    assert result["a"].data_share == pytest.approx(1 - 5.0 / 55.0, rel=1e-3)
    assert result["b"].data_share == pytest.approx(0.0, abs=1e-9)
    # c and d as above, with their own 0.005: unchanged by a's and b's weights
    assert result["c"].data_share == pytest.approx(50 / (100 + 0.005))
