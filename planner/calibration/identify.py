"""Identifiability of fitted knobs: how much of each knob the measured rows pin down.

At the fitted point the soft-L1 fit is locally a weighted linear least-squares problem with the
prior: ``H = A'A + Lambda`` with ``A = W J`` (``J`` the Jacobian of the relative residuals in
transformed units, ``W`` the robust weights, ``Lambda`` the diagonal of the prior weights). From ``H^-1``:

* ``data_share``: the diagonal of the resolution matrix ``H^-1 A'A``, i.e. ``1 - lambda_j [H^-1]_jj``:
  1 when the rows alone fix the knob, 0 when only the prior holds it;
* ``std``: one standard error, ``s sqrt([H^-1]_jj)`` with ``s^2`` the weighted residual variance,
  in transformed units (for a log-scaled knob, about the relative uncertainty: 0.1 = +-10 %);
* ``partner``/``correlation``: the knob it is most correlated with (collinear knobs trade off:
  the rows fix their combination, not each one).

A knob within 0.5 % of a bound is reported "at bound" whatever its other figures: the data
wanted it past a physical limit, which is a finding about the model, not a fitted value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.calibration.fit import Fitted, Knob, from_theta, jacobian, robust_weights

# Verdict thresholds: a knob the rows fix (>= 90 % of its precision from data, within +-25 %) is
# identified; one with at least half its precision from data is weak; below that the prior holds it.
IDENTIFIED_SHARE = 0.9
IDENTIFIED_STD = 0.25
WEAK_SHARE = 0.5
# Relative distance to a bound that counts as "at bound".
BOUND_MARGIN = 0.005


@dataclass(frozen=True)
class Identifiability:
    """How well the rows determine one knob."""

    knob: str
    value: float
    data_share: float
    std: float
    partner: str
    correlation: float
    at_bound: bool

    @property
    def verdict(self) -> str:
        if self.at_bound:
            return "at bound"
        if self.data_share >= IDENTIFIED_SHARE and self.std <= IDENTIFIED_STD:
            return "identified"
        if self.data_share >= WEAK_SHARE:
            return "weak"
        return "held by prior"


def at_bound(knob: Knob, value: float) -> bool:
    """Within ``BOUND_MARGIN`` of a bound: relative to the bound for log knobs, to the range for logit ones."""
    if knob.kind == "logit":
        margin = BOUND_MARGIN * (knob.high - knob.low)
        return value <= knob.low + margin or value >= knob.high - margin
    return value <= knob.low * (1.0 + BOUND_MARGIN) or value >= knob.high * (1.0 - BOUND_MARGIN)


def identifiability(fitted: Fitted) -> tuple[Identifiability, ...]:
    """Each fitted knob's identifiability at the fitted point (module docstring)."""
    knobs, theta = fitted.knobs, fitted.theta
    if not knobs:
        return ()
    r = fitted.residuals(theta)
    a = jacobian(fitted.residuals, theta, r) * robust_weights(r)[:, None]
    lam = np.broadcast_to(np.asarray(fitted.prior_weight, dtype=float), theta.shape)  # (one weight, or one per knob)
    inverse = np.linalg.inv(a.T @ a + np.diag(lam))
    dof = max(r.size - theta.size, 1)
    s2 = float(np.sum((r * robust_weights(r)) ** 2) / dof)
    diag = np.diag(inverse)
    corr = inverse / np.sqrt(np.outer(diag, diag))
    out = []
    for j, knob in enumerate(knobs):
        value = from_theta(knob, theta[j])
        others = [(abs(corr[j, i]), i) for i in range(theta.size) if i != j]
        c, i = max(others) if others else (0.0, j)
        out.append(Identifiability(knob=knob.name, value=value, data_share=float(1.0 - lam[j] * diag[j]),
                                   std=float(np.sqrt(s2 * diag[j])), partner=knobs[i].name if others else "",
                                   correlation=float(corr[j, i]) if others else 0.0,
                                   at_bound=at_bound(knob, value)))
    return tuple(out)
