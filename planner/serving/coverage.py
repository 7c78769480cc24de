"""Honest range: flag a plan outside what its engine profile was measured on.

An engine profile's knobs are fitted on measured runs (``bench/accuracy.py --fit``); its
``measured_batch``, ``measured_context_tokens``, ``measured_tokens_per_step`` and
``measured_streamed_tokens_per_s`` record the range those runs covered, and ``measured_gpus`` the GPUs
they ran on. A plan outside it is extrapolated: the prediction may still be right, but nothing
measured backs it (the published points furthest outside, 1,024-3,072 sequences per instance, carry
the largest misses). :func:`outside_measured_range` says how, one line per figure, with the numbers;
:func:`inside_measured_range` marks the rows of a table inside it; :func:`outside_measured_roles`
judges a disaggregated pool's role.
"""

from __future__ import annotations

import numpy as np

from planner.engine.profile import EngineProfile
from planner.serving.plan import Plan
from planner.serving.prompt_work import prompt_tokens_per_step
from planner.serving.workload import Workload


def tokens_per_step(workload: Workload, batch: float, ttft_s: float | None, tpot_s: float | None) -> float | None:
    """Tokens one iteration of an instance of ``batch`` sequences in flight processes on average: a decode token
    per sequence plus, with prompts, the prompt tokens interleaved into the step, ``batch x isl / (osl - 1 + TTFT /
    TPOT)`` (Little's law, ``planner.serving.prompt_work.prompt_tokens_per_step``; where the KV cache admits
    fewer than ``batch``, only those decode: an upper bound then). E.g. 64 requests of 2,048 in and 128 out at TTFT
    817.8 ms and TPOT 98.45 ms: ``64 + 64 x 2048 / (127 + 8.31) = 1,032.7``. None where an isl/osl workload has no
    TTFT or TPOT."""
    tokens = _tokens_per_step(workload, batch, ttft_s, tpot_s)
    return None if tokens is None else float(tokens)


def _tokens_per_step(workload: Workload, batch, ttft_s, tpot_s):
    """:func:`tokens_per_step` of a number or of arrays of rows."""
    if not workload.has_prefill:
        return batch
    if ttft_s is None or tpot_s is None:
        return None
    return batch + prompt_tokens_per_step(batch, workload.isl, workload.osl, tpot_s, ttft_s)


def _figures(profile: EngineProfile, workload: Workload, batch, ttft_s, tpot_s) -> tuple:
    """(measured range or None, the plan's figure or None, the line saying it lies outside with ``{v}``, ``{lo}``,
    ``{hi}``) of each figure a profile records; ``batch``, ``ttft_s`` and ``tpot_s`` numbers or arrays of rows."""
    name = profile.name
    return (
        (profile.measured_batch, batch,
         "batch {v:,.0f} outside the {lo:,}-{hi:,} sequences per instance " + f"{name} was measured at"),
        (profile.measured_context_tokens, workload.kv_context_tokens,
         "context {v:,.0f} tokens outside the {lo:,}-{hi:,} (isl + osl) " + f"{name} was measured at"),
        (profile.measured_tokens_per_step, _tokens_per_step(workload, batch, ttft_s, tpot_s),
         "{v:,.0f} tokens per step outside the {lo:,}-{hi:,} " + f"{name} was measured at"),
        (profile.measured_streamed_tokens_per_s, None if tpot_s is None else batch / tpot_s,
         "{v:,.0f} output tokens/s per instance outside the {lo:,}-{hi:,} " + f"{name} was measured streaming"),
    )


def _records_range(profile: EngineProfile) -> bool:
    """Whether ``profile`` records any of the measured range (no range: nothing can be said either way)."""
    return any(getattr(profile, name) is not None for name in (
        "measured_batch", "measured_context_tokens", "measured_tokens_per_step", "measured_streamed_tokens_per_s",
        "measured_gpus"))


def _unmeasured_gpu(profile: EngineProfile, gpu: str | None) -> list[str]:
    """The line saying ``gpu`` is none of the GPUs ``profile``'s runs ran on (empty: one of them, or not recorded)."""
    if gpu is None or profile.measured_gpus is None or gpu in profile.measured_gpus:
        return []
    return [f"GPU {gpu}: {profile.name} was measured on {', '.join(profile.measured_gpus)} only"]


def outside_measured_range(profile: EngineProfile, workload: Workload, plan: Plan, ttft_s: float | None = None,
                           tpot_s: float | None = None, gpu: str | None = None) -> list[str] | None:
    """Why ``plan`` under ``workload`` on ``gpu`` (a catalogue GPU name; None: not checked) lies outside
    ``profile``'s measured range (empty: inside; None: the profile records no range, so nothing can be said);
    ``ttft_s`` and ``tpot_s``, the plan's predicted figures, place its tokens per step (:func:`tokens_per_step`) and
    the output tokens a second it streams (``batch / tpot_s``)."""
    if not _records_range(profile):
        return None
    figures = _figures(profile, workload, plan.batch, ttft_s, tpot_s or None)
    return _unmeasured_gpu(profile, gpu) + [
        line.format(v=float(value), lo=span[0], hi=span[1]) for span, value, line in figures
        if span is not None and value is not None and not span[0] <= value <= span[1]]


def inside_measured_range(profile: EngineProfile, workload: Workload, batch: np.ndarray, ttft_s: np.ndarray | None,
                          tpot_s: np.ndarray, gpu: str | None = None) -> np.ndarray | None:
    """Which rows (``batch``, and their predicted ``ttft_s`` and ``tpot_s``) on ``gpu`` lie inside ``profile``'s
    measured range on every figure :func:`outside_measured_range` checks (None: the profile records no range)."""
    if not _records_range(profile):
        return None
    figures = _figures(profile, workload, np.asarray(batch, float), ttft_s, tpot_s)
    inside = np.full(len(batch), not _unmeasured_gpu(profile, gpu))
    for span, value, _ in figures:
        if span is not None and value is not None:
            inside &= (span[0] <= value) & (value <= span[1])
    return inside


def outside_measured_roles(profile: EngineProfile, role: str) -> list[str] | None:
    """A disaggregated pool of ``role`` (``prefill`` or ``decode``) against ``profile``'s measured runs, which
    served prompts and decode together (``bench/accuracy.py`` counts disaggregated runs out): a prefill-only
    pool is outside by construction (None: the profile records no range). A decode-only pool's steps are the
    decode steps the runs timed, so :func:`outside_measured_range` judges it on its figures instead."""
    if not _records_range(profile):
        return None
    return [f"a {role}-only pool: {profile.name} was measured serving prompts and decode together"]


def range_flag(outside: list[str] | None) -> str | None:
    """A plan table's ``range`` cell: ``in`` (inside the measured range), ``out`` (outside it: the JSON and the
    report's header say how) or None (the engine profile records no range)."""
    return None if outside is None else ("out" if outside else "in")
