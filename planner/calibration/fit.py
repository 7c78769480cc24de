"""Fit an engine profile's efficiency factors to measured runs (robust least squares, numpy).

``predict`` scores measured rows with the evaluator (aggregated serving, ``planner.serving.aggregated``);
``fit`` adjusts the profile's knobs so that predicted TPOT, TTFT and tokens/s per GPU match
the measurements. ``planner.calibration.calibrate`` wraps both for ``rackplan calibrate`` and
``planner.calibration.profile_file`` writes the fitted profile out.

Method: the residual of a row is its relative error ``predicted / measured - 1`` for each
measurement it has (the error the accuracy benchmark reports as MAPE; TTFT weighted half:
queueing makes it the noisier one). Knobs are optimised in a transformed
space (log for multipliers and overheads, logit for fractions) by Levenberg-Marquardt on
forward-difference Jacobians, with soft-L1 robust weights ``(1 + (r / 0.15)^2)^(-1/2)``
(iteratively reweighted) so that a few contradictory rows cannot drag the fit, and a weak
prior (weight 0.005 per knob, in transformed units) towards the base profile so that knobs the
data cannot tell apart stay where they were. Knobs a data set cannot inform are not fitted
(no TTFT column: no TTFT knobs). The knobs are engine behaviour only: kernels run on the curves of
``planner/engine/kernels`` (see ``KNOBS``).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hardware.specs import Hardware
from planner import quant
from planner.calibration.measurements import Measurement
from planner.engine.profile import EngineProfile
from planner.model_file import model as load_model
from planner.serving.evaluate import evaluate
from planner.serving.plan import Plan, PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

# Soft-L1 scale of the robust loss: residuals beyond ~15 % count linearly, not quadratically.
ROBUST_SCALE = 0.15
# TTFT residual weight relative to TPOT and throughput (benchmark queueing makes TTFT noisier).
TTFT_WEIGHT = 0.5
# Pull of each knob towards the base profile, per transformed unit (keeps unidentifiable knobs put).
PRIOR_WEIGHT = 0.005
# Forward-difference step of the Jacobian, in transformed units (0.1 % of a log-scaled knob).
JACOBIAN_STEP = 1e-3
# Smallest overhead the log transform can reach (0.1 us).
OVERHEAD_FLOOR_S = 1e-7


@dataclass(frozen=True)
class Knob:
    """One fitted profile field: its transform and bounds (value units)."""

    name: str
    kind: str  # "log" or "logit"
    low: float
    high: float
    needs: str = "any"  # "ttft": only rows with a measured TTFT inform it
    start: float = 0.0  # the fit starts at least here (a knob at 0 has no gradient in log/logit space)


# Not fitted: what the kernel curves time (planner/engine/kernels/: GEMMs, attention, MoE layers,
# collectives, each fitted to measured kernels) leaves the end-to-end fit, so the profiles' GEMM,
# attention, MoE, weight-only, HBM and communication scales shape only the seed preset (and the small
# remainder of the HBM term: activations and new KV). What is left is engine behaviour no kernel
# table measures: how much of the communication hides behind compute, the per-step, per-kernel and
# per-sequence scheduler costs, the host's launches of an iteration carrying prompt tokens (outside the
# CUDA graphs: ``eager_kernel_overhead_s``, started near 0 so a profile without it gains it only from data),
# and the TTFT queueing and fixed cost.
KNOBS = (
    Knob("overlap_fraction", "logit", 0.0, 1.0),
    Knob("step_overhead_s", "log", OVERHEAD_FLOOR_S, 0.1, start=1e-4),
    Knob("per_kernel_overhead_s", "log", OVERHEAD_FLOOR_S, 1e-4, start=1e-7),
    Knob("sequence_overhead_s", "log", OVERHEAD_FLOOR_S, 1e-3, start=1e-6),
    Knob("eager_kernel_overhead_s", "log", OVERHEAD_FLOOR_S, 1e-4, start=2e-7),
    Knob("prompt_queue_scale", "logit", 1e-4, 4.0, needs="ttft", start=0.3),
    Knob("prefill_wait_fraction", "logit", 1e-4, 0.5, needs="ttft", start=0.05),
    Knob("ttft_overhead_s", "log", OVERHEAD_FLOOR_S, 1.0, needs="ttft", start=1e-3),
    Knob("arrival_wait_steps", "logit", 0.0, 4.0, needs="ttft", start=0.05),
    Knob("prompts_ahead", "logit", 0.0, 2.0, needs="ttft", start=0.05),
)


@dataclass(frozen=True)
class Predictions:
    """Predicted figures aligned with the rows (NaN where a row could not be scored)."""

    tpot_s: np.ndarray
    ttft_s: np.ndarray
    tok_per_gpu: np.ndarray


@dataclass(frozen=True)
class Errors:
    """Absolute percentage errors of one measure over the rows that have it."""

    n: int
    mape: float
    median: float
    within_20: float
    p90: float  # the 90th percentile of the absolute percentage errors: nine rows in ten miss by less

    @classmethod
    def of(cls, predicted: np.ndarray, measured: np.ndarray) -> Errors:
        """Errors of ``predicted`` against ``measured`` where both are finite."""
        ok = np.isfinite(predicted) & np.isfinite(measured) & (measured > 0)
        if not ok.any():
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        ape = np.abs(predicted[ok] / measured[ok] - 1.0) * 100.0
        return cls(int(ok.sum()), float(ape.mean()), float(np.median(ape)), float((ape <= 20.0).mean() * 100.0),
                   float(np.percentile(ape, 90.0)))


@dataclass(frozen=True)
class Report:
    """Errors of TPOT, TTFT and tokens/s per GPU."""

    tpot: Errors
    ttft: Errors
    tok_per_gpu: Errors



def kv_mode(profile: EngineProfile, weight_quant: str) -> str:
    """The KV-cache mode an engine picks when the measurement does not say (``default_kv_quant``)."""
    if profile.default_kv_quant == "weights":
        return "fp8" if quant.mode(weight_quant).bytes_per_element <= 1.0 else "bf16"
    return profile.default_kv_quant


def measured(rows: list[Measurement], cold_ttft: bool = False) -> Predictions:
    """The measurements themselves, in the shape of :class:`Predictions` (NaN where absent), a TTFT that includes
    the server's cold start too (``Measurement.cold_ttft``: not a serving figure) unless ``cold_ttft``."""
    def col(name):
        return np.array([np.nan if getattr(m, name) is None else getattr(m, name) for m in rows], dtype=float)
    ttft = col("ttft_s")
    if not cold_ttft:
        ttft[[i for i, m in enumerate(rows) if m.cold_ttft]] = np.nan
    return Predictions(col("tpot_s"), ttft, col("tok_per_gpu"))


