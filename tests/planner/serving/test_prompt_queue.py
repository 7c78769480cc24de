"""Steady queue: a new request waits behind ``min(prompt_queue_scale x sqrt(n - 1) + prefill_wait_fraction x (n - 1),
(n - 1) / 2)`` other prompts of its attention group (``n = B / dp``), plus ``prompts_ahead``, and its decode steps carry
the rest of the others' prompt work (``planner.serving.aggregated``, Queueing)."""

import dataclasses

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.profile import engine
from planner.serving.aggregated import queued_prompts
from planner.serving.evaluate import evaluate
from planner.serving.plan import Plan, PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

# Llama-3.1-8B BF16 on one H100, 1,024 in / 128 out: batch 1 (no other prompt to queue behind), 2, 17 and 65.
BATCHES = (1, 2, 17, 65)
PLANS = PlanArrays.from_plans([Plan(tp=1, batch=b, quant="bf16", kv_quant="bf16") for b in BATCHES])
H100_BF16_PEAK = 989e12  # FLOP/s, dense (the catalogue's hgx-h100 figure)


def test_queue_by_hand():
    # scale 0.5, no wave: batch 65 queues 0.5 x sqrt(64) = 4 of its 64 others and its steps carry 1 - 4 / 64 of their
    # work; batch 17 over dp 4 has 17 / 4 - 1 = 3.25 others in its group: 0.5 x sqrt(3.25) = 0.901; batch 2 would
    # queue 0.5 x 1 = 0.5, exactly the cap (half of its one other); batch 1 is alone.
    batch, dp = np.array([65.0, 17.0, 2.0, 1.0]), np.array([1.0, 4.0, 1.0, 1.0])
    queued, during = queued_prompts(batch, dp, 0.5, 0.0, 0.0)
    assert queued == pytest.approx([4.0, 0.5 * 3.25 ** 0.5, 0.5, 0.0], rel=1e-12)
    assert during == pytest.approx([1.0 - 4.0 / 64.0, 1.0 - 0.5 * 3.25 ** 0.5 / 3.25, 0.5, 1.0], rel=1e-12)
    # a first wave of 0.05 adds 0.05 x 64 = 3.2 prompts at batch 65 (7.2 in all) and 0.05 x 3.25 at batch 17
    queued, during = queued_prompts(batch, dp, 0.5, 0.05, 0.0)
    assert queued[:2] == pytest.approx([7.2, 0.5 * 3.25 ** 0.5 + 0.05 * 3.25], rel=1e-12)
    assert during[0] == pytest.approx(1.0 - 7.2 / 64.0, rel=1e-12)
    # scale 4: batch 65 would queue 32 = 4 x 8, the cap (half of 64): one synchronised wave, half its work before it
    queued, during = queued_prompts(np.array([65.0]), np.array([1.0]), 4.0, 0.0, 0.0)
    assert queued[0] == 32.0 and during[0] == 0.5
    # the wave share alone at 0.5 is the same wave
    assert queued_prompts(np.array([65.0]), np.array([1.0]), 0.0, 0.5, 0.0)[0][0] == 32.0
    # prompts ahead add to the queue, up to the others in flight (not to the decode steps' share): 1.5 ahead at batch 2
    # with scale 0.5 is 1.5 + 0.5 = 2 prompts, capped at its 1 other, and still 0.5 of its work
    assert [float(x[0]) for x in queued_prompts(np.array([2.0]), np.array([1.0]), 0.5, 0.0, 1.5)] == [1.0, 0.5]


def _ttft(scale=0.0, ahead=0.0):
    """TTFT of PLANS under vLLM with only the root queue set (no wave, no prompts ahead, no fixed cost, no arrival
    steps, no per-GPU tables)."""
    prof = dataclasses.replace(engine("vllm"), prompt_queue_scale=scale, prefill_wait_fraction=0.0, prompts_ahead=ahead,
                               ttft_overhead_s=0.0, arrival_wait_steps=0.0, gpus={})
    sc = Scenario(hardware=Catalogue().hardware("hgx-h100"), model=model("llama-3.1-8b"),
                  workload=Workload(isl=1024, osl=128), profile=prof)
    return evaluate(sc, PLANS).ttft_s


def test_queue_grows_as_the_root_of_the_others():
    base, some, more = _ttft(), _ttft(0.1), _ttft(0.2)
    # Batch 1 is alone: no queue at any scale.
    assert some[0] == base[0] and more[0] == base[0]
    # Each queued prompt's 1,024 tokens need at least 1,024 x 2 x 6.98e9 FLOPs (the linear layers less the input
    # embedding) = 14.3 TFLOP: 14.5 ms at the BF16 dense peak. At scale 0.1 batch 65 queues 0.1 x sqrt(64) = 0.8
    # prompts, batch 17 0.1 x sqrt(16) = 0.4, batch 2 0.1.
    floor = 1024 * 2 * 6.98e9 / H100_BF16_PEAK
    assert np.all(some[1:] - base[1:] >= np.array([0.1, 0.4, 0.8]) * floor)
    # Batch 65 queues twice the prompts batch 17 does (sqrt(64) / sqrt(16)), each costing more (its iterations also
    # decode 65 sequences): its wait is more than twice batch 17's.
    assert some[3] - base[3] > 2.0 * (some[2] - base[2])
    # A queued prompt's cost barely depends on the scale (only through the decode steps' share of prompt work and
    # so the fixed point): twice the scale, about twice the wait.
    assert (more[1:] - base[1:]) / (some[1:] - base[1:]) == pytest.approx(2.0, rel=0.02)


def test_prompts_ahead_add_queued_prompts_up_to_the_others():
    base, root = _ttft(), _ttft(0.1)
    others = np.array(BATCHES) - 1.0
    per_prompt = np.where(others > 0, (root - base) / np.maximum(0.1 * np.sqrt(others), 1e-12), 0.0)
    # One prompt ahead: batch 2 waits its only other request's prompt, batches 17 and 65 one queued prompt each (the
    # cost of one is what the root queue above charged per prompt: the same iterations) ...
    ahead = _ttft(ahead=1.0)
    assert ahead[1:] - base[1:] == pytest.approx(per_prompt[1:], rel=2e-3)
    # ... and batch 1 none: it is alone in its group.
    assert ahead[0] == base[0]
    # 1.5 prompts ahead and scale 0.6 at batch 2: 1.5 + min(0.6, 0.5) = 2 prompts, capped at the 1 other.
    capped = _ttft(0.6, ahead=1.5)
    assert capped[1] - base[1] == pytest.approx(per_prompt[1], rel=2e-3)
