"""Steady queue: a new request waits behind ``min(prompts_ahead + prefill_wait_fraction x (B / dp - 1), B / dp - 1)``
other prompts of its attention group (``planner.serving.aggregated``, Queueing)."""

import dataclasses

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.profile import engine
from planner.serving.evaluate import evaluate
from planner.serving.plan import Plan, PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

# Llama-3.1-8B BF16 on one H100, 1,024 in / 128 out: batch 1 (no other prompt to queue behind), 2 and 8.
PLANS = PlanArrays.from_plans([Plan(tp=1, batch=b, quant="bf16", kv_quant="bf16") for b in (1, 2, 8)])
H100_BF16_PEAK = 989e12  # FLOP/s, dense (the catalogue's hgx-h100 figure)


def _ttft(ahead=0.0, wait=0.0):
    """TTFT of PLANS under vLLM with only the queue knobs set (no fixed cost, no arrival steps, no per-GPU tables)."""
    prof = dataclasses.replace(engine("vllm"), prompts_ahead=ahead, prefill_wait_fraction=wait,
                               ttft_overhead_s=0.0, arrival_wait_steps=0.0, gpus={})
    sc = Scenario(hardware=Catalogue().hardware("hgx-h100"), model=model("llama-3.1-8b"),
                  workload=Workload(isl=1024, osl=128), profile=prof)
    return evaluate(sc, PLANS).ttft_s


def _per_prompt(base):
    """One queued prompt's cost per row, priced by the wave term: at fraction 0.5 a request of batch ``B`` waits
    ``0.5 x (B - 1)`` prompts (the prompt shares an iteration carrying the decode batch, so it depends on ``B``)."""
    others = np.array([0.0, 1.0, 7.0])
    return np.where(others > 0, (_ttft(wait=0.5) - base) / np.maximum(0.5 * others, 1e-12), 0.0)


def test_one_prompt_ahead_costs_one_queued_prompt():
    base = _ttft()
    per_prompt = _per_prompt(base)
    # Each prompt's 1,024 tokens need at least 1,024 x 2 x 6.98e9 FLOPs (the linear layers less the input
    # embedding) = 14.3 TFLOP: 14.5 ms at the BF16 dense peak; batch 8's iteration also decodes 8 sequences.
    assert np.all(per_prompt[1:] >= 1024 * 2 * 6.98e9 / H100_BF16_PEAK)
    assert per_prompt[2] > per_prompt[1]
    ahead = _ttft(ahead=1.0)
    # One prompt ahead: batch 8 and batch 2 wait one queued prompt (batch 2's is its only other request) ...
    assert ahead[1:] - base[1:] == pytest.approx(per_prompt[1:], rel=1e-6)
    # ... and batch 1 none: it is alone in its group.
    assert ahead[0] == pytest.approx(base[0], rel=1e-12)


def test_queue_capped_at_the_other_prompts():
    base = _ttft()
    per_prompt = _per_prompt(base)
    # Batch 2 has one other prompt: 1.5 + 0.5 x 1 = 2 prompts ahead are capped at 1.
    capped = _ttft(ahead=1.5, wait=0.5)
    assert capped[1] - base[1] == pytest.approx(per_prompt[1], rel=1e-6)
    # Batch 8: 1.5 + 0.5 x 7 = 5 prompts of 7, below the cap.
    assert capped[2] - base[2] == pytest.approx(5.0 * per_prompt[2], rel=1e-6)


def test_zero_is_the_old_queue():
    # prompts_ahead 0 leaves the wave term alone (the seed preset and neutral profile stay put).
    assert np.array_equal(_ttft(ahead=0.0, wait=0.3), _ttft(wait=0.3))