def predict(rows: list[Measurement], hardware: dict[str, Hardware], profiles: list[EngineProfile]) -> Predictions:
    """Score every (resolved) row under its profile; one evaluator call per scenario group."""
    n = len(rows)
    out = Predictions(np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan))
    for sc, idx, plans in scenario_groups(rows, hardware, profiles):
        s = evaluate(sc, plans)
        out.tpot_s[idx] = s.step_time_s
        out.ttft_s[idx] = s.ttft_s
        out.tok_per_gpu[idx] = s.tok_per_gpu
    return out


def scenario_groups(rows: list[Measurement], hardware: dict[str, Hardware], profiles: list[EngineProfile],
                    batch: Callable[[Measurement], int] = lambda m: m.batch):
    """(scenario, row indices, plans) of the rows that share a model, system, isl/osl, arrivals
    (:attr:`Measurement.burst`) and profile: each row's layout and modes at ``batch(row)`` sequences (its KV mode,
    where the row gives none, the engine's default)."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, (m, prof) in enumerate(zip(rows, profiles)):
        groups[(m.model_name, m.system, m.isl, m.osl, m.burst, id(prof))].append(i)
    for (name, system, isl, osl, burst, _), idx in groups.items():
        prof = profiles[idx[0]]
        sc = Scenario(hardware=hardware[system], model=load_model(name),
                      workload=Workload(isl=isl, osl=osl, arrivals="burst" if burst else "steady"), profile=prof)
        yield sc, idx, PlanArrays.from_plans([
            Plan(tp=rows[i].tp, pp=rows[i].pp, ep=rows[i].ep, dp=rows[i].dp, batch=batch(rows[i]),
                 quant=rows[i].quant, kv_quant=rows[i].kv_quant or kv_mode(prof, rows[i].quant)) for i in idx])


def report(pred: Predictions, meas: Predictions) -> Report:
    """Errors of ``pred`` against ``meas``."""
    return Report(Errors.of(pred.tpot_s, meas.tpot_s), Errors.of(pred.ttft_s, meas.ttft_s),
                  Errors.of(pred.tok_per_gpu, meas.tok_per_gpu))


def to_theta(knob: Knob, value: float) -> float:
    """A knob's value in the fit's unbounded space (log, or logit between its bounds)."""
    value = min(max(value, knob.low), knob.high)
    if knob.kind == "logit":
        x = (value - knob.low) / (knob.high - knob.low)
        x = min(max(x, 1e-6), 1 - 1e-6)
        return math.log(x / (1 - x))
    return math.log(value)


def from_theta(knob: Knob, theta: float) -> float:
    """Inverse of :func:`to_theta`, clipped to the knob's bounds."""
    if knob.kind == "logit":
        return knob.low + (knob.high - knob.low) / (1.0 + math.exp(-theta))
    return min(max(math.exp(theta), knob.low), knob.high)


