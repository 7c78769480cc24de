"""Joint fit of every engine profile, per-(engine, GPU) table and GPU HBM fraction on measured rows.

``bench/accuracy.py --fit`` refits the shipped defaults with :func:`joint_fit`, and its
``--lofo`` cross-validation refits once per left-out model family the same way. What is fitted:

* every engine's knobs (``planner.calibration.fit.KNOBS``) the engine's rows can inform;
* the HBM efficiency fraction of each GPU with at least ``MIN_GPU_ROWS`` rows and no measured
  microbenchmark (H200's is measured and stays);
* per-(engine, GPU) tables (``[gpus.NAME]`` of the profiles), speed and latency knobs, where the pair has
  ``MIN_PAIR_ROWS`` rows and two model families measured it (``MIN_FAMILY_ROWS`` rows each), fitted as log
  offsets from the engine-wide values. One family's runs on a pair are one campaign's: its client's arrival
  pattern and its model's unexplained time would go to every model planned on the pair.

Two passes of ``planner.calibration.fit.robust_least_squares``: the second leaves out rows the
first misses by more than ``OUTLIER_FACTOR`` in TPOT and weighs TTFT by the ratio of the first
pass's median TPOT and TTFT errors (:func:`second_pass`). Both pull each parameter towards its start,
the steady step's engine costs harder than the rest (:func:`prior_weights`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from hardware.specs import Hardware
from planner.calibration import fit as cal
from planner.calibration.identify import Identifiability, identifiability
from planner.calibration.measurements import Measurement
from planner.engine.profile import EngineProfile, engine

ENGINES = ("trtllm", "vllm", "sglang")
MIN_GPU_ROWS = 150  # GPUs with fewer training rows keep their sourced efficiencies
MEASURED_GPUS = ("h200-sxm",)  # HBM fraction measured (h200_microbench.json): never fitted
# The joint fit's parameters are partly collinear (a GPU's HBM fraction times each engine's
# HBM scale): a firmer pull towards the starting values than rackplan calibrate's keeps them put.
PRIOR_WEIGHT = 0.05
# The steady decode step's engine costs (host work per iteration, per kernel no curve times and per
# running sequence, and how much of it the GPU's work hides) are the knobs the end-to-end rows tell
# apart least, from one another and from the kernel curves' errors: pulled as lightly as the others,
# one family's unexplained time settles in them and goes wherever the engine runs (TensorRT-LLM's H200
# step cost, docs/accuracy.md). Ten times the pull towards their start, chosen by leave-one-family-out
# cross-validation (docs/accuracy.md, 'A firmer pull on the step costs'): out of fold TPOT 13.1 -> 12.5 %.
STEADY_KNOBS = ("overlap_fraction", "step_overhead_s", "per_kernel_overhead_s", "sequence_overhead_s")
STEADY_PRIOR_WEIGHT = 0.5
# Fitted per GPU: only the HBM efficiency, whose catalogue value on these parts is aiconfigurator's
# blanket 0.8 guess ([E1]); GEMM efficiencies stay measured (MAMF [E8], H200 microbench). Bounds:
# 0.6 up to the 0.877 copy rate measured on H200 (h200_microbench.json) plus a read-only margin.
GPU_KNOBS: dict[str, tuple[float, float]] = {}
# (Before the kernel curves this fitted each GPU's HBM fraction in (0.6, 0.92). The curves are fitted
# against the catalogue's fractions as their denominator, so moving them here would move every curve.)
PAIR_SPEED_KNOBS = ("step_overhead_s", "per_kernel_overhead_s", "eager_kernel_overhead_s")
PAIR_LATENCY_KNOBS = ("prompt_queue_scale", "prefill_wait_fraction", "ttft_overhead_s", "arrival_wait_steps",
                      "prompts_ahead")
# The leak-free start (:func:`neutral`). Each kernel no curve times costs its launch gap and least duration
# under CUDA graphs: aiconfigurator's mem_empirical_constant_latency, 3 us (systems/*.yaml; default.toml's
# per_layer_overhead_us cites it).
NEUTRAL_KERNEL_S = 3e-6
MIN_PAIR_ROWS = 15
MIN_FAMILY_ROWS = 5
OUTLIER_FACTOR = 2.5
ITERATIONS = 20


def family(model_name: str) -> str:
    """Model family of a catalogue name: ``llama``, ``qwen3``, ``gpt``, ``deepseek``."""
    return model_name.split("-")[0]


def neutral(name: str) -> EngineProfile:
    """Engine ``name`` as a fit starts from when no calibration row may inform its start (``bench/accuracy.py --lofo``).

    Every fitted knob (``planner.calibration.fit.KNOBS``) at a value a source gives, not a fit: the
    ``default`` profile's step cost (1 ms) and overlap (0.5), each untimed kernel at aiconfigurator's
    constant latency (``NEUTRAL_KERNEL_S``), a closed-loop arrival waiting out the engine's scheduler depth
    (``EngineProfile.scheduler_depth_steps``), the other knobs at their ``start`` (the ``default`` profile's
    TTFT knobs are fitted, so not those); no per-GPU tables. The fields no fit moves keep the shipped
    profile's values.
    """
    base = engine("default")
    start = {k.name: k.start if k.needs == "ttft" else max(k.start, getattr(base, k.name)) for k in cal.KNOBS}
    start["per_kernel_overhead_s"] = NEUTRAL_KERNEL_S
    shipped = engine(name)
    start["arrival_wait_steps"] = float(shipped.scheduler_depth_steps)
    return replace(shipped, gpus={}, **start)


def pair_value(profile: EngineProfile, knob: cal.Knob, offset: float) -> float:
    """An (engine, GPU) pair's knob: the engine-wide value times ``exp(offset)``, within bounds.

    Fitting offsets (pulled towards 0 by the prior) keeps the engine-wide values informed by
    every GPU's rows, so they stay the defaults for parts without a pair of their own.
    """
    return float(np.clip(max(getattr(profile, knob.name), knob.start) * math.exp(offset), knob.low, knob.high))


@dataclass(frozen=True)
class JointFit:
    """The fitted profiles and hardware, what was fitted, and what the second pass left out."""

    profiles: dict[str, EngineProfile]
    hardware: dict[str, Hardware]
    params: list  # (kind, owner, knob) with kind "engine", "gpu" or "pair"
    theta: np.ndarray
    kept: list[Measurement]
    trimmed: Counter
    ttft_weight: float
    residual: Callable[[np.ndarray], np.ndarray]  # theta -> residuals of the kept rows (second pass)

    def identifiability(self) -> tuple[Identifiability, ...]:
        """Each parameter's identifiability at the fit (``planner.calibration.identify``), labelled
        ``engine.knob``, ``gpu.knob`` or ``engine/gpu.knob``; a pair's value is its multiplier on the
        engine-wide value (its theta is a log offset, never at a bound)."""
        knobs = tuple(cal.Knob(_label(kind, owner, k), "log", 0.0, math.inf) if kind == "pair"
                      else cal.Knob(_label(kind, owner, k), k.kind, k.low, k.high) for kind, owner, k in self.params)
        return identifiability(cal.Fitted(None, knobs, self.theta, self.residual, prior_weights(self.params)))

    def profile(self, name: str | None) -> EngineProfile:
        """The fitted profile of an engine (``default`` for others)."""
        return self.profiles.get(name or "default", engine("default"))


def prior_weights(params: list) -> np.ndarray:
    """Each parameter's pull towards its start (``params`` as :func:`_parameters` lists them): ``STEADY_PRIOR_WEIGHT``
    for the steady step's costs (``STEADY_KNOBS``, engine-wide or a pair's offset), ``PRIOR_WEIGHT`` for the rest."""
    return np.array([STEADY_PRIOR_WEIGHT if k.name in STEADY_KNOBS else PRIOR_WEIGHT for _kind, _owner, k in params])


def _label(kind: str, owner, knob: cal.Knob) -> str:
    return f"{'/'.join(owner) if kind == 'pair' else owner}.{knob.name}"


def _parameters(train: list[Measurement], hardware: dict[str, Hardware]) -> list:
    gpu_of = {s: h.gpu.name for s, h in hardware.items()}
    params = []
    for e in ENGINES:
        sub = [m for m in train if m.engine == e]
        if sub:
            params += [("engine", e, k) for k in cal.informed_knobs(sub, hardware)]
    count = Counter(gpu_of[m.system] for m in train)
    gpus = sorted(g for g, c in count.items() if c >= MIN_GPU_ROWS and g not in MEASURED_GPUS)
    gpu_knob = {f: cal.Knob(f, "logit", lo, hi) for f, (lo, hi) in GPU_KNOBS.items()}
    params += [("gpu", g, gpu_knob[f]) for g in gpus for f in GPU_KNOBS]
    pair_rows = Counter((m.engine, gpu_of[m.system]) for m in train)
    pair_families = Counter((m.engine, gpu_of[m.system], family(m.model_name)) for m in train)
    knob_by_name = {k.name: k for k in cal.KNOBS}
    for pair in sorted(p for p, c in pair_rows.items() if c >= MIN_PAIR_ROWS):
        families = sum(1 for (e, g, _), c in pair_families.items() if (e, g) == pair and c >= MIN_FAMILY_ROWS)
        if families >= 2:
            params += [("pair", pair, knob_by_name[f]) for f in PAIR_LATENCY_KNOBS + PAIR_SPEED_KNOBS]
    return params


def joint_fit(train: list[Measurement], hardware: dict[str, Hardware], log=print,
              iterations: int = ITERATIONS, progress=None,
              start_from: Callable[[str], EngineProfile] = engine) -> JointFit:
    """Fit ``train`` (unsaturated rows) as the module docstring says; ``log`` gets the result lines,
    ``progress(pass, iteration, of, cost)`` one call an iteration of each pass. ``start_from``: each
    engine's profile the fit starts from and centres its prior on (the shipped one; :func:`neutral`)."""
    engines = {e: start_from(e) for e in ENGINES}
    params = _parameters(train, hardware)

    def start(kind, owner, knob):
        if kind == "engine":
            return max(getattr(engines[owner], knob.name), knob.start)
        return getattr(next(h.gpu for h in hardware.values() if h.gpu.name == owner), knob.name)

    theta0 = np.array([0.0 if kind == "pair" else cal.to_theta(k, start(kind, o, k)) for kind, o, k in params])

    def state(theta):
        prof = {}
        for e, p in engines.items():
            upd = {k.name: cal.from_theta(k, t) for (kind, o, k), t in zip(params, theta)
                   if kind == "engine" and o == e}
            base = replace(p, **upd)
            per_gpu = {}
            for (kind, o, k), t in zip(params, theta):
                if kind == "pair" and o[0] == e:
                    per_gpu.setdefault(o[1], {})[k.name] = pair_value(base, k, t)
            prof[e] = replace(base, gpus=per_gpu)
        hw = {}
        for name, h in hardware.items():
            upd = {k.name: cal.from_theta(k, t) for (kind, o, k), t in zip(params, theta)
                   if kind == "gpu" and o == h.gpu.name}
            hw[name] = replace(h, gpu=replace(h.gpu, **upd)) if upd else h
        return prof, hw

    rows, weight = list(train), cal.TTFT_WEIGHT

    def residual(theta):
        prof, hw = state(theta)
        return cal.relative_residuals(cal.predict(rows, hw, [prof[m.engine] for m in rows]),
                                      cal.measured(rows), weight)

    def solve(n: int, begin: np.ndarray | None = None) -> np.ndarray:
        show = None if progress is None else (lambda i, of, cost: progress(n, i, of, cost))
        return cal.robust_least_squares(residual, theta0, iterations=iterations, prior_weight=prior_weights(params),
                                        progress=show, start=begin)

    theta = solve(1)
    prof, hw_fit = state(theta)
    first = cal.predict(rows, hw_fit, [prof[m.engine] for m in rows])
    rows, trimmed, weight = second_pass(rows, first)
    log(f"trimmed after the first pass (TPOT off by more than {OUTLIER_FACTOR}x): {sum(trimmed.values())} rows: "
        + "; ".join(f"{g}: {c}" for g, c in sorted(trimmed.items())))
    log(f"TTFT weight of the second pass (median TPOT / TTFT relative error, first pass): {weight:.3f}")
    theta = solve(2, theta)  # from the first pass's end; the prior stays centred on the start
    prof, hw_fit = state(theta)
    return JointFit(prof, hw_fit, params, theta, rows, trimmed, weight, residual)


