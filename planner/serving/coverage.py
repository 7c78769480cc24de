"""Honest range: flag a plan outside what its engine profile was measured on.

An engine profile's knobs are fitted on measured runs (``bench/accuracy.py --fit``); its
``measured_batch``, ``measured_context_tokens``, ``measured_tokens_per_step`` and
``measured_streamed_tokens_per_s`` record the range
those runs covered. A plan outside it is extrapolated: the prediction may still be right, but
nothing measured backs it (the published points furthest outside, 1,024-3,072 sequences per
instance, carry the largest misses). :func:`outside_measured_range` says how, one line per
figure, with the numbers.
"""

from __future__ import annotations

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
    if not workload.has_prefill:
        return float(batch)
    if ttft_s is None or tpot_s is None:
        return None
    return float(batch + prompt_tokens_per_step(batch, workload.isl, workload.osl, tpot_s, ttft_s))


def outside_measured_range(profile: EngineProfile, workload: Workload, plan: Plan, ttft_s: float | None = None,
                           tpot_s: float | None = None) -> list[str]:
    """Why ``plan`` under ``workload`` lies outside ``profile``'s measured range (empty: inside, or no range);
    ``ttft_s`` and ``tpot_s``, the plan's predicted figures, place its tokens per step (:func:`tokens_per_step`) and
    the output tokens a second it streams (``batch / tpot_s``)."""
    out = []
    if profile.measured_batch is not None:
        low, high = profile.measured_batch
        if not low <= plan.batch <= high:
            out.append(f"batch {plan.batch:,} outside the {low:,}-{high:,} sequences per instance "
                       f"{profile.name} was measured at")
    if profile.measured_context_tokens is not None:
        low, high = profile.measured_context_tokens
        context = workload.kv_context_tokens
        if not low <= context <= high:
            out.append(f"context {context:,.0f} tokens outside the {low:,}-{high:,} (isl + osl) "
                       f"{profile.name} was measured at")
    tokens = tokens_per_step(workload, plan.batch, ttft_s, tpot_s)
    if profile.measured_tokens_per_step is not None and tokens is not None:
        low, high = profile.measured_tokens_per_step
        if not low <= tokens <= high:
            out.append(f"{tokens:,.0f} tokens per step outside the {low:,}-{high:,} {profile.name} was measured at")
    if profile.measured_streamed_tokens_per_s is not None and tpot_s:
        low, high = profile.measured_streamed_tokens_per_s
        streamed = plan.batch / tpot_s
        if not low <= streamed <= high:
            out.append(f"{streamed:,.0f} output tokens/s per instance outside the {low:,}-{high:,} {profile.name} "
                       f"was measured streaming")
    return out
