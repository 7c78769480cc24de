"""Honest range: flag a plan outside what its engine profile was measured on.

An engine profile's knobs are fitted on measured runs (``bench/accuracy.py --fit``); its
``measured_batch`` and ``measured_context_tokens`` record the range those runs covered. A plan
outside it is extrapolated: the prediction may still be right, but nothing measured backs it
(the published points furthest outside, 1,024-3,072 sequences per instance, carry the largest
misses). :func:`outside_measured_range` says how, one line per figure, with the numbers.
"""

from __future__ import annotations

from planner.engine.profile import EngineProfile
from planner.serving.plan import Plan
from planner.serving.workload import Workload


def outside_measured_range(profile: EngineProfile, workload: Workload, plan: Plan) -> list[str]:
    """Why ``plan`` under ``workload`` lies outside ``profile``'s measured range (empty: inside, or no range)."""
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
    return out