def second_pass(rows: list[Measurement], first: cal.Predictions) -> tuple[list[Measurement], Counter, float]:
    """The rows of the second pass, given the first pass's predictions ``first`` of ``rows``: (rows, the
    (model / system / engine) counts of the rows left out, and the TTFT weight).

    A row the first fit misses by more than ``OUTLIER_FACTOR`` in TPOT ran something else than the row says
    (e.g. Qwen3-32B BF16 on GB200 at batch 1: 42 ms a token against a 4 ms weight read): it is left out. The
    second pass weighs TTFT by how much noisier it is than TPOT on the rows it keeps: the ratio of their median
    absolute relative errors after the first pass (pooled over engines). TTFT misses are not trimmed the same
    way: leaving out the TTFT of rows missed by more than ``OUTLIER_FACTOR`` (40 of 890 rows) left the fit's own
    figures where they were and cost 1.2 points of TTFT and 0.5 of TPOT out of fold (docs/accuracy.md, 'Three
    refits measured and not shipped').
    """
    meas = cal.measured(rows)
    keep = np.abs(np.log(first.tpot_s / meas.tpot_s)) <= math.log(OUTLIER_FACTOR)
    trimmed = Counter(" / ".join((m.model_name, m.system, m.engine)) for m, k in zip(rows, keep) if not k)
    weight = float(np.nanmedian(np.abs(first.tpot_s[keep] / meas.tpot_s[keep] - 1.0))
                   / np.nanmedian(np.abs(first.ttft_s[keep] / meas.ttft_s[keep] - 1.0)))
    return [m for m, k in zip(rows, keep) if k], trimmed, weight


def score(fitted: JointFit, rows: list[Measurement]) -> cal.Predictions:
    """Predictions of ``rows`` under the fitted profiles and hardware."""
    return cal.predict(rows, fitted.hardware, [fitted.profile(m.engine) for m in rows])
