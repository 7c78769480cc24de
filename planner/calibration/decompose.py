"""TPOT split into the decode step and the cost of a prompt token, from runs that differ only in output length.

In a closed loop of ``B`` requests of ``isl`` in / ``osl`` out, every step carries on average
``P = B x isl / (osl - 1 + TTFT / TPOT)`` prompt tokens (Little's law;
``planner.serving.prompt_work.prompt_tokens_per_step``). Runs of one configuration (model, system,
engine, layout, batch, ``isl``) at several ``osl`` give TPOT at several ``P``, and a straight line
``TPOT = decode_s + prompt_token_s x P`` through them (least squares) separates the step without
prompts (its intercept) from what one prompt token adds to the steps it runs in (its slope). The
same line through the predicted TPOT and TTFT of the same runs says which of the two the cost model
has wrong: a fitted knob can trade one against the other and still match TPOT at one ``osl``, the
lines cannot.

E.g. Qwen3-32B FP8 on one H100 under TensorRT-LLM, 64 requests of 2,048 in: at ``osl`` 128, 256 and
512 it measures TPOT 98.45, 60.45 and 41.80 ms at TTFT 817.8, 841.1 and 806.6 ms, so ``P`` is
``64 x 2048 / (127 + 817.8 / 98.45) = 968.7``, 487.4 and 247.2 tokens, and the line is 22.29 ms a step
plus 78.58 us a prompt token.

Only unsaturated runs (``planner.calibration.screen.saturated``) count. A configuration whose ``P``
spans less than :data:`MIN_SPREAD`, whose measured line has no positive intercept and slope, or whose
three runs or more it fits with ``R^2`` under :data:`MIN_R_SQUARED` determines no split: there TPOT moves
with more than its prompt work (each run's decode step also reads the KV cache of ``isl + osl / 2``
tokens on average, more at a longer ``osl``), or the runs are too noisy to tell.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from planner.calibration.measurements import Measurement
from planner.calibration.screen import saturated
from planner.serving.prompt_work import prompt_tokens_per_step
from specbase.record import record

# Least ratio of the largest to the smallest prompt tokens per step among a configuration's runs.
MIN_SPREAD = 1.5
# Least share of the measured TPOT's variance the line explains, where three runs or more could contradict it.
MIN_R_SQUARED = 0.9


@record
class Split:
    """One straight line ``TPOT = decode_s + prompt_token_s x P`` (seconds, and seconds per prompt token)."""

    decode_s: float
    prompt_token_s: float
    r_squared: float = 1.0  # share of TPOT's variance over the runs the line explains


def split(prompt_tokens: np.ndarray, tpot_s: np.ndarray) -> Split | None:
    """The least-squares line through ``(P, TPOT)``; None where ``P`` spans less than :data:`MIN_SPREAD`."""
    p, t = np.asarray(prompt_tokens, float), np.asarray(tpot_s, float)
    if p.size < 2 or not np.all(np.isfinite(p) & np.isfinite(t)) or p.min() <= 0 or p.max() < MIN_SPREAD * p.min():
        return None
    slope, intercept = np.polyfit(p, t, 1)
    residual = t - (intercept + slope * p)
    spread = np.sum((t - t.mean()) ** 2)
    r_squared = 1.0 - np.sum(residual ** 2) / spread if spread > 0 else 0.0
    return Split(decode_s=float(intercept), prompt_token_s=float(slope), r_squared=float(r_squared))


@record
class Configuration:
    """One configuration's measured and predicted lines, and the GPUs of its instance."""

    key: tuple
    runs: int
    gpus: int
    measured: Split
    predicted: Split


def configurations(rows: Sequence[Measurement], predicted_tpot_s: np.ndarray,
                   predicted_ttft_s: np.ndarray) -> list[Configuration]:
    """Every configuration of ``rows`` (unsaturated, with TPOT and TTFT) that determines both lines, the measured
    one with a positive intercept and slope."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, m in enumerate(rows):
        if m.tpot_s is not None and m.ttft_s is not None and not saturated(m):
            groups[(m.model_name, m.system, m.engine or "unnamed", m.tp, m.pp, m.ep, m.dp, m.batch, m.isl)].append(i)
    out = []
    for key, idx in groups.items():
        runs = [rows[i] for i in idx]
        if len({m.osl for m in runs}) < 2:
            continue
        batch, isl, osl = ([getattr(m, f) for m in runs] for f in ("batch", "isl", "osl"))
        tpot, ttft = np.array([m.tpot_s for m in runs]), np.array([m.ttft_s for m in runs])
        measured = split(prompt_tokens_per_step(batch, isl, osl, tpot, ttft), tpot)
        p_tpot, p_ttft = predicted_tpot_s[idx], predicted_ttft_s[idx]
        predicted = split(prompt_tokens_per_step(batch, isl, osl, p_tpot, p_ttft), p_tpot)
        if measured is None or predicted is None or measured.decode_s <= 0 or measured.prompt_token_s <= 0 \
                or (len(runs) > 2 and measured.r_squared < MIN_R_SQUARED):
            continue
        out.append(Configuration(key=key, runs=len(runs), gpus=runs[0].tp * runs[0].pp * runs[0].dp,
                                 measured=measured, predicted=predicted))
    return out


@record
class GroupSplit:
    """The configurations of one (model, system, engine): medians over them.

    Attributes:
        decode_ratio, prompt_ratio: predicted over measured intercept, and slope.
        measured_gpu_us, predicted_gpu_us: the slope times the instance's GPUs, microseconds: the GPU time one
            prompt token costs in a serving step.
    """

    label: str
    configurations: int
    decode_ratio: float
    prompt_ratio: float
    measured_gpu_us: float
    predicted_gpu_us: float


def by_group(configs: Sequence[Configuration]) -> list[GroupSplit]:
    """:func:`configurations`' lines gathered per (model, system, engine), sorted by label."""
    groups: dict[str, list[Configuration]] = defaultdict(list)
    for c in configs:
        groups[" / ".join(str(k) for k in c.key[:3])].append(c)
    return [GroupSplit(label=label, configurations=len(cs),
                       decode_ratio=float(np.median([c.predicted.decode_s / c.measured.decode_s for c in cs])),
                       prompt_ratio=float(np.median([c.predicted.prompt_token_s / c.measured.prompt_token_s
                                                     for c in cs])),
                       measured_gpu_us=float(np.median([c.measured.prompt_token_s * c.gpus * 1e6 for c in cs])),
                       predicted_gpu_us=float(np.median([c.predicted.prompt_token_s * c.gpus * 1e6 for c in cs])))
            for label, cs in sorted(groups.items())]