def relative_residuals(pred: Predictions, meas: Predictions, ttft_weight: float = TTFT_WEIGHT) -> np.ndarray:
    """``predicted / measured - 1`` of every measurement present, TTFT weighted ``ttft_weight``.

    Relative errors, not log ratios: the fit then minimises a robust form of the absolute
    percentage error the benchmark reports (a log ratio weighs an over-prediction by 2x, +100 %,
    the same as an under-prediction by half, -50 %).
    """
    parts = []
    for p, m, w in ((pred.tpot_s, meas.tpot_s, 1.0), (pred.ttft_s, meas.ttft_s, ttft_weight),
                    (pred.tok_per_gpu, meas.tok_per_gpu, 1.0)):
        ok = np.isfinite(m)
        r = (np.where(np.isfinite(p) & (p > 0), p, 1e-30)[ok] / m[ok] - 1.0) * w
        parts.append(r)
    return np.concatenate(parts)


def informed_knobs(rows: list[Measurement], hardware: dict[str, Hardware]) -> tuple[Knob, ...]:
    """The knobs ``rows`` can inform (module docstring)."""
    has_ttft = any(m.ttft_s is not None for m in rows)
    return tuple(k for k in KNOBS if k.needs != "ttft" or has_ttft)


def jacobian(residuals, theta: np.ndarray, r: np.ndarray, step: float = JACOBIAN_STEP) -> np.ndarray:
    """Forward-difference Jacobian of ``residuals`` at ``theta`` (``r = residuals(theta)``).

    A knob at its upper bound has its step up clipped (a zero column): it is differenced downwards.
    """
    jac = np.empty((r.size, theta.size))
    for j in range(theta.size):
        t = theta.copy()
        t[j] += step
        jac[:, j] = (residuals(t) - r) / step
        if not jac[:, j].any():
            t[j] = theta[j] - step
            jac[:, j] = (r - residuals(t)) / step
    return jac


def robust_weights(r: np.ndarray) -> np.ndarray:
    """Square roots of the soft-L1 IRLS weights ``(1 + (r / ROBUST_SCALE)^2)^(-1/2)``."""
    return (1.0 + (r / ROBUST_SCALE) ** 2) ** -0.25


def robust_least_squares(residuals, theta0: np.ndarray, iterations: int = 25,
                         prior_weight: float | np.ndarray = PRIOR_WEIGHT, progress=None,
                         start: np.ndarray | None = None) -> np.ndarray:
    """Minimise the soft-L1 cost of ``residuals(theta)`` plus the prior (module docstring).

    Args:
        residuals: ``theta -> residual vector`` (relative errors).
        theta0: the prior's centre (transformed units), and the start unless ``start`` is given.
        iterations: most Levenberg-Marquardt iterations.
        prior_weight: pull towards ``theta0`` per transformed unit: one weight, or one per parameter.
        progress: called after each iteration with (iteration from 1, iterations, cost); None: silent.
        start: where the iterations start (e.g. an earlier fit's end); None: ``theta0``.
    """
    def both(theta):
        return residuals(theta), np.sqrt(prior_weight) * (theta - theta0)

    def cost(r, prior):
        return float(np.sum(2.0 * ROBUST_SCALE**2 * (np.sqrt(1.0 + (r / ROBUST_SCALE) ** 2) - 1.0)) + prior @ prior)

    theta, damping = (theta0 if start is None else start).copy(), 1e-2
    r, prior = both(theta)
    current = cost(r, prior)
    for done in range(iterations):
        jac = jacobian(residuals, theta, r)
        w = robust_weights(r)
        a = np.vstack([jac * w[:, None], np.diag(np.broadcast_to(np.sqrt(prior_weight), theta.shape))])
        b = np.concatenate([r * w, prior])
        ata, atb = a.T @ a, a.T @ b
        improved, delta = False, np.zeros_like(theta)
        for _ in range(8):
            delta = np.linalg.solve(ata + damping * np.diag(np.diag(ata) + 1e-9), -atb)
            r2, prior2 = both(theta + delta)
            c2 = cost(r2, prior2)
            if c2 < current:
                theta, r, prior, current = theta + delta, r2, prior2, c2
                damping = max(damping / 3.0, 1e-6)
                improved = True
                break
            damping *= 4.0
        if progress is not None:
            progress(done + 1, iterations, current)
        if not improved or np.max(np.abs(delta)) < 1e-4:
            break
    return theta


@dataclass(frozen=True)
class Fitted:
    """A fitted profile with what its identifiability needs (``planner.calibration.identify``)."""

    profile: EngineProfile
    knobs: tuple[Knob, ...]
    theta: np.ndarray             # the fitted knobs in transformed units
    residuals: Callable[[np.ndarray], np.ndarray]  # theta -> relative residuals of the rows
    prior_weight: float | np.ndarray  # one weight, or one per knob


def fit_knobs(rows: list[Measurement], hardware: dict[str, Hardware], base: EngineProfile,
              knobs: tuple[Knob, ...] | None = None, iterations: int = 25, progress=None) -> Fitted:
    """The profile whose knobs best fit ``rows`` (module docstring), starting from ``base``;
    ``progress`` as in `robust_least_squares`."""
    knobs = informed_knobs(rows, hardware) if knobs is None else knobs
    meas = measured(rows)

    def profile_at(theta):
        return dataclasses.replace(base, **{k.name: from_theta(k, t) for k, t in zip(knobs, theta)})

    def residual_at(theta):
        return relative_residuals(predict(rows, hardware, [profile_at(theta)] * len(rows)), meas)

    theta0 = np.array([to_theta(k, max(getattr(base, k.name), k.start)) for k in knobs])
    if not rows or not knobs:
        return Fitted(base, knobs, theta0, residual_at, PRIOR_WEIGHT)
    theta = robust_least_squares(residual_at, theta0, iterations, progress=progress)
    return Fitted(profile_at(theta), knobs, theta, residual_at, PRIOR_WEIGHT)


def fit(rows: list[Measurement], hardware: dict[str, Hardware], base: EngineProfile,
        knobs: tuple[Knob, ...] | None = None, iterations: int = 25, progress=None) -> EngineProfile:
    """The fitted profile of `fit_knobs`."""
    return fit_knobs(rows, hardware, base, knobs, iterations, progress).profile


def flattened(base: EngineProfile, gpus: set[str]) -> EngineProfile:
    """``base`` ready to fit on rows of ``gpus``: their per-GPU values moved to the top level.

    On one GPU the fit starts from the values that GPU runs with and the written profile
    holds them at the top level (a profile for that GPU/engine pair); on several, their
    per-GPU tables are dropped so the fitted top-level values apply to all of them.
    """
    keep = {g: v for g, v in base.gpus.items() if g not in gpus}
    start = base.on_gpu(next(iter(gpus))) if len(gpus) == 1 else base
    return dataclasses.replace(start, gpus=keep)

